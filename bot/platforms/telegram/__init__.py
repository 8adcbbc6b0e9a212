"""Telegram: python-telegram-bot on the runtime's loop, by long polling or a webhook.

Importing this package loads neither python-telegram-bot nor aiohttp: only the adapter factory
does, when ``run`` starts an enabled Telegram section.
"""

from __future__ import annotations

from bot.platforms.base import AdapterContext, AdapterFactory, Platform
from bot.platforms.telegram.config import NAME, TelegramConfig


def _adapter(config: TelegramConfig, context: AdapterContext) -> AdapterFactory:
    from bot.platforms.telegram.adapter import TelegramAdapter

    # Leave the runtime's own deadline some room to close connections after the drain.
    drain = max(1.0, context.bot.shutdown_timeout * 0.8)
    return lambda: TelegramAdapter(config, context.service, drain_timeout=drain)


PLATFORM = Platform(
    name=NAME,
    section=TelegramConfig,
    adapter=_adapter,
    enable_hint=("with the token in TELEGRAM_BOT_TOKEN",),
)
