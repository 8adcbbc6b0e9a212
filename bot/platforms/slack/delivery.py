"""Retries of Slack API calls, through slack_sdk's own retry hooks, counted in the metrics.

slack_sdk retries a request when one of its retry handlers says so; ours honour ``Retry-After``
on 429 (chat.postMessage is rate limited per channel, about one message a second), retry a 5xx
or a dropped connection once, and count every retry under
``http_status_bot_platform_retries_total{platform="slack"}``. A wait longer than the reply is
worth is not waited: the call fails and the error is counted instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.metrics import Metrics
from bot.platforms.slack.config import NAME

Sleep = Callable[[float], Awaitable[None]]
# Longest Retry-After we wait for before giving up on a reply.
MAX_RETRY_AFTER = 30.0
SERVER_ERRORS = frozenset({500, 502, 503, 504})


def retry_after(response: HttpResponse | None) -> float | None:
    """The seconds a 429 asks us to wait (1 when it does not say)."""
    if response is None or response.status_code != 429:
        return None
    for name, values in response.headers.items():
        if name.lower() == "retry-after" and values:
            try:
                return max(float(values[0]), 0.0)
            except ValueError:
                break
    return 1.0


class RateLimitRetry(AsyncRetryHandler):
    """429: wait exactly what ``Retry-After`` says, then send again (up to three times)."""

    def __init__(
        self,
        metrics: Metrics,
        max_retry_count: int = 3,
        max_wait: float = MAX_RETRY_AFTER,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._metrics = metrics
        self._max_wait = max_wait
        self._sleep = sleep

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        wait = retry_after(response)
        return wait is not None and wait <= self._max_wait

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        """Count the retry and sleep for ``Retry-After``."""
        self._metrics.retry(NAME, "rate_limit")
        await self._sleep(retry_after(response) or 1.0)
        state.next_attempt_requested = True
        state.increment_current_attempt()


class ServerErrorRetry(AsyncRetryHandler):
    """A 5xx from Slack: one more try after a second."""

    def __init__(self, metrics: Metrics, sleep: Sleep = asyncio.sleep) -> None:
        super().__init__(max_retry_count=1)
        self._metrics = metrics
        self._sleep = sleep

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in SERVER_ERRORS

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        """Count the retry and pause."""
        self._metrics.retry(NAME, "server_error")
        await self._sleep(1.0)
        state.next_attempt_requested = True
        state.increment_current_attempt()


class ConnectionRetry(AsyncConnectionErrorRetryHandler):
    """A connection reset or refused: slack_sdk's own check, counted."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(max_retry_count=1)
        self._metrics = metrics

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        """Count the retry, then slack_sdk's backoff."""
        self._metrics.retry(NAME, "network")
        await super().prepare_for_next_attempt_async(
            state=state, request=request, response=response, error=error
        )


def retry_handlers(metrics: Metrics, sleep: Sleep = asyncio.sleep) -> list[AsyncRetryHandler]:
    """The handlers every Slack client of the adapter is given."""
    return [ConnectionRetry(metrics), RateLimitRetry(metrics, sleep=sleep), ServerErrorRetry(metrics, sleep)]
