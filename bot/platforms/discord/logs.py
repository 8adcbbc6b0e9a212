"""Log files and pasted log blocks on Discord: ``/http-logs file:``, *Explain HTTP status* on a
message with a log attachment or a code block of log lines, and Share on a private summary.

These interactions are deferred (callback type 5: "thinking…", private unless asked otherwise)
and answered by editing the original response, for two reasons. A download and a summary may
take longer than the three seconds Discord allows for a first answer. And the chart is a file:
Discord takes files in ``multipart/form-data`` requests to its REST API, but not in the HTTP
response of an interactions endpoint (discord-api-docs issue 5933), so both ways of running send
the summary the same way: ``PATCH /webhooks/{application}/{token}/messages/@original`` with a
``payload_json`` part and the chart as ``files[0]``. That route needs only the interaction's
token, no bot token, and nothing here imports discord.py.

Attachments are fetched with aiohttp from Discord's CDN (or the host ``api_base_url`` names,
for emulators and proxies), never beyond the 20 MiB the log reader takes: a file Discord
announces as bigger is refused without a download, and a download that runs past the limit is
cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp

from bot import flows
from bot.log_uploads import CHART_NAME, LogAnswer, LogSummaries, log_file_name, pasted_log
from bot.platforms.discord.commands import (
    CHAT_INPUT,
    FILE_OPTION,
    LANG_OPTION,
    LOGS_COMMAND,
    MESSAGE_COMMAND,
    PRIVATE_OPTION,
    explain_command_name,
)
from bot.platforms.discord.config import NAME, DiscordConfig
from bot.platforms.discord.render import (
    EPHEMERAL,
    parse_log_share,
    render_log_message,
    render_text,
    shared_log_message,
)
from bot.platforms.discord.responder import APPLICATION_COMMAND, MESSAGE_COMPONENT, Invocation
from bot.platforms.discord.sync import USER_AGENT, api_root
from bot.service import Service
from handlers.logs import MAX_UPLOAD

# Named like the adapter's other loggers: operators filter log lines on it.
log = logging.getLogger("bot.adapters.discord_logs")

DEFERRED_CHANNEL_MESSAGE = 5
# Seconds for a whole attachment download: 20 MiB from Discord's CDN takes a second or two.
DOWNLOAD_TIMEOUT = 60.0
# Seconds for the edit that carries the answer.
SEND_TIMEOUT = 30.0
SEND_ATTEMPTS = 3
# Our own chart, read back when a summary is shared; a few dozen KiB in practice.
CHART_MAX = 8 * 1024 * 1024
# Where Discord serves attachments.
CDN_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})
_CODE_BLOCK = re.compile(r"```(?:[\w+.-]*\n)?(.*?)```", re.DOTALL)

Kind = Literal["attachment", "text", "share"]


class _TooBig(Exception):
    """The download ran past the limit (the announced size was wrong or missing)."""


class _Unavailable(Exception):
    """The file could not be fetched: gone, refused, timed out, or not on Discord's CDN."""


@dataclass(frozen=True, slots=True)
class LogRequest:
    """One log interaction: what to read, and whether the answer is private."""

    inv: Invocation
    kind: Kind
    ephemeral: bool
    attachment: Mapping[str, Any] | None = None
    text: str = ""
    explicit: str | None = None

    @property
    def deferral(self) -> dict[str, Any]:
        """The first answer: "thinking…", private when the final answer will be."""
        if self.ephemeral:
            return {"type": DEFERRED_CHANNEL_MESSAGE, "data": {"flags": EPHEMERAL}}
        return {"type": DEFERRED_CHANNEL_MESSAGE}


def code_blocks(content: str) -> list[str]:
    """The text of every fenced code block in a message (a language hint on the fence dropped)."""
    return [match.group(1) for match in _CODE_BLOCK.finditer(content)]


def _target_message(data: Mapping[str, Any]) -> Mapping[str, Any]:
    target = str(data.get("target_id", ""))
    return ((data.get("resolved") or {}).get("messages") or {}).get(target) or {}


