"""Bounded caches of what platforms send, shared by every adapter.

The catalogue does not change while the process runs and a few popular codes make up most
queries, so an adapter may keep what it built for an answer and send it again:
:class:`AnswerCache` for whole answers keyed by the query, :class:`Lru` for anything else an
adapter renders once (a card per code and language, a serialised keyboard).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

from bot.service import Service

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Longer queries are rare and seldom repeated: not worth a cache slot.
CACHED_TEXT_MAX = 100


class Lru(Generic[K, V]):
    """A small least-recently-used map (one event loop: no locking needed)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: K) -> V | None:
        """The value for ``key``, now the most recently used; ``None`` when absent."""
        found = self._data.get(key)
        if found is not None:
            self._data.move_to_end(key)
        return found

    def put(self, key: K, value: V) -> None:
        """Keep ``value``, dropping the least recently used entry beyond the size."""
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self._size:
            self._data.popitem(last=False)


class AnswerCache(Generic[K, V]):
    """A platform's answers to queries, keyed by everything that decides them (the text, the
    language, the options), with what :meth:`get` found counted like an answer.

    "random" is never stored (it must stay random), nor is a text longer than
    :data:`CACHED_TEXT_MAX`. A size of 0 turns the cache off.
    """

    def __init__(self, service: Service, platform: str, size: int = 2048) -> None:
        self._service = service
        self._platform = platform
        self._answers: Lru[K, tuple[str, V]] | None = Lru(size) if size else None

    def get(self, key: K) -> V | None:
        """The cached answer for ``key``, counted in the metrics as one answered query."""
        if self._answers is None:
            return None
        start = time.perf_counter()
        found = self._answers.get(key)
        if found is None:
            return None
        kind, value = found
        # The handler did not run, but the query was answered: count it, with what it cost.
        self._service.metrics.observe(self._platform, kind, time.perf_counter() - start)
        return value

    def put(self, key: K, text: str, kind: str, value: V) -> None:
        """Keep ``value``, the answer of ``kind`` (``entry``, ``suggest``...) to ``text``."""
        if self._answers is None or len(text) > CACHED_TEXT_MAX:
            return
        if not self._service.handler.asks_random(text):
            self._answers.put(key, (kind, value))
