"""Configuration: one TOML file (``--config`` or ``BOT_CONFIG``) plus the environment.

Precedence, strongest first: the secret variables (``TELEGRAM_BOT_TOKEN``... or the file named by
``TELEGRAM_BOT_TOKEN_FILE``...), ``BOT_<SECTION>_<KEY>`` variables, the file, the defaults.
``tomllib`` parses; the sections below are plain dataclasses whose type hints drive validation,
so an unknown key, a wrong type or a missing secret is reported as one line naming the key.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints


class ConfigError(ValueError):
    """A configuration problem, worded for the operator."""


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    """``[telegram]``: the Telegram adapter."""

    enabled: bool = False
    token: str = ""
    api_base_url: str = "https://api.telegram.org/bot"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    webhook_path: str = "/telegram"
    webhook_url: str = ""
    secret_token: str = ""
    poll_timeout: int = 30
    inline_cache_time: int = 300


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    """``[discord]``: the Discord adapter (gateway or HTTP interactions)."""

    enabled: bool = False
    mode: Literal["gateway", "interactions"] = "gateway"
    token: str = ""
    application_id: int = 0
    public_key: str = ""
    interactions_listen: str = "0.0.0.0"
    interactions_port: int = 8080
    interactions_path: str = "/interactions"
    dev_guild_id: int = 0
    shard_count: int = 0
    shard_ids: list[int] = field(default_factory=list)
    api_base_url: str = ""
    gateway_url: str = ""
    answer_cache_size: int = 2048


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    """``[console]``: answer on standard input/output (``python -m bot console`` forces it)."""

    enabled: bool = False


@dataclass(frozen=True, slots=True)
class OpsConfig:
    """``[ops]``: the health and metrics HTTP server."""

    enabled: bool = False
    listen: str = "127.0.0.1"
    port: int = 9090


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    """``[logging]``: level and format of log lines."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    format: Literal["text", "json"] = "text"


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """``[storage]``: where chat language preferences are kept."""

    path: str = "http-status-bot.sqlite3"


