"""Discord under hostile or broken conditions: garbage on the gateway, rate-limited callbacks, an
API that does not answer, requests crafted to make the interactions endpoint fail."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from functools import cache
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from nacl.signing import SigningKey

from bot.metrics import Metrics
from bot.ops import OpsServer
from bot.platforms.base import AdapterStartError
from bot.platforms.discord.config import DiscordConfig
from bot.platforms.discord.gateway import DiscordGatewayAdapter
from bot.platforms.discord.interactions import DiscordInteractionsAdapter
from bot.platforms.discord.render import EPHEMERAL
from bot.platforms.discord.sync import CommandSyncError, sync_commands
from bot.runtime import Runtime
from bot.service import Service
from handlers import Handler, load

from support.discord_emulator import DiscordEmulator

KEY = SigningKey.generate()
PAYLOADS = DiscordEmulator()


@cache
def _handler() -> Handler:
    handler = Handler(load())
    handler.warm()
    return handler


def gateway_config(emu: DiscordEmulator, **overrides: Any) -> DiscordConfig:
    base = DiscordConfig(
        enabled=True,
        mode="gateway",
        token=emu.token,
        api_base_url=emu.api_base_url,
        gateway_url=emu.gateway_url,
    )
    return replace(base, **overrides)


async def _status(session: aiohttp.ClientSession, url: str) -> int:
    try:
        async with session.get(url) as response:
            return response.status
    except aiohttp.ClientError:
        return 0


async def _until_status(session: aiohttp.ClientSession, url: str, wanted: int, within: float) -> float:
    began = time.monotonic()
    while await _status(session, url) != wanted:
        assert time.monotonic() - began < within, f"/healthz never answered {wanted}"
        await asyncio.sleep(0.05)
    return time.monotonic() - began


# ---- the gateway ---------------------------------------------------------------------------------


async def test_a_garbage_gateway_frame_turns_health_bad_until_the_adapter_is_restarted() -> None:
    async with DiscordEmulator() as emu:
        service = Service(_handler())
        runtime = Runtime(
            {"discord": lambda: DiscordGatewayAdapter(gateway_config(emu), service, ready_timeout=10)},
            restart_after=1.0,
            restart_initial_delay=0.1,
            check_interval=0.1,
        )
        ops = OpsServer("127.0.0.1", 0, Metrics(), runtime.health)
        await ops.start()
        await runtime.start()
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
                url = f"{ops.url}/healthz"
                await _until_status(session, url, 200, 10)
                await emu.send_raw("this frame is not JSON")
                bad_after = await _until_status(session, url, 503, 5)
                back_after = await _until_status(session, url, 200, 15)
            print(f"\n/healthz 503 {bad_after:.2f} s after the frame, 200 again {back_after:.2f} s later")
            assert runtime.restarts() == {"discord": 1}
            await emu.wait_connected()
            callback = await emu.interact(emu.slash("http", {"query": "404"}))
            assert callback["type"] == 4
        finally:
            await runtime.stop()
            await ops.stop()


async def test_a_rate_limited_interaction_callback_is_retried() -> None:
    async with DiscordEmulator() as emu:
        adapter = DiscordGatewayAdapter(gateway_config(emu), Service(_handler()), ready_timeout=10)
        await adapter.start()
        try:
            emu.callback_rate_limits = 1
            callback = await emu.interact(emu.slash("http", {"query": "418"}))
            assert callback["type"] == 4
            assert len(emu.rate_limited) == 1
        finally:
            await adapter.stop()


async def test_an_api_that_never_answers_fails_start_quickly_with_a_readable_reason() -> None:
    with socket.socket() as silent:
        # Connections are accepted by the kernel and then nothing is ever said.
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        config = DiscordConfig(enabled=True, token="x.y.z", api_base_url=f"http://127.0.0.1:{port}")
        adapter = DiscordGatewayAdapter(config, Service(_handler()), login_timeout=1.0)
        began = time.monotonic()
        with pytest.raises(AdapterStartError) as raised:
            await adapter.start()
        assert time.monotonic() - began < 3
        await adapter.stop()
    message = str(raised.value)
    assert (
        message == f"cannot reach the Discord API at http://127.0.0.1:{port}/api/v10: no answer in time (1 s)"
    )


async def test_a_refused_connection_is_named_not_dumped() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = DiscordConfig(enabled=True, token="x.y.z", api_base_url=f"http://127.0.0.1:{port}")
    adapter = DiscordGatewayAdapter(config, Service(_handler()), login_timeout=5.0)
    with pytest.raises(AdapterStartError) as raised:
        await adapter.start()
    await adapter.stop()
    message = str(raised.value)
    assert f"cannot connect to 127.0.0.1:{port}" in message
    assert "Error(" not in message and "<" not in message


async def test_sync_commands_shows_the_title_of_an_html_error_page_not_the_page() -> None:
    page = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>" + "x" * 5000

    async def bad_gateway(request: web.Request) -> web.Response:
        return web.Response(status=502, text=page, content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", bad_gateway)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        config = DiscordConfig(token="x.y.z", application_id=1, api_base_url=f"http://127.0.0.1:{port}")
        with pytest.raises(CommandSyncError) as raised:
            await sync_commands(config, None, handler=_handler())
    finally:
        await runner.cleanup()
    message = str(raised.value)
    assert "502 Bad Gateway" in message
    assert len(message) < 250 and "<" not in message


# ---- the interactions endpoint ------------------------------------------------------------------


def _signed(body: bytes, timestamp: str | None = None) -> dict[str, str]:
    stamp = timestamp or str(int(time.time()))
    return {
        "X-Signature-Ed25519": KEY.sign(stamp.encode() + body).signature.hex(),
        "X-Signature-Timestamp": stamp,
        "Content-Type": "application/json",
    }


@pytest.fixture
async def endpoint() -> AsyncIterator[DiscordInteractionsAdapter]:
    config = DiscordConfig(
        enabled=True,
        mode="interactions",
        public_key=KEY.verify_key.encode().hex(),
        interactions_listen="127.0.0.1",
        interactions_port=0,
    )
    adapter = DiscordInteractionsAdapter(config, Service(_handler()))
    await adapter.start()
    yield adapter
    await adapter.stop()


async def _raw(port: int, request: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5)
        return int(status_line.split()[1])
    finally:
        writer.close()


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info or r.exc_text or r.levelno >= logging.ERROR]


async def test_unauthenticated_hostile_requests_get_a_client_error_and_one_warning(
    endpoint: DiscordInteractionsAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    port = endpoint.port
    assert port is not None
    body = b'{"type": 1}'
    huge_stamp = "9" * 5000
    request = (
        b"POST /interactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"X-Signature-Ed25519: " + b"ab" * 64 + b"\r\nX-Signature-Timestamp: " + huge_stamp.encode() + b"\r\n"
        b"Content-Length: 11\r\n\r\n" + body
    )
    assert await _raw(port, request) == 401
    big_header = b"POST /interactions HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
    assert await _raw(port, big_header) == 400
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(100))
    assert await _raw(port, b"POST /interactions HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n") == 400
    _no_traceback(caplog)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert 1 <= len(warnings) <= 3


@pytest.mark.parametrize(
    "payload",
    [
        {"type": 2, "data": ["not", "an", "object"]},
        {"type": 2, "data": {"name": "http", "options": {"query": "x"}}},
        {"type": 2, "member": "someone", "data": {"name": "http"}},
        {"type": 2, "locale": ["fr"], "data": {"name": "http"}},
        {"type": 4, "data": {"name": "http", "options": [{"name": "query", "focused": True, "value": 5}]}},
    ],
    ids=["data-list", "options-object", "member-string", "locale-list", "focused-number"],
)
async def test_a_signed_interaction_the_bot_cannot_read_gets_the_apology(
    endpoint: DiscordInteractionsAdapter, payload: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(payload).encode()
    async with (
        aiohttp.ClientSession() as session,
        session.post(endpoint.url, data=body, headers=_signed(body)) as response,
    ):
        assert response.status == 200
        answer = await response.json()
    # An apology, or (options it could partly read) a normal answer: never an error.
    assert answer["type"] in (4, 8)
    assert "data" in answer
    if payload.get("data") == ["not", "an", "object"]:
        assert answer["data"]["flags"] & EPHEMERAL


@pytest.mark.parametrize("query", ["xyzzy \\ud800 plugh", "\\udfff", "404 \\ud83d"])
async def test_a_lone_surrogate_in_a_query_is_answered_not_apologised_for(
    endpoint: DiscordInteractionsAdapter, query: str, caplog: pytest.LogCaptureFixture
) -> None:
    slash = PAYLOADS.slash("http", {"query": "QUERY"})
    body = json.dumps(slash).replace('"QUERY"', f'"{query}"').encode()
    async with (
        aiohttp.ClientSession() as session,
        session.post(endpoint.url, data=body, headers=_signed(body)) as response,
    ):
        assert response.status == 200
        answer = await response.json()
    assert answer["type"] == 4
    assert "went wrong" not in json.dumps(answer)
    _no_traceback(caplog)


async def test_a_signed_body_nested_too_deep_is_a_bad_request(
    endpoint: DiscordInteractionsAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    body = b"[" * 60_000
    async with (
        aiohttp.ClientSession() as session,
        session.post(endpoint.url, data=body, headers=_signed(body)) as response,
    ):
        assert response.status == 400
    _no_traceback(caplog)


async def test_interaction_tokens_never_reach_the_log_even_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with DiscordEmulator() as emu:
        adapter = DiscordGatewayAdapter(gateway_config(emu), Service(_handler()), ready_timeout=10)
        await adapter.start()
        try:
            interaction = emu.slash("http", {"query": "404"})
            await emu.interact(interaction)
        finally:
            await adapter.stop()
    token = interaction["token"]
    assert len(token) >= 16
    assert f"/{interaction['id']}/" in caplog.text  # the callback URL was logged...
    assert token not in caplog.text  # ...without the token
