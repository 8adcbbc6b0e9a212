"""Configuration: one TOML file (``--config`` or ``BOT_CONFIG``) plus the environment.

Precedence, strongest first: the secret variables (``TELEGRAM_BOT_TOKEN``... or the file named by
``TELEGRAM_BOT_TOKEN_FILE``...), ``BOT_<SECTION>_<KEY>`` variables, the file, the defaults.
``tomllib`` parses; every section is a plain dataclass whose type hints drive validation, so an
unknown key, a wrong type or a missing secret is reported as one line naming the key.

This module owns the core sections (``[bot]``, ``[ops]``, ``[logging]``, ``[storage]``). Each
platform brings its own section, with its secrets and its checks (see
:mod:`bot.platforms.base`); the platforms are found in :mod:`bot.platforms.registry`.
"""

from __future__ import annotations

import difflib
import os
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints

from bot.platforms import registry
from bot.platforms.base import ConfigError, Secret, Section, redacted_values
from bot.storage.urls import StoreAddressError, parse_address

__all__ = [
    "BotConfig",
    "Config",
    "ConfigError",
    "LoggingConfig",
    "OpsConfig",
    "StorageConfig",
    "check",
    "effective",
    "enabled_platforms",
    "env_name",
    "load",
    "mask",
    "parse",
    "secret_env",
    "secrets",
    "sections",
]


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
    """``[storage]``: where chat language preferences (and the update journal) are kept.

    ``url`` names a shared PostgreSQL database (or a SQLite file); empty, the SQLite file at
    ``path`` is used. The URL may hold a password, so it is a secret: ``BOT_STORAGE_URL`` (or
    ``BOT_STORAGE_URL_FILE``) sets it, and it is only ever shown with the password hidden.
    """

    SECRETS: ClassVar[tuple[Secret, ...]] = (Secret("url", "BOT_STORAGE_URL"),)

    # Out of the repr: a configuration printed in a traceback must not show the password.
    url: str = field(default="", repr=False)
    path: str = "http-status-bot.sqlite3"
    required: bool = False
    cache_ttl: float = 5.0


@dataclass(frozen=True, slots=True)
class BotConfig:
    """``[bot]``: behaviour shared by every platform."""

    default_lang: str = "en"
    shutdown_timeout: float = 10.0
    restart_after: float = 60.0
    restart_max_delay: float = 300.0


def _platform_defaults() -> dict[str, Section]:
    return {platform.name: platform.section() for platform in registry.platforms()}


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration: the core sections, and one section per registered platform."""

    bot: BotConfig = field(default_factory=BotConfig)
    # By platform name, in the registry's order.
    platforms: Mapping[str, Section] = field(default_factory=_platform_defaults)
    ops: OpsConfig = field(default_factory=OpsConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)

    def __getattr__(self, name: str) -> Any:
        """A platform's section under the name operators know it by: ``config.telegram``."""
        try:
            return object.__getattribute__(self, "platforms")[name]
        except (AttributeError, KeyError):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}") from None


# The sections every configuration has, whatever the platforms. The platforms' sections come
# between [bot] and [ops]: the order of config.example.toml and of check-config's output.
_CORE_FIRST: dict[str, type[Any]] = {"bot": BotConfig}
_CORE_LAST: dict[str, type[Any]] = {"ops": OpsConfig, "logging": LoggingConfig, "storage": StorageConfig}


def _section_classes() -> dict[str, type[Any]]:
    platforms = {platform.name: platform.section for platform in registry.platforms()}
    return {**_CORE_FIRST, **platforms, **_CORE_LAST}


def sections(config: Config) -> dict[str, Any]:
    """Every section of ``config`` by name, in file order: ``bot``, the platforms, ``ops``..."""
    return {
        "bot": config.bot,
        **config.platforms,
        "ops": config.ops,
        "logging": config.logging,
        "storage": config.storage,
    }