@dataclass(frozen=True, slots=True)
class BotConfig:
    """``[bot]``: behaviour shared by every platform."""

    default_lang: str = "en"
    shutdown_timeout: float = 10.0
    restart_after: float = 60.0
    restart_max_delay: float = 300.0


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration."""

    bot: BotConfig = field(default_factory=BotConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    ops: OpsConfig = field(default_factory=OpsConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)


# Secrets: environment variable → (section, key). The environment wins over the file.
SECRET_ENV: dict[str, tuple[str, str]] = {
    "TELEGRAM_BOT_TOKEN": ("telegram", "token"),
    "TELEGRAM_WEBHOOK_SECRET": ("telegram", "secret_token"),
    "DISCORD_BOT_TOKEN": ("discord", "token"),
    "DISCORD_PUBLIC_KEY": ("discord", "public_key"),
}
SECRET_KEYS = frozenset(SECRET_ENV.values())
# What Telegram accepts as a webhook secret_token.
_TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


def _env_for(section: str, key: str) -> str | None:
    for env, where in SECRET_ENV.items():
        if where == (section, key):
            return env
    return None


def _describe(hint: Any) -> str:
    origin = get_origin(hint)
    if origin is Literal:
        return " or ".join(repr(a) for a in get_args(hint))
    if origin is list:
        plural = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}
        return f"a list of {plural.get(get_args(hint)[0], 'values')}"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return names.get(hint, str(hint))


def _coerce(section: str, key: str, hint: Any, value: Any) -> Any:
    where = f"[{section}] {key}"
    origin = get_origin(hint)
    if origin is Literal:
        if value in get_args(hint):
            return value
        raise ConfigError(f"{where} must be {_describe(hint)}, not {value!r}")
    if origin is list:
        (inner,) = get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be {_describe(hint)}, not {value!r}")
        return [_coerce(section, key, inner, v) for v in value]
    if origin in (Union, types.UnionType):
        raise ConfigError(f"{where}: unsupported type")
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        # Snowflakes are often pasted as strings.
        if isinstance(value, str) and value.isascii() and value.isdigit():
            return int(value)
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str and isinstance(value, str):
        return value
    raise ConfigError(f"{where} must be {_describe(hint)}, not {value!r}")


def _section(name: str, cls: type[Any], raw: Any) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"[{name}] must be a table")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for key in raw:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            guess = f"did you mean {close[0]}? " if close else ""
            raise ConfigError(f"unknown key [{name}] {key} ({guess}known: {', '.join(sorted(known))})")
    values = {key: _coerce(name, key, hints[key], value) for key, value in raw.items()}
    for key, value in values.items():
        # Secrets pasted with a trailing newline (``$(cat token.txt)``) fail authentication
        # in ways that are hard to recognise.
        if (name, key) in SECRET_KEYS:
            values[key] = value.strip()
    return cls(**values)


def _secret_from_env(variable: str, env: Mapping[str, str]) -> str | None:
    """``VARIABLE``, else the contents of the file named by ``VARIABLE_FILE`` (Docker secrets)."""
    if env.get(variable):
        return env[variable]
    path = env.get(f"{variable}_FILE")
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{variable}_FILE: cannot read {path}: {exc.strerror}") from None


def env_name(section: str, key: str) -> str:
    """The variable that overrides a key from the environment: ``BOT_TELEGRAM_ENABLED``."""
    return f"BOT_{section}_{key}".upper()


def _env_overrides(section: str, cls: type[Any], env: Mapping[str, str]) -> dict[str, Any]:
    """``BOT_<SECTION>_<KEY>`` values for one section, parsed as TOML values where not strings.

    Lets a container be configured without a file: ``BOT_TELEGRAM_ENABLED=true``.
    """
    hints = get_type_hints(cls)
    out: dict[str, Any] = {}
    for f in fields(cls):
        variable = env_name(section, f.name)
        if variable not in env:
            continue
        text, hint = env[variable], hints[f.name]
        textual = hint is str or (
            get_origin(hint) is Literal and all(isinstance(a, str) for a in get_args(hint))
        )
        value: Any = text
        if not textual:
            try:
                value = tomllib.loads(f"v = {text}")["v"]
            except tomllib.TOMLDecodeError:
                value = text
        try:
            out[f.name] = _coerce(section, f.name, hint, value)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (from {variable})") from None
    return out


def parse(raw: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Config:
    """Build and validate a :class:`Config` from parsed TOML and the environment."""
    env = os.environ if environ is None else environ
    sections = {f.name: f for f in fields(Config)}
    hints = get_type_hints(Config)
    for name in raw:
        if name not in sections:
            close = difflib.get_close_matches(name, sections, n=1)
            guess = f"did you mean [{close[0]}]? " if close else ""
            raise ConfigError(f"unknown section [{name}] ({guess}known: {', '.join(sorted(sections))})")
    built: dict[str, Any] = {}
    for name in sections:
        cls = hints[name]
        section_raw = raw.get(name, {})
        if isinstance(section_raw, Mapping):
            section_raw = dict(section_raw)
            section_raw.update(_env_overrides(name, cls, env))
            for variable, (sec, key) in SECRET_ENV.items():
                value = _secret_from_env(variable, env) if sec == name else None
                if value:
                    section_raw[key] = value
        built[name] = _section(name, cls, section_raw)
    config = Config(**built)
    check(config)
    return config


def check(config: Config) -> None:
    """Cross-field rules: secrets for enabled adapters, ranges, URLs, paths and ports."""

    def missing(section: str, key: str, why: str) -> ConfigError:
        env = _env_for(section, key)
        hint = f" (or set {env})" if env else ""
        return ConfigError(f"[{section}] {key} is required {why}{hint}")

    bot = config.bot
    if not bot.default_lang.strip():
        raise ConfigError("[bot] default_lang must not be empty")
    if bot.shutdown_timeout <= 0:
        raise ConfigError("[bot] shutdown_timeout must be greater than 0")
    if bot.restart_after < 0:
        raise ConfigError("[bot] restart_after must be 0 (never restart) or more")
    if bot.restart_max_delay <= 0:
        raise ConfigError("[bot] restart_max_delay must be greater than 0")

    tg = config.telegram
    if tg.enabled:
        if not tg.token:
            raise missing("telegram", "token", "when [telegram] is enabled")
        if tg.mode == "webhook":
            if not tg.webhook_url:
                raise missing("telegram", "webhook_url", "in webhook mode")
            if not tg.webhook_url.startswith(("http://", "https://")):
                raise ConfigError("[telegram] webhook_url must start with https://")
            if not tg.secret_token:
                raise missing("telegram", "secret_token", "in webhook mode")
        if tg.secret_token and not _TELEGRAM_SECRET.fullmatch(tg.secret_token):
            raise ConfigError(
                "[telegram] secret_token may hold only A-Z, a-z, 0-9, _ and -, 1 to 256 characters"
                " (or set TELEGRAM_WEBHOOK_SECRET)"
            )
        if not tg.api_base_url.startswith(("http://", "https://")):
            raise ConfigError("[telegram] api_base_url must start with http:// or https://")
        if not tg.webhook_path.startswith("/"):
            raise ConfigError("[telegram] webhook_path must start with /")
        if tg.poll_timeout < 0:
            raise ConfigError("[telegram] poll_timeout must be 0 or more")
        if tg.inline_cache_time < 0:
            raise ConfigError("[telegram] inline_cache_time must be 0 or more")

    dc = config.discord
    if dc.enabled:
        if dc.mode == "gateway" and not dc.token:
            raise missing("discord", "token", "in gateway mode")
        if dc.mode == "interactions":
            if not dc.public_key:
                raise missing("discord", "public_key", "in interactions mode")
            try:
                if len(bytes.fromhex(dc.public_key)) != 32:
                    raise ValueError
            except ValueError:
                raise ConfigError(
                    "[discord] public_key must be 64 hexadecimal characters (or set DISCORD_PUBLIC_KEY)"
                ) from None
        for key in ("application_id", "dev_guild_id", "shard_count"):
            if getattr(dc, key) < 0:
                raise ConfigError(f"[discord] {key} must be 0 or more")
        if dc.shard_ids and not dc.shard_count:
            raise ConfigError("[discord] shard_ids needs shard_count")
        if any(not 0 <= i < dc.shard_count for i in dc.shard_ids):
            raise ConfigError("[discord] shard_ids must each be between 0 and shard_count - 1")
        if len(set(dc.shard_ids)) != len(dc.shard_ids):
            raise ConfigError("[discord] shard_ids must not repeat a shard")
        if not dc.interactions_path.startswith("/"):
            raise ConfigError("[discord] interactions_path must start with /")
        if dc.api_base_url and not dc.api_base_url.startswith(("http://", "https://")):
            raise ConfigError("[discord] api_base_url must be empty or start with http:// or https://")
        if dc.gateway_url and not dc.gateway_url.startswith(("ws://", "wss://")):
            raise ConfigError("[discord] gateway_url must be empty or start with ws:// or wss://")

    listeners: dict[int, str] = {}
    for section, key, port, active in (
        ("telegram", "webhook_port", tg.webhook_port, tg.enabled and tg.mode == "webhook"),
        ("discord", "interactions_port", dc.interactions_port, dc.enabled and dc.mode == "interactions"),
        ("ops", "port", config.ops.port, config.ops.enabled),
    ):
        if not 0 <= port <= 65535:
            raise ConfigError(f"[{section}] {key} must be between 0 and 65535")
        # Port 0 asks the system for a free port, so it never clashes.
        if active and port:
            if port in listeners:
                raise ConfigError(f"[{section}] {key} {port} is already used by {listeners[port]}")
            listeners[port] = f"[{section}] {key}"


def enabled_platforms(config: Config) -> list[str]:
    """The platforms ``run`` starts, in start order."""
    return [
        name
        for name, on in (
            ("telegram", config.telegram.enabled),
            ("discord", config.discord.enabled),
            ("console", config.console.enabled),
        )
        if on
    ]


def secrets(config: Config) -> list[str]:
    """Every configured secret value (for log redaction). Discord's public key is public."""
    values = [config.telegram.token, config.telegram.secret_token, config.discord.token]
    return [v for v in values if v]


