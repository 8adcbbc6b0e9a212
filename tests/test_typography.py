"""Punctuation per language, on every renderer that writes a label before a value."""

from __future__ import annotations

import html

import pytest

from bot.platforms.telegram.render import render_html
from bot.render.plain import render_plain
from handlers import Handler, Request, load
from handlers.typography import labelled, listing


@pytest.fixture(scope="module")
def handler() -> Handler:
    return Handler(load())


def test_labels_follow_each_language() -> None:
    assert labelled("Classe", "4xx", "fr") == "Classe\u202f: 4xx"
    assert labelled("类别", "4xx", "zh") == "类别：4xx"
    assert labelled("分類", "4xx", "ja") == "分類：4xx"
    assert labelled("Class", "4xx", "en") == "Class: 4xx"
    assert labelled("À vérifier", "• a\n• b", "fr") == "À vérifier\u202f:\n• a\n• b"
    assert listing(["a", "b"], "ar") == "a، b"
    assert listing(["a", "b"], "zh") == "a、b"
    assert listing(["a", "b"], "de") == "a, b"


@pytest.mark.parametrize(("lang", "colon"), [("fr", "\u202f: "), ("zh", "："), ("ja", "："), ("de", ": ")])
def test_cards_use_the_language_colon_in_plain_text_and_on_telegram(
    handler: Handler, lang: str, colon: str
) -> None:
    reply = handler.answer(Request("404", (lang,)))
    label = handler.ui(lang, "field_class")
    assert f"{label}{colon}" in render_plain(reply)
    assert f"{label}{colon}" in html.unescape(render_html(reply).html)
    if lang == "fr":
        assert f"{label}: " not in render_plain(reply)


def test_arabic_lists_use_the_arabic_comma(handler: Handler) -> None:
    reply = handler.answer(Request("301", ("ar",)))
    related = next(f.value for f in reply.fields if f.name == handler.ui("ar", "field_related"))
    assert "، " in related and ", " not in related