def _secrets_of(section: object) -> tuple[Secret, ...]:
    """The secret keys a section (class or instance) declares; the core sections have none."""
    secrets: tuple[Secret, ...] = getattr(section, "SECRETS", ())
    return secrets


def secret_env() -> dict[str, tuple[str, str]]:
    """Each secret variable and the ``(section, key)`` it sets, over every section.

    The environment wins over the file for these.
    """
    return {
        secret.env: (name, secret.key)
        for name, cls in _section_classes().items()
        for secret in _secrets_of(cls)
    }


def _describe(hint: Any) -> str:
    origin = get_origin(hint)
    if origin is Literal:
        return " or ".join(repr(a) for a in get_args(hint))
    if origin is list:
        plural = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}
        return f"a list of {plural.get(get_args(hint)[0], 'values')}"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return names.get(hint, str(hint))


def _coerce(section: str, key: str, hint: Any, value: Any, secret: bool = False) -> Any:
    where = f"[{section}] {key}"
    # A secret given with the wrong type is still a secret: its value is never repeated.
    shown = f"a value of type {type(value).__name__} (not shown: a secret)" if secret else repr(value)
    origin = get_origin(hint)
    if origin is Literal:
        if value in get_args(hint):
            return value
        raise ConfigError(f"{where} must be {_describe(hint)}, not {shown}")
    if origin is list:
        (inner,) = get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be {_describe(hint)}, not {shown}")
        return [_coerce(section, key, inner, v) for v in value]
    if origin in (Union, types.UnionType):
        raise ConfigError(f"{where}: unsupported type")
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        # Discord IDs (snowflakes) are often pasted as strings; other numbers are typed strictly.
        if key.endswith(("_id", "_ids")) and isinstance(value, str) and value.isascii() and value.isdigit():
            return int(value)
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str and isinstance(value, str):
        return value
    raise ConfigError(f"{where} must be {_describe(hint)}, not {shown}")


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
    secret_keys = {secret.key for secret in _secrets_of(cls)}
    values = {key: _coerce(name, key, hints[key], value, key in secret_keys) for key, value in raw.items()}
    for secret in _secrets_of(cls):
        # Secrets pasted with a trailing newline (``$(cat token.txt)``) fail authentication
        # in ways that are hard to recognise.
        if secret.key in values:
            values[secret.key] = values[secret.key].strip()
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


# BOT_ variables that are not overrides of a key.
_NOT_OVERRIDES = frozenset({"BOT_CONFIG"})


def _check_env_names(classes: Mapping[str, type[Any]], env: Mapping[str, str]) -> None:
    """A ``BOT_<SECTION>_<KEY>`` variable naming no key is an error, as a typo in the file is."""
    known = {env_name(name, f.name) for name, cls in classes.items() for f in fields(cls)}
    # Secrets set by their own variable, and the file variants of those (BOT_STORAGE_URL_FILE).
    secrets_env = set(secret_env())
    known_extra = secrets_env | {f"{v}_FILE" for v in secrets_env}
    for variable in sorted(env):
        if not variable.startswith("BOT_") or variable in known or variable in _NOT_OVERRIDES:
            continue
        if variable in known_extra:
            continue
        close = difflib.get_close_matches(variable, known, n=1)
        guess = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(
            f"unknown variable {variable} ({guess}BOT_<SECTION>_<KEY> overrides a key of the file;"
            " check-config lists them)"
        )


