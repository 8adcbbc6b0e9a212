"""The preference cache in front of every store: fast reads, bounded waits, honest writes.

Every answer looks up its chat's language, so that read sits on the hot path of every reply:

* a hit costs a dict lookup; entries live ``ttl`` seconds (a preference changed through another
  replica shows here within that time), and a write through this process updates its own entry
  at once. An entry read again in the last fifth of its life is refreshed in the background
  while the cached value answers, so a busy chat never waits for its expiry;
* a miss asks the store, but a reply never waits more than ``read_timeout`` for it: past that,
  or when the store fails, the last value known (even expired) or none is used, and the reply
  goes out in the client's or the default language. A read that was only slow still fills the
  cache when it completes. Concurrent misses on one chat share one read;
* a write goes to the store and raises :class:`StorageError` when it cannot be saved, so that
  ``/lang`` can say so rather than pretend.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.storage.base import PreferenceStore, StorageError
from bot.storage.health import StoreHealth

log = logging.getLogger(__name__)

READ_TIMEOUT = 0.2
WRITE_TIMEOUT = 1.5
MAX_ENTRIES = 100_000
# The share of an entry's life after which a read also refreshes it in the background.
REFRESH_AFTER = 0.8


class CachedPreferences:
    """A :class:`PreferenceStore` that answers reads from memory and bounds every wait."""

    def __init__(
        self,
        inner: PreferenceStore,
        health: StoreHealth,
        *,
        ttl: float = 5.0,
        read_timeout: float = READ_TIMEOUT,
        write_timeout: float = WRITE_TIMEOUT,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self._health = health
        self.ttl = ttl
        self.read_timeout = read_timeout
        self.write_timeout = write_timeout
        self._max_entries = max_entries
        self._clock = clock
        # chat -> (language or None, refresh from, expiry), times on the clock
        self._entries: dict[str, tuple[str | None, float, float]] = {}
        self._reads: dict[str, asyncio.Future[str | None]] = {}
        # Writes are numbered so that a read started before a local write never overwrites it.
        self._writes = 0
        self._written: dict[str, int] = {}

    async def get(self, chat: str) -> str | None:
        """The chat's language as best known within ``read_timeout``; never raises."""
        entry = self._entries.get(chat)
        if entry is not None:
            now = self._clock()
            if now < entry[1]:
                return entry[0]
            if now < entry[2]:
                # Still valid: answer with it, and renew it for the reads to come.
                if chat not in self._reads:
                    self._start_read(chat)
                return entry[0]
        read = self._reads.get(chat) or self._start_read(chat)
        done, _ = await asyncio.wait((read,), timeout=self.read_timeout)
        if done and not read.cancelled() and read.exception() is None:
            return read.result()
        return entry[0] if entry is not None else None

    def _start_read(self, chat: str) -> asyncio.Future[str | None]:
        read = asyncio.ensure_future(self._load(chat, self._writes))
        self._reads[chat] = read
        read.add_done_callback(lambda done: self._settled(chat, done))
        return read

    def _settled(self, chat: str, read: asyncio.Future[str | None]) -> None:
        if self._reads.get(chat) is read:
            del self._reads[chat]
        if not read.cancelled():
            # Retrieved here: a read nobody waited for to the end must not be reported as an
            # exception never retrieved (its failure was already counted).
            read.exception()

    async def _load(self, chat: str, writes_before: int) -> str | None:
        try:
            lang = await self.inner.get(chat)
        except Exception as exc:
            self._health.failed("get", exc)
            raise
        self._health.succeeded()
        if self._written.get(chat, -1) <= writes_before:
            self._remember(chat, lang)
        return lang

    def _remember(self, chat: str, lang: str | None) -> None:
        entries = self._entries
        if chat not in entries and len(entries) >= self._max_entries:
            now = self._clock()
            for key in [key for key, (_, _, expiry) in entries.items() if expiry <= now]:
                del entries[key]
            if len(entries) >= self._max_entries:
                # Still full of live entries: the oldest inserted goes.
                del entries[next(iter(entries))]
        now = self._clock()
        entries[chat] = (lang, now + self.ttl * REFRESH_AFTER, now + self.ttl)

    async def set(self, chat: str, lang: str | None) -> None:
        """Save the chat's language; raises :class:`StorageError` when it cannot be saved now."""
        try:
            await asyncio.wait_for(self.inner.set(chat, lang), self.write_timeout)
        except Exception as exc:
            error = (
                exc if isinstance(exc, StorageError) else StorageError(f"set: {exc or type(exc).__name__}")
            )
            self._health.failed("set", error)
            raise error from exc
        self._health.succeeded()
        self._writes += 1
        self._written[chat] = self._writes
        self._remember(chat, lang)

    async def close(self) -> None:
        """Close the store underneath, after the reads still in flight."""
        pending = list(self._reads.values())
        if pending:
            await asyncio.wait(pending, timeout=self.read_timeout)
            for read in pending:
                read.cancel()
        await self.inner.close()
