"""The Telegram adapter: python-telegram-bot on the runtime's event loop.

Commands (``/http``, ``/start``, ``/help``, ``/lang``) work in private chats and groups; a plain
text message in a private chat is treated like ``/http``; inline mode (``@Bot not found``) offers
cards in any chat (the callbacks are :mod:`bot.platforms.telegram.updates`). Updates arrive by long
polling (the default, one process per bot) or through a webhook served by our own aiohttp server
(any number of replicas behind a reverse proxy).

The runtime owns the loop, so PTB is driven piece by piece (``initialize``/``start``/
``updater.start_polling`` and the reverse on stop) and never through ``run_polling()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import BotCommand, Update
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError
from telegram.ext import ApplicationBuilder

from bot.platforms.base import AdapterStartError, redacted_values
from bot.platforms.telegram.config import NAME, TelegramConfig
from bot.platforms.telegram.delivery import Delivery, RetryPolicy
from bot.platforms.telegram.transport import JsonRequest, PollingRequest
from bot.platforms.telegram.updates import (
    COMMANDS,
    INLINE_MAX_RESULTS,
    Callback,
    Context,
    TelegramApplication,
    UpdateHandlers,
)
from bot.redaction import RedactingFilter
from bot.service import Service

# Named as before the move into bot.platforms: operators filter log lines on it.
log = logging.getLogger("bot.adapters.telegram_bot")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Only what the bot handles: Telegram then neither sends nor stores anything else for us.
ALLOWED_UPDATES = ("message", "inline_query")
WEBHOOK_BACKLOG = 1000
# Webhook updates remembered, so that one Telegram delivers twice is answered once.
SEEN_UPDATES = 4096
# Loggers that may print the token: httpx and httpcore log request URLs (``/bot<token>/getMe``),
# python-telegram-bot puts it in some exception messages, asyncio prints unhandled tracebacks.
REDACTED_LOGGERS = ("httpx", "httpcore", "telegram", "aiohttp", "asyncio", "bot")


class TelegramAdapter:
    """Serves Telegram users from the shared :class:`~bot.service.Service`."""

    platform = NAME

    def __init__(
        self,
        config: TelegramConfig,
        service: Service,
        *,
        retry: RetryPolicy | None = None,
        drain_timeout: float = 6.0,
        inline_page_size: int = 10,
        register_commands: bool = True,
    ) -> None:
        self.config = config
        self.service = service
        self.drain_timeout = drain_timeout
        self.inline_page_size = max(1, min(inline_page_size, INLINE_MAX_RESULTS))
        self._updates: UpdateHandlers | None = None
        self._register = register_commands
        self._delivery = Delivery(service.metrics, retry)
        self._redactor = RedactingFilter(redacted_values(config))
        self._application: TelegramApplication | None = None
        self._polling: PollingRequest | None = None
        self._runner: web.AppRunner | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._started = False
        self._stopped = False
        # Past the drain deadline during stop: remaining updates are skipped, not answered.
        self._abandoned = False
        self._accepting = False
        self._seen_updates: OrderedDict[int, None] = OrderedDict()

    # ---- lifecycle ----------------------------------------------------------------------

    @property
    def application(self) -> TelegramApplication:
        """The PTB application (after :meth:`start`)."""
        if self._application is None:
            raise RuntimeError("the Telegram adapter is not started")
        return self._application

    @property
    def bot_username(self) -> str:
        """The bot's @username, as ``getMe`` reported it."""
        return self.application.bot.username

    def connected(self) -> bool:
        """Serving now: started, not stopping, and (polling) the last poll reached the API."""
        app = self._application
        if not self._started or self._stopped or app is None or not app.running:
            return False
        if self.config.mode == "webhook":
            return self._runner is not None
        return (
            app.updater is not None and app.updater.running and not (self._polling and self._polling.failing)
        )

    def _api_location(self) -> str:
        parts = urlsplit(self.config.api_base_url)
        return f"{parts.scheme}://{parts.netloc}" if parts.netloc else self.config.api_base_url

    def _build(self) -> TelegramApplication:
        self._polling = PollingRequest(connection_pool_size=1)
        builder = (
            ApplicationBuilder()
            .token(self.config.token)
            .base_url(self.config.api_base_url)
            .base_file_url(self.config.file_base_url)
            # Room for answers and the background command-menu registration at the same time.
            .request(JsonRequest(lean=frozenset({"sendMessage"}), connection_pool_size=64))
            .get_updates_request(self._polling)
            .job_queue(None)
            .concurrent_updates(False)
        )
        if self.config.mode == "webhook":
            builder = builder.updater(None)
        app: TelegramApplication = builder.build()
        self._updates = UpdateHandlers(
            self.config, self.service, self._delivery, app.bot, inline_page_size=self.inline_page_size
        )
        self._updates.install(app, self._guard)
        app.add_error_handler(self._on_error)
        return app

    async def start(self) -> None:
        """Check the token with getMe, then take updates by polling or webhook.

        Raises :class:`AdapterStartError` when the token is refused, the API is unreachable or
        the webhook server cannot listen.
        """
        if self._application is not None or self._stopped:
            raise RuntimeError("a TelegramAdapter starts once; build a new one to restart")
        if not self.config.token:
            raise AdapterStartError("[telegram] token is required (or set TELEGRAM_BOT_TOKEN)")
        if self.config.mode == "webhook" and not self.config.secret_token:
            raise AdapterStartError("webhook mode needs [telegram] secret_token (or TELEGRAM_WEBHOOK_SECRET)")
        # Before PTB builds its bot (which logs its API URL at DEBUG) and makes its first
        # request (httpx logs every URL): both carry the token.
        self._redactor.attach(REDACTED_LOGGERS)
        try:
            self.service.handler.warm()
            self._application = app = self._build()
        except BaseException:
            self._redactor.detach()
            raise
        try:
            await self._initialize(app)
            await app.start()
            self._accepting = True
            if self.config.mode == "webhook":
                await self._start_webhook(app)
            else:
                await self._start_polling(app)
        except BaseException:
            await self._close(app)
            self._redactor.detach()
            raise
        self._started = True
        if self._register:
            self._spawn(self._register_commands(app))
        log.info("telegram: serving @%s by %s", app.bot.username, self.config.mode)

    async def _initialize(self, app: TelegramApplication) -> None:
        try:
            await app.initialize()  # getMe
        except InvalidToken:
            # PTB's own message quotes the token: it must not reach the runtime's log line.
            raise AdapterStartError(
                f"the Bot API at {self._api_location()} rejected the bot token (getMe answered 401/404); "
                "check [telegram] token or TELEGRAM_BOT_TOKEN"
            ) from None
        except NetworkError as exc:
            raise AdapterStartError(
                f"cannot reach the Bot API at {self._api_location()}: {self._redactor.redact(str(exc))}"
            ) from None
        except TelegramError as exc:
            raise AdapterStartError(f"getMe failed: {self._redactor.redact(str(exc))}") from None

    async def _start_polling(self, app: TelegramApplication) -> None:
        assert app.updater is not None
        try:
            # Bootstraps with deleteWebhook (polling and a webhook exclude each other).
            await app.updater.start_polling(
                timeout=self.config.poll_timeout,
                allowed_updates=list(ALLOWED_UPDATES),
                drop_pending_updates=False,
                error_callback=self._on_poll_error,
            )
        except TelegramError as exc:
            raise AdapterStartError(f"cannot start polling: {self._redactor.redact(str(exc))}") from None

    async def _start_webhook(self, app: TelegramApplication) -> None:
        server = web.Application(client_max_size=1 << 20)
        server.router.add_post(self.config.webhook_path, self._on_webhook)
        runner = web.AppRunner(server, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, self.config.webhook_listen, self.config.webhook_port)
        try:
            await site.start()
        except OSError as exc:
            raise AdapterStartError(
                f"webhook server cannot listen on {self.config.webhook_listen}:{self.config.webhook_port}: "
                f"{exc.strerror or exc}"
            ) from None
        try:
            # Every replica registers the same URL and secret, so this is idempotent.
            await self._delivery.call(
                lambda: app.bot.set_webhook(
                    url=self.config.webhook_url,
                    secret_token=self.config.secret_token,
                    allowed_updates=list(ALLOWED_UPDATES),
                    drop_pending_updates=False,
                ),
                "setWebhook",
            )
        except TelegramError as exc:
            raise AdapterStartError(f"setWebhook failed: {self._redactor.redact(str(exc))}") from None

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name="telegram-background")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _register_commands(self, app: TelegramApplication) -> None:
        """The command menu in English (default) and in every language of the catalogue."""
        handler = self.service.handler

        def commands(lang: str) -> list[BotCommand]:
            return [BotCommand(name, handler.ui(lang, key)[:256]) for name, key in COMMANDS]

        calls: list[tuple[str, Callable[[], Awaitable[bool]]]] = [
            ("setMyCommands (default)", lambda: app.bot.set_my_commands(commands("en")))
        ]
        for lang in handler.languages:
            if len(lang) == 2 and lang.isalpha():  # Telegram takes ISO 639-1 codes only

                def call(lang: str = lang) -> Awaitable[bool]:
                    return app.bot.set_my_commands(commands(lang), language_code=lang)

                calls.append((f"setMyCommands ({lang})", call))
        for what, send in calls:
            try:
                await self._delivery.call(send, what)
            except TelegramError as exc:
                log.warning("telegram: %s failed: %s", what, exc)

    async def stop(self) -> None:
        """Stop taking updates, let those in flight finish within ``drain_timeout``, close."""
        if self._stopped:
            return
        self._stopped = True
        self._accepting = False
        app = self._application
        try:
            background = list(self._background)
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            if app is not None:
                await self._stop_intake(app)
                await self._drain(app)
        finally:
            if app is not None:
                await self._close(app)
            self._redactor.detach()

    async def _stop_intake(self, app: TelegramApplication) -> None:
        if app.updater is not None and app.updater.running:
            # Its last getUpdates confirms what was fetched; those updates are answered below.
            try:
                await app.updater.stop()
            except Exception:
                log.exception("telegram: error while stopping polling")
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _drain(self, app: TelegramApplication) -> None:
        if not app.running:
            return
        stopping = asyncio.ensure_future(app.stop())
        done, _ = await asyncio.wait({stopping}, timeout=self.drain_timeout)
        if not done:
            log.warning(
                "telegram: replies still in flight after %.1f s; abandoning %d queued update(s)",
                self.drain_timeout,
                app.update_queue.qsize(),
            )
            self._abandoned = True
            self._delivery.abort()
            # What is left is at most one request in flight; do not wait for all of its timeout:
            # the runtime's own shutdown deadline (10 s by default) must not be overrun.
            done, _ = await asyncio.wait({stopping}, timeout=3.0)
            if not done:
                stopping.cancel()
                return
        with contextlib.suppress(Exception):
            stopping.result()

    async def _close(self, app: TelegramApplication) -> None:
        self._accepting = False
        if self._runner is not None:
            runner, self._runner = self._runner, None
            with contextlib.suppress(Exception):
                await runner.cleanup()
        try:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
        except Exception:
            log.exception("telegram: error while closing")

    # ---- webhook ------------------------------------------------------------------------

    async def _on_webhook(self, request: web.Request) -> web.Response:
        """One update POSTed by Telegram (or the reverse proxy in front of the replicas)."""
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.config.secret_token.encode()):
            return web.Response(status=403, text="forbidden")
        if not self._accepting or self._application is None:
            # Telegram delivers again later, to whichever replica answers.
            return web.Response(status=503, text="stopping")
        if self._application.update_queue.qsize() >= WEBHOOK_BACKLOG:
            # Acknowledging faster than we answer would only grow memory: let Telegram hold
            # the update and retry (it backs off), or hand it to a less busy replica.
            return web.Response(status=503, text="busy")
        try:
            data = await request.json()
        except ValueError:
            return web.Response(status=400, text="body is not JSON")
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return web.Response(status=400, text="not an update")
        # Telegram redelivers an update whose acknowledgement it did not get: answer it once.
        if update_id in self._seen_updates:
            return web.Response(status=200)
        try:
            update = Update.de_json(data, self._application.bot)
        except Exception:
            log.warning("telegram: webhook update %s could not be parsed", update_id, exc_info=True)
            return web.Response(status=400, text="malformed update")
        self._seen_updates[update_id] = None
        if len(self._seen_updates) > SEEN_UPDATES:
            self._seen_updates.popitem(last=False)
        await self._application.update_queue.put(update)
        return web.Response(status=200)

    # ---- errors -------------------------------------------------------------------------

    def _on_poll_error(self, exc: TelegramError) -> None:
        # PTB keeps retrying with backoff; connected() reports the outage meanwhile.
        self.service.metrics.error(NAME, "connection")
        log.warning("telegram: getUpdates failed: %s", exc)

    async def _on_error(self, update: object, context: Context) -> None:
        """PTB's error handler: whatever escaped a callback is logged with its update id."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("telegram: update %s: unhandled error", update_id, exc_info=context.error)

    def _guard(self, work: Callback) -> Callback:
        """Wrap a callback: a failure is logged with the update id and the user gets an apology."""

        async def run(update: Update, context: Context) -> None:
            if self._abandoned:
                return
            try:
                await work(update, context)
            except BadRequest:
                # Telegram refused what we built (a bug on our side): apologise in plain text.
                self.service.metrics.error(NAME, "send")
                log.exception("telegram: update %s: Telegram refused the answer", update.update_id)
                await self._apologise(update)
            except TelegramError as exc:
                # Retries exhausted or final (blocked by the user...): nothing more can be sent.
                self.service.metrics.error(NAME, "send")
                log.error("telegram: update %s: answer not delivered: %s", update.update_id, exc)
            except Exception:
                self.service.metrics.error(NAME, "update")
                log.exception("telegram: update %s: handler failed", update.update_id)
                await self._apologise(update)

        return run

    async def _apologise(self, update: Update) -> None:
        if self._updates is not None:
            await self._updates.apologise(update)
