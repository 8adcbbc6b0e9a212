"""Slack in Socket Mode: envelopes over a real websocket, acknowledged by ``envelope_id``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot.metrics import Metrics
from bot.platforms.base import AdapterStartError
from bot.platforms.slack.adapter import SlackAdapter
from bot.platforms.slack.render import SHARE_ACTION
from bot.service import Service
from bot.storage import MemoryPreferences

from support.slack_emulator import SlackEmulator
from support.slack_harness import running, shared_handler, slack_config


def _share_value(message: dict[str, Any]) -> str:
    for block in message.get("blocks", ()):
        for element in block.get("elements", ()):
            if element.get("action_id") == SHARE_ACTION:
                return str(element["value"])
    raise AssertionError("no Share button")


async def test_connects_with_the_app_token_and_reports_health() -> None:
    async with running("socket") as bot:
        opened = bot.emu.called("apps.connections.open")
        assert len(opened) == 1 and opened[0].token == bot.emu.app_token
        assert bot.emu.called("auth.test")[0].token == bot.emu.bot_token
        assert bot.adapter.connected()
        await bot.adapter.stop()
        assert not bot.adapter.connected()


async def test_slash_command_is_answered_in_the_acknowledgement() -> None:
    async with running("socket") as bot:
        ack = await bot.emu.envelope("slash_commands", bot.emu.command("/http", "503"))
        payload = ack["payload"]
        assert payload["response_type"] == "ephemeral"
        assert payload["blocks"][0]["text"]["text"] == "503 Service Unavailable"
        assert _share_value(payload) == "en:a:503"
        ack = await bot.emu.envelope("slash_commands", bot.emu.command("/http", "503 public"))
        assert ack["payload"]["response_type"] == "in_channel"
        assert bot.emu.problems == []


async def test_events_are_acknowledged_then_answered_in_the_thread() -> None:
    async with running("socket") as bot:
        payload = bot.emu.mention("404")
        ack = await bot.emu.envelope("events_api", payload)
        assert set(ack) <= {"envelope_id", "payload"} and not ack.get("payload")
        posts = await bot.emu.wait_for(lambda: bot.emu.posts)
        assert posts[0]["thread_ts"] == payload["event"]["ts"]
        # Slack delivers it again (the acknowledgement was late): not answered twice.
        await bot.emu.envelope("events_api", payload, retry_attempt=1)
        await bot.emu.envelope("events_api", bot.emu.direct("500"))
        await bot.emu.wait_for(lambda: len(bot.emu.posts) == 2)
        await bot.adapter.stop()
        assert [p["blocks"][0]["text"]["text"][:3] for p in bot.emu.posts] == ["404", "500"]


async def test_shortcut_and_share_over_the_socket() -> None:
    async with running("socket") as bot:
        message = {"text": "upstream said 502 then 504"}
        ack = await bot.emu.envelope("interactive", bot.emu.shortcut(message))
        assert not ack.get("payload")
        explained = (await bot.emu.wait_for(lambda: bot.emu.responses))[0]
        assert explained["response_type"] == "ephemeral"
        value = _share_value(explained)
        await bot.emu.envelope("interactive", bot.emu.button(SHARE_ACTION, value, user="UADMIN"))
        shared = (await bot.emu.wait_for(lambda: len(bot.emu.responses) == 2 and bot.emu.responses))[1]
        assert shared["response_type"] == "in_channel"
        text = json.dumps(shared)
        assert "502" in text and "504" in text and "Shared by root" in text
        assert bot.emu.problems == []


async def test_http_lang_over_the_socket() -> None:
    async with running("socket") as bot:
        ack = await bot.emu.envelope("slash_commands", bot.emu.command("/http-lang", "ja", user="UADMIN"))
        assert ack["payload"]["response_type"] == "in_channel"
        ack = await bot.emu.envelope("slash_commands", bot.emu.command("/http", "404"))
        assert "見つかりません" in ack["payload"]["blocks"][0]["text"]["text"]


async def test_stop_finishes_replies_in_flight() -> None:
    async with running("socket") as bot:
        bot.emu.delays["chat.postMessage"] = 0.5
        await bot.emu.envelope("events_api", bot.emu.mention("404"))
        await bot.emu.wait_for(lambda: bot.emu.called("chat.postMessage"))
        await bot.adapter.stop()
        assert len(bot.emu.posts) == 1


async def test_envelopes_during_shutdown_are_left_for_slack_to_deliver_again() -> None:
    async with running("socket") as bot:
        bot.emu.delays["chat.postMessage"] = 0.5
        await bot.emu.envelope("events_api", bot.emu.mention("404"))
        await bot.emu.wait_for(lambda: bot.emu.called("chat.postMessage"))
        stopping = asyncio.create_task(bot.adapter.stop())
        await asyncio.sleep(0.05)
        late = await bot.emu.send_envelope("slash_commands", bot.emu.command("/http", "500"))
        await stopping
        assert not late.done()
        assert len(bot.emu.posts) == 1


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"bot_token": "xoxb-wrong"}, "rejected the bot token (invalid_auth)"),
        ({"app_token": "xapp-wrong"}, "rejected the app-level token (invalid_auth)"),
    ],
)
async def test_a_refused_token_stops_the_start_with_one_clear_line(
    overrides: dict[str, str], expected: str
) -> None:
    async with SlackEmulator() as emu:
        adapter = SlackAdapter(
            slack_config(emu, "socket", **overrides),
            Service(shared_handler(), Metrics(), MemoryPreferences()),
        )
        with pytest.raises(AdapterStartError) as caught:
            await adapter.start()
        assert expected in str(caught.value)
        assert "wrong" not in str(caught.value)
        assert not adapter.connected()
        await adapter.stop()


async def test_an_unreachable_api_stops_the_start() -> None:
    async with SlackEmulator() as emu:
        url = emu.api_base_url
    adapter = SlackAdapter(
        slack_config(emu, "socket", api_base_url=url),
        Service(shared_handler(), Metrics(), MemoryPreferences()),
    )
    with pytest.raises(AdapterStartError) as caught:
        await adapter.start()
    assert "cannot reach the Slack Web API" in str(caught.value)
