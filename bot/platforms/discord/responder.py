"""Answering one Discord interaction, whichever way it arrived.

:class:`Responder` turns an :class:`Invocation` into the body of its interaction callback
(``{"type": 4, "data": message}``). The HTTP endpoint returns that body as it is; the gateway
adapter converts it for discord.py. Both modes therefore parse options, pick the language and
render replies through exactly the same code. Nothing here imports discord.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot import flows
from bot.answer_cache import AnswerCache
from bot.platforms.discord.commands import (
    CHAT_INPUT,
    HTTP_COMMAND,
    LANG_COMMAND,
    LANG_OPTION,
    LANGUAGE_OPTION,
    MESSAGE_COMMAND,
    PRIVATE_OPTION,
    QUERY_OPTION,
    explain_command_name,
)
from bot.platforms.discord.config import NAME
from bot.platforms.discord.render import (
    CHOICES_MAX,
    ShareKey,
    escape_markdown,
    render_choices,
    render_languages,
    render_message,
    render_text,
)
from bot.service import Service
from handlers import Request

# Named as before the move into bot.platforms: operators filter log lines on it.
log = logging.getLogger("bot.adapters.discord_commands")

# Interaction and callback types of the API.
PING = 1
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
PONG = 1
CHANNEL_MESSAGE = 4
AUTOCOMPLETE_RESULT = 8

# Permission bits that allow changing a guild's language.
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5


@dataclass(frozen=True, slots=True)
class Invocation:
    """One interaction reduced to what answering it needs, whichever way it arrived."""

    type: int
    data: Mapping[str, Any]
    guild_id: int | None = None
    channel_id: int | None = None
    locale: str | None = None
    guild_locale: str | None = None
    permissions: int = 0
    user_name: str = ""
    # What a deferred answer needs to be sent later (the log flows), and the message a button
    # sits on (a log summary's Share reads it back).
    interaction_id: str = ""
    application_id: str = ""
    token: str = ""
    message: Mapping[str, Any] | None = None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Invocation:
        """From an interaction object as Discord posts it to the HTTP endpoint."""
        member = _mapping(payload.get("member"))
        user = _mapping(member.get("user") or payload.get("user"))
        channel_id = payload.get("channel_id") or _mapping(payload.get("channel")).get("id")
        guild_id = payload.get("guild_id")
        locale, guild_locale = payload.get("locale"), payload.get("guild_locale")
        if not isinstance(locale, str | None) or not isinstance(guild_locale, str | None):
            raise TypeError("locale is not a string")
        return cls(
            type=int(payload["type"]),
            data=_mapping(payload.get("data")),
            guild_id=int(guild_id) if guild_id else None,
            channel_id=int(channel_id) if channel_id else None,
            locale=locale,
            guild_locale=guild_locale,
            permissions=int(member.get("permissions") or 0),
            user_name=str(member.get("nick") or user.get("global_name") or user.get("username") or ""),
            interaction_id=str(payload.get("id") or ""),
            application_id=str(payload.get("application_id") or ""),
            token=str(payload.get("token") or ""),
            message=payload.get("message"),
        )

    @property
    def chat(self) -> str | None:
        """The preference key: the guild, else the (DM) channel."""
        place = self.guild_id or self.channel_id
        return flows.preference_key(NAME, place) if place else None

    def options(self) -> dict[str, Any]:
        """The command's options by name (top level: our commands have no subcommands)."""
        return {o["name"]: o.get("value") for o in self.data.get("options") or () if "name" in o}

    def focused(self) -> tuple[str, str]:
        """The option being typed in an autocomplete interaction, and its text so far."""
        for option in self.data.get("options") or ():
            if option.get("focused"):
                return str(option.get("name", "")), str(option.get("value") or "")
        return "", ""


