"""The preference cache in front of every store: fast reads, bounded waits, honest writes.

Every answer looks up its chat's language, so that read sits on the hot path of every reply:

* a hit costs a dict lookup; entries live ``ttl`` seconds (a preference changed through another
  replica shows here within that time), and a write through this process updates its own entry
  at once. An entry read again in the last fifth of its life is refreshed in the background
  while the cached value answers, so a busy chat never waits for its expiry;
* a miss asks the store, but a reply never waits more than ``read_timeout`` for it: past that,
  or when the store fails, the last value known (even expired) or none is used, and the reply
  goes out in the client's or the default language. While a shared store is known to be down,
  reads do not even try (its health probe finds when it is back), so an outage costs replies
  nothing and a recovering database is not flooded. A read that was only slow still fills the
  cache when it completes. Concurrent misses on one chat share one read, and the misses of
  every request handled in one turn of the event loop share one query (``get_many``, when the
  store has it);
* a write goes to the store and raises :class:`StorageError` when it cannot be saved, so that
  ``/lang`` can say so rather than pretend.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bot.storage.base import PreferenceStore, StorageError
from bot.storage.health import StoreHealth

READ_TIMEOUT = 0.2
WRITE_TIMEOUT = 1.5
MAX_ENTRIES = 100_000
# The share of an entry's life after which a read also refreshes it in the background.
REFRESH_AFTER = 0.8
# The most chats read in one query.
BATCH_MAX = 500


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
        # Reads waiting for the next batch: chat -> (its future, writes numbered before it).
        self._queued: dict[str, tuple[asyncio.Future[str | None], int]] = {}
        self._flush_scheduled = False
        self._flushes: set[asyncio.Task[None]] = set()
        self._get_many: Callable[[list[str]], Awaitable[dict[str, str]]] | None = getattr(
            inner, "get_many", None
        )
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
                if chat not in self._reads and not self._health.resting:
                    self._start_read(chat)
                return entry[0]
        if self._health.resting:
            # The store is down and its probe will say when it is back: no reply waits for it.
            return entry[0] if entry is not None else None
        read = self._reads.get(chat) or self._start_read(chat)
        done, _ = await asyncio.wait((read,), timeout=self.read_timeout)
        if done and not read.cancelled() and read.exception() is None:
            return read.result()
        return entry[0] if entry is not None else None

    def _start_read(self, chat: str) -> asyncio.Future[str | None]:
        read: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._reads[chat] = read
        read.add_done_callback(lambda done: self._settled(chat, done))
        self._queued[chat] = (read, self._writes)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            flush = asyncio.ensure_future(self._flush())
            self._flushes.add(flush)
            flush.add_done_callback(self._flushes.discard)
        return read

    def _settled(self, chat: str, read: asyncio.Future[str | None]) -> None:
        if self._reads.get(chat) is read:
            del self._reads[chat]
        if not read.cancelled():
            # Retrieved here: a read nobody waited for to the end must not be reported as an
            # exception never retrieved (its failure was already counted).
            read.exception()

    async def _flush(self) -> None:
        """Read every chat queued since the last flush, in one query when the store can."""
        # Runs one loop iteration after the first read was queued: the reads of every request
        # handled in that iteration share the round trip.
        queued, self._queued = self._queued, {}
        self._flush_scheduled = False
        chats = list(queued)
        for start in range(0, len(chats), BATCH_MAX):
            chunk = chats[start : start + BATCH_MAX]
            try:
                found = await self._read_many(chunk)
            except Exception as exc:
                error = exc if isinstance(exc, StorageError) else StorageError(f"get: {exc}")
                self._health.failed("get", error)
                for chat in chunk:
                    read = queued[chat][0]
                    if not read.done():
                        read.set_exception(error)
                continue
            self._health.succeeded()
            for chat in chunk:
                read, writes_before = queued[chat]
                lang = found.get(chat)
                if self._written.get(chat, -1) <= writes_before:
                    self._remember(chat, lang)
                if not read.done():
                    read.set_result(lang)

    async def _read_many(self, chats: list[str]) -> dict[str, str]:
        if self._get_many is not None:
            return await self._get_many(chats)
        langs = await asyncio.gather(*(self.inner.get(chat) for chat in chats))
        return {chat: lang for chat, lang in zip(chats, langs, strict=True) if lang is not None}

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
        flushes = list(self._flushes)
        if flushes:
            await asyncio.wait(flushes, timeout=self.read_timeout)
            for flush in flushes:
                flush.cancel()
            await asyncio.gather(*flushes, return_exceptions=True)
        for read in list(self._reads.values()):
            read.cancel()
        await self.inner.close()