def load(path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the file at ``path`` (or ``BOT_CONFIG``; none means defaults) and validate it."""
    env = os.environ if environ is None else environ
    chosen = path or env.get("BOT_CONFIG") or None
    raw: dict[str, Any] = {}
    if chosen:
        try:
            raw = tomllib.loads(Path(chosen).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"configuration file not found: {chosen}") from None
        except OSError as exc:
            raise ConfigError(f"cannot read {chosen}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{chosen} is not valid TOML: {exc}") from None
    return parse(raw, env)


def mask(value: str) -> str:
    """A secret as it may be shown: its length and nothing of its content."""
    return f"<set, {len(value)} characters>" if value else "<not set>"


def effective(config: Config) -> dict[str, dict[str, Any]]:
    """The configuration as a dict of sections, with every secret masked."""
    out: dict[str, dict[str, Any]] = {}
    for section in fields(config):
        values = getattr(config, section.name)
        out[section.name] = {}
        for f in fields(values):
            value = getattr(values, f.name)
            if (section.name, f.name) in SECRET_KEYS:
                value = mask(value)
            out[section.name][f.name] = value
    return out


def with_console(config: Config) -> Config:
    """The same configuration with the console adapter enabled."""
    return replace(config, console=ConsoleConfig(enabled=True))
