"""Slack: ``/http``, mentions, direct messages, a message shortcut and ``/http-lang``, on Bolt.

Importing this package loads neither Bolt nor slack_sdk: the adapter factory imports them when
``run`` starts, so ``ask`` and ``console`` never pay for them.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.platforms.base import AdapterContext, AdapterFactory, Platform
from bot.platforms.slack.config import NAME, SlackConfig


def _adapter(config: SlackConfig, context: AdapterContext) -> AdapterFactory:
    from bot.platforms.slack.adapter import SlackAdapter

    # Leave the runtime's own deadline some room to close connections after the drain.
    drain = max(1.0, context.bot.shutdown_timeout * 0.8)
    return lambda: SlackAdapter(config, context.service, drain_timeout=drain)


def _notes(config: SlackConfig) -> Iterable[str]:
    if config.mode == "http":
        yield f"events, commands and interactivity on {config.listen}:{config.port}{config.path}"
    else:
        yield "Socket Mode: no public URL needed"


PLATFORM = Platform(
    name=NAME,
    section=SlackConfig,
    adapter=_adapter,
    enable_hint=(
        "with SLACK_BOT_TOKEN and SLACK_APP_TOKEN (Socket Mode)",
        'or SLACK_SIGNING_SECRET (mode = "http")',
    ),
    notes=_notes,
)
