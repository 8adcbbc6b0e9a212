"""Opening the configured store: ``[storage] url`` (or ``path``) to the objects the service uses.

:func:`open_stores` is what ``run`` calls: the preferences behind their cache, the update
journal, and the store's health for ``/healthz`` and ``/metrics``. :func:`open_backend` opens a
back end bare (no cache, no health), for ``storage migrate``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from bot.storage.base import PreferenceStore, StorageError, UpdateJournal
from bot.storage.cache import CachedPreferences
from bot.storage.health import MeteredJournal, StoreHealth
from bot.storage.sqlite import SqliteJournal, SqlitePreferences
from bot.storage.urls import StoreAddress, parse_address

if TYPE_CHECKING:
    from bot.config import StorageConfig
    from bot.metrics import Metrics

log = logging.getLogger(__name__)


class PortablePreferences(PreferenceStore, Protocol):
    """A preference store whose whole content can be read (the source of a migration)."""

    async def items(self) -> list[tuple[str, str]]:
        """Every stored preference, by chat."""


@dataclass
class Backend:
    """A back end opened bare: its preferences, its journal, and how to release it."""

    address: StoreAddress
    prefs: PortablePreferences
    journal: UpdateJournal
    close: Callable[[], Awaitable[None]]
    # One round trip to the server, for the health probe; None for an embedded file.
    ping: Callable[[], Awaitable[None]] | None = None
    # Why the server could not be reached at opening (the store retries by itself).
    unreachable: StorageError | None = None


def address_of(url: str, path: str) -> StoreAddress:
    """The store ``[storage]`` names: ``url`` when set, else the SQLite file at ``path``."""
    return parse_address(url) if url.strip() else StoreAddress("sqlite", path)


async def open_backend(address: StoreAddress, *, required: bool = True) -> Backend:
    """Open the back end at ``address``.

    Raises :class:`StorageError` when a SQLite file cannot be opened, or a PostgreSQL server
    cannot be reached and ``required`` is true; otherwise an unreachable server is reported in
    :attr:`Backend.unreachable` and the store connects once it answers.
    """
    if address.backend == "sqlite":
        try:
            prefs = SqlitePreferences(address.target)
            journal = SqliteJournal(address.target)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open {address.shown()}: {exc}") from exc

        async def close_sqlite() -> None:
            await prefs.close()
            await journal.close()

        return Backend(address, prefs, journal, close_sqlite)

    # Imported here: a process on SQLite never loads the driver.
    from bot.storage.postgres import PostgresStore

    store = PostgresStore(address.target)
    unreachable: StorageError | None = None
    try:
        await store.open()
    except StorageError as exc:
        if required:
            await store.close()
            raise
        unreachable = exc
    return Backend(address, store.prefs, store.journal, store.close, store.ping, unreachable)


@dataclass
class Stores:
    """What the service is given: cached preferences, the journal, and the store's health."""

    backend: Backend
    prefs: CachedPreferences
    journal: MeteredJournal
    health: StoreHealth
    _closed: bool = field(default=False, repr=False)

    @property
    def shown(self) -> str:
        """The store's address, password hidden."""
        return self.backend.address.shown()

    async def close(self) -> None:
        """Stop the probe, finish reads in flight and release the back end (once)."""
        if self._closed:
            return
        self._closed = True
        await self.health.stop()
        await self.prefs.close()
        await self.backend.close()


async def open_stores(config: StorageConfig, metrics: Metrics | None = None) -> Stores:
    """Open the store ``config`` names, with its cache and its health.

    With ``[storage] required = false`` (the default), a PostgreSQL server that is down at start
    does not stop the start: the store is reported degraded and recovers when the server answers.
    Raises :class:`StorageError` otherwise.
    """
    address = address_of(config.url, config.path)
    backend = await open_backend(address, required=config.required)
    name = "PostgreSQL" if address.backend == "postgresql" else "SQLite"
    health = StoreHealth(name, metrics, backend.ping)
    if backend.unreachable is not None:
        health.failed("open", backend.unreachable)
    health.start()
    prefs = CachedPreferences(backend.prefs, health, ttl=config.cache_ttl)
    journal = MeteredJournal(backend.journal, health)
    log.info("storage: %s", address.shown())
    return Stores(backend, prefs, journal, health)


async def copy_preferences(source: PortablePreferences, target: PreferenceStore) -> int:
    """Copy every preference of ``source`` into ``target`` (the same chat's value is replaced);
    how many were copied."""
    items = await source.items()
    bulk: Callable[[Iterable[tuple[str, str]]], Awaitable[None]] | None = getattr(target, "set_many", None)
    if bulk is not None:
        await bulk(items)
    else:
        for chat, lang in items:
            await target.set(chat, lang)
    return len(items)