class DiscordLogs:
    """Claims the log interactions of one adapter and answers them in the background."""

    def __init__(self, service: Service, config: DiscordConfig) -> None:
        self.service = service
        self.summaries = LogSummaries(service, NAME)
        self._api = api_root(config.api_base_url)
        # Emulators and proxies serve attachments from the host the API is reached at.
        parts = urlsplit(config.api_base_url) if config.api_base_url else None
        self._origin = (parts.scheme, parts.netloc) if parts else None
        self._application_id = str(config.application_id or "")
        self._explain_name = explain_command_name(service.handler)
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- which interactions are ours ----------------------------------------------------------

    def claim(self, inv: Invocation) -> LogRequest | None:
        """The log request ``inv`` makes, or ``None`` when it is an ordinary interaction (or one
        too malformed to read: the ordinary answer, an apology at worst, then goes out).

        ``/http-logs`` always is; *Explain HTTP status* is when the message carries a log file or
        a code block of log lines; a button is when it is a log summary's Share.
        """
        try:
            return self._claim(inv)
        except (AttributeError, TypeError, ValueError):
            log.warning("discord: a log interaction could not be read", exc_info=True)
            return None

    def _claim(self, inv: Invocation) -> LogRequest | None:
        data = inv.data
        if inv.type == MESSAGE_COMPONENT:
            lang = parse_log_share(str(data.get("custom_id", "")))
            return LogRequest(inv, "share", ephemeral=False, explicit=lang) if lang else None
        if inv.type != APPLICATION_COMMAND:
            return None
        kind = data.get("type", CHAT_INPUT)
        if kind == CHAT_INPUT and data.get("name") == LOGS_COMMAND:
            options = inv.options()
            explicit = options.get(LANG_OPTION)
            attachment = ((data.get("resolved") or {}).get("attachments") or {}).get(
                str(options.get(FILE_OPTION, ""))
            )
            return LogRequest(
                inv,
                "attachment",
                ephemeral=options.get(PRIVATE_OPTION) is not False,
                attachment=attachment if isinstance(attachment, Mapping) else None,
                explicit=explicit if isinstance(explicit, str) else None,
            )
        if kind == MESSAGE_COMMAND and data.get("name") == self._explain_name:
            message = _target_message(data)
            for attachment in message.get("attachments") or ():
                if isinstance(attachment, Mapping) and log_file_name(str(attachment.get("filename", ""))):
                    return LogRequest(inv, "attachment", ephemeral=True, attachment=attachment)
            blocks = [b for b in code_blocks(str(message.get("content") or "")) if pasted_log(b)]
            if blocks:
                return LogRequest(inv, "text", ephemeral=True, text="\n".join(blocks))
        return None

    # ---- answering ----------------------------------------------------------------------------

    def start(self, request: LogRequest) -> None:
        """Answer ``request`` in the background (its deferral has been sent)."""
        task = asyncio.create_task(self.answer(request), name="discord-log")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def answer(self, request: LogRequest) -> None:
        """Work out the answer and put it in place of "thinking…"; never raises."""
        inv = request.inv
        try:
            message, files = await self._prepare(request)
        except Exception:
            log.exception("discord: answering a log interaction failed")
            self.service.metrics.error(NAME, "respond")
            sorry = flows.apology(self.service, inv.locale, inv.guild_locale)
            message, files = render_text(sorry.text, ephemeral=request.ephemeral, rtl=sorry.rtl), []
        try:
            await self._edit_original(inv, message, files)
        except Exception as exc:
            self.service.metrics.error(NAME, "send")
            log.warning("discord: could not answer log interaction %s: %s", inv.interaction_id, exc)

    async def _prepare(self, request: LogRequest) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
        inv = request.inv
        if request.kind == "share":
            return await self._shared(request)
        langs = await self.service.langs(
            inv.chat, explicit=request.explicit, user_locale=inv.locale, server_locale=inv.guild_locale
        )
        answer: LogAnswer | None
        if request.kind == "text":
            answer = await self.summaries.summarise(request.text.encode("utf-8"), langs)
        else:
            answer = await self._attachment(request, langs)
            if answer is None:
                sorry = flows.apology(self.service, *langs)
                return render_text(sorry.text, ephemeral=request.ephemeral, rtl=sorry.rtl), []
        message = render_log_message(
            answer.report,
            self.service.handler,
            chart=answer.chart is not None,
            note=answer.note,
            ephemeral=request.ephemeral,
        )
        return message, [(CHART_NAME, answer.chart)] if answer.chart is not None else []

    async def _attachment(self, request: LogRequest, langs: tuple[str | None, ...]) -> LogAnswer | None:
        """The summary of the request's attachment; ``None`` when it could not be fetched."""
        attachment = request.attachment
        if attachment is None:
            raise ValueError("the interaction names no attachment")
        size = attachment.get("size")
        if isinstance(size, int) and size > MAX_UPLOAD:
            return self.summaries.too_big(langs)
        try:
            data = await self._download(str(attachment.get("url", "")), MAX_UPLOAD)
        except _TooBig:
            return self.summaries.too_big(langs)
        except _Unavailable as exc:
            self.service.metrics.error(NAME, "download")
            log.warning("discord: log attachment not downloaded: %s", exc)
            return None
        return await self.summaries.summarise(data, langs)

    async def _shared(self, request: LogRequest) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
        """The public copy of the private summary the Share button sits on."""
        inv = request.inv
        shown = inv.message or {}
        embeds = shown.get("embeds") or ()
        if not embeds or not isinstance(embeds[0], Mapping):
            raise ValueError("the shared message has no summary")
        lang = self.service.handler.supported(request.explicit) or self.service.handler.language(
            (inv.locale,)
        )
        footer = self.service.handler.ui(lang, "shared_by", user=inv.user_name or "?")
        chart: bytes | None = None
        for attachment in shown.get("attachments") or ():
            if isinstance(attachment, Mapping) and attachment.get("filename") == CHART_NAME:
                try:
                    chart = await self._download(str(attachment.get("url", "")), CHART_MAX)
                except (_TooBig, _Unavailable) as exc:
                    # The summary is still worth sharing without its picture.
                    log.warning("discord: chart of a shared summary not downloaded: %s", exc)
                break
        message = shared_log_message(dict(embeds[0]), footer, chart=chart is not None)
        return message, [(CHART_NAME, chart)] if chart is not None else []

    # ---- HTTP ---------------------------------------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
        return self._session

    def allowed(self, url: str) -> bool:
        """Whether ``url`` is on Discord's CDN (or on the configured API host): the only places
        an attachment is fetched from, whatever a payload says."""
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname in CDN_HOSTS:
            return True
        return self._origin is not None and (parts.scheme, parts.netloc) == self._origin

    async def _download(self, url: str, cap: int) -> bytes:
        """The bytes at ``url``, at most ``cap`` of them (:class:`_TooBig` past that)."""
        if not self.allowed(url):
            raise _Unavailable(f"not a Discord attachment URL: {urlsplit(url).netloc or url[:60]!r}")
        timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT)
        data = bytearray()
        try:
            async with self._client().get(url, timeout=timeout) as response:
                if response.status != 200:
                    raise _Unavailable(f"the CDN answered {response.status}")
                if response.content_length is not None and response.content_length > cap:
                    raise _TooBig
                async for chunk in response.content.iter_chunked(256 * 1024):
                    data += chunk
                    if len(data) > cap:
                        raise _TooBig
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _Unavailable(f"download failed: {exc!r}") from None
        return bytes(data)

    async def _edit_original(
        self, inv: Invocation, message: dict[str, Any], files: list[tuple[str, bytes]]
    ) -> None:
        """Replace "thinking…" with ``message``, uploading ``files`` as ``files[0]``, ``files[1]``…"""
        application = inv.application_id or self._application_id
        url = f"{self._api}/webhooks/{application}/{inv.token}/messages/@original"
        # Whether the answer is private was settled by the deferral; an edit cannot change it.
        body = json.dumps(
            {k: v for k, v in message.items() if k != "flags"}, ensure_ascii=False, separators=(",", ":")
        )
        timeout = aiohttp.ClientTimeout(total=SEND_TIMEOUT)
        for attempt in range(1, SEND_ATTEMPTS + 1):
            payload: aiohttp.FormData | bytes
            headers: dict[str, str] = {}
            if files:
                # Built again for every attempt: a form is consumed by the request that sends it.
                payload = aiohttp.FormData()
                payload.add_field("payload_json", body, content_type="application/json")
                for index, (name, content) in enumerate(files):
                    payload.add_field(f"files[{index}]", content, filename=name, content_type="image/png")
            else:
                payload = body.encode()
                headers["Content-Type"] = "application/json"
            try:
                async with self._client().patch(
                    url, data=payload, headers=headers, timeout=timeout
                ) as response:
                    if response.status < 300:
                        return
                    text = await response.text()
                    # A 404 may mean that Discord has not yet taken in the deferral an
                    # interactions endpoint returned a moment ago: worth another try.
                    retry = response.status in (404, 429) or response.status >= 500
                    if not retry or attempt == SEND_ATTEMPTS:
                        raise RuntimeError(f"Discord answered {response.status}: {text[:300]}")
                    wait = _retry_after(text) if response.status == 429 else 0.5 * attempt
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                if attempt == SEND_ATTEMPTS:
                    raise RuntimeError(f"cannot reach the Discord API: {exc!r}") from None
                wait = 0.5 * attempt
            await asyncio.sleep(wait)

    async def close(self, grace: float = 5.0) -> None:
        """Let answers in progress finish (for at most ``grace`` seconds), then close the HTTP session."""
        pending = set(self._tasks)
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace)
            for task in late:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.gather(*late, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None


def _retry_after(text: str) -> float:
    try:
        value = float(json.loads(text).get("retry_after", 1.0))
    except (ValueError, AttributeError):
        value = 1.0
    return min(max(value, 0.0), 10.0)
