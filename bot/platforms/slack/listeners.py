"""What the bot does for each thing people do in Slack, as Bolt listeners.

* ``/http QUERY``: the card, only for the asker, with a Share button (``/http QUERY public`` posts
  it to the channel); the card travels in the command's acknowledgement, so no extra API call.
* ``@bot QUERY`` in a channel, any message in a direct message: the card as a reply in the thread.
* The message shortcut *Explain HTTP status*: every code in that message, only for the asker,
  with Share (sent to the shortcut's ``response_url``).
* Share: the card again, for the channel, through the button's ``response_url`` (which works in
  channels the bot is not a member of), with who shared it.
* ``/http-lang``: the channel's language, through :func:`bot.flows.lang`.

The language is the channel's ``/http-lang`` choice, then the user's Slack locale, then the
default. Listeners acknowledge at once; work that needs the Web API afterwards (a thread reply, a
``response_url`` post) runs as a task the adapter tracks, so that a shutdown lets it finish.
Failures are logged and answered with the apology, never with silence or a traceback.
"""

from __future__ import annotations

import json
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import flows
from bot.answer_cache import AnswerCache
from bot.platforms.slack.config import NAME
from bot.platforms.slack.people import Directory
from bot.platforms.slack.render import (
    LINK_ACTION_PREFIX,
    SHARE_ACTION,
    Mode,
    ShareKey,
    message_text,
    render_message,
    render_text,
)
from bot.platforms.slack.text import plain
from bot.service import Service
from handlers import Request

log = logging.getLogger(__name__)

HTTP_COMMAND = "/http"
LANG_COMMAND = "/http-lang"
EXPLAIN_SHORTCUT = "explain_http_status"
PUBLIC_WORD = "public"
# Event ids remembered, so that an event Slack delivers again (X-Slack-Retry-Num) is answered once.
SEEN_EVENTS = 4096
JSON_HEADERS: dict[str, str | Sequence[str]] = {"content-type": "application/json;charset=utf-8"}

Spawn = Callable[[Coroutine[Any, Any, None], str], None]
Payload = Mapping[str, Any]


def split_public(text: str) -> tuple[str, bool]:
    """``"503 public"`` → ``("503", True)``; a lone ``public`` is a query like any other."""
    words = text.rsplit(None, 1)
    if len(words) == 2 and words[1].casefold() == PUBLIC_WORD:
        return words[0].strip(), True
    return text.strip(), False


def chat_key(team: str | None, channel: str | None) -> str | None:
    """The preference key of a channel (channel ids are unique within their workspace)."""
    return flows.preference_key(NAME, f"{team}:{channel}") if channel else None


def _is_direct(channel: str | None) -> bool:
    return bool(channel and channel.startswith("D"))


