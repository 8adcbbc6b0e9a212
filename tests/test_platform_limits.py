"""Every platform limit in every language: each card, each class list, each choice name.

The per-platform tests check samples and hostile input; this one walks the whole catalogue in all
twelve languages through both renderers.
"""

from __future__ import annotations

import pytest

from bot.platforms.discord.render import CHOICE_NAME_MAX, EMBED_TOTAL_MAX, render_choices, render_message
from bot.platforms.telegram.render import TEXT_LIMIT, render_html
from handlers import Handler, Reply, Request, load

from support.discord_emulator import embed_total, message_problems
from support.telegram_emulator import check_text


@pytest.fixture(scope="module")
def handler() -> Handler:
    return Handler(load())


def _replies(handler: Handler, lang: str) -> list[Reply]:
    cards = [handler.card(code, lang) for code in handler.catalogue.codes]
    lists = [handler.answer(Request(q, (lang,))) for q in ("1xx", "2xx", "3xx", "4xx", "5xx", "50x")]
    return [*cards, *lists]


def test_discord_embeds_fit_in_every_language(handler: Handler) -> None:
    for lang in handler.languages:
        for reply in _replies(handler, lang):
            for ephemeral in (False, True):
                message = render_message(reply, handler, ephemeral=ephemeral)
                assert message_problems(message) == [], (lang, reply)
                for embed in message["embeds"]:
                    assert embed_total(embed) <= EMBED_TOTAL_MAX


def test_telegram_messages_fit_in_every_language(handler: Handler) -> None:
    for lang in handler.languages:

        def more(count: int, lang: str = lang) -> str:
            return handler.ui(lang, "list_more", count=count)

        for reply in _replies(handler, lang):
            message = render_html(reply, more=more)
            problems, _, _ = check_text(message.html, "HTML", "message")
            assert problems == [], (lang, reply)
            assert 0 < message.length <= TEXT_LIMIT


def test_choice_names_fit_in_every_language(handler: Handler) -> None:
    for lang in handler.languages:
        rtl = handler.catalogue.languages[lang].rtl
        for prefix in ("1", "2", "3", "4", "5", "", "not f", "gate"):
            choices = render_choices(handler.suggest(prefix, (lang,), 25), rtl=rtl)
            assert 0 < len(choices) <= 25
            assert all(1 <= len(c["name"]) <= CHOICE_NAME_MAX for c in choices), lang
