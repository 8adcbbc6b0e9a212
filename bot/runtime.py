"""The runtime: every enabled adapter on one event loop, supervised, stopped cleanly on a signal.

``serve()`` is what ``python -m bot run`` does once the configuration is valid:

1. build the shared :class:`~bot.service.Service` (handler, metrics, preferences);
2. start the ops server (when enabled), then each adapter in turn; an adapter that cannot start
   stops the ones already started and the process exits 1 with one clear line;
3. watch the adapters: one that stays disconnected longer than ``[bot] restart_after`` (its own
   retries having failed) is replaced by a fresh instance, retried with capped exponential
   backoff, while the others keep serving;
4. on SIGINT/SIGTERM (or when the console user quits) stop taking work, let every adapter finish
   its replies in flight within ``[bot] shutdown_timeout``, close everything and return 0.

The platforms come from :mod:`bot.platforms.registry`; each imports its library only when its
adapter factory is built, so ``ask`` and ``console`` never load discord.py or python-telegram-bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sqlite3
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.config import Config
from bot.exit_codes import EXIT_FAILURE, EXIT_OK
from bot.metrics import Metrics
from bot.ops import OpsServer
from bot.platforms import registry
from bot.platforms.base import Adapter, AdapterContext, AdapterFactory, AdapterStartError
from bot.service import Service
from bot.storage import SqliteJournal, SqlitePreferences
from handlers import Handler

log = logging.getLogger(__name__)

# Builds the adapters' factories from the service and a callback that asks the runtime to stop.
AdapterBuilder = Callable[[Config, Service, Callable[[], None]], dict[str, AdapterFactory]]


def adapter_factories(
    config: Config, service: Service, request_stop: Callable[[], None]
) -> dict[str, AdapterFactory]:
    """A factory per enabled platform, in the registry's order; each call builds a fresh adapter.

    Raises :class:`AdapterStartError` when a platform's library cannot be imported.
    """
    context = AdapterContext(service=service, bot=config.bot, request_stop=request_stop)
    factories: dict[str, AdapterFactory] = {}
    for platform in registry.platforms():
        section = platform.section_of(config)
        if not section.enabled:
            continue
        try:
            factories[platform.name] = platform.adapter(section, context)
        except ImportError as exc:
            raise AdapterStartError(f"platform support is missing: {exc}") from exc
    return factories


@dataclass
class _Slot:
    """One platform: its factory, its current adapter and the task that watches it."""

    platform: str
    factory: AdapterFactory
    adapter: Adapter | None = None
    # An adapter being (re)started: stopped too if shutdown interrupts its start.
    starting: Adapter | None = None
    watcher: asyncio.Task[None] | None = None
    restarts: int = 0
    disconnected_since: float | None = field(default=None, repr=False)


class Runtime:
    """Starts, supervises and stops a set of adapters on the running loop."""

    def __init__(
        self,
        factories: Mapping[str, AdapterFactory],
        *,
        metrics: Metrics | None = None,
        shutdown_timeout: float = 10.0,
        restart_after: float = 60.0,
        restart_max_delay: float = 300.0,
        restart_initial_delay: float = 1.0,
        check_interval: float = 1.0,
    ) -> None:
        self._slots = [_Slot(platform, factory) for platform, factory in factories.items()]
        self._metrics = metrics
        self.shutdown_timeout = shutdown_timeout
        self.restart_after = restart_after
        self.restart_max_delay = restart_max_delay
        self.restart_initial_delay = restart_initial_delay
        self.check_interval = min(check_interval, restart_after or check_interval)
        self.stopping = False
        self._stop_requested = asyncio.Event()

    # ---- state --------------------------------------------------------------------------

    @property
    def platforms(self) -> list[str]:
        """The supervised platforms, in start order."""
        return [slot.platform for slot in self._slots]

    def health(self) -> dict[str, bool]:
        """Each platform's connection state, for ``/healthz`` and the metrics."""
        out: dict[str, bool] = {}
        for slot in self._slots:
            try:
                out[slot.platform] = slot.adapter is not None and slot.adapter.connected()
            except Exception:  # a health probe must never take the ops server down
                log.exception("%s: connected() failed", slot.platform)
                out[slot.platform] = False
        return out

    def restarts(self) -> dict[str, int]:
        """How often each platform was restarted by the supervisor."""
        return {slot.platform: slot.restarts for slot in self._slots}

    def request_stop(self) -> None:
        """Ask :meth:`run_until_stopped` to return (safe to call from a signal handler)."""
        self._stop_requested.set()

    async def wait_stop_requested(self) -> None:
        """Wait for a signal, the console user leaving, or :meth:`request_stop`."""
        await self._stop_requested.wait()

    # ---- start --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every adapter in order, then watch them.

        On a failure the adapters already started are stopped and :class:`AdapterStartError`
        is raised with the platform's name in its message.
        """
        for slot in self._slots:
            adapter = slot.factory()
            slot.starting = adapter
            began = time.monotonic()
            try:
                await adapter.start()
            except Exception as exc:
                slot.starting = None
                await self._stop_quietly(adapter)
                # Not stop(): that would look like an operator's request to stop.
                self.stopping = True
                await self._stop_adapters()
                if isinstance(exc, AdapterStartError):
                    raise AdapterStartError(f"{slot.platform}: {exc}") from exc
                log.error("%s: unexpected error while starting", slot.platform, exc_info=exc)
                raise AdapterStartError(f"{slot.platform}: {type(exc).__name__}: {exc}") from exc
            slot.adapter, slot.starting = adapter, None
            log.info("%s adapter started in %.2f s", slot.platform, time.monotonic() - began)
        for slot in self._slots:
            slot.watcher = asyncio.create_task(self._watch(slot), name=f"watch-{slot.platform}")

    # ---- supervision --------------------------------------------------------------------

    async def _pause(self, seconds: float) -> bool:
        """Sleep, waking early on shutdown; ``True`` when shutdown began."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_requested.wait(), seconds)
        return self.stopping or self._stop_requested.is_set()

    async def _watch(self, slot: _Slot) -> None:
        if not self.restart_after:
            return
        while not await self._pause(self.check_interval):
            adapter = slot.adapter
            if adapter is not None and adapter.connected():
                slot.disconnected_since = None
                continue
            now = time.monotonic()
            if slot.disconnected_since is None:
                slot.disconnected_since = now
                log.warning("%s: disconnected; waiting for it to reconnect", slot.platform)
            elif now - slot.disconnected_since >= self.restart_after:
                await self._restart(slot)
                slot.disconnected_since = None

    async def _restart(self, slot: _Slot) -> None:
        """Replace the slot's adapter by a fresh one, retrying with capped exponential backoff."""
        log.warning(
            "%s: still disconnected after %.1f s; restarting the adapter", slot.platform, self.restart_after
        )
        old, slot.adapter = slot.adapter, None
        if old is not None:
            await self._stop_quietly(old)
        delay = min(self.restart_initial_delay, self.restart_max_delay)
        attempt = 0
        while not self.stopping:
            attempt += 1
            adapter = slot.factory()
            slot.starting = adapter
            try:
                await adapter.start()
            except asyncio.CancelledError:
                await self._stop_quietly(adapter)
                raise
            except Exception as exc:
                slot.starting = None
                log.error(
                    "%s: restart attempt %d failed: %s; next in %.1f s", slot.platform, attempt, exc, delay
                )
                await self._stop_quietly(adapter)
                if await self._pause(delay):
                    return
                delay = min(delay * 2, self.restart_max_delay)
                continue
            slot.adapter, slot.starting = adapter, None
            slot.restarts += 1
            if self._metrics is not None:
                self._metrics.restarted(slot.platform)
            log.info("%s: adapter restarted (attempt %d)", slot.platform, attempt)
            return

    async def _stop_quietly(self, adapter: Adapter) -> None:
        """Stop an adapter within the shutdown timeout, logging (not raising) its failure."""
        try:
            await asyncio.wait_for(adapter.stop(), self.shutdown_timeout)
        except TimeoutError:
            log.warning("%s: did not stop within %.0f s", adapter.platform, self.shutdown_timeout)
        except Exception:
            log.exception("%s: error while stopping", adapter.platform)

    # ---- stop ---------------------------------------------------------------------------

    async def stop(self) -> bool:
        """Stop every adapter at once, each finishing its replies in flight.

        Returns ``True`` when all stopped within ``shutdown_timeout``; stragglers are cancelled.
        """
        self.stopping = True
        self._stop_requested.set()
        watchers = [slot.watcher for slot in self._slots if slot.watcher is not None]
        for task in watchers:
            task.cancel()
        # A watcher cancelled in the middle of a restart stops the adapter it was starting.
        await asyncio.gather(*watchers, return_exceptions=True)
        return await self._stop_adapters()

    async def _stop_adapters(self) -> bool:
        adapters: list[Adapter] = []
        for slot in self._slots:
            for adapter in (slot.adapter, slot.starting):
                if adapter is not None and adapter not in adapters:
                    adapters.append(adapter)
            slot.adapter = slot.starting = None
        if not adapters:
            return True
        began = time.monotonic()
        tasks = {asyncio.create_task(a.stop(), name=f"stop-{a.platform}"): a for a in adapters}
        done, pending = await asyncio.wait(tasks, timeout=self.shutdown_timeout)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error("%s: error while stopping", tasks[task].platform, exc_info=task.exception())
        for task in pending:
            log.warning(
                "%s: did not stop within %.0f s; cancelled", tasks[task].platform, self.shutdown_timeout
            )
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)
        log.info("adapters stopped in %.2f s", time.monotonic() - began)
        return not pending


