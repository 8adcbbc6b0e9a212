"""Calls to the Bot API that are retried within bounds.

What is retried and why:

* ``429 Too Many Requests`` (:class:`telegram.error.RetryAfter`): Telegram says when to come
  back; we wait exactly that long unless it exceeds :attr:`RetryPolicy.max_retry_after`.
* a 5xx answer, a refused or reset connection, a timeout (:class:`~telegram.error.NetworkError`,
  :class:`~telegram.error.TimedOut`): capped exponential backoff with jitter.

Everything else (``400 Bad Request``, ``403 Forbidden`` because a user blocked the bot, a revoked
token) fails at once: retrying cannot change the answer.

Retrying a send is safe when the request never reached Telegram (refused connection, pool
timeout) or when Telegram refused it (429, 5xx). When a connection drops *after* the request was
sent, nobody can tell whether Telegram delivered the message: the Bot API has no idempotency key,
so a retry then risks a duplicate. We retry anyway (an answer lost is worse than one repeated);
this at-least-once window is the only source of duplicates.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import random
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.warnings import PTBDeprecationWarning

from bot.metrics import Metrics

# Named as before the move into bot.platforms: operators filter log lines on it.
log = logging.getLogger("bot.adapters.telegram_delivery")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard a failed Bot API call is retried."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    # Holding an update longer than this for a flood wait helps nobody: give up and log instead.
    max_retry_after: float = 60.0


def retry_after_seconds(exc: RetryAfter) -> float:
    """The flood wait Telegram asked for, in seconds (PTB returns an int or a timedelta)."""
    with warnings.catch_warnings():
        # Reading the attribute warns about its future type; either type is handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def retry_reason(exc: BaseException) -> str | None:
    """Why ``exc`` is worth a retry (a metrics label), or ``None`` when it is not."""
    if isinstance(exc, RetryAfter):
        return "rate_limit"
    if isinstance(exc, BadRequest):  # a subclass of NetworkError, but final
        return None
    if isinstance(exc, TimedOut):
        return "network"
    if isinstance(exc, NetworkError):
        # PTB chains the transport's exception for connection problems and raises a bare
        # NetworkError for an HTTP error status such as 502.
        return "network" if exc.__cause__ is not None else "server_error"
    return None


class Delivery:
    """Runs Bot API calls with bounded retries, counting each retry in the metrics."""

    def __init__(
        self,
        metrics: Metrics,
        policy: RetryPolicy | None = None,
        *,
        platform: str = "telegram",
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._metrics = metrics
        self._platform = platform
        self._rng = rng or random.Random()
        self._aborted = asyncio.Event()

    def abort(self) -> None:
        """Stop waiting between attempts: calls in progress fail with their last error."""
        self._aborted.set()

    def delay(self, exc: TelegramError, attempt: int) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` to give up."""
        if isinstance(exc, RetryAfter):
            wait = retry_after_seconds(exc)
            return wait if wait <= self.policy.max_retry_after else None
        backoff = min(self.policy.max_delay, self.policy.base_delay * 2.0 ** (attempt - 1))
        # Jitter spreads the retries of replicas hit by the same outage.
        return backoff * (0.5 + self._rng.random() / 2)

    async def call(self, send: Callable[[], Awaitable[T]], what: str) -> T:
        """``await send()``, retried on rate limits, 5xx answers and connection failures.

        ``what`` names the call in log lines (``sendMessage for update 17``). The last error is
        re-raised when the attempts run out or the error is final.
        """
        attempt = 1
        while True:
            try:
                return await send()
            except TelegramError as exc:
                reason = retry_reason(exc)
                if reason is None or attempt >= self.policy.attempts or self._aborted.is_set():
                    raise
                wait = self.delay(exc, attempt)
                if wait is None:
                    raise
                self._metrics.retry(self._platform, reason)
                log.info(
                    "%s: %s (%s); attempt %d of %d in %.2f s",
                    what,
                    reason,
                    exc,
                    attempt + 1,
                    self.policy.attempts,
                    wait,
                )
                if await self._pause(wait):
                    raise
                attempt += 1

    async def _pause(self, seconds: float) -> bool:
        """Sleep; ``True`` when :meth:`abort` cut the sleep short."""
        if self._aborted.is_set():
            return True
        try:
            await asyncio.wait_for(self._aborted.wait(), seconds)
        except TimeoutError:
            return False
        return True
