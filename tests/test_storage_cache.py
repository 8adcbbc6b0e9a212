"""The preference cache: hits from memory, a short time to live, local writes seen at once, and
a read that never keeps a reply waiting more than 200 ms, whatever the store does."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bot.metrics import Metrics
from bot.storage import MemoryPreferences, StorageError
from bot.storage.cache import CachedPreferences
from bot.storage.health import StoreHealth


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Store(MemoryPreferences):
    """A store that counts reads, and can be made slow or broken."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.delay = 0.0
        self.broken = False

    async def get(self, chat: str) -> str | None:
        self.reads += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.broken:
            raise StorageError("connection refused")
        return await super().get(chat)

    async def set(self, chat: str, lang: str | None) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.broken:
            raise StorageError("connection refused")
        await super().set(chat, lang)


def _cache(store: Store, clock: Clock, metrics: Metrics | None = None, **kwargs: Any) -> CachedPreferences:
    return CachedPreferences(store, StoreHealth("test", metrics), clock=clock, **kwargs)


async def test_reads_are_cached_for_the_time_to_live() -> None:
    store, clock = Store(), Clock()
    await store.set("telegram:1", "fr")
    cache = _cache(store, clock, ttl=5.0)
    assert [await cache.get("telegram:1") for _ in range(3)] == ["fr"] * 3
    assert await cache.get("telegram:2") is None
    assert await cache.get("telegram:2") is None  # "no preference" is cached too
    assert store.reads == 2
    await store.set("telegram:1", "de")  # through another replica
    clock.now += 4.9
    assert await cache.get("telegram:1") == "fr"
    clock.now += 0.2
    assert await cache.get("telegram:1") == "de"
    assert store.reads == 3


async def test_a_local_write_is_seen_at_once_even_past_a_read_in_flight() -> None:
    store, clock = Store(), Clock()
    cache = _cache(store, clock, ttl=60.0)
    assert await cache.get("discord:1") is None
    await cache.set("discord:1", "ja")
    assert await cache.get("discord:1") == "ja"
    assert await store.get("discord:1") == "ja"
    # A read that started before a write must not put the old value back when it ends.
    clock.now += 61
    store.delay = 0.05
    reading = asyncio.ensure_future(cache.get("discord:1"))
    await asyncio.sleep(0.01)
    store.delay = 0
    await cache.set("discord:1", "ko")
    await reading
    await asyncio.sleep(0.06)
    assert await cache.get("discord:1") == "ko"


async def test_a_slow_store_never_delays_a_reply_more_than_200_ms() -> None:
    store, clock = Store(), Clock()
    await store.set("telegram:1", "fr")
    store.delay = 1.0
    cache = _cache(store, clock)
    began = time.monotonic()
    assert await cache.get("telegram:1") is None  # unknown yet: the client's language will do
    assert time.monotonic() - began < 0.3
    # Concurrent misses on the same chat wait for the same read rather than starting others.
    await asyncio.gather(*(cache.get("telegram:1") for _ in range(10)))
    assert store.reads == 1
    # The slow read still lands in the cache.
    await asyncio.sleep(1.0)
    assert await cache.get("telegram:1") == "fr"
    assert store.reads == 1


async def test_a_failing_store_serves_the_last_known_value_and_counts_errors() -> None:
    store, clock, metrics = Store(), Clock(), Metrics()
    await store.set("telegram:1", "fr")
    cache = _cache(store, clock, metrics, ttl=5.0)
    assert await cache.get("telegram:1") == "fr"
    store.broken = True
    clock.now += 10
    assert await cache.get("telegram:1") == "fr"  # expired, but better than nothing
    assert await cache.get("telegram:2") is None
    assert b'http_status_bot_storage_errors_total{operation="get"} 2.0' in metrics.render()
    assert b"http_status_bot_storage_up 0.0" in metrics.render()
    with pytest.raises(StorageError):
        await cache.set("telegram:1", "de")
    assert await cache.get("telegram:1") == "fr"  # an unsaved change is not pretended
    assert b'http_status_bot_storage_errors_total{operation="set"} 1.0' in metrics.render()
    store.broken = False
    assert await cache.get("telegram:2") is None
    assert b"http_status_bot_storage_up 1.0" in metrics.render()