def _mapping(value: object) -> Mapping[str, Any]:
    """An object of the payload, ``{}`` when absent; anything else is not an interaction."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, not {type(value).__name__}")
    return value


def message_text(data: Mapping[str, Any]) -> str:
    """The text of a message command's target: content plus any embed text (bots post logs so)."""
    target = str(data.get("target_id", ""))
    message = ((data.get("resolved") or {}).get("messages") or {}).get(target) or {}
    parts = [str(message.get("content") or "")]
    for embed in message.get("embeds") or ():
        parts += [str(embed.get("title") or ""), str(embed.get("description") or "")]
        parts += [f"{f.get('name', '')} {f.get('value', '')}" for f in embed.get("fields") or ()]
    return "\n".join(p for p in parts if p)


def encode_json(body: object) -> bytes:
    """``body`` as compact UTF-8 JSON; a lone surrogate (which a JSON request may carry in
    ``\\ud800`` form) becomes U+FFFD instead of failing the encoding."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def _message(data: dict[str, Any]) -> dict[str, Any]:
    return {"type": CHANNEL_MESSAGE, "data": data}


class Prepared:
    """One callback body, with its JSON and any adapter's conversion of it computed only once.

    Cached answers are shared between interactions, so nothing may modify ``body``; an adapter
    keeps what it derives from it (discord.py objects) in ``memo``.
    """

    __slots__ = ("_json", "body", "memo")

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.memo: dict[str, Any] = {}
        self._json: bytes | None = None

    @property
    def json(self) -> bytes:
        """The body serialised for an HTTP response."""
        if self._json is None:
            self._json = encode_json(self.body)
        return self._json


class Responder:
    """Turns an :class:`Invocation` into the body of its interaction callback; never raises.

    Answers to ``/http`` and autocomplete are cached by (text, language, private): the catalogue
    does not change while the process runs, a few popular codes make up most queries, and every
    keystroke in the query box is an autocomplete interaction. Only "random" is never cached.
    """

    def __init__(self, service: Service, cache_size: int = 2048) -> None:
        self.service = service
        self.handler = service.handler
        self._explain_name = explain_command_name(self.handler)
        self._answers: AnswerCache[tuple[object, ...], Prepared] = AnswerCache(service, NAME, cache_size)

    async def prepare(self, inv: Invocation) -> Prepared:
        """The callback body, shared when cached.

        A failure anywhere is logged and answered with an ephemeral apology (autocomplete, which
        cannot show text, gets no choices).
        """
        try:
            if inv.type == AUTOCOMPLETE:
                return await self._autocomplete(inv)
            if inv.type == APPLICATION_COMMAND:
                return await self._command(inv)
            if inv.type == MESSAGE_COMPONENT:
                return Prepared(await self._component(inv))
            log.warning("discord: unexpected interaction type %s", inv.type)
        except Exception:
            log.exception("discord: answering a %s interaction failed", _describe(inv))
            self.service.metrics.error(NAME, "respond")
            if inv.type == AUTOCOMPLETE:
                return Prepared({"type": AUTOCOMPLETE_RESULT, "data": {"choices": []}})
        return Prepared(self.apology(inv))

    def apology_for(self, payload: object) -> dict[str, Any]:
        """The apology for an interaction that could not be read, in its locale if it has one."""
        locale = payload.get("locale") if isinstance(payload, Mapping) else None
        readable = locale if isinstance(locale, str) else None
        inv = Invocation(type=APPLICATION_COMMAND, data={}, locale=readable)
        return self.apology(inv)

    def apology(self, inv: Invocation) -> dict[str, Any]:
        """The ephemeral "something went wrong" message in the user's language."""
        sorry = flows.apology(self.service, inv.locale, inv.guild_locale)
        return _message(render_text(sorry.text, ephemeral=True, rtl=sorry.rtl))

    def _rtl(self, lang: str) -> bool:
        language = self.handler.catalogue.languages.get(lang)
        return bool(language and language.rtl)

    async def _langs(self, inv: Invocation, explicit: str | None = None) -> tuple[str | None, ...]:
        return await self.service.langs(
            inv.chat, explicit=explicit, user_locale=inv.locale, server_locale=inv.guild_locale
        )

    async def _autocomplete(self, inv: Invocation) -> Prepared:
        name, text = inv.focused()
        if inv.data.get("name") == LANG_COMMAND:
            choices = render_languages(flows.languages(self.handler, text))
        elif name == QUERY_OPTION:
            explicit = inv.options().get(LANG_OPTION)
            langs = await self._langs(inv, explicit if isinstance(explicit, str) else None)
            lang = self.handler.language(langs)
            key = ("suggest", text, lang)
            found = self._answers.get(key)
            if found is not None:
                return found
            items = self.service.suggest(NAME, text, langs, limit=CHOICES_MAX)
            choices = render_choices(items, rtl=self._rtl(lang))
            prepared = Prepared({"type": AUTOCOMPLETE_RESULT, "data": {"choices": choices}})
            self._answers.put(key, text, "suggest", prepared)
            return prepared
        else:
            choices = []
        return Prepared({"type": AUTOCOMPLETE_RESULT, "data": {"choices": choices}})

    async def _command(self, inv: Invocation) -> Prepared:
        name = inv.data.get("name")
        kind = inv.data.get("type", CHAT_INPUT)
        if kind == CHAT_INPUT and name == HTTP_COMMAND:
            options = inv.options()
            explicit = options.get(LANG_OPTION)
            langs = await self._langs(inv, explicit if isinstance(explicit, str) else None)
            query = str(options.get(QUERY_OPTION) or "")
            private = options.get(PRIVATE_OPTION) is True
            key = ("http", query, self.handler.language(langs), private)
            found = self._answers.get(key)
            if found is not None:
                return found
            reply = self.service.answer(Request(query, langs, platform=NAME, mode="answer"))
            prepared = Prepared(_message(render_message(reply, self.handler, ephemeral=private)))
            self._answers.put(key, query, reply.kind, prepared)
            return prepared
        if kind == MESSAGE_COMMAND and name == self._explain_name:
            langs = await self._langs(inv)
            reply = flows.explain(self.service, NAME, message_text(inv.data), langs)
            # Explaining someone's message is for the asker first; Share posts it for everyone.
            return Prepared(_message(render_message(reply, self.handler, ephemeral=True, mode="explain")))
        if kind == CHAT_INPUT and name == LANG_COMMAND:
            return Prepared(await self._lang(inv))
        log.warning("discord: unknown command %r (type %s): is the command set out of date?", name, kind)
        return Prepared(self.apology(inv))

    async def _component(self, inv: Invocation) -> dict[str, Any]:
        key = ShareKey.parse(str(inv.data.get("custom_id", "")))
        if key is None:
            log.warning("discord: unknown component %r", inv.data.get("custom_id"))
            return self.apology(inv)
        lang = self.handler.supported(key.lang) or self.handler.language((inv.locale,))
        reply = self.service.answer(Request(key.text, (lang,), platform=NAME, mode=key.mode))
        user = inv.user_name or "?"
        # A new public message, not an edit: the private card stays where it was.
        return _message(render_message(reply, self.handler, mode=key.mode, shared_by=user))

    async def _lang(self, inv: Invocation) -> dict[str, Any]:
        value = inv.options().get(LANGUAGE_OPTION)
        result = await flows.lang(
            self.service,
            inv.chat,
            value if isinstance(value, str) else None,
            # In a DM there is no server to manage: anyone may choose.
            may_configure=not inv.guild_id or bool(inv.permissions & (MANAGE_GUILD | ADMINISTRATOR)),
            user_locale=inv.locale,
            server_locale=inv.guild_locale,
            quote=escape_markdown,
        )
        # A change concerns the whole server: everyone sees it; anything else only the asker.
        shown = result.notice
        return _message(render_text(shown.text, ephemeral=not result.changed, rtl=shown.rtl))


def _describe(inv: Invocation) -> str:
    if inv.type == MESSAGE_COMPONENT:
        return "component"
    name = str(inv.data.get("name", "?"))[:100]
    return f"autocomplete /{name}" if inv.type == AUTOCOMPLETE else f"command {name!r}"
