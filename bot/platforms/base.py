"""What a platform is: the pieces a platform package provides, and what the core expects of them.

A platform is a package under ``bot/platforms/`` that exports one :class:`Platform` value, listed
in :mod:`bot.platforms.registry`. Configuration loading, ``check-config``, ``run``, the runtime,
``/healthz`` and ``/metrics`` loop over that list, so adding a platform edits nothing else.

This module imports no platform library, nor anything heavy: the command line reads the registry
before it knows whether it will answer one ``ask`` or start every adapter.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TextIO, TypeVar, cast

if TYPE_CHECKING:
    from bot.config import BotConfig, Config
    from bot.service import Service


class AdapterStartError(RuntimeError):
    """The platform refused to start (bad token, unreachable API...); the message says why."""


class Adapter(Protocol):
    """A platform adapter: the runtime starts it, watches it and stops it."""

    platform: str

    async def start(self) -> None:
        """Connect and begin serving; raise :class:`AdapterStartError` if the platform refuses."""

    async def stop(self) -> None:
        """Stop taking new work, finish replies in flight, close every connection."""

    def connected(self) -> bool:
        """Whether the adapter is connected and serving now (for ``/healthz``)."""


# Builds one fresh adapter; the runtime calls it again to replace an adapter that stays down.
AdapterFactory = Callable[[], Adapter]


class ConfigError(ValueError):
    """A configuration problem, worded for the operator."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A key of a section that holds a secret, and the variable that may set it instead.

    Every secret is read from the environment first (``VARIABLE`` or the file named by
    ``VARIABLE_FILE``), stripped, and masked by ``check-config``. ``redact=False`` marks a value
    that is not sensitive in itself (Discord's public key) and so is not scrubbed from logs.
    """

    key: str
    env: str
    redact: bool = True


@dataclass(frozen=True, slots=True)
class Listener:
    """A port a section listens on, for the check that no two listeners share one."""

    key: str
    port: int
    active: bool


class Section(Protocol):
    """A platform's configuration section (``[telegram]``...).

    A frozen dataclass: its type hints drive parsing (an unknown key, a wrong type, a value out of
    a ``Literal`` is reported naming the key), its defaults are the documented ones.
    """

    SECRETS: ClassVar[tuple[Secret, ...]]

    @property
    def enabled(self) -> bool:
        """Whether ``run`` starts this platform."""

    def check(self) -> None:
        """Cross-field rules (secrets an enabled platform needs, ranges, URLs); raises
        :class:`ConfigError` naming the key."""

    def listeners(self) -> tuple[Listener, ...]:
        """The ports this section would listen on, each marked active or not."""


def redacted_values(section: Section) -> list[str]:
    """The values of ``section`` that must never reach a log line (set secrets, public ones
    excepted)."""
    values = [getattr(section, secret.key) for secret in section.SECRETS if secret.redact]
    return [value for value in values if value]


def missing(section: str, key: str, why: str, secrets: Iterable[Secret] = ()) -> ConfigError:
    """The error for a required key: ``[telegram] token is required when ... (or set VAR)``."""
    env = next((s.env for s in secrets if s.key == key), None)
    hint = f" (or set {env})" if env else ""
    return ConfigError(f"[{section}] {key} is required {why}{hint}")


@dataclass(frozen=True, slots=True)
class AdapterContext:
    """What an adapter may be given besides its own section."""

    service: Service
    bot: BotConfig
    # Asks the runtime to stop the whole process (the console user quitting).
    request_stop: Callable[[], None]


@dataclass(frozen=True, slots=True)
class OperatorCommand:
    """A ``python -m bot`` subcommand a platform adds (Discord's ``sync-commands``).

    The command line gives it ``--config``; ``add_arguments`` adds the rest. ``run`` gets the
    loaded configuration, with logging already set up and secrets redacted, and returns the exit
    status (:mod:`bot.exit_codes`); errors are one line on ``err``.
    """

    name: str
    help: str
    run: Callable[[argparse.Namespace, Config, TextIO, TextIO], int]
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None


S = TypeVar("S", bound=Section)


@dataclass(frozen=True, slots=True)
class Platform(Generic[S]):
    """One platform, as the registry lists it.

    ``name`` is the section name, the metrics' ``platform`` label, the key in ``/healthz`` and the
    prefix of its chats' preference keys. ``adapter`` is called once per ``run`` with the enabled
    section: it imports the platform library (an ``ImportError`` becomes a clear start error) and
    returns the factory the runtime builds adapters with. ``enable_hint`` completes the line
    ``run`` prints for this platform when nothing is enabled (what else it needs); ``notes`` adds
    ``# name: ...`` lines to ``check-config`` when the platform is enabled.
    """

    name: str
    section: type[S]
    adapter: Callable[[S, AdapterContext], AdapterFactory]
    enable_hint: tuple[str, ...] = ()
    notes: Callable[[S], Iterable[str]] | None = None
    commands: tuple[OperatorCommand, ...] = ()

    def section_of(self, config: Config) -> S:
        """This platform's section of ``config``."""
        return cast(S, config.platforms[self.name])
