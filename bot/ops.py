"""The operations server: ``/healthz`` for load balancers and orchestrators, ``/metrics`` for Prometheus.

It is optional (``[ops] enabled``) and separate from the platform endpoints, so it can listen on
a private address while the Telegram webhook or the Discord interactions endpoint face the internet.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from bot.http_listener import HttpListener, ListenerLimits, new_app
from bot.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

HealthSource = Callable[[], Mapping[str, bool]]
# The store's state: "ok" or "degraded".
StorageSource = Callable[[], str]


def health(
    adapters: Mapping[str, bool],
    stopping: bool = False,
    storage: str | None = None,
    storage_required: bool = False,
) -> tuple[int, dict[str, Any]]:
    """The ``/healthz`` status code and body for adapters' connection states and the store's.

    200 only when every enabled adapter is connected and the process is not shutting down (a load
    balancer then stops sending new work while replies in flight finish). A degraded store is
    reported but keeps the 200, since answers still go out, unless ``[storage] required`` says
    the replica is useless without it.
    """
    store_ok = storage in (None, "ok") or not storage_required
    ok = bool(adapters) and all(adapters.values()) and not stopping and store_ok
    status = "stopping" if stopping else ("ok" if ok else "degraded")
    body: dict[str, Any] = {
        "status": status,
        "adapters": {name: {"connected": up} for name, up in adapters.items()},
    }
    if storage is not None:
        body["storage"] = storage
    return (200 if ok else 503), body


class OpsServer:
    """An aiohttp server with ``/healthz`` and ``/metrics``; ``port`` 0 picks a free port."""

    def __init__(
        self,
        listen: str,
        port: int,
        metrics: Metrics,
        adapters: HealthSource,
        stopping: Callable[[], bool] = lambda: False,
        storage: StorageSource | None = None,
        storage_required: bool = False,
        limits: ListenerLimits | None = None,
    ) -> None:
        self._listen = listen
        self._port = port
        self._metrics = metrics
        self._adapters = adapters
        self._stopping = stopping
        self._storage = storage
        self._storage_required = storage_required
        self._limits = limits or ListenerLimits(max_body=4096)
        self._listener: HttpListener | None = None

    @property
    def port(self) -> int:
        """The port actually listened on (useful with port 0)."""
        return self._port if self._listener is None else self._listener.port

    @property
    def url(self) -> str:
        """The server's base URL, for logs and tests."""
        host = f"[{self._listen}]" if ":" in self._listen else self._listen
        return f"http://{host}:{self.port}"

    def _app(self) -> web.Application:
        app = new_app("ops server", self._limits)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics_page)
        return app

    async def _healthz(self, request: web.Request) -> web.Response:
        storage = self._storage() if self._storage is not None else None
        status, body = health(self._adapters(), self._stopping(), storage, self._storage_required)
        return web.Response(
            status=status,
            text=json.dumps(body),
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    async def _metrics_page(self, request: web.Request) -> web.Response:
        for platform, up in self._adapters().items():
            self._metrics.set_connected(platform, up)
        return web.Response(body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def start(self) -> None:
        """Listen; raises ``OSError`` when the address is taken."""
        listener = HttpListener(self._app(), self._listen, self._port, shutdown_timeout=1.0)
        await listener.start()
        self._listener = listener
        log.info("ops server listening on %s (/healthz, /metrics)", self.url)

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        if self._listener is not None:
            listener, self._listener = self._listener, None
            await listener.stop()
