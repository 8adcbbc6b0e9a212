"""How Telegram updates come in: journaled before they are confirmed, replayed after a crash.

:class:`Intake` is shared by both modes. Before Telegram is told an update arrived (polling:
before the ``getUpdates`` offset moves past it; webhook: before the 200), the update is either
answered already or recorded in the :class:`~bot.storage.UpdateJournal`; a recorded update is
deleted once answered. On start, and every ``claim_interval`` seconds, what an earlier run
left unanswered is claimed and answered. So a crash loses no update; the only duplicates are the
updates that were in flight when it happened.

:class:`Poller` is the ``getUpdates`` loop (python-telegram-bot's ``Updater`` confirms updates as
soon as it fetches them, and stops for good on a reply it cannot read). It treats any reply it
cannot use as a failed poll: health turns bad, it backs off and tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from telegram import Update

from bot.metrics import Metrics
from bot.platforms.telegram.config import NAME
from bot.platforms.telegram.dispatch import ChatDispatcher
from bot.platforms.telegram.transport import PollingRequest
from bot.storage import UpdateJournal
from bot.wire_text import may_hold_surrogates, scrub_json

log = logging.getLogger("bot.adapters.telegram_bot")
T = TypeVar("T")

# Names this machine (or container) in the journal: the updates it records or claims are leased
# to it, so that replicas sharing a journal never answer the same update at once; a process that
# restarts here takes back at once what its predecessor left, another machine waits for the lease.
PROCESS_OWNER = socket.gethostname() or "localhost"
# Updates answered recently: Telegram (or a replay racing a poll) may bring one twice.
SEEN_UPDATES = 4096
# An update that failed this often (each claim is an attempt) is dropped, so that one update that
# crashes the process cannot keep it crashing.
MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Taken:
    """An update on its way to being answered."""

    update: Update
    update_id: int


def chat_key(update: Update) -> Hashable:
    """What orders an update: its chat, else its user (inline queries), else nothing."""
    if update.effective_chat is not None:
        return ("chat", update.effective_chat.id)
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    return ("update", update.update_id)


class _Pending:
    """An update being answered, and where it stands with the journal."""

    __slots__ = ("data", "recorded", "recording")

    def __init__(self, data: Mapping[str, Any] | bytes, recorded: bool = False) -> None:
        # The update as received (serialised only if it has to be journaled).
        self.data = data
        self.recorded = recorded
        # Set while its journal write runs; done() waits for it before deleting the entry.
        self.recording: asyncio.Future[None] | None = None

    def payload(self) -> bytes:
        if isinstance(self.data, bytes):
            return self.data
        return json.dumps(self.data, ensure_ascii=False).encode("utf-8", "replace")


class Intake:
    """Journal, deduplication and replay in front of the dispatcher.

    Webhook updates are journaled as they arrive (:meth:`take`): the 200 is the confirmation.
    Polled updates are queued at once (:meth:`accept`) and journaled only if they are still
    unanswered when the offset is about to move past them (:meth:`secure`): most are answered
    within milliseconds, and writing and deleting each one would cost more than answering it.
    """

    def __init__(
        self,
        journal: UpdateJournal,
        source: str,
        dispatcher: ChatDispatcher[Taken],
        parse: Callable[[Mapping[str, Any]], Update],
        metrics: Metrics,
        *,
        owner: str = PROCESS_OWNER,
        lease: float = 120.0,
        claim_limit: int = 500,
    ) -> None:
        self.journal = journal
        self.source = source
        self.dispatcher = dispatcher
        self.owner = owner
        self.lease = lease
        self.claim_limit = claim_limit
        self._parse = parse
        self._metrics = metrics
        self._pending: dict[int, _Pending] = {}
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._answered = asyncio.Event()
        self._journal_failures = 0
        self._slow_journal = 0
        self._writes: set[asyncio.Task[None]] = set()
        self._calls: set[asyncio.Future[Any]] = set()
        # Journal writes so far (for tests and the bench: most updates should need none).
        self.recorded = 0

    def known(self, update_id: int) -> bool:
        """Being answered now, or answered recently."""
        return update_id in self._pending or update_id in self._seen

    def read(self, data: Mapping[str, Any]) -> Update | None:
        """The update in ``data``, or ``None`` (logged) when it cannot be read."""
        try:
            return self._parse(data)
        except Exception as exc:
            self._metrics.error(NAME, "update")
            log.warning("telegram: update %s could not be read: %s", data.get("update_id"), exc)
            return None

    async def take(self, update: Update, payload: bytes) -> None:
        """Journal a new update, then queue it (waiting for room)."""
        update_id = update.update_id
        if self.known(update_id):
            return
        pending = self._pending[update_id] = _Pending(payload)
        await self._record(update_id, pending)
        await self.dispatcher.submit(chat_key(update), Taken(update, update_id))

    async def accept(self, update: Update, data: Mapping[str, Any]) -> None:
        """Queue a new update now; :meth:`secure` journals it later if it is still unanswered."""
        update_id = update.update_id
        if self.known(update_id):
            return
        self._pending[update_id] = _Pending(data)
        await self.dispatcher.submit(chat_key(update), Taken(update, update_id))

    async def secure(
        self, update_ids: list[int], settle: float, *, longest: float = 1.0, journal_wait: float = 0.25
    ) -> None:
        """Let these updates be answered while answers keep coming (one at least every
        ``settle`` seconds, ``longest`` seconds in all), then journal those still unanswered.

        A batch of quick answers is thus never written, however long the batch; an update held
        up (a flood wait, a slow call) is written after ``settle`` seconds without progress.
        Once this returns, each update is answered or journaled, so Telegram may forget them;
        unless the journal takes longer than ``journal_wait`` (a locked or failing store): then
        the writes go on in the background and polling goes on without them, answering being
        worth more than remembering.
        """
        began = time.monotonic()
        progress = began
        left = sum(1 for u in update_ids if u in self._pending)
        while left:
            now = time.monotonic()
            until = min(progress + settle, began + longest)
            if now >= until:
                break
            self._answered.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._answered.wait(), until - now)
            still = sum(1 for u in update_ids if u in self._pending)
            if still < left:
                progress, left = time.monotonic(), still
        writes = []
        for update_id in update_ids:
            pending = self._pending.get(update_id)
            if pending is not None and not pending.recorded and pending.recording is None:
                writes.append(self._start_record(update_id, pending))
        if not writes:
            return
        _, late = await asyncio.wait(writes, timeout=journal_wait)
        if late:
            self._metrics.error(NAME, "journal")
            self._slow_journal += 1
            if self._slow_journal == 1 or self._slow_journal % 100 == 0:
                log.warning(
                    "telegram: the update journal is slow (%d time(s)); polling goes on while"
                    " %d update(s) are still being written",
                    self._slow_journal,
                    len(late),
                )

    def _start_record(self, update_id: int, pending: _Pending) -> asyncio.Task[None]:
        # Marked now, not when the task first runs: done() must know to wait for the write.
        pending.recording = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(self._record(update_id, pending), name="telegram-journal-write")
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        return task

    async def quiesce(self, within: float) -> bool:
        """Wait (``within`` seconds at most) for every journal call still running; ``True``
        when none is left.

        Journal calls are never cancelled: a store that works in a thread (SQLite) goes on
        working after its caller is cancelled, and the store must not be closed under it.
        """
        calls = self._writes | self._calls
        if calls:
            await asyncio.wait(calls, timeout=within)
        return not (self._writes or self._calls)

    def _shielded(self, work: Coroutine[Any, Any, T]) -> Awaitable[T]:
        """Run a journal call as a task of its own, which cancelling the caller does not stop."""
        task = asyncio.ensure_future(work)
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)
        return asyncio.shield(task)

    async def _record(self, update_id: int, pending: _Pending) -> None:
        if pending.recording is None:
            pending.recording = asyncio.get_running_loop().create_future()
        recording = pending.recording
        try:
            await self._shielded(
                self.journal.record(self.source, update_id, pending.payload(), self.owner, self.lease)
            )
            pending.recorded = True
            self.recorded += 1
        except Exception as exc:
            # Answering matters more than remembering: go on without the journal.
            self._metrics.error(NAME, "journal")
            self._journal_failures += 1
            if self._journal_failures == 1 or self._journal_failures % 100 == 0:
                log.error(
                    "telegram: cannot journal updates (%d so far); answering them anyway: %s",
                    self._journal_failures,
                    exc,
                )
        finally:
            pending.recording = None
            if not recording.done():
                recording.set_result(None)

    async def replay(self) -> int:
        """Claim what is left unanswered in the journal and queue it; how many were queued."""
        try:
            entries = await self._shielded(
                self.journal.claim(self.source, self.owner, self.claim_limit, self.lease)
            )
        except Exception as exc:
            self._metrics.error(NAME, "journal")
            log.error("telegram: cannot read the update journal: %s", exc)
            return 0
        queued = 0
        for entry in entries:
            if self.known(entry.update_id):
                continue
            if entry.attempts > MAX_ATTEMPTS:
                log.warning(
                    "telegram: update %s dropped from the journal after %d attempts",
                    entry.update_id,
                    entry.attempts - 1,
                )
                await self._forget(entry.update_id)
                continue
            update = self._decode(entry.payload)
            if update is None:
                await self._forget(entry.update_id)
                continue
            self._pending[entry.update_id] = _Pending(entry.payload, recorded=True)
            await self.dispatcher.submit(chat_key(update), Taken(update, entry.update_id))
            queued += 1
        if queued:
            log.info("telegram: answering %d update(s) left unanswered by an earlier run", queued)
        return queued

    def _decode(self, payload: bytes) -> Update | None:
        try:
            data = json.loads(payload)
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, dict):
            log.warning("telegram: a journaled update is not a JSON object; dropped")
            return None
        return self.read(data)

    async def done(self, update_id: int) -> None:
        """The update was answered (or cannot be): forget it, in the journal too if it is there."""
        pending = self._pending.pop(update_id, None)
        self._seen[update_id] = None
        if len(self._seen) > SEEN_UPDATES:
            self._seen.popitem(last=False)
        self._answered.set()
        if pending is None:
            return
        if pending.recording is not None:
            await asyncio.shield(pending.recording)
        if pending.recorded:
            await self._forget(update_id)

    async def _forget(self, update_id: int) -> None:
        try:
            await self._shielded(self.journal.done(self.source, update_id))
        except Exception as exc:
            self._metrics.error(NAME, "journal")
            log.warning("telegram: cannot mark update %s answered in the journal: %s", update_id, exc)


class PollError(Exception):
    """A getUpdates reply the loop cannot use; ``wait`` is how long to back off (``None``: the
    usual backoff)."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


