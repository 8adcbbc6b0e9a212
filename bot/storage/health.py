"""Whether the store answers: what ``/healthz`` reports and what ``/metrics`` counts.

Operations report their outcome here; a background probe checks the database every few seconds
(every second while it is down), so the state is right even when no traffic comes, and the
first successful round trip after an outage flips it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal

from bot.storage.base import JournalEntry, StorageError, UpdateJournal

if TYPE_CHECKING:
    from bot.metrics import Metrics

log = logging.getLogger(__name__)

StoreState = Literal["ok", "degraded"]


class StoreHealth:
    """The store's state, its error count (by operation, into the metrics) and its probe."""

    def __init__(
        self,
        backend: str,
        metrics: Metrics | None = None,
        probe: Callable[[], Awaitable[None]] | None = None,
        *,
        interval: float = 5.0,
        retry: float = 1.0,
        probe_timeout: float = 1.0,
    ) -> None:
        self.backend = backend
        self._metrics = metrics
        self._probe = probe
        self.interval = interval
        self.retry = retry
        self.probe_timeout = probe_timeout
        self.ok = True
        self.reason = ""
        self._monitor: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        if metrics is not None:
            metrics.set_storage_up(True)

    @property
    def resting(self) -> bool:
        """Whether reads should leave the store alone: it is down, and the probe will notice
        its return (without a probe, the next operation is what notices)."""
        return not self.ok and self._probe is not None

    def state(self) -> StoreState:
        """``ok``, or ``degraded`` while the store fails."""
        return "ok" if self.ok else "degraded"

    def failed(self, operation: str, exc: BaseException) -> None:
        """Count a failed operation; the first one of an outage is logged, the rest only counted."""
        if self._metrics is not None:
            self._metrics.storage_error(operation)
        if self.ok:
            self.ok = False
            self.reason = str(exc)
            log.warning(
                "storage: %s unavailable (%s); answers go on in the client's or the default"
                " language, /lang cannot save until it is back",
                self.backend,
                exc,
            )
            if self._metrics is not None:
                self._metrics.set_storage_up(False)
            self._wake.set()

    def succeeded(self) -> None:
        """An operation went through: the store is back, if it was down."""
        if not self.ok:
            self.ok = True
            self.reason = ""
            log.info("storage: %s available again", self.backend)
            if self._metrics is not None:
                self._metrics.set_storage_up(True)

    def start(self) -> None:
        """Start the background probe (when there is one to run)."""
        if self._probe is not None and self._monitor is None:
            self._monitor = asyncio.create_task(self._watch(), name="storage-probe")

    async def stop(self) -> None:
        """Stop the background probe."""
        task, self._monitor = self._monitor, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def check(self) -> StoreState:
        """Probe now and return the resulting state."""
        if self._probe is not None:
            try:
                await asyncio.wait_for(self._probe(), self.probe_timeout)
            except TimeoutError:
                self.failed("probe", StorageError(f"no answer within {self.probe_timeout:g} s"))
            except Exception as exc:  # whatever it is, the probe must live on to see a recovery
                self.failed("probe", exc)
            else:
                self.succeeded()
        return self.state()

    async def _watch(self) -> None:
        while True:
            delay = self.interval if self.ok else self.retry
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                await self.check()
            # Woken by a failure: wait the shorter retry delay before probing, not at once.


class MeteredJournal:
    """An update journal whose failures are counted, logged once per outage and raised as
    :class:`StorageError` whatever the back end raised."""

    def __init__(self, inner: UpdateJournal, health: StoreHealth) -> None:
        self.inner = inner
        self._health = health

    async def record(
        self, source: str, update_id: int, payload: bytes, owner: str = "", lease: float = 0.0
    ) -> None:
        """Keep an update (again is harmless), leased to its recorder."""
        try:
            await self.inner.record(source, update_id, payload, owner, lease)
        except Exception as exc:
            raise self._failed("record", exc) from exc
        self._health.succeeded()

    async def claim(self, source: str, owner: str, limit: int, lease: float) -> list[JournalEntry]:
        """Unanswered updates no live claim holds, leased to ``owner``."""
        try:
            entries = await self.inner.claim(source, owner, limit, lease)
        except Exception as exc:
            raise self._failed("claim", exc) from exc
        self._health.succeeded()
        return entries

    async def done(self, source: str, update_id: int) -> None:
        """Forget an answered update."""
        try:
            await self.inner.done(source, update_id)
        except Exception as exc:
            raise self._failed("done", exc) from exc
        self._health.succeeded()

    def _failed(self, operation: str, exc: Exception) -> StorageError:
        error = exc if isinstance(exc, StorageError) else StorageError(f"{operation}: {exc}")
        self._health.failed(operation, error)
        return error

    async def close(self) -> None:
        """Close the journal underneath."""
        await self.inner.close()
