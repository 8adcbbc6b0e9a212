"""The Slack adapter: a Bolt for Python app on the runtime's event loop, by Socket Mode or HTTP.

Socket Mode (the default) opens a websocket from this process with the app-level token: no public
URL, which suits a team behind a firewall. HTTP mode serves the Events API, slash commands and
interactivity on one path of our own aiohttp server; Bolt verifies each request's signature
(``v0`` HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the signing secret, five minutes either
way) and answers 401 otherwise, and answers Slack's ``url_verification`` challenge.

Both modes share the listeners of :mod:`bot.platforms.slack.listeners`. The bot token is checked
with ``auth.test`` before anything is served, so a wrong token stops the start with one line. On
stop the adapter takes no new work, lets what it took finish (replies in threads, Share posts)
within ``drain_timeout``, then closes its connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.platforms.base import AdapterStartError, redacted_values
from bot.platforms.slack.config import NAME, SlackConfig
from bot.platforms.slack.delivery import retry_handlers
from bot.platforms.slack.listeners import Listeners
from bot.platforms.slack.people import Directory
from bot.redaction import RedactingFilter
from bot.service import Service

log = logging.getLogger(__name__)

# Bolt's and slack_sdk's loggers hang under this one (Bolt copies its settings to its own).
BOLT_LOGGER = "bot.platforms.slack.bolt"
# Loggers that could see a token: slack_sdk logs requests at DEBUG (it masks Authorization, but a
# token can also travel in a form body), aiohttp and asyncio print unhandled tracebacks.
REDACTED_LOGGERS = ("slack_bolt", "slack_sdk", "aiohttp", "asyncio", "bot")
MAX_BODY = 1 << 20
CONNECT_TIMEOUT = 15.0
# Errors of auth.test and apps.connections.open that mean "this token is not accepted".
REFUSED = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"})


def bolt_request_of(body: str, query: str, headers: Mapping[str, str]) -> AsyncBoltRequest:
    """Bolt's request for an HTTP body, read right even when a form mentions "payload".

    Bolt takes any form body containing the word ``payload`` for an interactivity payload, so
    ``/http payload too large`` (asking about 413) reached no listener and was answered 404.
    A form without a ``payload`` field is read here as the plain form it is; the raw body, which
    the signature covers, is left as Slack sent it.
    """
    bolt = AsyncBoltRequest(body=body, query=query, headers=dict(headers))
    if not bolt.body and "payload" in body and not body.lstrip().startswith("{"):
        fields = dict(parse_qsl(body, keep_blank_values=True))
        if fields and "payload" not in fields:
            bolt.body = fields
            bolt.context = build_async_context(AsyncBoltContext({}), fields)
    return bolt


class _SocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, with each envelope counted as work in flight; once the adapter
    stops taking work, an envelope is left unacknowledged so that Slack delivers it again
    (to another connection of the app when there is one)."""

    def __init__(
        self, adapter: SlackAdapter, app: AsyncApp, app_token: str, web_client: AsyncWebClient
    ) -> None:
        super().__init__(app, app_token=app_token, logger=app.logger, web_client=web_client)
        self._adapter = adapter

    # Narrower than the base class's client type, exactly as Bolt's own handle() is.
    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        """Dispatch the envelope to Bolt, which acknowledges it with the listener's answer."""
        if not self._adapter.accepting:
            log.info("slack: stopping; envelope %s left for Slack to deliver again", req.envelope_id)
            return
        await self._adapter.track(super().handle(client, req))


