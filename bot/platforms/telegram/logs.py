"""Log files and pasted log blocks on Telegram: download, summary, chart.

A document sent with the caption ``/http`` (or any document in a private chat), ``/http`` in
reply to a document, or ``/http`` in reply to a pasted block of log lines is answered with the
summary as one HTML message, then the timeline chart as a photo. The file's announced size is
checked before ``getFile`` (a bot may download 20 MB at most); files are fetched with
python-telegram-bot from the Bot API server's file URL.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import Document, Message, ReplyParameters, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ExtBot

from bot.log_uploads import CHART_NAME, LogAnswer, LogSummaries
from bot.platforms.telegram.config import NAME
from bot.platforms.telegram.delivery import Delivery
from bot.platforms.telegram.render import TelegramMessage, render_caption, render_log_report
from bot.service import Service
from handlers.logs import MAX_UPLOAD

# Named like the adapter's other loggers: operators filter log lines on it.
log = logging.getLogger("bot.adapters.telegram_logs")

# Seconds a download may wait for the next bytes (not the whole transfer): long enough for a
# slow link, short enough that a stuck transfer gets its apology.
DOWNLOAD_READ_TIMEOUT = 30.0
_GROUPS = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})

Send = Callable[[Update, Message, TelegramMessage], Awaitable[None]]
Apologise = Callable[[Update], Awaitable[None]]


class _Unavailable(Exception):
    """The file could not be fetched (gone, timed out, refused): the user gets the apology."""


class _TooBig(Exception):
    """Telegram says the file is over what a bot may download."""


class TelegramLogs:
    """Answers log uploads and pasted log blocks in one application's chats."""

    def __init__(
        self, service: Service, delivery: Delivery, bot: ExtBot[None], send: Send, apologise: Apologise
    ) -> None:
        self.summaries = LogSummaries(service, NAME)
        self._delivery = delivery
        self._bot = bot
        self._send = send
        self._apologise = apologise

    async def document(
        self, update: Update, message: Message, document: Document, langs: tuple[str | None, ...]
    ) -> None:
        """Summarise an uploaded log, or say in one line why it cannot be read."""
        if document.file_size is not None and document.file_size > MAX_UPLOAD:
            await self.show(update, message, self.summaries.too_big(langs))
            return
        try:
            data = await self._download(update, document)
        except _TooBig:
            await self.show(update, message, self.summaries.too_big(langs))
            return
        except _Unavailable as exc:
            log.warning("telegram: update %s: log file not downloaded: %s", update.update_id, exc)
            await self._apologise(update)
            return
        await self.show(update, message, await self.summaries.summarise(data, langs))

    async def pasted(
        self, update: Update, message: Message, text: str, langs: tuple[str | None, ...]
    ) -> None:
        """Summarise a block of log lines someone pasted (the message ``/http`` replies to)."""
        await self.show(update, message, await self.summaries.summarise(text.encode("utf-8"), langs))

    async def _download(self, update: Update, document: Document) -> bytes:
        try:
            file = await self._delivery.call(
                lambda: self._bot.get_file(document.file_id), f"getFile for update {update.update_id}"
            )
        except BadRequest as exc:
            if "too big" in exc.message.casefold():
                raise _TooBig from None
            raise _Unavailable(f"getFile: {exc.message}") from None
        except TelegramError as exc:
            raise _Unavailable(f"getFile: {exc}") from None
        if file.file_size is not None and file.file_size > MAX_UPLOAD:
            raise _TooBig
        try:
            # Not retried: a transfer that failed once is reported rather than repeated for minutes.
            data = await file.download_as_bytearray(read_timeout=DOWNLOAD_READ_TIMEOUT)
        except (TelegramError, RuntimeError) as exc:
            raise _Unavailable(f"download: {exc}") from None
        if len(data) > MAX_UPLOAD:
            raise _TooBig
        return bytes(data)

    async def show(self, update: Update, message: Message, answer: LogAnswer) -> None:
        """The summary (or refusal) as a message, then the chart as a photo."""
        rendered = render_log_report(answer.report, note=answer.note, chart=answer.chart is not None)
        await self._send(update, message, rendered)
        if answer.chart is None:
            return
        chart = answer.chart
        caption = render_caption(answer.report.title, rtl=answer.report.rtl)
        quote = ReplyParameters(message.message_id, allow_sending_without_reply=True)
        bot = self._bot
        await self._delivery.call(
            lambda: bot.send_photo(
                message.chat_id,
                chart,
                filename=CHART_NAME,
                caption=caption.html,
                parse_mode=ParseMode.HTML,
                reply_parameters=quote if message.chat.type in _GROUPS else None,
                message_thread_id=message.message_thread_id if message.is_topic_message else None,
            ),
            f"sendPhoto for update {update.update_id}",
        )