def parse(raw: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Config:
    """Build and validate a :class:`Config` from parsed TOML and the environment."""
    env = os.environ if environ is None else environ
    classes = _section_classes()
    _check_env_names(classes, env)
    for name in raw:
        if name not in classes:
            close = difflib.get_close_matches(name, classes, n=1)
            guess = f"did you mean [{close[0]}]? " if close else ""
            raise ConfigError(f"unknown section [{name}] ({guess}known: {', '.join(sorted(classes))})")
    built: dict[str, Any] = {}
    for name, cls in classes.items():
        section_raw = raw.get(name, {})
        if isinstance(section_raw, Mapping):
            section_raw = dict(section_raw)
            section_raw.update(_env_overrides(name, cls, env))
            for secret in _secrets_of(cls):
                value = _secret_from_env(secret.env, env)
                if value:
                    section_raw[secret.key] = value
        built[name] = _section(name, cls, section_raw)
    core = {name: built.pop(name) for name in (*_CORE_FIRST, *_CORE_LAST)}
    config = Config(platforms=built, **core)
    check(config)
    return config


def check(config: Config) -> None:
    """Cross-field rules: the core sections', each platform's own, and no port used twice."""
    bot = config.bot
    if not bot.default_lang.strip():
        raise ConfigError("[bot] default_lang must not be empty")
    if bot.shutdown_timeout <= 0:
        raise ConfigError("[bot] shutdown_timeout must be greater than 0")
    if bot.restart_after < 0:
        raise ConfigError("[bot] restart_after must be 0 (never restart) or more")
    if bot.restart_max_delay <= 0:
        raise ConfigError("[bot] restart_max_delay must be greater than 0")
    _check_storage(config.storage)

    for section in config.platforms.values():
        section.check()

    ports = [
        (name, listener.key, listener.port, listener.active)
        for name, section in config.platforms.items()
        for listener in section.listeners()
    ]
    ports.append(("ops", "port", config.ops.port, config.ops.enabled))
    listeners: dict[int, str] = {}
    for name, key, port, active in ports:
        if not 0 <= port <= 65535:
            raise ConfigError(f"[{name}] {key} must be between 0 and 65535")
        # Port 0 asks the system for a free port, so it never clashes.
        if active and port:
            if port in listeners:
                raise ConfigError(f"[{name}] {key} {port} is already used by {listeners[port]}")
            listeners[port] = f"[{name}] {key}"


def _check_storage(storage: StorageConfig) -> None:
    if storage.url.strip():
        try:
            parse_address(storage.url)
        except StoreAddressError as exc:
            raise ConfigError(f"[storage] url {exc}") from None
    elif not storage.path.strip():
        raise ConfigError("[storage] path must not be empty when [storage] url is not set")
    if storage.cache_ttl < 0:
        raise ConfigError("[storage] cache_ttl must be 0 (no cache) or more")


def enabled_platforms(config: Config) -> list[str]:
    """The platforms ``run`` starts, in start order."""
    return [name for name, section in config.platforms.items() if section.enabled]


def secrets(config: Config, environ: Mapping[str, str] | None = None) -> list[str]:
    """Every configured secret value, for log redaction; values public by design (Discord's
    public key) excepted. For the store, the password: in its URL, or in ``PGPASSWORD``."""
    values = [value for section in config.platforms.values() for value in redacted_values(section)]
    if config.storage.url.strip():
        address = parse_address(config.storage.url)
        if address.backend == "postgresql":
            env = os.environ if environ is None else environ
            values += [v for v in (address.password, env.get("PGPASSWORD")) if v]
    return values


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
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{chosen} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start});"
                " save it as UTF-8"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{chosen} is not valid TOML: {exc}") from None
    return parse(raw, env)


def mask(value: str) -> str:
    """A secret as it may be shown: its length and nothing of its content."""
    return f"<set, {len(value)} characters>" if value else "<not set>"


def effective(config: Config) -> dict[str, dict[str, Any]]:
    """The configuration as a dict of sections, with every secret masked."""
    out: dict[str, dict[str, Any]] = {}
    for name, section in sections(config).items():
        masked = {secret.key for secret in _secrets_of(section)}
        out[name] = {}
        for f in fields(section):
            value = getattr(section, f.name)
            if section is config.storage and f.name == "url" and value:
                # Where the store is matters to an operator; only its password is secret.
                out[name][f.name] = parse_address(value).shown()
            else:
                out[name][f.name] = mask(value) if f.name in masked else value
    return out
