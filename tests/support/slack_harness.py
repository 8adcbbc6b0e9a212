"""What the Slack tests share: the handler, a running adapter against the emulator, and helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from bot.metrics import Metrics
from bot.platforms.slack.adapter import SlackAdapter
from bot.platforms.slack.config import SlackConfig
from bot.service import Service
from bot.storage import MemoryPreferences
from handlers import Handler, load

from support.slack_emulator import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, SlackEmulator


@cache
def shared_handler() -> Handler:
    handler = Handler(load())
    handler.warm()
    return handler


def slack_config(emu: SlackEmulator, mode: str = "http", **overrides: Any) -> SlackConfig:
    base = SlackConfig(
        enabled=True,
        mode=mode,  # type: ignore[arg-type]
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        app_token=APP_TOKEN,
        listen="127.0.0.1",
        port=0,
        api_base_url=emu.api_base_url,
    )
    return replace(base, **overrides)


async def no_wait(seconds: float) -> None:
    """Retry-After honoured without the test sleeping: the waits are recorded instead."""
    WAITS.append(seconds)


WAITS: list[float] = []


@dataclass
class Running:
    """An emulator and a started adapter talking to it."""

    emu: SlackEmulator
    adapter: SlackAdapter
    service: Service

    @property
    def url(self) -> str:
        return self.adapter.url

    async def post(
        self, kind: str, payload: dict[str, Any], **options: Any
    ) -> tuple[int, str, dict[str, str]]:
        return await self.emu.post(self.url, kind, payload, **options)


@asynccontextmanager
async def running(mode: str = "http", *, sleep: Any = None, **overrides: Any) -> AsyncIterator[Running]:
    async with SlackEmulator() as emu:
        service = Service(shared_handler(), Metrics(), MemoryPreferences())
        options: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        adapter = SlackAdapter(slack_config(emu, mode, **overrides), service, **options)
        await adapter.start()
        try:
            yield Running(emu, adapter, service)
        finally:
            await adapter.stop()
