"""The operator commands: ``run``, ``check-config`` and ``sync-commands``.

Each returns the process exit status: 0 done, 1 the platform or the machine refused (a token
rejected, a port taken), 2 the configuration or the usage is wrong. Errors are one line on
standard error, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

from bot.config import (
    SECRET_ENV,
    Config,
    ConfigError,
    effective,
    enabled_platforms,
    load,
    secrets,
)
from bot.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from handlers import Handler

NOTHING_ENABLED = """\
nothing to run: no platform is enabled in the configuration ({source}).
Enable one or more, in the file given by --config or BOT_CONFIG, or in the environment:
  [telegram] enabled = true   (BOT_TELEGRAM_ENABLED=true) with the token in TELEGRAM_BOT_TOKEN
  [discord]  enabled = true   (BOT_DISCORD_ENABLED=true)  with DISCORD_BOT_TOKEN (gateway mode)
                              or DISCORD_PUBLIC_KEY (mode = "interactions")
  [console]  enabled = true   (BOT_CONSOLE_ENABLED=true)  answers on this terminal
config.example.toml documents every key. To try the bot without any token:
  python -m bot console
"""


def _source(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    if getattr(args, "config", None):
        return str(args.config)
    if environ.get("BOT_CONFIG"):
        return f"{environ['BOT_CONFIG']} (from BOT_CONFIG)"
    return "no file: defaults and environment"


def _load(args: argparse.Namespace, err: TextIO) -> Config | None:
    try:
        return load(getattr(args, "config", None))
    except ConfigError as exc:
        err.write(f"configuration error: {exc}\n")
        return None


def _load_handler(config: Config, err: TextIO) -> Handler | int:
    """The handler, or the exit status when the catalogue or ``[bot] default_lang`` is wrong."""
    from handlers import CatalogueError, Handler
    from handlers import load as load_catalogue

    try:
        handler = Handler(load_catalogue())
    except CatalogueError as exc:
        err.write(f"catalogue error: {exc}\n")
        return EXIT_FAILURE
    if handler.supported(config.bot.default_lang) is None:
        err.write(
            f"configuration error: [bot] default_lang {config.bot.default_lang!r} is not a supported"
            f" language (available: {', '.join(handler.languages)})\n"
        )
        return EXIT_USAGE
    return handler


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    # JSON string escapes are valid TOML basic-string escapes.
    return json.dumps(str(value), ensure_ascii=False)


def render_effective(config: Config) -> str:
    """The configuration as TOML, secrets masked (what ``check-config`` prints)."""
    lines: list[str] = []
    for section, values in effective(config).items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)


def check_config(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``check-config``: validate, print the effective configuration; 0 valid, 2 otherwise."""
    config = _load(args, err)
    if config is None or isinstance(_load_handler(config, err), int):
        return EXIT_USAGE
    environ = os.environ
    out.write(f"# configuration: {_source(args, environ)}\n")
    from_env = [name for name in SECRET_ENV if environ.get(name) or environ.get(f"{name}_FILE")]
    if from_env:
        out.write(f"# secrets from the environment: {', '.join(from_env)}\n")
    overrides = sorted(k for k in environ if k.startswith("BOT_") and k != "BOT_CONFIG")
    if overrides:
        out.write(f"# overrides from the environment: {', '.join(overrides)}\n")
    out.write("\n" + render_effective(config))
    platforms = enabled_platforms(config)
    if platforms:
        out.write(f"# valid: run starts {', '.join(platforms)}\n")
    else:
        out.write("# valid, but no platform is enabled: run would refuse to start\n")
    return EXIT_OK


def run(args: argparse.Namespace, err: TextIO) -> int:
    """``run``: every enabled adapter until SIGINT/SIGTERM."""
    config = _load(args, err)
    if config is None:
        return EXIT_USAGE
    if not enabled_platforms(config):
        err.write(NOTHING_ENABLED.format(source=_source(args, os.environ)))
        return EXIT_USAGE
    from bot.logging_setup import setup_logging

    setup_logging(config.logging.level, config.logging.format, secrets(config))
    handler = _load_handler(config, err)
    if isinstance(handler, int):
        return handler
    handler.warm()
    from bot.runtime import serve

    try:
        return asyncio.run(serve(config, handler))
    except KeyboardInterrupt:  # Ctrl-C before the loop's own signal handlers were installed
        return 130


def sync_commands(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``sync-commands [--guild ID]``: register the Discord command set through the REST API."""
    config = _load(args, err)
    if config is None:
        return EXIT_USAGE
    if not config.discord.token:
        err.write(
            "sync-commands needs the Discord bot token: set DISCORD_BOT_TOKEN"
            " (or [discord] token in the configuration file)\n"
        )
        return EXIT_USAGE
    from bot.logging_setup import setup_logging

    setup_logging(config.logging.level, config.logging.format, secrets(config))
    try:
        from bot.platforms.discord.sync import sync_commands as sync
    except ImportError as exc:
        err.write(f"Discord support is missing: {exc}\n")
        return EXIT_FAILURE
    guild: int | None = args.guild
    try:
        result: Any = sync(config.discord, guild)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
    except Exception as exc:
        logging.getLogger(__name__).debug("sync-commands failed", exc_info=True)
        err.write(f"sync-commands failed: {exc or type(exc).__name__}\n")
        return EXIT_FAILURE
    where = f"in guild {guild}" if guild else "globally (may take up to an hour to appear everywhere)"
    out.write(f"registered {result} command(s) {where}\n")
    return EXIT_OK


async def _await(awaitable: Any) -> Any:
    return await awaitable


def run_command(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Dispatch ``run``, ``check-config`` and ``sync-commands``; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    if args.command == "check-config":
        return check_config(args, out, err)
    if args.command == "sync-commands":
        return sync_commands(args, out, err)
    return run(args, err)
