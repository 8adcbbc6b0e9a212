"""The Discord renderer: one embed per reply, within every limit Discord enforces."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.platforms.discord.render import (
    EPHEMERAL,
    RLM,
    ShareKey,
    embed_length,
    escape_markdown,
    fit_embed,
    render_choices,
    render_message,
    render_text,
    share_key,
    truncate,
)
from handlers import Field, Handler, Item, Link, Reply, Request, load

from support.discord_emulator import SpecValidator, choices_problems, embed_total, message_problems

ROOT = Path(__file__).resolve().parent.parent


@cache
def handler() -> Handler:
    h = Handler(load())
    h.warm()
    return h


def arabic_handler(tmp_path: Path) -> Handler:
    """The real catalogue plus a right-to-left language, built from the English file."""
    data = ROOT / "handlers" / "data"
    for name in ("codes.json", "en.json"):
        (tmp_path / name).write_text((data / name).read_text(encoding="utf-8"), encoding="utf-8")
    english = json.loads((data / "en.json").read_text(encoding="utf-8"))
    arabic = {
        **english,
        "lang": "ar",
        "name": "Arabic",
        "native_name": "العربية",
        "dir": "rtl",
        "locales": ["ar"],
        "ui": {k: f"نص {v}" for k, v in english["ui"].items()},
        "entries": {
            k: {
                **v,
                "name": "غير موجود",
                "summary": "الخادم لا يملك شيئاً في هذا العنوان",
                "description": "وصف " * 40,
            }
            for k, v in english["entries"].items()
        },
    }
    (tmp_path / "ar.json").write_text(json.dumps(arabic, ensure_ascii=False), encoding="utf-8")
    return Handler(load(tmp_path))


def answer(text: str, lang: str = "en", mode: Literal["answer", "explain"] = "answer") -> Reply:
    return handler().answer(Request(text, (lang,), platform="discord", mode=mode))


def test_a_card_is_one_embed_coloured_by_class_with_fields_and_link_buttons() -> None:
    message = render_message(answer("503"), handler())
    (embed,) = message["embeds"]
    assert embed["title"] == "503 Service Unavailable"
    assert embed["color"] == 0xE74C3C
    assert embed["description"].startswith("The server is temporarily unable")
    names = [f["name"] for f in embed["fields"]]
    assert names[:4] == ["Class", "Standing", "Sent by", "Retry"]
    assert "Related codes" in names and "Headers" in names
    (row,) = message["components"]
    assert [(b["style"], b["label"]) for b in row["components"]] == [
        (5, "Specification"),
        (5, "MDN"),
        (5, "AWS ALB troubleshooting"),
    ]
    assert all(b["url"].startswith("https://") for b in row["components"])
    assert message["allowed_mentions"] == {"parse": []}
    assert "flags" not in message
    assert message_problems(message) == []


def test_a_private_card_carries_a_share_button_that_replays_it() -> None:
    message = render_message(answer("404"), handler(), ephemeral=True)
    assert message["flags"] == EPHEMERAL
    share = message["components"][0]["components"][-1]
    assert share["style"] == 2 and share["label"] == "Share"
    assert share["custom_id"] == "share:en:a:404"
    assert ShareKey.parse(share["custom_id"]) == ShareKey("en", "answer", "404")


def test_shared_cards_name_who_shared_them_and_have_no_share_button() -> None:
    message = render_message(answer("404"), handler(), shared_by="Ada *bold*")
    assert message["embeds"][0]["footer"]["text"] == "Shared by Ada *bold*"
    assert all("custom_id" not in b for b in message["components"][0]["components"])
    assert "flags" not in message


def test_class_lists_and_searches_are_one_compact_embed() -> None:
    for query in ("5xx", "4xx", "404 410 418", "50x"):
        message = render_message(answer(query), handler())
        (embed,) = message["embeds"]
        assert "fields" not in embed
        assert embed["description"].count("\n") >= 1
        assert message_problems(message) == []
    lines = render_message(answer("5xx"), handler())["embeds"][0]["description"].splitlines()
    assert any(line.startswith("**503 Service Unavailable** — ") for line in lines)


def test_explained_messages_list_every_code_and_share_by_codes() -> None:
    log = (
        '127.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 502 157\n'
        '127.0.0.1 - - [01/Jan/2024:00:00:01 +0000] "GET /a HTTP/1.1" 404 12\n'
        "upstream status=503"
    )
    reply = answer(log, mode="explain")
    message = render_message(reply, handler(), ephemeral=True, mode="explain")
    description = message["embeds"][0]["description"]
    for code in ("502", "404", "503"):
        assert f"**{code} " in description
    custom_id = message["components"][0]["components"][-1]["custom_id"]
    key = ShareKey.parse(custom_id)
    assert key is not None and key.mode == "explain"
    assert answer(key.text, mode="explain").codes == reply.codes


def test_long_lists_end_with_and_more_within_limits() -> None:
    items = tuple(
        Item(400 + i % 100, str(i), f"{400 + i % 100} Title {i}", "summary " * 12) for i in range(120)
    )
    reply = Reply(
        kind="list", query="x", lang="en", title="Many", items=items, codes=tuple(i.code for i in items)
    )
    message = render_message(reply, handler())
    embed = message["embeds"][0]
    assert embed["description"].endswith("more")
    assert "…and" in embed["description"].splitlines()[-1]
    assert len(embed["description"]) <= 4096 and embed_total(embed) <= 6000
    assert message_problems(message) == []


def test_user_text_cannot_inject_markdown_links_or_mentions() -> None:
    query = "[free nitro](https://evil.example) <@&1234> @everyone"
    body = handler().ui("en", "err_no_match", query=query)
    reply = Reply(kind="error", query=query, lang="en", title=f"Results for {query}", body=body)
    embed = render_message(reply, handler())["embeds"][0]
    text = embed["title"] + embed.get("description", "")
    assert "[free nitro](" not in text
    assert "\\[free nitro\\]" in text
    assert re.search(r"(?<!\\)<@&", text) is None
    assert escape_markdown("# big\n> quote\n- item") == "\\# big\n\\> quote\n\\- item"


def test_truncate_cuts_at_words_and_never_leaves_a_dangling_escape() -> None:
    assert truncate("short", 10) == "short"
    cut = truncate("one two three four five six seven", 20)
    assert len(cut) <= 20 and cut.endswith("…") and cut == "one two three four…"
    assert truncate("a" * 50, 10) == "a" * 9 + "…"
    assert truncate("abcdefgh\\*", 10) == "abcdefgh\\*"
    assert not truncate("abcdefgh\\*xyz", 10).endswith("\\…")


def test_an_oversized_embed_is_cut_to_6000_characters_in_total() -> None:
    embed = {
        "title": "t" * 300,
        "description": "d " * 3000,
        "fields": [{"name": "n" * 300, "value": "v" * 2000, "inline": True} for _ in range(30)],
        "footer": {"text": "f" * 3000},
    }
    fitted = fit_embed(embed)
    assert embed_length(fitted) <= 6000
    assert len(fitted["title"]) <= 256 and len(fitted.get("fields", [])) <= 25
    assert message_problems({"embeds": [fitted]}) == []


def test_right_to_left_replies_start_every_paragraph_with_a_rtl_mark(tmp_path: Path) -> None:
    arabic = arabic_handler(tmp_path)
    reply = arabic.answer(Request("404", ("ar",), platform="discord"))
    assert reply.rtl
    message = render_message(reply, arabic, ephemeral=True)
    embed = message["embeds"][0]
    assert embed["title"].startswith(RLM + "404 Not Found")
    assert all(line.startswith(RLM) for line in embed["description"].split("\n") if line)
    assert all(f["name"].startswith(RLM) and f["value"].startswith(RLM) for f in embed["fields"])
    assert message["components"][0]["components"][-1]["custom_id"] == "share:ar:a:404"
    assert message_problems(message) == []
    choices = render_choices(arabic.suggest("40", ("ar",)), rtl=True)
    assert choices and all(c["name"].startswith(RLM) for c in choices)
    assert render_text("مرحبا", rtl=True)["content"].startswith(RLM)


def test_autocomplete_choices_are_named_code_title_summary_within_100_characters() -> None:
    choices = render_choices(handler().suggest("50", ("en",)))
    assert choices[0] == {
        "name": "500 Internal Server Error · "
        "The server hit an unexpected problem and could not complete the request",
        "value": "500",
    }
    assert [c["value"] for c in choices[:12]] == [str(c) for c in range(500, 512)]
    long = [Item(404, "404", "404 " + "x" * 120, "y" * 50)] * 40
    assert len(render_choices(long)) == 1
    assert choices_problems({"choices": render_choices(handler().suggest("", ("en",)))}) == []


def test_share_keys_fit_in_a_custom_id_or_there_is_no_button() -> None:
    long_query = "not found " * 20
    reply = Reply(kind="list", query=long_query, lang="en", title="x", items=(), codes=(404, 410))
    assert share_key(reply) is None
    assert share_key(answer("help")) is None
    assert ShareKey.parse("share:en:a:a:b:c") == ShareKey("en", "answer", "a:b:c")
    for bad in ("share:en:x:404", "other:en:a:404", "share:en:a:", "share"):
        assert ShareKey.parse(bad) is None


def test_every_sample_reply_fits_discord_and_the_openapi_schema() -> None:
    validator = SpecValidator.load()
    queries = ["404", "418", "420", "499", "000", "432", "1xx", "5xx", "random", "", "zzzz qqq", "x" * 400]
    for lang in handler().languages:
        for query in queries:
            for ephemeral in (False, True):
                message = render_message(answer(query, lang), handler(), ephemeral=ephemeral)
                assert message_problems(message) == [], (lang, query)
                if validator is not None:
                    assert validator.callback_errors({"type": 4, "data": message}) == [], (lang, query)


_text = st.text(st.characters(codec="utf-8"), max_size=3000)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=st.text(max_size=400),
    summary=_text,
    body=_text,
    fields=st.lists(st.tuples(st.text(max_size=400), st.text(max_size=1500), st.booleans()), max_size=30),
    items=st.lists(
        st.tuples(st.integers(100, 599), st.text(max_size=200), st.text(max_size=300)), max_size=80
    ),
    rtl=st.booleans(),
    shared_by=st.one_of(st.none(), st.text(min_size=1, max_size=100)),
)
def test_any_reply_renders_within_every_limit(
    title: str,
    summary: str,
    body: str,
    fields: list[tuple[str, str, bool]],
    items: list[tuple[int, str, str]],
    rtl: bool,
    shared_by: str | None,
) -> None:
    reply = Reply(
        kind="list" if items else "entry",
        query="q",
        lang="en",
        title=title or "t",
        summary=summary,
        body=body,
        fields=tuple(Field(n or "n", v or "v", i) for n, v, i in fields),
        links=(Link("Specification", "https://example.org/spec"),),
        items=tuple(Item(c, str(c), t or str(c), s) for c, t, s in items),
        codes=tuple(c for c, _, _ in items) or (404,),
        rtl=rtl,
    )
    message = render_message(reply, handler(), ephemeral=True, shared_by=shared_by)
    assert message_problems(message) == []
    assert choices_problems({"choices": render_choices(reply.items)}) == []


@pytest.mark.parametrize("limit", [1, 2, 5, 100])
def test_truncate_respects_any_limit(limit: int) -> None:
    assert len(truncate("word " * 100, limit)) <= limit
