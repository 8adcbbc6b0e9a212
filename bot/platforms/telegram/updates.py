"""What the Telegram bot does with each update: commands, private messages and inline queries.

:class:`UpdateHandlers` holds one callback per kind of update and sends every answer through the
adapter's :class:`~bot.platforms.telegram.delivery.Delivery` (bounded retries). The adapter
(:mod:`bot.platforms.telegram.adapter`) owns the lifecycle: it builds the application, installs
these callbacks behind its error guard, and takes updates by polling or webhook.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any, TypeAlias

from telegram import (
    Chat,
    Document,
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
from telegram.ext import (
    Application,
    CommandHandler,
    ContextTypes,
    ExtBot,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot import flows
from bot.answer_cache import Lru
from bot.log_uploads import pasted_log
from bot.platforms.telegram.config import NAME, TelegramConfig
from bot.platforms.telegram.delivery import Delivery
from bot.platforms.telegram.logs import TelegramLogs
from bot.platforms.telegram.render import Button, TelegramMessage, render_html, render_text
from bot.service import Service
from handlers import Item, Reply, Request

# Named as before the move into bot.platforms: operators filter log lines on it.
log = logging.getLogger("bot.adapters.telegram_bot")

Context: TypeAlias = ContextTypes.DEFAULT_TYPE
TelegramApplication: TypeAlias = Application[
    ExtBot[None], Context, dict[Any, Any], dict[Any, Any], dict[Any, Any], None
]
Callback: TypeAlias = Callable[[Update, Context], Coroutine[Any, Any, None]]
# Wraps a callback so that its failures are logged and apologised for (the adapter's guard).
Guard: TypeAlias = Callable[[Callback], Callback]

# Commands in registration order, with the ui key of their description.
COMMANDS = (("http", "cmd_http"), ("start", "cmd_start"), ("help", "cmd_help"), ("lang", "cmd_lang"))
INLINE_MAX_RESULTS = 50
INLINE_MAX_OFFSET = 1000
# Deep-link payloads (t.me/Bot?start=...) are limited by Telegram to these characters.
START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
ADMIN_STATUSES = frozenset({ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER})
GROUP_TYPES = frozenset({Chat.GROUP, Chat.SUPERGROUP})
# Renders kept per kind: more than every code in every language, so in practice none is dropped.
_CACHE_SIZE = 4096
# A document whose caption is the /http command (to any bot: the callback checks the address).
HTTP_CAPTION = re.compile(r"^/http(?:@(\w+))?(?:\s|$)", re.IGNORECASE)


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


def _replied_document(message: Message) -> Document | None:
    """The document ``message`` replies to, if it replies to one (a quote of its caption too)."""
    target = message.reply_to_message
    if target is None or target.forum_topic_created is not None:
        return None
    return target.document


class UpdateHandlers:
    """The callbacks for one application's updates, and the caches of what they send."""

    def __init__(
        self,
        config: TelegramConfig,
        service: Service,
        delivery: Delivery,
        bot: ExtBot[None],
        *,
        inline_page_size: int = 10,
    ) -> None:
        self.config = config
        self.service = service
        self.bot = bot
        self.inline_page_size = max(1, min(inline_page_size, INLINE_MAX_RESULTS))
        self._delivery = delivery
        self.logs = TelegramLogs(service, delivery, bot, self._send, self.apologise)
        self._cards: Lru[tuple[int, str], TelegramMessage] = Lru(_CACHE_SIZE)
        self._payloads: Lru[tuple[tuple[Button, ...], ...], dict[str, Any]] = Lru(_CACHE_SIZE)
        self._articles: Lru[tuple[int | str, str], dict[str, Any]] = Lru(_CACHE_SIZE)
        # Results depend on the user's language only when there is more than one language;
        # otherwise Telegram may share its cache of an answer between users.
        self._personal = len(service.handler.languages) > 1

    @property
    def username(self) -> str:
        """The bot's @username, as ``getMe`` reported it."""
        return self.bot.username

    def install(self, app: TelegramApplication, guard: Guard) -> None:
        """Register every callback on ``app``, each wrapped by ``guard``."""
        message_only = filters.UpdateType.MESSAGE
        for name, callback in (
            ("http", self.on_http),
            ("start", self.on_start),
            ("help", self.on_help),
            ("lang", self.on_lang),
        ):
            app.add_handler(CommandHandler(name, guard(callback), filters=message_only))
        # In a private chat any text is a query; a card the user just posted through inline
        # mode (via_bot) is not.
        private_text = (
            filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND & ~filters.VIA_BOT & message_only
        )
        app.add_handler(MessageHandler(private_text, guard(self.on_text)))
        # A log file: with /http as its caption anywhere, or any file sent to the bot in private.
        documents = (
            filters.Document.ALL
            & message_only
            & (filters.ChatType.PRIVATE | filters.CaptionRegex(HTTP_CAPTION.pattern))
        )
        app.add_handler(MessageHandler(documents, guard(self.on_document)))
        app.add_handler(InlineQueryHandler(guard(self.on_inline)))

    async def apologise(self, update: Update) -> None:
        """Tell the user something went wrong (an inline query gets an empty, uncached answer)."""
        user = update.effective_user
        try:
            if update.inline_query is not None:
                query_id = update.inline_query.id
                # An empty answer not cached, so that the user's next keystroke tries again.
                await self._delivery.call(
                    lambda: self.bot.answer_inline_query(query_id, [], cache_time=0),
                    f"answerInlineQuery for update {update.update_id}",
                )
            elif update.effective_message is not None:
                sorry = flows.apology(self.service, user.language_code if user else None)
                await self._send(update, update.effective_message, render_text(sorry.text, rtl=sorry.rtl))
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
        bot = self.bot
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
            self._payloads.put(rows, extras)
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
        if key is not None:
            self._cards.put(key, rendered)
        return rendered

    def _help(self, lang: str) -> TelegramMessage:
        handler = self.service.handler
        line = handler.ui(lang, "help_telegram", bot=self.username)
        return self._render(handler.help(lang), extra=(line,), mentions=(self.username,))

    async def _langs(self, update: Update, chat_id: int | None) -> tuple[str | None, ...]:
        user = update.effective_user
        return await self.service.langs(
            flows.preference_key(NAME, chat_id) if chat_id is not None else None,
            explicit=None,
            user_locale=user.language_code if user else None,
        )

    async def _answer(self, update: Update, message: Message, request: Request) -> None:
        await self._show(update, message, self.service.answer(request))

    async def _show(self, update: Update, message: Message, reply: Reply) -> None:
        if reply.kind == "help":
            await self._send(update, message, self._help(reply.lang))
        else:
            await self._send(update, message, self._render(reply))

    # ---- commands -----------------------------------------------------------------------

    async def on_http(self, update: Update, context: Context) -> None:
        """``/http <query>``; as a reply, explain every code in the replied message, or summarise
        the log file or pasted log lines it holds; else help."""
        message = update.effective_message
        assert message is not None
        langs = await self._langs(update, message.chat_id)
        query = _argument(message.text)
        if query:
            await self._answer(update, message, Request(query, langs, NAME, "answer"))
            return
        document = _replied_document(message)
        if document is not None:
            await self.logs.document(update, message, document, langs)
            return
        replied = _replied_text(message)
        if replied is not None:
            if pasted_log(replied):
                await self.logs.pasted(update, message, replied, langs)
                return
            await self._show(update, message, flows.explain(self.service, NAME, replied, langs))
            return
        await self._send(update, message, self._help(self.service.handler.language(langs)))

    async def on_document(self, update: Update, context: Context) -> None:
        """A document captioned ``/http`` (or sent in a private chat): summarise it as a log."""
        message = update.effective_message
        assert message is not None and message.document is not None
        command = HTTP_CAPTION.match(message.caption or "")
        addressee = command.group(1) if command else None
        if addressee is not None and addressee.casefold() != self.username.casefold():
            return  # /http@OtherBot: not for us
        langs = await self._langs(update, message.chat_id)
        await self.logs.document(update, message, message.document, langs)

    async def on_text(self, update: Update, context: Context) -> None:
        """A plain message in a private chat: a query."""
        message = update.effective_message
        assert message is not None
        langs = await self._langs(update, message.chat_id)
        await self._answer(update, message, Request(message.text or "", langs, NAME, "answer"))

    async def on_start(self, update: Update, context: Context) -> None:
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
            await self._answer(update, message, Request(query, langs, NAME, "answer"))
            return
        await self._send(update, message, self._help(handler.language(langs)))

    async def on_help(self, update: Update, context: Context) -> None:
        """``/help``."""
        message = update.effective_message
        assert message is not None
        langs = await self._langs(update, message.chat_id)
        await self._send(update, message, self._help(self.service.handler.language(langs)))

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
            lambda: self.bot.get_chat_member(chat.id, user.id),
            f"getChatMember for update {update.update_id}",
        )
        return member.status in ADMIN_STATUSES

    async def on_lang(self, update: Update, context: Context) -> None:
        """``/lang`` shows the chat's language, ``/lang fr`` sets it, ``/lang reset`` clears it."""
        message = update.effective_message
        assert message is not None
        user = update.effective_user
        result = await flows.lang(
            self.service,
            flows.preference_key(NAME, message.chat_id),
            _argument(message.text),
            may_configure=lambda: self._may_configure(update, message),
            user_locale=user.language_code if user else None,
        )
        await self._send(update, message, render_text(result.notice.text, rtl=result.notice.rtl))

    # ---- inline mode --------------------------------------------------------------------

    def _article(self, item: Item, lang: str) -> dict[str, Any]:
        """The inline result for a card, as the JSON object sent to Telegram.

        Built once per (code, language) with PTB's own types, then kept serialised: PTB would
        otherwise copy and re-serialise every result of every answer, which for a page of full
        cards costs about ten times what the rest of the update costs.
        """
        key = (item.query or item.code, lang)
        article = self._articles.get(key)
        if article is None:
            handler = self.service.handler
            # A comparison row posts the comparison; any other row, its code's card.
            reply = (
                handler.answer(Request(item.query, (lang,), NAME))
                if item.query
                else handler.card(item.code, lang)
            )
            rendered = self._render(reply)
            article = InlineQueryResultArticle(
                id=item.entry_id if item.query else str(item.code),
                title=item.title,
                description=item.summary,
                input_message_content=InputTextMessageContent(
                    rendered.html, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
                ),
                reply_markup=self._markup(rendered.buttons),
            ).to_dict()
            self._articles.put(key, article)
        return article

    def _inline_items(self, text: str, langs: tuple[str | None, ...], wanted: int) -> list[Item]:
        items = self.service.suggest(NAME, text, langs, wanted)
        if items or not text:
            return items
        # Nothing to suggest (a typo, "random", a log line): take what /http would answer.
        reply = self.service.answer(Request(text, langs, NAME, "answer"))
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

    async def on_inline(self, update: Update, context: Context) -> None:
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
            lambda: self.bot.answer_inline_query(
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
