"""Every HTTP endpoint the bot exposes (webhooks, interactions, ``/healthz``) behind the same guards.

aiohttp on its own keeps a connection whose request headers never finish for an hour, accepts
connections until the process runs out of file descriptors, and logs a traceback for each
malformed request. A listener built here instead

* closes a connection whose headers have not all arrived ``header_timeout`` seconds after it
  opened (or after its previous response), and one whose body takes longer than ``body_timeout``;
* holds at most ``max_connections`` connections (by default 256, or an eighth of the process's
  descriptor limit when that is lower, so that a few listeners together can never exhaust it):
  past that, the oldest connection with no request being handled is closed to make room (a
  slow-connection flood thus evicts itself, while a real client's request gets through), and
  only when every connection is busy is the newcomer refused with a bare 503;
* refuses bodies over ``max_body`` (413), header lines over ``max_field_size`` and more than
  ``max_headers`` headers (400);
* logs each kind of refusal as one WARNING line, at most once per ``log_interval`` with a count of
  those not logged, never with a traceback.

Platforms with an HTTP mode (Telegram's webhook, Discord's interactions, Slack's events) and the
ops server all build their server with :func:`new_app` and serve it with :class:`HttpListener`.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger("bot.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
    b"Connection: close\r\n\r\nbusy\n"
)
# asyncio's own line when accept() fails for want of descriptors: it comes back every second
# per listening socket, each with a traceback, for as long as the shortage lasts.
_ACCEPT_EXHAUSTED = "socket.accept() out of system resource"
_STATE_KEY: web.AppKey[_State] = web.AppKey("bot_http_listener_state")


def _default_max_connections() -> int:
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return 256
    if soft == resource.RLIM_INFINITY:
        return 256
    return max(8, min(256, soft // 8))


@dataclass(frozen=True, slots=True)
class ListenerLimits:
    """How long a client may take and how much it may hold (defaults suit webhooks and probes)."""

    header_timeout: float = 5.0
    body_timeout: float = 10.0
    max_connections: int = field(default_factory=_default_max_connections)
    max_body: int = 1 << 20
    max_field_size: int = 8190
    max_headers: int = 64
    log_interval: float = 60.0


class RefusalLog:
    """One WARNING line per kind of refusal per interval, with the count of those not logged."""

    def __init__(self, name: str, interval: float, logger: logging.Logger = log) -> None:
        self.name = name
        self.interval = interval
        self.counts: dict[str, int] = {}
        self._logger = logger
        self._last: dict[str, float] = {}
        self._quiet: dict[str, int] = {}

    def note(self, kind: str, detail: str = "") -> bool:
        """Count a refusal of ``kind``; ``True`` when it was logged now."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        now = time.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            self._quiet[kind] = self._quiet.get(kind, 0) + 1
            return False
        self._last[kind] = now
        quiet = self._quiet.pop(kind, 0)
        more = f" ({quiet} more in the last {self.interval:.0f} s)" if quiet else ""
        self._logger.warning("%s: %s%s%s", self.name, kind, f": {detail}" if detail else "", more)
        return True


class _MalformedRequests(logging.Filter):
    """Turns aiohttp's traceback for a request it could not parse into a rate-limited line."""

    def __init__(self, refusals: RefusalLog) -> None:
        super().__init__()
        self._refusals = refusals

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        # A client's mistake (400 already sent), not ours: no traceback, not every time.
        self._refusals.note("malformed request refused with 400", str(exc.message)[:120])
        return False


class _AcceptExhausted(logging.Filter):
    """Keeps asyncio's "out of system resource" tracebacks to one short line per interval."""

    def __init__(self, interval: float) -> None:
        super().__init__()
        self._refusals = RefusalLog("listener", interval, logging.getLogger("asyncio"))

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(_ACCEPT_EXHAUSTED):
            return True
        exc = record.exc_info[1] if record.exc_info else None
        self._refusals.note("cannot accept connections (out of file descriptors?)", str(exc or ""))
        return False


def _quiet_accept_errors(interval: float) -> None:
    """Install the filter once per process (every listener shares asyncio's logger)."""
    asyncio_log = logging.getLogger("asyncio")
    if not any(isinstance(f, _AcceptExhausted) for f in asyncio_log.filters):
        asyncio_log.addFilter(_AcceptExhausted(interval))


class _State:
    """What the guards of one listener share: connections, busy handlers, refusals."""

    def __init__(self, name: str, limits: ListenerLimits) -> None:
        self.limits = limits
        self.refusals = RefusalLog(name, limits.log_interval)
        # Insertion order is age order: the first idle one is the oldest.
        self.connections: dict[RequestHandler, asyncio.Transport] = {}
        self.busy: set[object] = set()


