"""The operator commands: ``run``, ``check-config`` and those the platforms add (``sync-commands``).

Each returns the process exit status (:mod:`bot.exit_codes`): 0 done, 1 the platform or the
machine refused (a token rejected, a port taken), 2 the configuration or the usage is wrong.
Errors are one line on standard error, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

from bot.config import (
    Config,
    ConfigError,
    effective,
    enabled_platforms,
    env_name,
    load,
    secret_env,
    secrets,
)
from bot.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from bot.platforms import registry
from bot.platforms.base import OperatorCommand

if TYPE_CHECKING:
    from handlers import Handler


def nothing_enabled(source: str) -> str:
    """What ``run`` prints when no platform is enabled: how to enable each one."""
    rows = [
        (f"[{p.name}]", f"({env_name(p.name, 'enabled')}=true)", p.enable_hint) for p in registry.platforms()
    ]
    section_width = max(len(section) for section, _, _ in rows)
    variable_width = max(len(variable) for _, variable, _ in rows)
    lines = [
        f"nothing to run: no platform is enabled in the configuration ({source}).",
        "Enable one or more, in the file given by --config or BOT_CONFIG, or in the environment:",
    ]
    for section, variable, hint in rows:
        head = f"  {section.ljust(section_width)} enabled = true   {variable.ljust(variable_width)}"
        first, *rest = hint or ("",)
        lines.append(f"{head} {first}".rstrip())
        lines += [" " * (len(head) - variable_width) + line for line in rest]
    lines += [
        "config.example.toml documents every key. To try the bot without any token:",
        "  python -m bot console",
    ]
    return "\n".join(lines) + "\n"


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
    from_env = [name for name in secret_env() if environ.get(name) or environ.get(f"{name}_FILE")]
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
    for platform in registry.platforms():
        if platform.name in platforms and platform.notes is not None:
            for note in platform.notes(platform.section_of(config)):
                out.write(f"# {platform.name}: {note}\n")
    return EXIT_OK


def run(args: argparse.Namespace, err: TextIO) -> int:
    """``run``: every enabled adapter until SIGINT/SIGTERM."""
    config = _load(args, err)
    if config is None:
        return EXIT_USAGE
    if not enabled_platforms(config):
        err.write(nothing_enabled(_source(args, os.environ)))
        return EXIT_USAGE
    from bot.logging_setup import setup_logging

    setup_logging(config.logging.level, config.logging.format, secrets(config))
    handler = _load_handler(config, err)
    if isinstance(handler, int):
        return handler
    from handlers.search import cache_ready, prepare_cache

    if not cache_ready(handler.catalogue):
        prepare_cache()
    handler.warm()
    from bot.runtime import serve

    try:
        return asyncio.run(serve(config, handler))
    except KeyboardInterrupt:  # Ctrl-C before the loop's own signal handlers were installed
        return 130


def _platform_command(command: OperatorCommand, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = _load(args, err)
    if config is None:
        return EXIT_USAGE
    from bot.logging_setup import setup_logging

    setup_logging(config.logging.level, config.logging.format, secrets(config))
    return command.run(args, config, out, err)


def run_command(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Dispatch ``run``, ``check-config`` and the platforms' commands; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    if args.command == "check-config":
        return check_config(args, out, err)
    command = registry.operator_commands().get(args.command)
    if command is not None:
        return _platform_command(command, args, out, err)
    return run(args, err)
