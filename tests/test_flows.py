"""The shared chat flows: /lang, the apology, the language list, "every code in this message"."""

from __future__ import annotations

from functools import cache

import pytest

from bot import flows
from bot.service import Service
from handlers import Handler, load


@cache
def _handler() -> Handler:
    return Handler(load())


@pytest.fixture
def service() -> Service:
    """A fresh service (in-memory preferences, own metrics) over the real catalogue."""
    return Service(_handler())


def _other_language(handler: Handler) -> str:
    return next(lang for lang in handler.languages if lang != "en")


def test_the_preference_key_is_platform_and_place() -> None:
    assert flows.preference_key("telegram", -1001234) == "telegram:-1001234"
    assert flows.preference_key("slack", "T0123") == "slack:T0123"


def test_the_apology_speaks_the_first_known_locale_then_the_default(service: Service) -> None:
    handler = service.handler
    target = _other_language(handler)
    sorry = flows.apology(service, "xx-YY", target)
    assert (sorry.lang, sorry.text) == (target, handler.ui(target, "apology"))
    assert flows.apology(service, None, "xx").lang == "en"
    assert flows.apology(Service(handler, default_lang=target)).lang == target
    if "ar" in handler.languages:
        assert flows.apology(service, "ar").rtl
    assert not flows.apology(service, "en").rtl


def test_the_language_list_uses_native_names_and_filters_by_any_name(service: Service) -> None:
    handler = service.handler
    everything = flows.languages(handler)
    assert [c.code for c in everything] == list(handler.languages)
    assert all(c.native_name == handler.catalogue.languages[c.code].native_name for c in everything)
    if "de" in handler.languages:
        for typed in ("de", "DEU", " deutsch ", "germ"):
            assert "de" in [c.code for c in flows.languages(handler, typed)], typed
    assert flows.languages(handler, "zzzz") == []


def test_explain_answers_every_code_in_a_message_and_counts_it(service: Service) -> None:
    text = 'upstream responded "HTTP/1.1 504 Gateway Timeout" while reading; retry status=503'
    reply = flows.explain(service, "slack", text, ("en",))
    assert (reply.kind, set(reply.codes)) == ("list", {503, 504})
    counted = 'http_status_bot_requests_total{kind="list",platform="slack"} 1.0'
    assert counted in service.metrics.render().decode()


class Asked:
    """A may_configure callable that records whether it was awaited."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.calls = 0

    async def __call__(self) -> bool:
        self.calls += 1
        return self.answer


async def test_lang_without_a_value_shows_the_current_language(service: Service) -> None:
    handler = service.handler
    asked = Asked(False)
    result = await flows.lang(service, "x:1", "  ", may_configure=asked, user_locale="en-GB")
    native = handler.catalogue.languages["en"].native_name
    assert result.outcome == "current" and not result.changed
    assert result.notice.text == handler.ui(
        "en", "lang_current", language=native, available=handler.available_languages()
    )
    assert asked.calls == 0


async def test_lang_sets_then_resets_the_chat_preference(service: Service) -> None:
    handler = service.handler
    target = _other_language(handler)
    chosen = await flows.lang(service, "x:1", target, may_configure=True, user_locale="en")
    native = handler.catalogue.languages[target].native_name
    assert chosen.outcome == "set" and chosen.changed
    assert (chosen.notice.lang, chosen.notice.text) == (
        target,
        handler.ui(target, "lang_set", language=native),
    )
    assert await service.prefs.get("x:1") == target
    # The stored preference now beats the user's own locale.
    shown = await flows.lang(service, "x:1", None, may_configure=True, user_locale="en")
    assert shown.notice.lang == target

    cleared = await flows.lang(service, "x:1", "reset", may_configure=True, user_locale="en")
    assert cleared.outcome == "reset" and cleared.changed
    assert (cleared.notice.lang, cleared.notice.text) == ("en", handler.ui("en", "lang_reset"))
    assert await service.prefs.get("x:1") is None


async def test_lang_asks_for_permission_only_to_change_something(service: Service) -> None:
    handler = service.handler
    target = _other_language(handler)
    refused = Asked(False)
    result = await flows.lang(service, "x:2", target, may_configure=refused)
    assert result.outcome == "forbidden"
    assert result.notice.text == handler.ui("en", "lang_forbidden")
    assert refused.calls == 1
    assert await service.prefs.get("x:2") is None
    assert (await flows.lang(service, "x:2", "reset", may_configure=False)).outcome == "forbidden"

    typo = Asked(False)
    unknown = await flows.lang(service, "x:2", "klingon", may_configure=typo)
    assert unknown.outcome == "unknown" and typo.calls == 0
    assert "klingon" in unknown.notice.text


async def test_an_unknown_value_is_cut_and_quoted_for_the_platform(service: Service) -> None:
    long_value = "*" * 200
    result = await flows.lang(service, "x:3", long_value, may_configure=True, quote=lambda v: f"<{v}>")
    assert f"<{'*' * flows.ECHO_MAX}>" in result.notice.text
    assert "*" * (flows.ECHO_MAX + 1) not in result.notice.text


async def test_without_a_chat_nothing_can_be_stored(service: Service) -> None:
    target = _other_language(service.handler)
    result = await flows.lang(service, None, target, may_configure=True)
    assert result.outcome == "unavailable" and not result.changed
    assert result.notice.text == service.handler.ui("en", "apology")