class _GuardedServer(web.Server):
    """aiohttp's server with a bound on connections (see the module docstring)."""

    def __init__(self, state: _State, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state = state

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        """Register the connection, making room (or refusing it) at the bound."""
        state = self.state
        if len(state.connections) >= state.limits.max_connections:
            idle = next((h for h in state.connections if h not in state.busy), None)
            if idle is None:
                state.refusals.note("connection refused: every connection is busy")
                transport.write(_BUSY)
                transport.close()
            else:
                state.refusals.note("connection limit reached: closed the oldest idle connection")
                state.connections.pop(idle).abort()
        state.connections[handler] = transport
        super().connection_made(handler, transport)

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        """Forget the connection."""
        self.state.connections.pop(handler, None)
        self.state.busy.discard(handler)
        super().connection_lost(handler, exc)


class _GuardedRunner(web.AppRunner):
    def __init__(self, app: web.Application, state: _State, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._state = state

    async def _make_server(self) -> web.Server:
        # The application's own server, rebuilt as the guarded class with the same settings.
        server = await super()._make_server()
        return _GuardedServer(
            self._state,
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            **getattr(server, "_kwargs", {}),
        )


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Mark the connection busy; read the body within the time allowed."""
    state = request.app[_STATE_KEY]
    protocol = request.protocol
    state.busy.add(protocol)
    try:
        # A small body usually arrives with the headers: then there is nothing to wait for, and
        # no timer to set (this runs for every request).
        if request.body_exists and not request.content.is_eof():
            refused = await _read_body(request, state)
            if refused is not None:
                return refused
        return await handler(request)
    finally:
        state.busy.discard(protocol)


async def _read_body(request: web.Request, state: _State) -> web.Response | None:
    """Read the rest of the body within ``body_timeout``; the refusal, if any."""
    limits = state.limits
    if request.content_length is not None and request.content_length > limits.max_body:
        state.refusals.note("body too large", f"{request.content_length} bytes announced")
        return _closing(web.Response(status=413, text="body too large"))
    try:
        async with asyncio.timeout(limits.body_timeout):
            await request.read()  # kept by aiohttp: the handler reads it from memory
    except TimeoutError:
        state.refusals.note("body not received in time", f"{limits.body_timeout:.0f} s")
        return _closing(web.Response(status=408, text="request timeout"))
    except web.HTTPRequestEntityTooLarge:
        state.refusals.note("body too large", "over the limit while reading")
        return _closing(web.Response(status=413, text="body too large"))
    return None


def _closing(response: web.Response) -> web.Response:
    response.force_close()
    return response


def new_app(name: str, limits: ListenerLimits | None = None) -> web.Application:
    """An aiohttp application whose requests are guarded; add routes, then serve it with
    :class:`HttpListener`. ``name`` starts its log lines (``telegram webhook: ...``)."""
    limits = limits or ListenerLimits()
    app = web.Application(client_max_size=limits.max_body, middlewares=[_guard])
    app[_STATE_KEY] = _State(name, limits)
    return app


class HttpListener:
    """Serves an application from :func:`new_app` on ``host:port`` with the guards."""

    def __init__(
        self,
        app: web.Application,
        host: str,
        port: int,
        *,
        shutdown_timeout: float = 2.0,
        backlog: int = 1024,
    ) -> None:
        state = app.get(_STATE_KEY)
        if state is None:
            raise TypeError("serve an application built by bot.http_listener.new_app")
        self._state = state
        self.name = state.refusals.name
        self.limits = state.limits
        self._app = app
        self._host = host
        self._port = port
        self._shutdown_timeout = shutdown_timeout
        self._backlog = backlog
        self._runner: web.AppRunner | None = None

    @property
    def refusals(self) -> dict[str, int]:
        """Refusals so far, by kind."""
        return dict(self._state.refusals.counts)

    @property
    def connections(self) -> int:
        """Connections open now."""
        return len(self._state.connections)

    @property
    def running(self) -> bool:
        """Listening now."""
        return self._runner is not None

    @property
    def port(self) -> int:
        """The port listened on (the one the system chose when configured as 0)."""
        if self._runner is not None:
            for address in self._runner.addresses:
                if isinstance(address, tuple) and len(address) >= 2:
                    return int(address[1])
        return self._port

    async def start(self) -> None:
        """Listen; raises ``OSError`` when the address cannot be bound."""
        _quiet_accept_errors(self.limits.log_interval)
        logger = logging.getLogger(f"bot.http.{self.name.replace(' ', '_')}")
        if not any(isinstance(f, _MalformedRequests) for f in logger.filters):
            logger.addFilter(_MalformedRequests(self._state.refusals))
        runner = _GuardedRunner(
            self._app,
            self._state,
            # No access log: one line per request is noise (metrics count what matters).
            access_log=None,
            handle_signals=False,
            shutdown_timeout=self._shutdown_timeout,
            # aiohttp closes a connection that is idle or still sending its headers this long
            # after it opened or after its last response.
            keepalive_timeout=self.limits.header_timeout,
            # After refusing a body, aiohttp reads what is left of it before closing: briefly.
            lingering_time=1.0,
            max_field_size=self.limits.max_field_size,
            max_line_size=self.limits.max_field_size,
            max_headers=self.limits.max_headers,
            logger=logger,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port, backlog=self._backlog).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner

    async def stop(self) -> None:
        """Stop listening; requests being handled finish within the shutdown timeout."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
