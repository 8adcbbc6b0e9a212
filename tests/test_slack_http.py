"""Slack in HTTP mode: signed requests over a real socket to Bolt behind our aiohttp endpoint,
replies through the emulated Web API and response URLs."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from bot.platforms.slack.render import SHARE_ACTION

from support.slack_emulator import mentions_in
from support.slack_harness import WAITS, no_wait, running


def _json(text: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(text)
    return value


def _share_button(message: dict[str, Any]) -> dict[str, Any] | None:
    for block in message.get("blocks", ()):
        for element in block.get("elements", ()):
            if element.get("action_id") == SHARE_ACTION:
                return dict(element)
    return None


def _header(message: dict[str, Any]) -> str:
    return str(message["blocks"][0]["text"]["text"])


async def test_slash_command_answers_privately_with_a_share_button() -> None:
    async with running() as bot:
        status, text, _ = await bot.post("slash_commands", bot.emu.command("/http", "503"))
        assert status == 200
        message = _json(text)
        assert message["response_type"] == "ephemeral"
        assert _header(message) == "503 Service Unavailable"
        share = _share_button(message)
        assert share is not None and share["value"] == "en:a:503"
        assert bot.emu.problems == []
        # The card travelled in the acknowledgement: nothing was posted.
        assert bot.emu.posts == [] and bot.emu.responses == []


async def test_public_posts_to_the_channel_without_share() -> None:
    async with running() as bot:
        _, text, _ = await bot.post("slash_commands", bot.emu.command("/http", "404 public"))
        message = _json(text)
        assert message["response_type"] == "in_channel"
        assert _header(message) == "404 Not Found"
        assert _share_button(message) is None


async def test_share_posts_the_card_to_the_channel_with_who_shared_it() -> None:
    async with running() as bot:
        _, text, _ = await bot.post("slash_commands", bot.emu.command("/http", "429"))
        share = _share_button(_json(text))
        assert share is not None
        click = bot.emu.button(SHARE_ACTION, share["value"])
        status, _, _ = await bot.post("interactive", click)
        assert status == 200
        posted = await bot.emu.wait_for(lambda: bot.emu.responses)
        assert posted[0]["response_type"] == "in_channel"
        assert posted[0]["replace_original"] is False
        assert _header(posted[0]).startswith("429 Too Many Requests")
        assert "Shared by alice" in json.dumps(posted[0])
        assert _share_button(posted[0]) is None
        assert bot.emu.problems == []


async def test_link_buttons_are_acknowledged() -> None:
    async with running() as bot:
        status, _, _ = await bot.post("interactive", bot.emu.button("link_0"))
        assert status == 200


async def test_mention_is_answered_in_its_thread() -> None:
    async with running() as bot:
        payload = bot.emu.mention("418")
        status, _, _ = await bot.post("events_api", payload)
        assert status == 200
        posts = await bot.emu.wait_for(lambda: bot.emu.posts)
        assert posts[0]["channel"] == "C0001"
        assert posts[0]["thread_ts"] == payload["event"]["ts"]
        assert _header(posts[0]).startswith("418")
        assert bot.emu.problems == []


async def test_direct_message_is_answered_in_its_thread() -> None:
    async with running() as bot:
        payload = bot.emu.direct('"GET /api HTTP/1.1" 502 173')
        await bot.post("events_api", payload)
        posts = await bot.emu.wait_for(lambda: bot.emu.posts)
        assert posts[0]["channel"] == "D0001"
        assert posts[0]["thread_ts"] == payload["event"]["ts"]
        assert "502" in _header(posts[0])


async def test_bots_edits_and_other_channels_messages_are_ignored() -> None:
    async with running() as bot:
        await bot.post("events_api", bot.emu.direct("404", bot_id="B0002"))
        await bot.post("events_api", bot.emu.direct("404", subtype="message_changed"))
        # A mention in a direct message also arrives as a message event: answered once.
        await bot.post("events_api", bot.emu.mention("404", channel="D0001"))
        await bot.post("events_api", bot.emu.direct("500"))
        posts = await bot.emu.wait_for(lambda: bot.emu.posts)
        await bot.adapter.stop()
        assert [_header(p)[:3] for p in posts] == ["500"]


async def test_retries_are_not_answered_twice() -> None:
    async with running() as bot:
        payload = bot.emu.mention("404")
        await bot.post("events_api", payload)
        status, _, _ = await bot.post("events_api", payload, retry_num=1)
        assert status == 200
        await bot.post("events_api", payload, retry_num=2)
        await bot.emu.wait_for(lambda: bot.emu.posts)
        await bot.adapter.stop()
        assert len(bot.emu.posts) == 1


async def test_message_shortcut_explains_every_code_privately() -> None:
    async with running() as bot:
        message = {
            "text": "deploy failed",
            "attachments": [
                {
                    "text": '10.0.0.1 - - [01/Jan/2025:10:00:00 +0000] "GET / HTTP/1.1" 503 12\n'
                    '10.0.0.2 - - [01/Jan/2025:10:00:01 +0000] "GET /x HTTP/1.1" 404 9'
                }
            ],
        }
        status, body, _ = await bot.post("interactive", bot.emu.shortcut(message))
        assert status == 200 and body == ""
        responses = await bot.emu.wait_for(lambda: bot.emu.responses)
        assert responses[0]["response_type"] == "ephemeral"
        shown = json.dumps(responses[0])
        assert "503" in shown and "404" in shown
        share = _share_button(responses[0])
        assert share is not None and share["value"].startswith("en:e:")
        assert bot.emu.problems == []


async def test_language_from_the_users_slack_locale() -> None:
    async with running() as bot:
        bot.emu.users["UFR"] = {"name": "amelie", "locale": "fr-FR"}
        _, text, _ = await bot.post("slash_commands", bot.emu.command("/http", "404", user="UFR"))
        assert "Introuvable" in _header(_json(text)) or "introuvable" in _header(_json(text)).lower()
        info = bot.emu.called("users.info")
        assert info and str(info[0].params["include_locale"]).lower() in ("true", "1")


async def test_http_lang_sets_the_channel_language_for_admins_and_creators() -> None:
    async with running() as bot:
        command = bot.emu.command
        _, text, _ = await bot.post("slash_commands", command("/http-lang", "fr", user="UALICE"))
        refused = _json(text)
        assert refused["response_type"] == "ephemeral"
        _, text, _ = await bot.post("slash_commands", command("/http-lang", "", user="UALICE"))
        assert "English" in _json(text)["text"]

        _, text, _ = await bot.post("slash_commands", command("/http-lang", "fr", user="UADMIN"))
        assert _json(text)["response_type"] == "in_channel"
        _, text, _ = await bot.post("slash_commands", command("/http", "404", user="UALICE"))
        assert "Introuvable" in _header(_json(text))

        bot.emu.users["UCREATOR"] = {"name": "carol", "locale": "en-US"}
        _, text, _ = await bot.post("slash_commands", command("/http-lang", "de", user="UCREATOR"))
        assert _json(text)["response_type"] == "in_channel"
        _, text, _ = await bot.post("slash_commands", command("/http-lang", "klingon<@U1>", user="UCREATOR"))
        unknown = _json(text)
        assert unknown["response_type"] == "ephemeral" and mentions_in(unknown) == []
        _, text, _ = await bot.post("slash_commands", command("/http-lang", "reset", user="UADMIN"))
        assert _json(text)["response_type"] == "in_channel"
        _, text, _ = await bot.post("slash_commands", command("/http", "404", user="UALICE"))
        assert _header(_json(text)) == "404 Not Found"


async def test_anyone_sets_the_language_of_a_direct_message() -> None:
    async with running() as bot:
        command = bot.emu.command("/http-lang", "es", user="UALICE", channel="D0001")
        _, text, _ = await bot.post("slash_commands", command)
        assert _json(text)["response_type"] == "in_channel"


async def test_a_forged_or_stale_signature_gets_401() -> None:
    async with running() as bot:
        payload = bot.emu.command("/http", "404")
        status, _, _ = await bot.post("slash_commands", payload, secret="not-the-signing-secret")
        assert status == 401
        stale = int(time.time()) - 6 * 60
        status, _, _ = await bot.post("slash_commands", payload, timestamp=stale)
        assert status == 401
        future = int(time.time()) + 6 * 60
        status, _, _ = await bot.post("events_api", bot.emu.mention("404"), timestamp=future)
        assert status == 401
        # Within the window it is answered.
        status, _, _ = await bot.post("slash_commands", payload, timestamp=int(time.time()) - 200)
        assert status == 200
        assert bot.emu.posts == []


async def test_url_verification_challenge_is_answered() -> None:
    async with running() as bot:
        payload = {
            "token": "legacy",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
        status, text, _ = await bot.post("events_api", payload)
        assert status == 200
        assert payload["challenge"] in text
        status, _, _ = await bot.post("events_api", payload, secret="wrong")
        assert status == 401


async def test_rate_limited_post_message_honours_retry_after() -> None:
    WAITS.clear()
    async with running(sleep=no_wait) as bot:
        bot.emu.refuse("chat.postMessage", times=2, retry_after=7)
        await bot.post("events_api", bot.emu.mention("404"))
        posts = await bot.emu.wait_for(lambda: bot.emu.posts)
        assert len(posts) == 1
        assert WAITS == [7.0, 7.0]
        assert len(bot.emu.called("chat.postMessage")) == 3
        metrics = bot.service.metrics.render().decode()
        assert 'http_status_bot_platform_retries_total{platform="slack",reason="rate_limit"} 2.0' in metrics


async def test_hostile_text_never_mentions_anyone() -> None:
    async with running() as bot:
        for query in ("<!channel> @here <@U123> <https://evil.example|click>", "@everyone &amp; <#C1|x>"):
            _, text, _ = await bot.post("slash_commands", bot.emu.command("/http", query))
            message = _json(text)
            assert mentions_in(message) == [], message
            await bot.post("events_api", bot.emu.mention(query))
        posts = await bot.emu.wait_for(lambda: len(bot.emu.posts) == 2 and bot.emu.posts)
        for post in posts:
            assert mentions_in(post) == [], post
        assert bot.emu.problems == []


async def test_a_handler_failure_is_answered_with_the_apology(monkeypatch: pytest.MonkeyPatch) -> None:
    async with running() as bot:

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(bot.service, "answer", broken)
        status, text, _ = await bot.post("slash_commands", bot.emu.command("/http", "404"))
        assert status == 200
        message = _json(text)
        assert message["response_type"] == "ephemeral"
        assert "Sorry" in message["text"]
        await bot.post("events_api", bot.emu.mention("404"))
        posts = await bot.emu.wait_for(lambda: bot.emu.posts)
        assert "Sorry" in posts[0]["text"]


async def test_health_follows_the_endpoint() -> None:
    async with running() as bot:
        assert bot.adapter.connected()
        await bot.adapter.stop()
        assert not bot.adapter.connected()


async def test_metrics_count_slack_answers() -> None:
    async with running() as bot:
        await bot.post("slash_commands", bot.emu.command("/http", "404"))
        await bot.post("slash_commands", bot.emu.command("/http", "404"))
        metrics = bot.service.metrics.render().decode()
        assert 'http_status_bot_requests_total{kind="entry",platform="slack"} 2.0' in metrics


async def test_a_query_with_the_word_payload_reaches_the_command() -> None:
    # Bolt alone takes such a form for an interactivity payload and answers 404.
    async with running() as bot:
        status, text, _ = await bot.post("slash_commands", bot.emu.command("/http", "payload too large"))
        assert status == 200
        assert _header(_json(text)).startswith("413")
        click = bot.emu.button(SHARE_ACTION, "en:a:payload too large")
        status, _, _ = await bot.post("interactive", click)
        assert status == 200
        posted = await bot.emu.wait_for(lambda: bot.emu.responses)
        assert _header(posted[0]).startswith("413")


async def test_stop_lets_replies_in_flight_finish() -> None:
    async with running() as bot:
        bot.emu.delays["chat.postMessage"] = 0.5
        await bot.post("events_api", bot.emu.mention("404"))
        await bot.emu.wait_for(lambda: bot.emu.called("chat.postMessage"))
        await bot.adapter.stop()
        assert len(bot.emu.posts) == 1


async def test_no_secret_reaches_any_log_record_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    from support.slack_emulator import BOT_TOKEN, SIGNING_SECRET

    caplog.set_level(logging.DEBUG)
    async with running() as bot:
        await bot.post("slash_commands", bot.emu.command("/http", "404"))
        await bot.post("events_api", bot.emu.mention("503"))
        await bot.emu.wait_for(lambda: bot.emu.posts)
        await bot.post("slash_commands", bot.emu.command("/http", "404"), secret="forged")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "chat.postMessage" in text
    for secret in (BOT_TOKEN, SIGNING_SECRET):
        assert secret not in text