class Listeners:
    """The bot's Bolt listeners, sharing one service, one directory and one answer cache."""

    def __init__(
        self,
        service: Service,
        client: AsyncWebClient,
        directory: Directory,
        spawn: Spawn,
        *,
        session: aiohttp.ClientSession | None = None,
        retry_handlers: list[AsyncRetryHandler] | None = None,
        cache_size: int = 2048,
    ) -> None:
        self.service = service
        self.handler = service.handler
        self._client = client
        self._directory = directory
        self._spawn = spawn
        self._session = session
        self._retry_handlers = retry_handlers
        self._answers: AnswerCache[tuple[object, ...], str] = AnswerCache(service, NAME, cache_size)
        self._seen: OrderedDict[str, None] = OrderedDict()

    def register(self, app: AsyncApp) -> None:
        """Attach every listener to ``app``."""
        app.command(HTTP_COMMAND)(self.http_command)
        app.command(LANG_COMMAND)(self.lang_command)
        app.event("app_mention")(self.mention)
        app.event("message")(self.direct_message)
        app.shortcut(EXPLAIN_SHORTCUT)(self.explain_shortcut)
        app.action(SHARE_ACTION)(self.share)
        # Slack reports clicks on link buttons too; they only need acknowledging.
        app.action(re.compile(f"^{re.escape(LINK_ACTION_PREFIX)}"))(self.acknowledge)

    # ---- language -------------------------------------------------------------------------------

    async def _langs(self, team: str | None, channel: str | None, user: str | None) -> tuple[str | None, ...]:
        person = await self._directory.person(user)
        return await self.service.langs(chat_key(team, channel), user_locale=person.locale)

    async def _apology_for(self, user: str | None) -> dict[str, Any]:
        try:
            locale = (await self._directory.person(user)).locale
        except Exception:
            locale = None
        sorry = flows.apology(self.service, locale)
        return render_text(sorry.text, rtl=sorry.rtl)

    # ---- /http ----------------------------------------------------------------------------------

    async def http_command(self, ack: AsyncAck, body: dict[str, Any]) -> BoltResponse:
        """``/http QUERY [public]``: the card in the acknowledgement itself.

        The acknowledgement is the response Bolt returns to Slack; it is built here from JSON
        kept in the answer cache (serialising a card costs more than everything else we do), and
        set as what ``ack()`` would have set.
        """
        try:
            serialised = await self._http_answer(body)
        except Exception:
            log.exception("slack: answering /http failed")
            self.service.metrics.error(NAME, "respond")
            sorry = {**await self._apology_for(body.get("user_id")), "response_type": "ephemeral"}
            serialised = json.dumps(sorry, ensure_ascii=False)
        ack.response = BoltResponse(status=200, body=serialised, headers=JSON_HEADERS)
        return ack.response

    async def _http_answer(self, body: Payload) -> str:
        query, public = split_public(plain(str(body.get("text") or "")))
        langs = await self._langs(body.get("team_id"), body.get("channel_id"), body.get("user_id"))
        key = ("http", query, self.handler.language(langs), public)
        found = self._answers.get(key)
        if found is not None:
            return found
        reply = self.service.answer(Request(query, langs, platform=NAME, mode="answer"))
        message = render_message(reply, self.handler, shareable=not public)
        message["response_type"] = "in_channel" if public else "ephemeral"
        serialised = json.dumps(message, ensure_ascii=False)
        self._answers.put(key, query, reply.kind, serialised)
        return serialised

    # ---- /http-lang -----------------------------------------------------------------------------

    async def lang_command(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """``/http-lang [LANGUAGE|reset]``: show or change the channel's language."""
        try:
            message = await self._lang_message(body)
        except Exception:
            log.exception("slack: answering /http-lang failed")
            self.service.metrics.error(NAME, "respond")
            message = {**await self._apology_for(body.get("user_id")), "response_type": "ephemeral"}
        await ack(message)

    async def _lang_message(self, body: Payload) -> dict[str, Any]:
        team, channel, user = body.get("team_id"), body.get("channel_id"), body.get("user_id")
        value = plain(str(body.get("text") or "")) or None
        person = await self._directory.person(user)

        async def may_configure() -> bool:
            # In a direct message the person is alone with the bot: theirs to choose.
            return _is_direct(channel) or await self._directory.may_configure(user, channel)

        result = await flows.lang(
            self.service,
            chat_key(team, channel),
            value,
            may_configure=may_configure,
            # No quote: render_text escapes the whole notice, the echoed value with it.
            user_locale=person.locale,
        )
        shown = result.notice
        # A change concerns everyone in the channel; anything else only the asker.
        message = render_text(shown.text, rtl=shown.rtl)
        message["response_type"] = "in_channel" if result.changed else "ephemeral"
        return message

    # ---- mentions and direct messages -----------------------------------------------------------

    def _first_delivery(self, body: Payload) -> bool:
        """Whether this event is new; an event id seen before is a retry we already answered."""
        event_id = str(body.get("event_id") or "")
        if not event_id:
            return True
        if event_id in self._seen:
            log.info("slack: event %s delivered again (a retry): already answered", event_id)
            return False
        self._seen[event_id] = None
        if len(self._seen) > SEEN_EVENTS:
            self._seen.popitem(last=False)
        return True

    async def mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        """``@bot QUERY`` in a channel: the card in the thread."""
        # Direct messages arrive as message events too: answered there, not twice.
        if _is_direct(event.get("channel")) or not self._first_delivery(body):
            return
        self._reply_in_thread(body, event)

    async def direct_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        """Any message a person sends the bot in a direct message."""
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        if not self._first_delivery(body):
            return
        self._reply_in_thread(body, event)

    def _reply_in_thread(self, body: Payload, event: Payload) -> None:
        self._spawn(self._thread_reply(body, event), "thread reply")

    async def _thread_reply(self, body: Payload, event: Payload) -> None:
        channel, user = str(event.get("channel") or ""), event.get("user")
        thread = event.get("thread_ts") or event.get("ts")
        try:
            langs = await self._langs(body.get("team_id"), channel, user)
            query = plain(str(event.get("text") or ""))
            reply = self.service.answer(Request(query, langs, platform=NAME, mode="answer"))
            message = render_message(reply, self.handler)
        except Exception:
            log.exception("slack: answering a message failed")
            self.service.metrics.error(NAME, "respond")
            message = await self._apology_for(user)
        try:
            await self._client.chat_postMessage(
                channel=channel, thread_ts=thread, unfurl_links=False, unfurl_media=False, **message
            )
        except Exception as exc:
            log.warning("slack: chat.postMessage to %s failed: %s", channel, _reason(exc))
            self.service.metrics.error(NAME, "send")

    # ---- message shortcut and Share -------------------------------------------------------------

    async def explain_shortcut(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """*Explain HTTP status* on a message: every code in it, for the asker, shareable."""
        await ack()
        self._spawn(self._explain(body), "explain")

    async def _explain(self, body: Payload) -> None:
        user = (body.get("user") or {}).get("id")
        try:
            langs = await self._langs(
                (body.get("team") or {}).get("id"), (body.get("channel") or {}).get("id"), user
            )
            text = plain(message_text(dict(body.get("message") or {})))
            reply = flows.explain(self.service, NAME, text, langs)
            message = render_message(reply, self.handler, shareable=True, mode="explain")
        except Exception:
            log.exception("slack: explaining a message failed")
            self.service.metrics.error(NAME, "respond")
            message = await self._apology_for(user)
        await self._respond(body, {**message, "response_type": "ephemeral"})

    async def share(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """The Share button: the same answer, posted to the channel, signed by who shared it."""
        await ack()
        self._spawn(self._share(body), "share")

    async def _share(self, body: Payload) -> None:
        user = body.get("user") or {}
        actions = body.get("actions") or [{}]
        key = ShareKey.parse(str(actions[0].get("value") or ""))
        try:
            if key is None:
                raise ValueError(f"not a share button value: {actions[0].get('value')!r}")
            lang = self.handler.supported(key.lang) or self.service.default_lang
            mode: Mode = key.mode
            reply = self.service.answer(Request(key.text, (lang,), platform=NAME, mode=mode))
            name = str(user.get("name") or user.get("username") or "?")
            message = {
                **render_message(reply, self.handler, mode=mode, shared_by=name),
                "response_type": "in_channel",
            }
        except Exception:
            log.exception("slack: sharing failed")
            self.service.metrics.error(NAME, "respond")
            message = {**await self._apology_for(user.get("id")), "response_type": "ephemeral"}
        # A new message for everyone; the private card stays where it was.
        await self._respond(body, {**message, "replace_original": False})

    async def acknowledge(self, ack: AsyncAck) -> None:
        """Clicks that need nothing but an acknowledgement (link buttons)."""
        await ack()

    async def _respond(self, body: Payload, message: dict[str, Any]) -> None:
        url = body.get("response_url")
        if not isinstance(url, str) or not url:
            log.warning("slack: no response_url to answer %s", body.get("type"))
            self.service.metrics.error(NAME, "send")
            return
        webhook = AsyncWebhookClient(
            url, session=self._session, retry_handlers=self._retry_handlers, logger=log
        )
        try:
            response = await webhook.send_dict(message)
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}: {response.body[:200]}")
        except Exception as exc:
            log.warning("slack: response_url post failed: %s", _reason(exc))
            self.service.metrics.error(NAME, "send")


def _reason(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if response is not None and hasattr(response, "get"):
        error = response.get("error")
        if error:
            return str(error)
    return str(exc) or type(exc).__name__
