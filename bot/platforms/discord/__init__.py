"""Discord: slash commands, autocomplete and a message command, over the gateway or HTTP.

Importing this package loads neither discord.py nor aiohttp: the adapter factory imports the
gateway (discord.py) or the interactions endpoint (aiohttp only) when ``run`` starts, and
``sync-commands`` imports its REST client when it runs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

from bot.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from bot.platforms.base import AdapterContext, AdapterFactory, OperatorCommand, Platform
from bot.platforms.discord.config import NAME, DiscordConfig

if TYPE_CHECKING:
    from bot.config import Config


def _adapter(config: DiscordConfig, context: AdapterContext) -> AdapterFactory:
    if config.mode == "interactions":
        # The HTTP endpoint needs aiohttp and PyNaCl only: discord.py is never imported.
        from bot.platforms.discord.interactions import DiscordInteractionsAdapter

        return lambda: DiscordInteractionsAdapter(config, context.service)
    from bot.platforms.discord.gateway import DiscordGatewayAdapter

    return lambda: DiscordGatewayAdapter(config, context.service)


def _sync_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--guild", type=int, metavar="ID", help="a guild (instant) instead of global")


def _sync_commands(args: argparse.Namespace, config: Config, out: TextIO, err: TextIO) -> int:
    """``sync-commands [--guild ID]``: register the Discord command set through the REST API."""
    discord = PLATFORM.section_of(config)
    if not discord.token:
        err.write(
            "sync-commands needs the Discord bot token: set DISCORD_BOT_TOKEN"
            " (or [discord] token in the configuration file)\n"
        )
        return EXIT_USAGE
    # Imported here, like logging below: the command line reads this package for every
    # command, ask included, which needs neither.
    import asyncio

    try:
        from bot.platforms.discord.sync import sync_commands
    except ImportError as exc:
        err.write(f"Discord support is missing: {exc}\n")
        return EXIT_FAILURE
    guild: int | None = args.guild
    try:
        count = asyncio.run(sync_commands(discord, guild))
    except Exception as exc:
        import logging

        logging.getLogger("bot.commands").debug("sync-commands failed", exc_info=True)
        err.write(f"sync-commands failed: {exc or type(exc).__name__}\n")
        return EXIT_FAILURE
    where = f"in guild {guild}" if guild else "globally (may take up to an hour to appear everywhere)"
    out.write(f"registered {count} command(s) {where}\n")
    return EXIT_OK


SYNC_COMMANDS = OperatorCommand(
    name="sync-commands",
    help="register the Discord commands through the REST API",
    run=_sync_commands,
    add_arguments=_sync_arguments,
)

PLATFORM = Platform(
    name=NAME,
    section=DiscordConfig,
    adapter=_adapter,
    enable_hint=("with DISCORD_BOT_TOKEN (gateway mode)", 'or DISCORD_PUBLIC_KEY (mode = "interactions")'),
    commands=(SYNC_COMMANDS,),
)
