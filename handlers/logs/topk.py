"""Space-Saving top-k counting in bounded memory (Metwally, Agrawal and El Abbadi, 2005),
merged a batch at a time as in Agarwal et al.'s mergeable summaries.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping


class TopK:
    """The most frequent items of a stream, keeping at most ``2 * capacity`` counters.

    Counts are exact while fewer than ``capacity`` distinct items have been seen; after that an
    item's count may be over-estimated by at most :attr:`floor` (the largest count ever
    dropped), which is at most N / capacity for N items counted.
    """

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self.counts: dict[str, int] = {}
        self.floor = 0

    @property
    def exact(self) -> bool:
        """Whether every count is exact (nothing was ever dropped)."""
        return self.floor == 0

    def add(self, item: str, count: int = 1) -> None:
        """Count ``item`` ``count`` more times."""
        counts = self.counts
        if item in counts:
            counts[item] += count
            return
        counts[item] = count + self.floor
        if len(counts) > 2 * self.capacity:
            self._prune()

    def merge(self, batch: Mapping[str, int]) -> None:
        """Count a batch of exact counts (one chunk of a log)."""
        counts, floor = self.counts, self.floor
        for item, count in batch.items():
            if item in counts:
                counts[item] += count
            else:
                counts[item] = count + floor
        if len(counts) > 2 * self.capacity:
            self._prune()

    def _prune(self) -> None:
        kept = heapq.nlargest(self.capacity + 1, self.counts.items(), key=lambda kv: kv[1])
        self.floor = max(self.floor, kept[-1][1])
        self.counts = dict(kept[: self.capacity])

    def top(self, n: int) -> list[tuple[str, int]]:
        """The ``n`` most frequent items with their counts, most frequent first (ties by name)."""
        return sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
