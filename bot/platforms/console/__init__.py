"""The console: a local prompt, no token needed (``[console] enabled`` or ``python -m bot console``)."""

from __future__ import annotations

from bot.platforms.base import Adapter, AdapterContext, AdapterFactory, Platform
from bot.platforms.console.config import ConsoleConfig


def _adapter(config: ConsoleConfig, context: AdapterContext) -> AdapterFactory:
    from bot.cli import env_locale
    from bot.platforms.console.adapter import ConsoleAdapter

    service = context.service

    def console() -> Adapter:
        # The user leaving the prompt (quit, Ctrl-D, end of input) ends the process.
        return ConsoleAdapter(
            service.handler,
            locale=env_locale() or context.bot.default_lang,
            on_exit=context.request_stop,
            answer=service.answer,
        )

    return console


PLATFORM = Platform(
    name="console",
    section=ConsoleConfig,
    adapter=_adapter,
    enable_hint=("answers on this terminal",),
)