async def test_a_write_that_hangs_fails_in_bounded_time() -> None:
    store, clock = Store(), Clock()
    store.delay = 5.0
    cache = _cache(store, clock, write_timeout=0.1)
    began = time.monotonic()
    with pytest.raises(StorageError):
        await cache.set("telegram:1", "fr")
    assert time.monotonic() - began < 0.5


async def test_the_cache_stays_within_its_size() -> None:
    store, clock = Store(), Clock()
    cache = CachedPreferences(store, StoreHealth("test"), clock=clock, ttl=5.0, max_entries=100)
    for n in range(150):
        await cache.get(f"telegram:{n}")
    assert len(cache._entries) == 100
    clock.now += 10
    await cache.get("telegram:new")  # expired entries make room first
    assert len(cache._entries) == 1


async def test_ttl_zero_reads_the_store_every_time() -> None:
    store, clock = Store(), Clock()
    cache = _cache(store, clock, ttl=0)
    for _ in range(3):
        await cache.get("telegram:1")
    assert store.reads == 3


async def test_a_busy_chat_is_renewed_in_the_background_before_it_expires() -> None:
    store, clock = Store(), Clock()
    await store.set("discord:1", "fr")
    cache = _cache(store, clock, ttl=5.0)
    assert await cache.get("discord:1") == "fr"
    await store.set("discord:1", "de")  # through another replica
    store.delay = 0.05
    clock.now += 4.5  # in the last fifth of the entry's life
    began = time.monotonic()
    assert await cache.get("discord:1") == "fr"  # the cached value answers at once...
    assert time.monotonic() - began < 0.01
    await asyncio.sleep(0.1)  # ...while it is read again
    assert store.reads == 2
    clock.now += 4.0  # past the first expiry, within the renewed one
    assert await cache.get("discord:1") == "de"
    assert store.reads == 2


class BatchStore(Store):
    """A store that can read many chats in one query, and counts its queries."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    async def get_many(self, chats: list[str]) -> dict[str, str]:
        self.batches.append(chats)
        await asyncio.sleep(0.01)
        return {chat: lang for chat in chats if (lang := await MemoryPreferences.get(self, chat))}


async def test_the_misses_of_one_turn_of_the_loop_share_one_query() -> None:
    store, clock = BatchStore(), Clock()
    await store.set("discord:3", "fr")
    cache = _cache(store, clock)
    chats = [f"discord:{n}" for n in range(50)]
    langs = await asyncio.gather(*(cache.get(chat) for chat in chats * 2))
    assert langs[3] == langs[53] == "fr" and langs.count(None) == 98
    assert [sorted(batch) for batch in store.batches] == [sorted(chats)]
    assert store.reads == 0
    assert await cache.get("discord:3") == "fr"  # cached now
    assert len(store.batches) == 1


async def test_while_a_probed_store_is_down_reads_leave_it_alone() -> None:
    store, clock = Store(), Clock()
    await store.set("telegram:1", "fr")

    async def probe() -> None:
        if store.broken:
            raise StorageError("connection refused")

    health = StoreHealth("PostgreSQL", probe=probe)
    cache = CachedPreferences(store, health, clock=clock, ttl=5.0)
    assert await cache.get("telegram:1") == "fr"
    store.broken = True
    clock.now += 10
    assert await cache.get("telegram:1") == "fr"  # failed once: the store is marked down
    assert health.state() == "degraded"
    reads = store.reads
    began = time.monotonic()
    assert [await cache.get(f"telegram:{n}") for n in range(1, 50)] == ["fr"] + [None] * 48
    assert time.monotonic() - began < 0.05 and store.reads == reads
    store.broken = False
    assert await health.check() == "ok"  # what the background probe does every second
    await store.set("telegram:2", "ja")
    assert await cache.get("telegram:2") == "ja"
