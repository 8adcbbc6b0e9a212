"""The Telegram adapter: python-telegram-bot on the runtime's event loop.

Commands (``/http``, ``/start``, ``/help``, ``/lang``) work in private chats and groups; a plain
text message in a private chat is treated like ``/http``; inline mode (``@Bot not found``) offers
cards in any chat (the callbacks are :mod:`bot.platforms.telegram.updates`). Updates arrive by long
polling (the default, one process per bot) or through a webhook served by our own aiohttp server
(any number of replicas behind a reverse proxy).

Either way they go through :mod:`bot.platforms.telegram.intake` (journaled before Telegram is told
they arrived, replayed after a crash) and :mod:`bot.platforms.telegram.dispatch` (concurrent across
chats, in order within one). PTB parses updates and runs the callbacks (``process_update``); its
``Updater`` and update queue are not used. The runtime owns the loop, so PTB is driven piece by
piece (``initialize``/``start`` and the reverse on stop), never through ``run_polling()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import BotCommand, Update
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError
from telegram.ext import ApplicationBuilder

from bot.http_listener import HttpListener, ListenerLimits, RefusalLog, new_app
from bot.platforms.base import AdapterStartError, redacted_values
from bot.platforms.telegram.config import NAME, TelegramConfig
from bot.platforms.telegram.delivery import Delivery, RetryPolicy
from bot.platforms.telegram.dispatch import ChatDispatcher
from bot.platforms.telegram.intake import Intake, Poller, Taken
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
from bot.wire_text import may_hold_surrogates, scrub_json

# Named as before the move into bot.platforms: operators filter log lines on it.
log = logging.getLogger("bot.adapters.telegram_bot")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Only what the bot handles: Telegram then neither sends nor stores anything else for us.
ALLOWED_UPDATES = ("message", "inline_query")
# Telegram sends one update per webhook request, well under this.
WEBHOOK_MAX_BODY = 1 << 20
# How long past a long poll's own timeout the polling loop may stay quiet before it is reported
# as stuck (each poll returns within poll_timeout, or fails within poll_timeout + 10 s).
POLL_STALE_AFTER = 20.0
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
        max_in_flight: int = 64,
        max_queued: int = 1000,
        claim_interval: float = 60.0,
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
        self._listener: HttpListener | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._started = False
        self._stopped = False
        # Past the drain deadline during stop: remaining updates are skipped, not answered.
        self._abandoned = False
        self._accepting = False
        self._dispatcher: ChatDispatcher[Taken] = ChatDispatcher(
            self._handle, max_in_flight=max_in_flight, max_queued=max_queued
        )
        self._intake: Intake | None = None
        self._poller: Poller | None = None
        self._receiving: asyncio.Task[None] | None = None
        self._claims: asyncio.Task[None] | None = None
        self._claim_interval = claim_interval
        self._refusals = RefusalLog("telegram webhook", 60.0, log)

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
        """Serving now: started, not stopping, and receiving.

        Polling: the loop is alive, its last poll reached a healthy API and it polled (or
        finished answering an update) recently. Webhook: the listener is up.
        """
        app = self._application
        if not self._started or self._stopped or app is None or not app.running:
            return False
        if self.config.mode == "webhook":
            return self._listener is not None and self._listener.running
        poller, task = self._poller, self._receiving
        if poller is None or task is None or task.done() or poller.failing:
            return False
        quiet = time.monotonic() - max(poller.last_poll, self._dispatcher.last_done)
        return quiet < self.config.poll_timeout + POLL_STALE_AFTER

    def _api_location(self) -> str:
        parts = urlsplit(self.config.api_base_url)
        return f"{parts.scheme}://{parts.netloc}" if parts.netloc else self.config.api_base_url

    def _build(self) -> TelegramApplication:
        self._polling = PollingRequest(connection_pool_size=1)
        # Room for every update in flight and the command-menu registration at the same time.
        self._requests = JsonRequest(
            lean=frozenset({"sendMessage"}),
            fast=frozenset({"sendMessage", "answerInlineQuery"}),
            connection_pool_size=self._dispatcher.max_in_flight + 8,
        )
        builder = (
            ApplicationBuilder()
            .token(self.config.token)
            .base_url(self.config.api_base_url)
            .base_file_url(self.config.file_base_url)
            .request(self._requests)
            .get_updates_request(self._polling)
            .job_queue(None)
            # Updates go through our dispatcher (see the module docstring), not PTB's queue.
            .concurrent_updates(False)
            .updater(None)
        )
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
            self._intake = Intake(
                self.service.journal,
                f"{NAME}:{app.bot.id}",
                self._dispatcher,
                lambda data: Update.de_json(dict(data), app.bot),
                self.service.metrics,
            )
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
        assert self._intake is not None and self._polling is not None
        try:
            # Polling and a webhook exclude each other; pending updates are kept.
            await self._delivery.call(
                lambda: app.bot.delete_webhook(drop_pending_updates=False), "deleteWebhook"
            )
        except TelegramError as exc:
            raise AdapterStartError(f"cannot start polling: {self._redactor.redact(str(exc))}") from None
        self._poller = Poller(
            self._polling,
            f"{app.bot.base_url}/getUpdates",
            self._intake,
            timeout=self.config.poll_timeout,
            allowed_updates=ALLOWED_UPDATES,
            metrics=self.service.metrics,
        )
        self._receiving = asyncio.create_task(self._poller.run(), name="telegram-polling")
        self._claims = asyncio.create_task(self._claim_leftovers(), name="telegram-journal")

    async def _claim_leftovers(self) -> None:
        """Now and then, claim what is left in the journal: another replica's updates after it
        died, or updates whose journal write failed to be marked done."""
        assert self._intake is not None
        while True:
            await asyncio.sleep(self._claim_interval)
            await self._intake.replay()

    async def _start_webhook(self, app: TelegramApplication) -> None:
        server = new_app("telegram webhook", ListenerLimits(max_body=WEBHOOK_MAX_BODY))
        server.router.add_post(self.config.webhook_path, self._on_webhook)
        listener = HttpListener(server, self.config.webhook_listen, self.config.webhook_port)
        try:
            await listener.start()
        except OSError as exc:
            raise AdapterStartError(
                f"webhook server cannot listen on {self.config.webhook_listen}:{self.config.webhook_port}: "
                f"{exc.strerror or exc}"
            ) from None
        self._listener = listener
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
        assert self._intake is not None
        self._claims = asyncio.create_task(self._replay_then_claim(self._intake), name="telegram-journal")

    async def _replay_then_claim(self, intake: Intake) -> None:
        await intake.replay()
        await self._claim_leftovers()

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
        """Stop taking updates, let those in flight finish within ``drain_timeout``, close.

        Updates not answered by then stay in the journal for the next start.
        """
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
            await self._stop_intake()
            if app is not None:
                await self._drain()
                if self._poller is not None:
                    # Whatever is still unanswered is in the journal; tell Telegram the rest arrived.
                    await self._poller.confirm()
        finally:
            if app is not None:
                await self._close(app)
            if self._intake is not None and not await self._intake.quiesce(3.0):
                log.warning("telegram: journal calls still running after 3 s")
            self._redactor.detach()

    async def _stop_intake(self) -> None:
        if self._claims is not None:
            claims, self._claims = self._claims, None
            claims.cancel()
            with contextlib.suppress(BaseException):
                await claims
        if self._receiving is not None:
            receiving, self._receiving = self._receiving, None
            poller = self._poller
            if poller is not None:
                # A long poll or a backoff is cut short; a batch being journaled is finished first.
                poller.stop()
                if poller.journaling:
                    await asyncio.wait({receiving}, timeout=3.0)
            receiving.cancel()
            with contextlib.suppress(BaseException):
                await receiving
        if self._listener is not None:
            listener, self._listener = self._listener, None
            await listener.stop()

    async def _drain(self) -> None:
        if await self._dispatcher.drain(self.drain_timeout):
            return
        dropped = self._dispatcher.drop_waiting()
        log.warning(
            "telegram: replies still in flight after %.1f s; %d queued update(s) left to the journal",
            self.drain_timeout,
            dropped,
        )
        self._abandoned = True
        self._delivery.abort()
        # What is left is requests in flight; do not wait for all of their timeouts: the runtime's
        # own shutdown deadline (10 s by default) must not be overrun.
        await self._dispatcher.cancel_running(3.0)

    async def _close(self, app: TelegramApplication) -> None:
        self._accepting = False
        await self._stop_intake()
        try:
            if app.running:
                await app.stop()
            await app.shutdown()
            # A start that failed at getMe leaves PTB uninitialised, so its shutdown skips the
            # requests: close their connection pools here (closing twice is harmless).
            await self._requests.shutdown()
        except Exception:
            log.exception("telegram: error while closing")

    async def _handle(self, taken: Taken) -> None:
        """Answer one update (the dispatcher calls this), then mark it done in the journal."""
        app = self._application
        if app is None or self._abandoned:
            return
        try:
            await app.process_update(taken.update)
        finally:
            if not self._abandoned and self._intake is not None:
                await self._intake.done(taken.update_id)

    # ---- webhook ------------------------------------------------------------------------

    async def _on_webhook(self, request: web.Request) -> web.Response:
        """One update POSTed by Telegram (or the reverse proxy in front of the replicas)."""
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.config.secret_token.encode()):
            self._refusals.note("wrong or missing secret token (403)")
            return web.Response(status=403, text="forbidden")
        intake = self._intake
        if not self._accepting or intake is None:
            # Telegram delivers again later, to whichever replica answers.
            return web.Response(status=503, text="stopping")
        if not self._dispatcher.has_room():
            # Acknowledging faster than we answer would only grow memory: let Telegram hold
            # the update and retry (it backs off), or hand it to a less busy replica.
            return web.Response(status=503, text="busy")
        body = await request.read()
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            self._refusals.note("body is not JSON (400)")
            return web.Response(status=400, text="body is not JSON")
        if may_hold_surrogates(body):
            data = scrub_json(data)
            body = json.dumps(data, ensure_ascii=False).encode()
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            self._refusals.note("not an update (400)")
            return web.Response(status=400, text="not an update")
        # Telegram redelivers an update whose acknowledgement it did not get: answer it once.
        if intake.known(update_id):
            return web.Response(status=200)
        update = intake.read(data)
        if update is None:
            return web.Response(status=400, text="malformed update")
        # Journaled before the 200: from then on Telegram forgets it, and only we remember.
        await intake.take(update, body)
        return web.Response(status=200)

    # ---- errors -------------------------------------------------------------------------

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
