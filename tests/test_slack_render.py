"""Slack rendering: Block Kit's limits for every card and list in every language, escaping,
mentions, right-to-left text, and replies larger than any the catalogue makes today."""

from __future__ import annotations

import pytest

from bot.platforms.slack.render import (
    BLOCKS_MAX,
    HEADER_MAX,
    SHARE_ACTION,
    ShareKey,
    message_text,
    render_message,
    render_text,
    share_key,
)
from bot.platforms.slack.text import RLM, escape, plain, truncate
from handlers import Field, Handler, Item, Link, Reply, Request

from support.slack_emulator import blocks_problems, mentions_in, texts_of
from support.slack_harness import shared_handler

CLASS_QUERIES = ("1xx", "2xx", "3xx", "4xx", "5xx", "50x", "40x")
OTHER_QUERIES = ("not found", "unauthorized vs forbidden", "123", "000", "700", "help", "")


@pytest.fixture(scope="module")
def handler() -> Handler:
    return shared_handler()


def test_every_card_and_list_fits_in_every_language(handler: Handler) -> None:
    for lang in handler.languages:
        cards = [handler.card(code, lang) for code in handler.catalogue.codes]
        others = [handler.answer(Request(q, (lang,), "slack")) for q in (*CLASS_QUERIES, *OTHER_QUERIES)]
        for reply in [*cards, *others]:
            for shareable in (False, True):
                message = render_message(reply, handler, shareable=shareable)
                assert blocks_problems(message) == [], (lang, reply.title)
                assert mentions_in(message) == [], (lang, reply.title)
            shared = render_message(reply, handler, shared_by="someone with a long name " * 5)
            assert blocks_problems(shared) == [], (lang, reply.title)


def test_class_lists_show_every_member_or_say_how_many_more(handler: Handler) -> None:
    for lang in handler.languages:
        for query in CLASS_QUERIES:
            reply = handler.answer(Request(query, (lang,), "slack"))
            text = "\n".join(texts_of(render_message(reply, handler)))
            shown = sum(1 for item in reply.items if escape(item.title) in text)
            assert shown == len(reply.items), (lang, query)


def test_explained_logs_fit(handler: Handler) -> None:
    lines = "\n".join(
        f'10.0.0.{i} - - [01/Jan/2025:10:00:00 +0000] "GET /p{i} HTTP/1.1" {code} 1'
        for i, code in enumerate(handler.catalogue.codes)
    )
    for lang in handler.languages:
        reply = handler.answer(Request(lines, (lang,), "slack", "explain"))
        message = render_message(reply, handler, shareable=True, mode="explain")
        assert blocks_problems(message) == []


def test_arabic_reads_right_to_left(handler: Handler) -> None:
    reply = handler.card(404, "ar")
    message = render_message(reply, handler)
    header = message["blocks"][0]["text"]["text"]
    assert header.startswith(RLM)
    section = message["blocks"][1]["text"]["text"]
    assert all(line.lstrip("*").startswith(RLM) for line in section.split("\n") if line)
    notice = render_text("مرحبا 404", rtl=True)
    assert notice["blocks"][0]["text"]["text"].startswith(RLM)
    english = render_message(handler.card(404, "en"), handler)
    assert RLM not in "".join(texts_of(english))


def _huge_reply() -> Reply:
    word = "<!here> & text @channel "
    return Reply(
        kind="list",
        query="x" * 300,
        lang="en",
        title="T" * 400,
        summary="S" * 5000,
        body="\n\n".join(word * 200 for _ in range(8)),
        fields=tuple(Field(f"name {i} <@U1>", "v" * 4000, inline=i % 3 != 0) for i in range(40)),
        links=tuple(Link(f"label {i} " * 20, f"https://example.com/{i}") for i in range(40)),
        items=tuple(Item(100 + i, str(i), f"{100 + i} Item " * 30, "summary " * 80) for i in range(600)),
        footer="footer " * 1000,
    )


