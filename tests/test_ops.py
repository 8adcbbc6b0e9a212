"""The ops server: /healthz follows the adapters, /metrics counts what was served."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.metrics import Metrics
from bot.ops import OpsServer, health
from bot.platforms.discord.config import DiscordConfig
from bot.platforms.telegram.config import TelegramConfig
from bot.runtime import Runtime
from bot.service import Service
from handlers import Handler, Request, load


def test_health_is_ok_only_when_every_adapter_is_connected() -> None:
    assert health({"telegram": True, "discord": True}) == (
        200,
        {"status": "ok", "adapters": {"telegram": {"connected": True}, "discord": {"connected": True}}},
    )
    status, body = health({"telegram": True, "discord": False})
    assert status == 503
    assert body["status"] == "degraded"
    assert body["adapters"]["discord"] == {"connected": False}
    assert health({})[0] == 503
    assert health({"telegram": True}, stopping=True) == (
        503,
        {"status": "stopping", "adapters": {"telegram": {"connected": True}}},
    )


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def test_healthz_and_metrics_over_http(session: aiohttp.ClientSession) -> None:
    state = {"telegram": True, "discord": True}
    metrics = Metrics()
    service = Service(Handler(load()), metrics=metrics)
    server = OpsServer("127.0.0.1", 0, metrics, lambda: state)
    await server.start()
    try:
        assert server.port != 0
        async with session.get(f"{server.url}/healthz") as response:
            assert response.status == 200
            assert response.content_type == "application/json"
            assert await response.json() == {
                "status": "ok",
                "adapters": {"telegram": {"connected": True}, "discord": {"connected": True}},
            }
        state["discord"] = False
        async with session.get(f"{server.url}/healthz") as response:
            assert response.status == 503
            assert (await response.json())["adapters"]["discord"] == {"connected": False}

        service.answer(Request("404", platform="telegram"))
        service.answer(Request("404", platform="telegram"))
        service.answer(Request("5xx", platform="discord"))
        service.suggest("discord", "not f", ["en"], 25)
        metrics.error("telegram", "send")
        metrics.retry("telegram", "rate_limit")
        async with session.get(f"{server.url}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = await response.text()
        for line in (
            'http_status_bot_requests_total{kind="entry",platform="telegram"} 2.0',
            'http_status_bot_requests_total{kind="list",platform="discord"} 1.0',
            'http_status_bot_requests_total{kind="suggest",platform="discord"} 1.0',
            'http_status_bot_errors_total{platform="telegram",stage="send"} 1.0',
            'http_status_bot_platform_retries_total{platform="telegram",reason="rate_limit"} 1.0',
            'http_status_bot_handler_seconds_count{platform="telegram"} 2.0',
            'http_status_bot_adapter_connected{platform="telegram"} 1.0',
            'http_status_bot_adapter_connected{platform="discord"} 0.0',
        ):
            assert line in text, line
        assert "# TYPE http_status_bot_handler_seconds histogram" in text
    finally:
        await server.stop()


# ---- /healthz follows real adapters whose platform goes away and comes back ------------------


class Relay:
    """A TCP relay in front of an emulator: ``cut()`` makes the platform vanish (listener closed,
    open connections reset), ``restore()`` brings it back on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


async def _status(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with session.get(url) as response:
        return response.status, await response.json()


async def _until_status(
    session: aiohttp.ClientSession, url: str, status: int, limit: float = 20.0
) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while True:
        got, body = await _status(session, url)
        if got == status:
            return body
        assert time.monotonic() < deadline, f"/healthz stayed {got}: {body}"
        await asyncio.sleep(0.1)


async def test_healthz_follows_each_platform_going_away_and_coming_back(
    session: aiohttp.ClientSession,
) -> None:
    from bot.platforms.discord.gateway import DiscordGatewayAdapter
    from bot.platforms.telegram.adapter import TelegramAdapter

    from support.discord_emulator import DiscordEmulator
    from support.telegram_emulator import TelegramEmulator

    async with TelegramEmulator() as telegram, DiscordEmulator(heartbeat_interval=1.0) as discord:
        tg_relay, dc_relay = Relay(telegram.port), Relay(discord.port)
        await tg_relay.restore()
        await dc_relay.restore()
        # Every URL the emulator hands out (resume_gateway_url too) goes through the relay.
        discord.port = dc_relay.port
        tg_config = TelegramConfig(
            enabled=True,
            token=telegram.token,
            api_base_url=f"http://127.0.0.1:{tg_relay.port}/bot",
            poll_timeout=1,
        )
        dc_config = DiscordConfig(
            enabled=True,
            token=discord.token,
            api_base_url=discord.api_base_url,
            gateway_url=discord.gateway_url,
        )
        metrics = Metrics()
        service = Service(Handler(load()), metrics=metrics)
        runtime = Runtime(
            {
                "telegram": lambda: TelegramAdapter(tg_config, service, register_commands=False),
                "discord": lambda: DiscordGatewayAdapter(dc_config, service),
            },
            metrics=metrics,
        )
        server = OpsServer("127.0.0.1", 0, metrics, runtime.health)
        await server.start()
        url = f"{server.url}/healthz"
        try:
            await runtime.start()
            await _until_status(session, url, 200)
            for relay, gone in ((tg_relay, "telegram"), (dc_relay, "discord")):
                await relay.cut()
                body = await _until_status(session, url, 503)
                assert body["status"] == "degraded"
                assert body["adapters"][gone] == {"connected": False}
                # The other platform is unaffected.
                assert all(v["connected"] for k, v in body["adapters"].items() if k != gone)
                await relay.restore()
                await _until_status(session, url, 200)
            # What was served meanwhile is counted.
            update = telegram.message("/http 404")
            await telegram.wait_for(lambda: bool(telegram.replies_to(update)))
            await discord.interact(discord.slash("http", {"query": "503"}))
            async with session.get(f"{server.url}/metrics") as response:
                text = await response.text()
            assert 'http_status_bot_requests_total{kind="entry",platform="telegram"} 1.0' in text
            assert 'http_status_bot_requests_total{kind="entry",platform="discord"} 1.0' in text
            assert 'http_status_bot_adapter_connected{platform="telegram"} 1.0' in text
        finally:
            await runtime.stop()
            await server.stop()
            await tg_relay.cut()
            await dc_relay.cut()