class SlackAdapter:
    """Serves Slack users from the shared :class:`~bot.service.Service`."""

    platform = NAME

    def __init__(
        self,
        config: SlackConfig,
        service: Service,
        *,
        drain_timeout: float = 6.0,
        lookup_timeout: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.service = service
        self.drain_timeout = drain_timeout
        self._lookup_timeout = lookup_timeout
        self._sleep = sleep
        self._redactor = RedactingFilter(redacted_values(config))
        self._tasks: set[asyncio.Task[Any]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._app: AsyncApp | None = None
        self._runner: web.AppRunner | None = None
        self._socket: _SocketModeHandler | None = None
        self._port: int | None = None
        self._started = False
        self._stopped = False
        self.accepting = False
        self.bot_user: str | None = None
        self.team: str | None = None

    # ---- state ----------------------------------------------------------------------------------

    @property
    def app(self) -> AsyncApp:
        """The Bolt app (after :meth:`start`)."""
        if self._app is None:
            raise RuntimeError("the Slack adapter is not started")
        return self._app

    @property
    def port(self) -> int | None:
        """HTTP mode: the port actually bound (useful when the configured one is 0)."""
        return self._port

    @property
    def url(self) -> str:
        """HTTP mode: the endpoint's URL on this machine."""
        host = self.config.listen
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{host}:{self._port}{self.config.path}"

    def connected(self) -> bool:
        """Serving now: HTTP mode while listening, Socket Mode while its websocket is open."""
        if not self._started or self._stopped:
            return False
        if self.config.mode == "http":
            return self._runner is not None
        client = self._socket.client if self._socket is not None else None
        if client is None or client.closed or client.stale:
            return False
        session = client.current_session
        return session is not None and not session.closed

    # ---- work in flight -------------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """Run ``work`` (a reply after the acknowledgement) as a task that stop() waits for."""
        task = asyncio.create_task(work, name=f"slack-{what}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    async def track(self, work: Awaitable[None]) -> None:
        """Run ``work`` in the current task, which stop() then waits for."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await work
        finally:
            if task is not None:
                self._tasks.discard(task)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("slack: %s failed", task.get_name(), exc_info=task.exception())
            self.service.metrics.error(NAME, "respond")

    # ---- start ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the bot token, then serve by Socket Mode or HTTP.

        Raises :class:`AdapterStartError` when Slack refuses a token, cannot be reached, or the
        HTTP endpoint cannot listen.
        """
        if self._started or self._stopped:
            raise RuntimeError("a SlackAdapter starts once; build a new one to restart")
        # Before the first request: slack_sdk logs requests at DEBUG.
        self._redactor.attach(REDACTED_LOGGERS)
        try:
            await self._start()
        except BaseException:
            await self._close()
            self._redactor.detach()
            raise
        self._started = True
        self.accepting = True
        where = self.url if self.config.mode == "http" else "Socket Mode"
        log.info("slack: serving workspace %s as %s by %s", self.team, self.bot_user, where)

    async def _start(self) -> None:
        self.service.handler.warm()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CONNECT_TIMEOUT))
        handlers = retry_handlers(self.service.metrics, self._sleep)
        app = AsyncApp(
            name="http-status-bot",
            token=self.config.bot_token,
            signing_secret=self.config.signing_secret,
            # Listeners answer within the request (a slash command's card is its acknowledgement)
            # and hand slower work to tracked tasks: no polling for the acknowledgement.
            process_before_response=True,
            request_verification_enabled=self.config.mode == "http",
            logger=self._bolt_logger(),
        )
        # The client Bolt built (and copies for every request), pointed at our API, session and
        # retry handlers.
        client = app.client
        client.base_url = self.config.web_api_url
        client.session = self._session
        client.retry_handlers = handlers
        await self._check_token(client)
        listeners = Listeners(
            self.service,
            client,
            Directory(client, timeout=self._lookup_timeout),
            self.spawn,
            session=self._session,
            retry_handlers=handlers,
        )
        listeners.register(app)
        self._app = app
        if self.config.mode == "http":
            await self._start_http(app)
        else:
            await self._start_socket(app, client)

    @staticmethod
    def _bolt_logger() -> logging.Logger:
        """The logger Bolt and slack_sdk log to, its level fixed at the one in force now.

        Bolt compares its logger's own level with DEBUG before building each debug line (one
        per middleware and per listener for every request); a logger left at NOTSET passes that
        test and pays for lines that are then dropped.
        """
        logger = logging.getLogger(BOLT_LOGGER)
        # From its parents as they are now, not as an earlier adapter of this process left it.
        logger.setLevel(logging.NOTSET)
        logger.setLevel(logger.getEffectiveLevel())
        return logger

    def _api_location(self) -> str:
        parts = urlsplit(self.config.web_api_url)
        return f"{parts.scheme}://{parts.netloc}"

    async def _check_token(self, client: AsyncWebClient) -> None:
        try:
            auth = await client.auth_test()
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if error in REFUSED:
                raise AdapterStartError(
                    f"Slack rejected the bot token ({error}); check [slack] bot_token or SLACK_BOT_TOKEN"
                ) from None
            raise AdapterStartError(f"auth.test failed: {self._redactor.redact(error or str(exc))}") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise AdapterStartError(
                f"cannot reach the Slack Web API at {self._api_location()}: "
                f"{self._redactor.redact(str(exc) or type(exc).__name__)}"
            ) from None
        self.bot_user = auth.get("user_id")
        self.team = auth.get("team") or auth.get("team_id")

    async def _start_http(self, app: AsyncApp) -> None:
        server = web.Application(client_max_size=MAX_BODY)
        server.router.add_post(self.config.path, self._on_request)
        # No access log: one line per event is noise (metrics count them).
        runner = web.AppRunner(
            server, access_log=None, handle_signals=False, shutdown_timeout=self.drain_timeout
        )
        await runner.setup()
        site = web.TCPSite(runner, self.config.listen, self.config.port, backlog=1024)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise AdapterStartError(
                f"cannot listen on {self.config.listen}:{self.config.port}: {exc.strerror or exc}"
            ) from None
        self._runner = runner
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                self._port = int(address[1])
                break

    async def _on_request(self, request: web.Request) -> web.Response:
        if not self.accepting:
            # Stopping: Slack retries events and the next replica takes them.
            return web.Response(status=503, text="stopping")
        bolt_request = bolt_request_of(await request.text(), request.query_string, request.headers)
        response = await self.app.async_dispatch(bolt_request)
        return await to_aiohttp_response(response)

    async def _start_socket(self, app: AsyncApp, client: AsyncWebClient) -> None:
        try:
            opened = await client.apps_connections_open(app_token=self.config.app_token)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if error in REFUSED:
                raise AdapterStartError(
                    f"Slack rejected the app-level token ({error});"
                    " check [slack] app_token or SLACK_APP_TOKEN"
                ) from None
            raise AdapterStartError(f"apps.connections.open failed: {self._redactor.redact(error)}") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise AdapterStartError(
                f"cannot reach the Slack Web API at {self._api_location()}: {exc or type(exc).__name__}"
            ) from None
        handler = _SocketModeHandler(self, app, self.config.app_token, client)
        self._socket = handler
        handler.client.wss_uri = opened["url"]
        try:
            # slack_sdk retries a failed connection forever; a start must fail instead.
            # (Bolt's handler methods carry no annotations.)
            await asyncio.wait_for(handler.connect_async(), CONNECT_TIMEOUT)  # type: ignore[no-untyped-call]
        except TimeoutError:
            raise AdapterStartError(
                f"cannot open the Socket Mode connection within {CONNECT_TIMEOUT:.0f} s"
            ) from None

    # ---- stop -----------------------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop taking work, let work in flight finish within ``drain_timeout``, close."""
        if self._stopped:
            return
        self._stopped = True
        self.accepting = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.drain_timeout
        try:
            if self._runner is not None:
                # Stops listening, then waits for requests in flight (their acknowledgements).
                runner, self._runner = self._runner, None
                await runner.cleanup()
            await self._drain(deadline)
        finally:
            await self._close()
            self._redactor.detach()

    async def _drain(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        current = asyncio.current_task()
        while True:
            pending = {task for task in self._tasks if not task.done() and task is not current}
            if not pending:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.warning(
                    "slack: %d replies still in flight after %.0f s; cancelled",
                    len(pending),
                    self.drain_timeout,
                )
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending, timeout=1.0)
                return
            await asyncio.wait(pending, timeout=remaining)

    async def _close(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if self._socket is not None:
            socket, self._socket = self._socket, None
            with contextlib.suppress(Exception):
                await socket.close_async()  # type: ignore[no-untyped-call]
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
