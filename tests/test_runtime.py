"""The runtime with small fake adapters: start order and failure, supervision, shutdown, signals."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.config import Config, parse
from bot.metrics import Metrics
from bot.ops import OpsServer
from bot.platforms.base import Adapter, AdapterFactory, AdapterStartError
from bot.runtime import AdapterBuilder, Runtime, serve
from bot.service import Service
from handlers import Handler, load


class FakeAdapter:
    """Takes 'updates' and answers each after ``work`` seconds; stop() finishes them first."""

    def __init__(
        self, platform: str, events: list[str], fail: Exception | None = None, work: float = 0.05
    ) -> None:
        self.platform = platform
        self.events = events
        self.fail = fail
        self.work = work
        self.up = False
        self.accepting = False
        self.taken = 0
        self.answered = 0
        self.stopped = False
        self._in_flight: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.events.append(f"start {self.platform}")
        await asyncio.sleep(0)
        if self.fail is not None:
            raise self.fail
        self.up = self.accepting = True

    def take(self) -> bool:
        if not self.accepting:
            return False
        self.taken += 1
        task = asyncio.create_task(self._reply())
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        return True

    async def _reply(self) -> None:
        await asyncio.sleep(self.work)
        self.answered += 1

    async def stop(self) -> None:
        self.events.append(f"stop {self.platform}")
        self.accepting = False
        if self._in_flight:
            await asyncio.gather(*self._in_flight)
        self.up = False
        self.stopped = True

    def connected(self) -> bool:
        return self.up


class Factory:
    """Builds FakeAdapters for one platform; ``failures`` makes the next N starts fail."""

    def __init__(self, platform: str, events: list[str], failures: int = 0, work: float = 0.05) -> None:
        self.platform = platform
        self.events = events
        self.failures = failures
        self.work = work
        self.built: list[FakeAdapter] = []
        self.attempts: list[float] = []

    def __call__(self) -> Adapter:
        fail = None
        if self.failures:
            self.failures -= 1
            fail = AdapterStartError("platform refused")
        adapter = FakeAdapter(self.platform, self.events, fail=fail, work=self.work)
        self.built.append(adapter)
        self.attempts.append(time.monotonic())
        return adapter

    @property
    def current(self) -> FakeAdapter:
        return self.built[-1]


async def _until(condition: Callable[[], bool], limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.fixture(scope="module")
def handler() -> Handler:
    return Handler(load())


@pytest.fixture
def events() -> list[str]:
    return []


async def test_adapters_start_in_order_and_stop_after_replies_in_flight(events: list[str]) -> None:
    telegram, discord = Factory("telegram", events, work=0.2), Factory("discord", events, work=0.2)
    runtime = Runtime({"telegram": telegram, "discord": discord}, shutdown_timeout=5)
    await runtime.start()
    assert events == ["start telegram", "start discord"]
    assert runtime.health() == {"telegram": True, "discord": True}
    for _ in range(20):
        telegram.current.take()
        discord.current.take()
    began = time.monotonic()
    assert await runtime.stop() is True
    assert time.monotonic() - began < 1.0
    for factory in (telegram, discord):
        assert factory.current.answered == factory.current.taken == 20
        assert factory.current.stopped
        assert not factory.current.take(), "no new work once stopping"
    assert runtime.health() == {"telegram": False, "discord": False}


async def test_stop_gives_up_after_the_shutdown_timeout(events: list[str]) -> None:
    slow = Factory("telegram", events, work=30)
    runtime = Runtime({"telegram": slow}, shutdown_timeout=0.2)
    await runtime.start()
    slow.current.take()
    began = time.monotonic()
    assert await runtime.stop() is False
    assert time.monotonic() - began < 2.0


async def test_a_failed_start_stops_the_adapters_already_started(events: list[str]) -> None:
    telegram, discord = Factory("telegram", events), Factory("discord", events, failures=1)
    runtime = Runtime({"telegram": telegram, "discord": discord})
    with pytest.raises(AdapterStartError, match=r"^discord: platform refused$"):
        await runtime.start()
    assert events == ["start telegram", "start discord", "stop discord", "stop telegram"]
    assert telegram.current.stopped


async def test_an_unexpected_start_error_names_the_platform(events: list[str]) -> None:
    def broken() -> Adapter:
        return FakeAdapter("telegram", events, fail=KeyError("oops"))

    with pytest.raises(AdapterStartError, match=r"^telegram: KeyError: 'oops'$"):
        await Runtime({"telegram": broken}).start()


async def test_a_dead_adapter_is_restarted_with_backoff_while_the_others_serve(events: list[str]) -> None:
    telegram, discord = Factory("telegram", events), Factory("discord", events)
    metrics = Metrics()
    runtime = Runtime(
        {"telegram": telegram, "discord": discord},
        metrics=metrics,
        restart_after=0.1,
        restart_initial_delay=0.05,
        restart_max_delay=0.12,
        check_interval=0.01,
    )
    await runtime.start()
    first = telegram.current
    telegram.failures = 3  # the platform refuses three times, then accepts
    first.up = False  # the connection died and the adapter's own retries gave up
    assert runtime.health() == {"telegram": False, "discord": True}
    await _until(lambda: runtime.restarts()["telegram"] == 1)
    assert first.stopped
    assert len(telegram.built) == 5  # the first, three refused, the one that serves
    gaps = [b - a for a, b in zip(telegram.attempts[1:], telegram.attempts[2:], strict=False)]
    assert gaps[0] >= 0.05
    assert gaps[1] >= 0.1  # doubled
    assert gaps[2] < 0.3  # capped by restart_max_delay
    assert runtime.health() == {"telegram": True, "discord": True}
    # The other platform was never touched.
    assert len(discord.built) == 1
    assert discord.current.take()
    assert b'http_status_bot_adapter_restarts_total{platform="telegram"} 1.0' in metrics.render()
    await runtime.stop()


async def test_a_short_disconnection_is_left_to_the_adapter(events: list[str]) -> None:
    telegram = Factory("telegram", events)
    runtime = Runtime({"telegram": telegram}, restart_after=0.5, check_interval=0.01)
    await runtime.start()
    telegram.current.up = False
    await asyncio.sleep(0.1)
    telegram.current.up = True  # reconnected on its own
    await asyncio.sleep(0.6)
    assert runtime.restarts() == {"telegram": 0}
    assert len(telegram.built) == 1
    await runtime.stop()


async def test_stop_during_a_restart_stops_the_adapter_being_started(events: list[str]) -> None:
    started = asyncio.Event()

    class Hanging(FakeAdapter):
        async def start(self) -> None:
            started.set()
            await asyncio.sleep(30)

    built: list[FakeAdapter] = []

    def factory() -> Adapter:
        adapter = FakeAdapter("telegram", events) if not built else Hanging("telegram", events)
        built.append(adapter)
        return adapter

    runtime = Runtime({"telegram": factory}, restart_after=0.05, check_interval=0.01)
    await runtime.start()
    built[0].up = False
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.wait_for(runtime.stop(), 5)
    assert built[1].stopped


# ---- serve(): the whole process minus the command line --------------------------------------


def _config(tmp_path: Path, **ops: object) -> Config:
    return parse({"storage": {"path": str(tmp_path / "p.sqlite3")}, "ops": dict(ops)}, {})


def _builder(*factories: Factory) -> AdapterBuilder:
    def build(config: Config, service: Service, stop: Callable[[], None]) -> dict[str, AdapterFactory]:
        return {f.platform: f for f in factories}

    return build


@pytest.fixture
def restore_signals() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, h in saved.items():
        signal.signal(s, h)


@pytest.mark.usefixtures("restore_signals")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_serve_finishes_replies_in_flight_on_a_signal(
    tmp_path: Path, handler: Handler, events: list[str], signum: signal.Signals
) -> None:
    telegram = Factory("telegram", events, work=0.3)

    def ready(runtime: Runtime, ops: OpsServer | None) -> None:
        for _ in range(10):
            telegram.current.take()
        os.kill(os.getpid(), signum)

    began = time.monotonic()
    status = await serve(_config(tmp_path), handler, build=_builder(telegram), on_ready=ready)
    assert status == 0
    assert telegram.current.answered == 10
    assert time.monotonic() - began < 3


@pytest.mark.usefixtures("restore_signals")
async def test_serve_returns_1_when_an_adapter_cannot_start(
    tmp_path: Path, handler: Handler, events: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    telegram, discord = Factory("telegram", events), Factory("discord", events, failures=1)
    assert await serve(_config(tmp_path), handler, build=_builder(telegram, discord)) == 1
    assert telegram.current.stopped
    assert "cannot start: discord: platform refused" in caplog.text


@pytest.mark.usefixtures("restore_signals")
async def test_a_signal_during_start_up_stops_what_started(
    tmp_path: Path, handler: Handler, events: list[str]
) -> None:
    class Slow(FakeAdapter):
        async def start(self) -> None:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(30)

    telegram = Factory("telegram", events)
    slow: list[Slow] = []

    def discord() -> Adapter:
        slow.append(Slow("discord", events))
        return slow[-1]

    def build(config: Config, service: Service, stop: Callable[[], None]) -> dict[str, AdapterFactory]:
        return {"telegram": telegram, "discord": discord}

    status = await asyncio.wait_for(serve(_config(tmp_path), handler, build=build), 5)
    assert status == 0
    assert telegram.current.stopped
    assert slow[0].stopped


@pytest.mark.usefixtures("restore_signals")
async def test_serve_reports_a_taken_ops_port(tmp_path: Path, handler: Handler, events: list[str]) -> None:
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = blocker.sockets[0].getsockname()[1]
    try:
        config = _config(tmp_path, enabled=True, port=port)
        telegram = Factory("telegram", events)
        assert await serve(config, handler, build=_builder(telegram)) == 1
        assert telegram.built == []
    finally:
        blocker.close()
        await blocker.wait_closed()


@pytest.mark.usefixtures("restore_signals")
async def test_serve_returns_when_the_console_user_leaves(tmp_path: Path, handler: Handler) -> None:
    stops: list[Callable[[], None]] = []

    def build(config: Config, service: Service, stop: Callable[[], None]) -> dict[str, AdapterFactory]:
        stops.append(stop)
        return {"console": lambda: FakeAdapter("console", [])}

    def ready(runtime: Runtime, ops: OpsServer | None) -> None:
        asyncio.get_running_loop().call_later(0.05, stops[0])

    assert await asyncio.wait_for(serve(_config(tmp_path), handler, build=build, on_ready=ready), 5) == 0
