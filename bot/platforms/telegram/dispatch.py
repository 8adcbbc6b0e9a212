"""Updates handled concurrently across chats and in order within each chat, with bounded work.

One chat waiting (Telegram told it to slow down, an API call is slow, its language preference is
being written) must not hold up the others, yet two messages of one chat must be answered in the
order they were sent. :class:`ChatDispatcher` keeps a FIFO per chat and runs at most one item per
chat at a time, at most ``max_in_flight`` items overall, taking chats round-robin so that a chat
with a long backlog gets no more than its turn. At most ``max_queued`` items wait or run at once:
:meth:`ChatDispatcher.submit` waits for room, which is how polling slows down instead of piling
updates up in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger("bot.adapters.telegram_bot")

T = TypeVar("T")


class ChatDispatcher(Generic[T]):
    """Runs ``work(item)`` for each submitted item: in order per key, concurrently across keys."""

    def __init__(
        self, work: Callable[[T], Awaitable[None]], *, max_in_flight: int = 64, max_queued: int = 1000
    ) -> None:
        if max_in_flight < 1 or max_queued < max_in_flight:
            raise ValueError("need 1 <= max_in_flight <= max_queued")
        self._work = work
        self.max_in_flight = max_in_flight
        self.max_queued = max_queued
        self._queues: dict[Hashable, deque[T]] = {}
        self._busy: set[Hashable] = set()
        # Keys with items waiting and none running, in the order they became ready.
        self._ready: deque[Hashable] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        # Not len(_tasks): a task leaves that set only after it has finished, too late for _pump.
        self._running = 0
        self._count = 0
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        # When an item last finished: progress, for the adapter's health.
        self.last_done = time.monotonic()

    @property
    def pending(self) -> int:
        """Items waiting or running."""
        return self._count

    @property
    def running(self) -> int:
        """Items running now."""
        return self._running

    def has_room(self) -> bool:
        """Whether :meth:`submit` would take an item without waiting."""
        return self._count < self.max_queued

    async def wait_room(self) -> None:
        """Wait until an item can be submitted without waiting."""
        while not self.has_room():
            self._room.clear()
            await self._room.wait()

    async def submit(self, key: Hashable, item: T) -> None:
        """Queue ``item`` behind the other items of ``key``, waiting for room first."""
        await self.wait_room()
        self.put(key, item)

    def put(self, key: Hashable, item: T) -> None:
        """Queue ``item`` now, room or not (a caller that checked :meth:`has_room`)."""
        if self._closed:
            raise RuntimeError("the dispatcher is closed")
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
        queue.append(item)
        self._count += 1
        self._idle.clear()
        if key not in self._busy and len(queue) == 1:
            self._ready.append(key)
        self._pump()

    def _pump(self) -> None:
        while self._ready and self._running < self.max_in_flight:
            key = self._ready.popleft()
            item = self._queues[key].popleft()
            self._busy.add(key)
            self._running += 1
            task = asyncio.create_task(self._run(key, item), name="telegram-update")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, key: Hashable, item: T) -> None:
        try:
            await self._work(item)
        except Exception:  # the work guards itself; this is the last line of defence
            log.exception("telegram: an update escaped its guard")
        finally:
            self._finish(key)

    def _finish(self, key: Hashable) -> None:
        self._busy.discard(key)
        self._running -= 1
        self._count -= 1
        self.last_done = time.monotonic()
        queue = self._queues.get(key)
        if queue:
            # Behind the chats already waiting: round-robin, not drain-one-chat-first.
            self._ready.append(key)
        else:
            self._queues.pop(key, None)
        if self.has_room():
            self._room.set()
        if self._count == 0:
            self._idle.set()
        # Started from a done callback's context would be fine too; here the order is clear.
        if not self._closed:
            self._pump()

    async def drain(self, within: float) -> bool:
        """Wait until nothing is waiting or running; ``False`` when ``within`` seconds passed first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), within)
        return self._count == 0

    def drop_waiting(self) -> int:
        """Forget the items that have not started (their updates stay in the journal); how many."""
        self._closed = True
        dropped = sum(len(queue) for queue in self._queues.values())
        self._queues = {key: deque() for key in self._busy}
        self._ready.clear()
        self._count -= dropped
        if self._count == 0:
            self._idle.set()
        self._room.set()
        return dropped

    async def cancel_running(self, grace: float) -> None:
        """Give running items ``grace`` seconds, then cancel them."""
        tasks = set(self._tasks)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)
