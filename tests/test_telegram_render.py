"""Telegram HTML rendering: escaping, limits, right-to-left text and the emulator's HTML parser."""

from __future__ import annotations

from functools import cache, partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.platforms.telegram.render import RLM, TEXT_LIMIT, Button, render_html, render_text, utf16_len
from handlers import Field, Handler, Item, Link, Reply, Request, load

from support.telegram_emulator import EntityError, check_keyboard, check_text, parse_html


@cache
def _handler() -> Handler:
    return Handler(load())


def more_line(handler: Handler, lang: str, count: int) -> str:
    """The localised "…and N more" line."""
    return handler.ui(lang, "list_more", count=count)


def keyboard(rows: tuple[tuple[Button, ...], ...]) -> dict[str, Any]:
    """The buttons as the Bot API's inline keyboard JSON."""
    out: list[list[dict[str, str]]] = []
    for row in rows:
        out.append([])
        for button in row:
            entry = {"text": button.text}
            if button.url is not None:
                entry["url"] = button.url
            if button.switch_inline_query is not None:
                entry["switch_inline_query"] = button.switch_inline_query
            out[-1].append(entry)
    return {"inline_keyboard": out}


def valid(html_text: str) -> str:
    """The visible text of ``html_text``, asserting Telegram would accept it."""
    problems, visible, _ = check_text(html_text, "HTML", "message")
    assert problems == []
    return visible


def test_every_card_in_every_language_is_valid_telegram_html() -> None:
    handler = _handler()
    for lang in handler.languages:
        for code in handler.catalogue.codes:
            reply = handler.card(code, lang)
            message = render_html(reply, share_label=handler.ui(lang, "button_share"))
            visible = valid(message.html)
            assert utf16_len(visible) == message.length <= TEXT_LIMIT
            assert visible.removeprefix(RLM).startswith(reply.title)
            assert not reply.rtl or all(line.startswith(RLM) for line in visible.split("\n") if line)
            assert check_keyboard(keyboard(message.buttons), f"{lang} {code}") == []
            assert message.buttons[0][0].text == handler.ui(lang, "button_spec")
            assert all(b.url.startswith("https://") for b in message.buttons[0] if b.url)
            assert message.buttons[-1][0].switch_inline_query == str(code)


@pytest.mark.parametrize("query", ["4xx", "5xx", "2xx", "not found", "1xx", "random", "999", "000", ""])
def test_every_kind_of_reply_renders_within_the_limit(query: str) -> None:
    handler = _handler()
    for lang in handler.languages:
        reply = handler.answer(Request(query, (lang,)))
        message = render_html(reply, more=partial(more_line, handler, lang))
        visible = valid(message.html)
        assert message.length <= TEXT_LIMIT
        assert visible.split("\n")[0].removeprefix(RLM) == reply.title


def test_a_long_list_is_cut_with_a_localised_more_line() -> None:
    items = tuple(Item(400 + i % 100, str(i), f"{400 + i % 100} Title {i}", "x" * 90) for i in range(300))
    reply = Reply(kind="list", query="4xx", lang="en", title="4xx · Client error", items=items)
    message = render_html(reply, more=lambda n: f"…and {n} more")
    visible = valid(message.html)
    assert message.length <= TEXT_LIMIT
    last = visible.split("\n")[-1]
    shown = visible.count(" — ")
    assert last == f"…and {300 - shown} more"
    assert TEXT_LIMIT - message.length < 120  # nothing cut that would have fitted


def test_user_text_is_escaped_and_cannot_mention_anyone() -> None:
    hostile = '<a href="tg://user?id=1">x</a> & @everyone @admin </b><script>'
    reply = Reply(
        kind="error",
        query=hostile,
        lang="en",
        title="Cannot answer that",
        body=f"Nothing matched “{hostile}”.",
    )
    message = render_html(reply)
    problems, visible, entities = check_text(message.html, "HTML", "message")
    assert problems == []
    assert hostile.replace("@", "@\u2060") in visible
    assert [e["type"] for e in entities] == ["bold"]
    assert "@everyone" not in visible and "@admin" not in visible


def test_the_bots_own_username_stays_a_mention() -> None:
    help_reply = _handler().help("en")
    message = render_html(help_reply, extra=("@HttpBot not found, or @somebody",), mentions=("HttpBot",))
    visible = valid(message.html)
    assert "@HttpBot not found" in visible
    assert "@\u2060somebody" in visible


def test_right_to_left_lines_start_with_a_mark_outside_the_tags() -> None:
    reply = Reply(
        kind="entry",
        query="404",
        lang="ar",
        title="404 Not Found · غير موجود",
        summary="المورد المطلوب غير موجود <هنا>",
        body="سطر أول\nسطر ثان & أخير",
        fields=(Field("الفئة", "4xx · خطأ العميل"), Field("استخدام آخر", "سطر\nسطر آخر")),
        links=(Link("المواصفة", "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.5"),),
        codes=(404,),
        rtl=True,
    )
    message = render_html(reply)
    visible = valid(message.html)
    for line in message.html.split("\n"):
        assert not line or line.removeprefix("<blockquote>").startswith(RLM)
    assert "<blockquote>" in message.html
    assert all(not line or line.startswith(RLM) for line in visible.split("\n"))
    assert message.length == utf16_len(visible)


def test_text_longer_than_the_limit_is_shortened_without_breaking_markup() -> None:
    reply = Reply(
        kind="entry",
        query="x",
        lang="en",
        title="T" * 5000,
        summary="s" * 3000,
        body="<&>" * 3000,
        fields=(Field("name", "v" * 5000),),
    )
    message = render_html(reply)
    visible = valid(message.html)
    assert utf16_len(visible) == message.length <= TEXT_LIMIT
    assert visible.startswith("TTTT")


def test_render_text_escapes_and_limits() -> None:
    message = render_text("a < b & c" * 1000)
    assert valid(message.html).startswith("a < b & c")
    assert message.length <= TEXT_LIMIT


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=st.text(min_size=1, max_size=300),
    body=st.text(max_size=3000),
    rows=st.lists(st.tuples(st.text(min_size=1, max_size=80), st.text(max_size=200)), max_size=80),
    rtl=st.booleans(),
)
def test_any_text_renders_to_valid_html_within_the_limit(
    title: str, body: str, rows: list[tuple[str, str]], rtl: bool
) -> None:
    items = tuple(Item(400, "400", t, s) for t, s in rows)
    reply = Reply(kind="list", query="q", lang="en", title=title, body=body, items=items, rtl=rtl)
    message = render_html(reply)
    problems, visible, _ = check_text(message.html, "HTML", "message")
    assert [p for p in problems if "empty" not in p] == []
    assert utf16_len(visible) == message.length <= TEXT_LIMIT


# ---- the emulator's parser, which the other tests rely on -----------------------------------


def test_the_emulator_parses_html_like_telegram() -> None:
    text, entities = parse_html('<b>a &lt;</b> <i>é😀</i>&amp;<a href="https://x.org">l</a>')
    assert text == "a < é😀&l"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 3},
        {"type": "italic", "offset": 4, "length": 3},
        {"type": "text_link", "offset": 8, "length": 1, "url": "https://x.org"},
    ]
    for bad in ("a < b", "x & y", "<b>x", "<b>x</i>", "<div>x</div>", "a > b", "<a>x</a>"):
        with pytest.raises(EntityError):
            parse_html(bad)
