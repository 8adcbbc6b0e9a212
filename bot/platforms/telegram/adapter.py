"""The Telegram adapter: python-telegram-bot on the runtime's event loop.

Commands (``/http``, ``/start``, ``/help``, ``/lang``) work in private chats and groups; a plain
text message in a private chat is treated like ``/http``; inline mode (``@Bot not found``) offers
cards in any chat. Updates arrive by long polling (the default, one process per bot) or through a
webhook served by our own aiohttp server (any number of replicas behind a reverse proxy).

The runtime owns the loop, so PTB is driven piece by piece (``initialize``/``start``/
``updater.start_polling`` and the reverse on stop) and never through ``run_polling()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final, TypeAlias
from urllib.parse import urlsplit

from aiohttp import web
from telegram import (
    BotCommand,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatMemberStatus, ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
    ExtBot,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.config import TelegramConfig
from bot.platforms.base import AdapterStartError
from bot.platforms.telegram.delivery import Delivery, RetryPolicy
from bot.platforms.telegram.render import Button, TelegramMessage, render_html, render_text
from bot.platforms.telegram.transport import JsonRequest, PollingRequest
from bot.redaction import RedactingFilter
from bot.service import Service
from handlers import Item, Reply, Request

# Named as before the move into bot.platforms: operators filter log lines on it.
log = logging.getLogger("bot.adapters.telegram_bot")

Context: TypeAlias = ContextTypes.DEFAULT_TYPE
TelegramApplication: TypeAlias = Application[
    ExtBot[None], Context, dict[Any, Any], dict[Any, Any], dict[Any, Any], None
]
Callback: TypeAlias = Callable[[Update, Context], Coroutine[Any, Any, None]]

PLATFORM: Final = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Only what the bot handles: Telegram then neither sends nor stores anything else for us.
ALLOWED_UPDATES = ("message", "inline_query")
# Commands in registration order, with the ui key of their description.
COMMANDS = (("http", "cmd_http"), ("start", "cmd_start"), ("help", "cmd_help"), ("lang", "cmd_lang"))
INLINE_MAX_RESULTS = 50
WEBHOOK_BACKLOG = 1000
INLINE_MAX_OFFSET = 1000
# Deep-link payloads (t.me/Bot?start=...) are limited by Telegram to these characters.
START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
ADMIN_STATUSES = frozenset({ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER})
GROUP_TYPES = frozenset({Chat.GROUP, Chat.SUPERGROUP})
_CACHE_SIZE = 4096
# Loggers that may print the token: httpx and httpcore log request URLs (``/bot<token>/getMe``),
# python-telegram-bot puts it in some exception messages, asyncio prints unhandled tracebacks.
REDACTED_LOGGERS = ("httpx", "httpcore", "telegram", "aiohttp", "asyncio", "bot")


def _argument(text: str | None) -> str:
    """Everything after the command word, spacing inside kept (``/http@Bot not found``)."""
    parts = (text or "").split(None, 1)
    return parts[1].strip() if len(parts) > 1 else ""


def _replied_text(message: Message) -> str | None:
    """The text ``message`` replies to, or ``None`` when it is not a reply to a message.

    A quote (part of the message selected when replying) wins over the whole message. In forum
    topics every message "replies" to the topic's first service message: that is not a reply.
    """
    target = message.reply_to_message
    if target is None or target.forum_topic_created is not None:
        return None
    if message.is_topic_message and target.message_id == message.message_thread_id:
        return None
    if message.quote is not None and message.quote.text:
        return message.quote.text
    return target.text or target.caption or ""


class TelegramAdapter:
    """Serves Telegram users from the shared :class:`~bot.service.Service`."""

    platform = PLATFORM

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
        self._register = register_commands
        self._delivery = Delivery(service.metrics, retry)
        self._redactor = RedactingFilter((config.token, config.secret_token))
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
        self._cards: dict[tuple[int, str], TelegramMessage] = {}
        self._payloads: dict[tuple[tuple[Button, ...], ...], dict[str, Any]] = {}
        self._articles: dict[tuple[int, str], dict[str, Any]] = {}
        # Results depend on the user's language only when there is more than one language;
        # otherwise Telegram may share its cache of an answer between users.
        self._personal = len(service.handler.languages) > 1

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
            # Room for answers and the background command-menu registration at the same time.
            .request(JsonRequest(lean=frozenset({"sendMessage"}), connection_pool_size=64))
            .get_updates_request(self._polling)
            .job_queue(None)
            .concurrent_updates(False)
        )
        if self.config.mode == "webhook":
            builder = builder.updater(None)
        app: TelegramApplication = builder.build()
        message_only = filters.UpdateType.MESSAGE
        for name, callback in (
            ("http", self._on_http),
            ("start", self._on_start),
            ("help", self._on_help),
            ("lang", self._on_lang),
        ):
            app.add_handler(CommandHandler(name, self._guard(callback), filters=message_only))
        # In a private chat any text is a query; a card the user just posted through inline
        # mode (via_bot) is not.
        private_text = (
            filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND & ~filters.VIA_BOT & message_only
        )
        app.add_handler(MessageHandler(private_text, self._guard(self._on_text)))
        app.add_handler(InlineQueryHandler(self._guard(self._on_inline)))
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
        if len(self._seen_updates) > _CACHE_SIZE:
            self._seen_updates.popitem(last=False)
        await self._application.update_queue.put(update)
        return web.Response(status=200)

    # ---- errors -------------------------------------------------------------------------

    def _on_poll_error(self, exc: TelegramError) -> None:
        # PTB keeps retrying with backoff; connected() reports the outage meanwhile.
        self.service.metrics.error(PLATFORM, "connection")
        log.warning("telegram: getUpdates failed: %s", exc)

    async def _on_error(self, update: object, context: Context) -> None:
        """PTB's error handler: whatever escaped a callback is logged with its update id."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("telegram: update %s: unhandled error", update_id, exc_info=context.error)

    def _guard(self, work: Callable[[Update, Context], Awaitable[None]]) -> Callback:
        """Wrap a callback: a failure is logged with the update id and the user gets an apology."""

        async def run(update: Update, context: Context) -> None:
            if self._abandoned:
                return
            try:
                await work(update, context)
            except BadRequest:
                # Telegram refused what we built (a bug on our side): apologise in plain text.
                self.service.metrics.error(PLATFORM, "send")
                log.exception("telegram: update %s: Telegram refused the answer", update.update_id)
                await self._apologise(update)
            except TelegramError as exc:
                # Retries exhausted or final (blocked by the user...): nothing more can be sent.
                self.service.metrics.error(PLATFORM, "send")
                log.error("telegram: update %s: answer not delivered: %s", update.update_id, exc)
            except Exception:
                self.service.metrics.error(PLATFORM, "update")
                log.exception("telegram: update %s: handler failed", update.update_id)
                await self._apologise(update)

        return run

    async def _apologise(self, update: Update) -> None:
        user = update.effective_user
        lang = self.service.handler.language(
            (user.language_code if user else None, self.service.default_lang)
        )
        try:
            if update.inline_query is not None:
                query_id = update.inline_query.id
                # An empty answer not cached, so that the user's next keystroke tries again.
                await self._delivery.call(
                    lambda: self.application.bot.answer_inline_query(query_id, [], cache_time=0),
                    f"answerInlineQuery for update {update.update_id}",
                )
            elif update.effective_message is not None:
                text = render_text(self.service.handler.ui(lang, "apology"))
                await self._send(update, update.effective_message, text)
        except Exception as exc:
            log.error("telegram: update %s: apology not delivered: %s", update.update_id, exc)

    # ---- sending ------------------------------------------------------------------------

    async def _send(self, update: Update, message: Message, rendered: TelegramMessage) -> None:
        """Answer ``message`` in its chat: quoted in groups, in its topic, without previews."""
        chat_id = message.chat_id
        quote = ReplyParameters(message.message_id, allow_sending_without_reply=True)
        reply_parameters = quote if message.chat.type in GROUP_TYPES else None
        thread = message.message_thread_id if message.is_topic_message else None
        extras = self._extras(rendered.buttons)
        bot = self.application.bot
        await self._delivery.call(
            lambda: bot.send_message(
                chat_id,
                rendered.html,
                parse_mode=ParseMode.HTML,
                reply_parameters=reply_parameters,
                message_thread_id=thread,
                # Preview options and keyboard, serialised once (see _extras).
                api_kwargs=extras,
            ),
            f"sendMessage for update {update.update_id}",
        )

    @staticmethod
    def _markup(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
        if not rows:
            return None
        return InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(b.text, url=b.url, switch_inline_query=b.switch_inline_query)
                    for b in row
                ]
                for row in rows
            ]
        )

    def _extras(self, rows: tuple[tuple[Button, ...], ...]) -> dict[str, Any]:
        """``link_preview_options`` and ``reply_markup`` of a message, as JSON-ready values.

        They are the same for every answer with the same buttons, so they are built with PTB's
        types once and passed as ``api_kwargs`` (merged into the request as they are): PTB would
        otherwise serialise them again for every message.
        """
        extras = self._payloads.get(rows)
        if extras is None:
            extras = {"link_preview_options": NO_PREVIEW.to_dict()}
            markup = self._markup(rows)
            if markup is not None:
                extras["reply_markup"] = markup.to_dict()
            if len(self._payloads) < _CACHE_SIZE:
                self._payloads[rows] = extras
        return extras

    def _render(
        self, reply: Reply, extra: tuple[str, ...] = (), mentions: tuple[str, ...] = ()
    ) -> TelegramMessage:
        handler = self.service.handler
        catalogued = reply.kind == "entry" and bool(reply.links) and len(reply.codes) == 1
        key = (reply.codes[0], reply.lang) if catalogued and not extra else None
        if key is not None and (cached := self._cards.get(key)) is not None:
            return cached
        rendered = render_html(
            reply,
            more=lambda count: handler.ui(reply.lang, "list_more", count=count),
            extra=extra,
            share_label=handler.ui(reply.lang, "button_share"),
            mentions=mentions,
        )
        # A card does not depend on the query that found it: render each (code, language) once.
        if key is not None and len(self._cards) < _CACHE_SIZE:
            self._cards[key] = rendered
        return rendered

    def _help(self, lang: str) -> TelegramMessage:
        handler = self.service.handler
        line = handler.ui(lang, "help_telegram", bot=self.bot_username)
        return self._render(handler.help(lang), extra=(line,), mentions=(self.bot_username,))

    async def _langs(self, update: Update, chat_id: int | None) -> tuple[str | None, ...]:
        user = update.effective_user
        return await self.service.langs(
            f"{PLATFORM}:{chat_id}" if chat_id is not None else None,
            explicit=None,
            user_locale=user.language_code if user else None,
        )

    async def _answer(self, update: Update, message: Message, request: Request) -> None:
        reply = self.service.answer(request)
        if reply.kind == "help":
            await self._send(update, message, self._help(reply.lang))
        else:
            await self._send(update, message, self._render(reply))

    # ---- commands -----------------------------------------------------------------------

    async def _on_http(self, update: Update, context: Context) -> None:
        """``/http <query>``; as a reply, explain every code in the replied message; else help."""
        message = update.effective_message
        assert message is not None
        langs = await self._langs(update, message.chat_id)
        query = _argument(message.text)
        if query:
            await self._answer(update, message, Request(query, langs, PLATFORM, "answer"))
            return
        replied = _replied_text(message)
        if replied is not None:
            await self._answer(update, message, Request(replied, langs, PLATFORM, "explain"))
            return
        await self._send(update, message, self._help(self.service.handler.language(langs)))

    async def _on_text(self, update: Update, context: Context) -> None:
        """A plain message in a private chat: a query."""
        message = update.effective_message
        assert message is not None
        langs = await self._langs(update, message.chat_id)
        await self._answer(update, message, Request(message.text or "", langs, PLATFORM, "answer"))

    async def _on_start(self, update: Update, context: Context) -> None:
        """``/start``: help, or the card a deep link (``t.me/Bot?start=404``) points to."""
        message = update.effective_message
        assert message is not None
        langs = await self._langs(update, message.chat_id)
        handler = self.service.handler
        payload = _argument(message.text)
        if payload and START_PAYLOAD.fullmatch(payload) and payload.casefold() != "help":
            if payload.isdecimal() and int(payload) in handler.catalogue.by_code:
                reply = handler.card(int(payload), handler.language(langs), payload)
                await self._send(update, message, self._render(reply))
                return
            query = payload.replace("_", " ")
            await self._answer(update, message, Request(query, langs, PLATFORM, "answer"))
            return
        await self._send(update, message, self._help(handler.language(langs)))

    async def _on_help(self, update: Update, context: Context) -> None:
        """``/help``."""
        message = update.effective_message
        assert message is not None
        langs = await self._langs(update, message.chat_id)
        await self._send(update, message, self._help(self.service.handler.language(langs)))

    def _available(self) -> str:
        return self.service.handler.available_languages()

    async def _may_configure(self, update: Update, message: Message) -> bool:
        """Anyone in a private chat; in a group only its administrators and creator."""
        chat = message.chat
        if chat.type not in GROUP_TYPES:
            return True
        # An anonymous administrator writes as the group itself.
        if message.sender_chat is not None and message.sender_chat.id == chat.id:
            return True
        user = message.from_user
        if user is None:
            return False
        member = await self._delivery.call(
            lambda: self.application.bot.get_chat_member(chat.id, user.id),
            f"getChatMember for update {update.update_id}",
        )
        return member.status in ADMIN_STATUSES

    async def _on_lang(self, update: Update, context: Context) -> None:
        """``/lang`` shows the chat's language, ``/lang fr`` sets it, ``/lang reset`` clears it."""
        message = update.effective_message
        assert message is not None
        handler = self.service.handler
        key = f"{PLATFORM}:{message.chat_id}"
        langs = await self._langs(update, message.chat_id)
        lang = handler.language(langs)
        value = _argument(message.text)
        languages = handler.catalogue.languages
        if not value:
            text = handler.ui(
                lang, "lang_current", language=languages[lang].native_name, available=self._available()
            )
        elif (chosen := handler.language_choice(value)) == "":
            if await self._may_configure(update, message):
                await self.service.prefs.set(key, None)
                lang = handler.language(await self._langs(update, message.chat_id))
                text = handler.ui(lang, "lang_reset")
            else:
                text = handler.ui(lang, "lang_forbidden")
        elif chosen is None:
            text = handler.ui(lang, "lang_unknown", value=value[:64], available=self._available())
        elif await self._may_configure(update, message):
            await self.service.prefs.set(key, chosen)
            lang = chosen
            text = handler.ui(lang, "lang_set", language=languages[lang].native_name)
        else:
            text = handler.ui(lang, "lang_forbidden")
        await self._send(update, message, render_text(text, rtl=languages[lang].rtl))

    # ---- inline mode --------------------------------------------------------------------

    def _article(self, item: Item, lang: str) -> dict[str, Any]:
        """The inline result for a card, as the JSON object sent to Telegram.

        Built once per (code, language) with PTB's own types, then kept serialised: PTB would
        otherwise copy and re-serialise every result of every answer, which for a page of full
        cards costs about ten times what the rest of the update costs.
        """
        key = (item.code, lang)
        article = self._articles.get(key)
        if article is None:
            rendered = self._render(self.service.handler.card(item.code, lang))
            article = InlineQueryResultArticle(
                id=str(item.code),
                title=item.title,
                description=item.summary,
                input_message_content=InputTextMessageContent(
                    rendered.html, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
                ),
                reply_markup=self._markup(rendered.buttons),
            ).to_dict()
            if len(self._articles) < _CACHE_SIZE:
                self._articles[key] = article
        return article

    def _inline_items(self, text: str, langs: tuple[str | None, ...], wanted: int) -> list[Item]:
        items = self.service.suggest(PLATFORM, text, langs, wanted)
        if items or not text:
            return items
        # Nothing to suggest (a typo, "random", a log line): take what /http would answer.
        reply = self.service.answer(Request(text, langs, PLATFORM, "answer"))
        by_code = self.service.handler.catalogue.by_code
        lang = reply.lang
        codes = [c for c in reply.codes if c in by_code]
        return [
            Item(c, by_code[c][0].id, self.service.handler.title(c, lang), self._summary(c, lang))
            for c in codes
        ]

    def _summary(self, code: int, lang: str) -> str:
        catalogue = self.service.handler.catalogue
        return catalogue.text(catalogue.by_code[code][0], lang).summary

    async def _on_inline(self, update: Update, context: Context) -> None:
        """Inline mode: cards best first, paged with ``next_offset``; popular codes when empty."""
        query = update.inline_query
        assert query is not None
        user = query.from_user
        # Inline queries have no chat: the language the user chose in their private chat applies.
        langs = await self._langs(update, user.id)
        lang = self.service.handler.language(langs)
        text = query.query.strip()
        offset = int(query.offset) if query.offset.isdecimal() else 0
        page = self.inline_page_size
        items = [] if offset > INLINE_MAX_OFFSET else self._inline_items(text, langs, offset + page + 1)
        results = [self._article(item, lang) for item in items[offset : offset + page]]
        next_offset = str(offset + page) if len(items) > offset + page else ""
        button = None
        if not text and offset == 0:
            button = InlineQueryResultsButton(
                self.service.handler.ui(lang, "inline_popular"), start_parameter="help"
            )
        await self._delivery.call(
            lambda: self.application.bot.answer_inline_query(
                query.id,
                (),
                cache_time=self.config.inline_cache_time,
                is_personal=self._personal,
                next_offset=next_offset,
                button=button,
                # The serialised results (see _article) go in as they are: api_kwargs are
                # merged into the request last, so they fill the "results" field.
                api_kwargs={"results": results},
            ),
            f"answerInlineQuery for update {update.update_id}",
        )