def test_replies_larger_than_any_today_still_fit(handler: Handler) -> None:
    message = render_message(_huge_reply(), handler, shareable=True, shared_by="x" * 500)
    assert blocks_problems(message) == []
    assert len(message["blocks"]) <= BLOCKS_MAX
    assert mentions_in(message) == []
    assert len(message["blocks"][0]["text"]["text"]) <= HEADER_MAX
    # The list was cut, and says so.
    assert "more" in message["blocks"][-3]["text"]["text"]


def test_new_reply_fields_show_up_without_slack_changes(handler: Handler) -> None:
    reply = Reply(
        kind="entry",
        query="",
        lang="en",
        title="599 Something New",
        summary="A summary",
        body="A body",
        fields=(
            Field("Who sends it", "the proxy"),
            Field("What to check", "the upstream's logs", inline=False),
        ),
        codes=(599,),
    )
    text = "\n".join(texts_of(render_message(reply, handler)))
    for expected in ("Who sends it", "the proxy", "What to check", "the upstream's logs", "A body"):
        assert expected in text


def test_share_keys_round_trip(handler: Handler) -> None:
    card = handler.card(503, "fr")
    key = share_key(card)
    assert key == ShareKey("fr", "answer", "503")
    assert ShareKey.parse(key.value()) == key
    assert ShareKey.parse("en:e:404 503") == ShareKey("en", "explain", "404 503")
    assert ShareKey.parse("nonsense") is None
    assert ShareKey.parse("en:x:404") is None
    assert share_key(handler.answer(Request("", ("en",)))) is None
    listing = render_message(handler.answer(Request("5xx", ("en",))), handler, shareable=True)
    buttons = [
        e for b in listing["blocks"] for e in b.get("elements", ()) if e.get("action_id") == SHARE_ACTION
    ]
    assert buttons and buttons[0]["value"] == "en:a:5xx"


def test_escape_makes_text_inert() -> None:
    assert escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert escape("<!here> <@U123>") == "&lt;!here&gt; &lt;@U123&gt;"
    assert "@here" not in escape("ping @here and @Channel and @everyone")
    assert escape("mail me@hereford.example") == "mail me@hereford.example"
    # Cutting never leaves half an escape behind.
    cut = truncate(escape("x" * 10 + "&" * 10), 16)
    assert not cut.rstrip("…").endswith(("&", "&a", "&am", "&amp"))


def test_plain_reads_what_people_typed() -> None:
    assert plain("<@UBOT0001> 404") == "404"
    assert plain("<@UBOT0001|bot> HTTP/1.1 &lt;503&gt; &amp;") == "HTTP/1.1 <503> &"
    assert (
        plain("see <https://example.com/502|example.com/502> and <#C123|ops>")
        == "see example.com/502 and #ops"
    )
    assert plain("<!here> <!subteam^S1|@oncall> 500") == "500"
    assert plain("&amp;lt;") == "&lt;"


def test_message_text_reads_attachments_and_blocks() -> None:
    message = {
        "text": "alert",
        "attachments": [
            {"title": "prod", "text": "status 502", "fields": [{"title": "code", "value": "504"}]}
        ],
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "got 503"}}],
    }
    text = message_text(message)
    for expected in ("alert", "502", "504", "503"):
        assert expected in text


def test_the_manifest_declares_what_the_listeners_handle() -> None:
    from pathlib import Path

    from bot.platforms.slack.listeners import EXPLAIN_SHORTCUT, HTTP_COMMAND, LANG_COMMAND

    manifest = (Path(__file__).resolve().parent.parent / "slack-manifest.yml").read_text(encoding="utf-8")
    for needed in (
        f"command: {HTTP_COMMAND}\n",
        f"command: {LANG_COMMAND}\n",
        f"callback_id: {EXPLAIN_SHORTCUT}\n",
        "- app_mention\n",
        "- message.im\n",
        "- commands\n",
        "- chat:write\n",
        "- app_mentions:read\n",
        "- im:history\n",
        "- users:read\n",
        "- channels:read\n",
        "is_enabled: true\n",
        "socket_mode_enabled: true\n",
    ):
        assert needed in manifest, needed