class Poller:
    """The ``getUpdates`` loop: fetch, journal and queue, then move the offset."""

    def __init__(
        self,
        request: PollingRequest,
        url: str,
        intake: Intake,
        *,
        timeout: int,
        allowed_updates: tuple[str, ...],
        metrics: Metrics,
        max_backoff: float = 30.0,
        settle: float = 0.1,
    ) -> None:
        self._request = request
        self._url = url
        self._intake = intake
        self._timeout = timeout
        self._allowed = list(allowed_updates)
        self._metrics = metrics
        self._max_backoff = max_backoff
        self._settle = settle
        self.offset: int | None = None
        # True from the first failed poll until the next good one.
        self.failing = False
        # A batch in hand: stopping waits for it to be journaled (anything else may be cancelled).
        self.journaling = False
        self._stopping = False
        self._stop_requested = asyncio.Event()
        self.last_poll = time.monotonic()
        self._failures = 0

    async def run(self) -> None:
        """Answer what an earlier run left, then poll until :meth:`stop` (or cancellation)."""
        await self._intake.replay()
        while not self._stopping:
            await self._intake.dispatcher.wait_room()
            if self._stopping:
                break
            try:
                updates, unreadable, offset = await self._fetch()
            except PollError as exc:
                await self._failed(exc)
                continue
            self.journaling = True
            try:
                for update, data in updates:
                    await self._intake.accept(update, data)
                # Answered or journaled, each of them, before the next poll confirms them.
                await self._intake.secure([update.update_id for update, _ in updates], self._settle)
            finally:
                self.journaling = False
            # Only now, each update journaled: the next getUpdates confirms them to Telegram.
            if offset is not None:
                self.offset = offset
            if unreadable:
                # Not Telegram's doing (a proxy, a bug): a failed poll, after keeping the rest.
                await self._failed(PollError(f"{unreadable} update(s) without an integer update_id skipped"))
            else:
                self.failing = False
                self._failures = 0

    def stop(self) -> None:
        """Finish the batch in hand (journaling it), then return from :meth:`run`."""
        self._stopping = True
        self._stop_requested.set()

    async def _failed(self, exc: PollError) -> None:
        """Count a failed poll and back off."""
        self.failing = True
        self._failures += 1
        self._metrics.error(NAME, "connection")
        wait = exc.wait
        if wait is None:
            wait = min(self._max_backoff, 0.5 * 2 ** min(self._failures, 10))
        # The first failure of an outage and then one in ten: an outage must not fill the log.
        if self._failures == 1 or self._failures % 10 == 0:
            log.warning(
                "telegram: getUpdates failed (%d in a row): %s; next in %.1f s", self._failures, exc, wait
            )
        await asyncio.sleep(wait)

    async def _fetch(self) -> tuple[list[tuple[Update, dict[str, Any]]], int, int | None]:
        params: dict[str, Any] = {"timeout": self._timeout, "allowed_updates": self._allowed, "limit": 100}
        if self.offset is not None:
            params["offset"] = self.offset
        try:
            status, body = await self._request.fetch(self._url, params, read_timeout=self._timeout + 10.0)
        except Exception as exc:
            raise PollError(f"{type(exc).__name__}: {exc}") from None
        try:
            reply = json.loads(body)
        except (ValueError, RecursionError):
            raise PollError(f"HTTP {status}, and the body is not JSON") from None
        if may_hold_surrogates(body):
            reply = scrub_json(reply)
        if not isinstance(reply, dict):
            raise PollError(f"HTTP {status}, and the body is not a JSON object")
        if not reply.get("ok"):
            parameters = reply.get("parameters")
            retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
            wait = float(retry_after) if isinstance(retry_after, int | float) else None
            description = str(reply.get("description", ""))[:200]
            raise PollError(f"HTTP {status}: {description}", wait)
        result = reply.get("result")
        if not isinstance(result, list):
            raise PollError("the result is not a list of updates")
        self.last_poll = time.monotonic()
        return self._updates(result)

    def _updates(self, result: list[Any]) -> tuple[list[tuple[Update, dict[str, Any]]], int, int | None]:
        """The readable updates of a reply (each with its JSON object, for the journal), how
        many were not, and the offset that confirms them all."""
        out: list[tuple[Update, dict[str, Any]]] = []
        unreadable = 0
        offset = self.offset
        for data in result:
            update_id = data.get("update_id") if isinstance(data, dict) else None
            if not isinstance(update_id, int) or isinstance(update_id, bool):
                unreadable += 1
                continue
            # Past it whatever happens next: an update nobody can read must not come back forever.
            offset = max(offset or 0, update_id + 1)
            update = self._intake.read(data)
            if update is not None:
                out.append((update, data))
        return out, unreadable, offset

    async def confirm(self, within: float = 2.0) -> None:
        """Tell Telegram every fetched update arrived (the journal keeps the unanswered ones)."""
        if self.offset is None:
            return
        params = {"offset": self.offset, "timeout": 0, "limit": 1}
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._request.fetch(self._url, params, read_timeout=within), within)
