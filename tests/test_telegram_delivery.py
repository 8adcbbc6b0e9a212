"""Bounded retries of Bot API calls."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from bot.metrics import Metrics
from bot.platforms.telegram.delivery import Delivery, RetryPolicy, retry_reason

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
TOKEN = "123456:ABC-def_ghi"


def _network_error() -> NetworkError:
    try:
        raise NetworkError("httpx.ReadError: ") from httpx.ReadError("reset")
    except NetworkError as exc:
        return exc


def test_what_is_worth_a_retry() -> None:
    assert retry_reason(RetryAfter(3)) == "rate_limit"
    assert retry_reason(NetworkError("Bad Gateway")) == "server_error"
    assert retry_reason(_network_error()) == "network"
    assert retry_reason(TimedOut()) == "network"
    for final in (BadRequest("can't parse entities"), Forbidden("bot was blocked"), InvalidToken("x")):
        assert retry_reason(final) is None


async def test_retries_until_success_and_counts_each_retry() -> None:
    metrics = Metrics()
    failures: list[Exception] = [_network_error(), NetworkError("Bad Gateway"), RetryAfter(0)]
    calls = 0

    async def send() -> str:
        nonlocal calls
        calls += 1
        if failures:
            raise failures.pop(0)
        return "sent"

    delivery = Delivery(metrics, RetryPolicy(base_delay=0.001, max_delay=0.002))
    assert await delivery.call(send, "test") == "sent"
    assert calls == 4
    text = metrics.render().decode()
    for reason in ("network", "server_error", "rate_limit"):
        assert f'http_status_bot_platform_retries_total{{platform="telegram",reason="{reason}"}} 1.0' in text


async def test_gives_up_after_the_last_attempt_and_on_final_errors() -> None:
    calls = 0

    async def always_502() -> None:
        nonlocal calls
        calls += 1
        raise NetworkError("Bad Gateway")

    delivery = Delivery(Metrics(), RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002))
    with pytest.raises(NetworkError):
        await delivery.call(always_502, "test")
    assert calls == 3

    async def bad_request() -> None:
        nonlocal calls
        calls += 1
        raise BadRequest("message is too long")

    calls = 0
    with pytest.raises(BadRequest):
        await delivery.call(bad_request, "test")
    assert calls == 1


async def test_a_flood_wait_longer_than_allowed_is_not_waited() -> None:
    async def flood() -> None:
        raise RetryAfter(3600)

    began = time.monotonic()
    with pytest.raises(RetryAfter):
        await Delivery(Metrics(), RetryPolicy(max_retry_after=60)).call(flood, "test")
    assert time.monotonic() - began < 0.5


def test_backoff_is_capped_and_jittered() -> None:
    delivery = Delivery(Metrics(), RetryPolicy(base_delay=0.5, max_delay=8.0))
    delays = [delivery.delay(NetworkError("x"), attempt) for attempt in range(1, 10)]
    assert all(d is not None and 0 < d <= 8.0 for d in delays)
    assert delivery.delay(RetryAfter(7), 1) == 7.0


async def test_abort_ends_a_wait_at_once() -> None:
    delivery = Delivery(Metrics(), RetryPolicy(base_delay=30, max_delay=30))

    async def failing() -> None:
        raise NetworkError("Bad Gateway")

    task = asyncio.create_task(delivery.call(failing, "test"))
    await asyncio.sleep(0.05)
    delivery.abort()
    with pytest.raises(NetworkError):
        await asyncio.wait_for(task, 1)
