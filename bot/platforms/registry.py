"""The platforms this bot serves, in start order.

Configuration loading, ``check-config``, ``run``, the runtime, ``/healthz`` and ``/metrics`` loop
over this list; nothing else names a platform. Adding one is a package under ``bot/platforms/``
that exports a :class:`~bot.platforms.base.Platform` as ``PLATFORM``, and one entry here.
"""

from __future__ import annotations

from typing import Any

from bot.platforms import console, discord, slack, telegram
from bot.platforms.base import OperatorCommand, Platform

PLATFORMS: tuple[Platform[Any], ...] = (
    telegram.PLATFORM,
    discord.PLATFORM,
    slack.PLATFORM,
    console.PLATFORM,
)


def platforms() -> tuple[Platform[Any], ...]:
    """The registered platforms, in start order.

    Read at each call rather than imported as a constant, so that a test can register one more
    by replacing :data:`PLATFORMS`.
    """
    return PLATFORMS


def operator_commands() -> dict[str, OperatorCommand]:
    """The ``python -m bot`` subcommands the platforms add, by name (Discord's ``sync-commands``)."""
    return {command.name: command for platform in PLATFORMS for command in platform.commands}


def get(name: str) -> Platform[Any]:
    """The platform called ``name``; ``KeyError`` when none is."""
    for platform in PLATFORMS:
        if platform.name == name:
            return platform
    raise KeyError(name)