def _install_signals(runtime: Runtime) -> Callable[[], None]:
    """SIGINT/SIGTERM ask the runtime to stop; a second one while stopping exits at once."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []

    def on_signal(signum: signal.Signals) -> None:
        if runtime.stopping:
            log.warning("%s again: exiting without waiting for replies in flight", signum.name)
            # os._exit would skip flushing logs; a SystemExit from a callback stops the loop.
            sys.stderr.flush()
            raise SystemExit(130 if signum == signal.SIGINT else 143)
        log.info("%s received: finishing replies in flight, then exiting", signum.name)
        runtime.request_stop()

    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, on_signal, signum)
            installed.append(signum)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            pass

    def remove() -> None:
        for signum in installed:
            loop.remove_signal_handler(signum)

    return remove


async def serve(
    config: Config,
    handler: Handler,
    *,
    build: AdapterBuilder = adapter_factories,
    on_ready: Callable[[Runtime, OpsServer | None], None] | None = None,
    check_interval: float = 1.0,
) -> int:
    """Run every enabled adapter until a signal; the process exit status.

    ``build`` and ``on_ready`` let tests swap in fake adapters and find the ops server's port.
    """
    began = time.monotonic()
    metrics = Metrics()
    try:
        prefs = SqlitePreferences(config.storage.path)
        journal = SqliteJournal(config.storage.path)
    except (OSError, sqlite3.Error) as exc:
        log.error("cannot open [storage] path %s: %s", config.storage.path, exc)
        return EXIT_FAILURE
    service = Service(
        handler=handler, metrics=metrics, prefs=prefs, journal=journal, default_lang=config.bot.default_lang
    )
    runtime_ref: list[Runtime] = []

    def request_stop() -> None:
        if runtime_ref:
            runtime_ref[0].request_stop()

    ops: OpsServer | None = None
    remove_signals: Callable[[], None] | None = None
    try:
        factories = build(config, service, request_stop)
        runtime = Runtime(
            factories,
            metrics=metrics,
            shutdown_timeout=config.bot.shutdown_timeout,
            restart_after=config.bot.restart_after,
            restart_max_delay=config.bot.restart_max_delay,
            check_interval=check_interval,
        )
        runtime_ref.append(runtime)
        remove_signals = _install_signals(runtime)
        if config.ops.enabled:
            ops = OpsServer(
                config.ops.listen, config.ops.port, metrics, runtime.health, lambda: runtime.stopping
            )
            try:
                await ops.start()
            except OSError as exc:
                raise AdapterStartError(
                    f"ops server cannot listen on {config.ops.listen}:{config.ops.port}: {exc.strerror}"
                ) from exc
        # A signal during start-up stops what has started instead of waiting for the rest.
        starting = asyncio.create_task(runtime.start(), name="start")
        stop_wait = asyncio.create_task(runtime.wait_stop_requested(), name="stop-requested")
        await asyncio.wait({starting, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done() and starting.exception() is not None:
            stop_wait.cancel()
            starting.result()  # raises AdapterStartError
        if not starting.done():
            log.info("stop requested during start-up")
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, AdapterStartError):
                await starting
        else:
            log.info("serving %s (ready in %.2f s)", ", ".join(runtime.platforms), time.monotonic() - began)
            if on_ready is not None:
                on_ready(runtime, ops)
            await stop_wait
        stop_wait.cancel()
        await runtime.stop()
        return EXIT_OK
    except AdapterStartError as exc:
        log.error("cannot start: %s", exc)
        return EXIT_FAILURE
    finally:
        if runtime_ref and not runtime_ref[0].stopping:
            await runtime_ref[0].stop()
        if remove_signals is not None:
            remove_signals()
        if ops is not None:
            await ops.stop()
        await prefs.close()
        await journal.close()
        log.info("stopped")
