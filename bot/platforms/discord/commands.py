"""Discord commands, shared by both ways of running: what is registered and how it is answered.

* :func:`command_payloads` builds the command set (``/http``, ``/lang`` and the "Explain HTTP status"
  message command) with localised descriptions for every language the catalogue speaks and
  Discord supports; :func:`sync_commands` registers it through the REST API
  (``python -m bot sync-commands``).
* :class:`Responder` answers one interaction, given as an :class:`Invocation`, with the body of an
  interaction callback (``{"type": 4, "data": message}``). The HTTP endpoint returns that body as
  it is; the gateway adapter converts it for discord.py. Both modes therefore parse options, pick the
  language and render replies through exactly the same code.

This module imports aiohttp but not discord.py: the HTTP mode and ``sync-commands`` stay light.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.config import DiscordConfig
from bot.platforms.discord.render import (
    CHOICE_NAME_MAX,
    CHOICES_MAX,
    ShareKey,
    escape_markdown,
    render_choices,
    render_message,
    render_text,
    truncate,
)
from bot.redaction import RedactingFilter
from bot.service import Service
from handlers import Handler, Request

# Named as before the move into bot.platforms: operators filter log lines on it.
log = logging.getLogger("bot.adapters.discord_commands")

DEFAULT_API = "https://discord.com/api/v10"
USER_AGENT = "DiscordBot (https://github.com/http-status-bot/http-status-bot, 0.1.0)"
BASE_LANG = "en"

# Discord's client locales (developer docs, "Locales"; the same set as discord.py 2.7's
# ``discord.Locale``). There is no Tamil locale, and none for Arabic in the documented list, so
# those languages get no command localisations: Discord rejects the whole command set when a
# localisation key is unknown. They are still offered by the ``lang`` option.
# (The preview OpenAPI description already lists "ar" and "he": add them here once the
# documentation does.)
DISCORD_LOCALES: tuple[str, ...] = (
    "id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl", "no",
    "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi", "th",
    "zh-CN", "ja", "zh-TW", "ko",
)  # fmt: skip

# Interaction and callback types, component and option types of the API.
PING = 1
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
PONG = 1
CHANNEL_MESSAGE = 4
AUTOCOMPLETE_RESULT = 8
CHAT_INPUT = 1
MESSAGE_COMMAND = 3
OPTION_STRING = 3
OPTION_BOOLEAN = 5
# Where commands may be used: guilds, DMs with the bot, group DMs; installed to guilds or users.
CONTEXT_GUILD, CONTEXT_BOT_DM, CONTEXT_PRIVATE_CHANNEL = 0, 1, 2
INSTALL_GUILD, INSTALL_USER = 0, 1

# Permission bits that allow changing a guild's language.
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5

NAME_MAX = 32
DESCRIPTION_MAX = 100

HTTP_COMMAND = "http"
QUERY_OPTION = "query"
PRIVATE_OPTION = "private"
LANG_OPTION = "lang"
LANG_COMMAND = "lang"
LANGUAGE_OPTION = "language"
EXPLAIN_KEY = "cmd_explain_message"
# Longer queries are rare and seldom repeated: not worth a cache slot.
CACHED_TEXT_MAX = 100
# Loggers whose records could carry the bot token. discord.py 2.7 does not log the token itself
# (it logs request bodies, URLs with *interaction* tokens, and gateway events, never the IDENTIFY
# payload), but an exception message, a third-party library or a future version might.
REDACTED_LOGGERS = ("discord", "aiohttp", "bot", "asyncio")


# ---- the command set -----------------------------------------------------------------------------


def discord_locales(lang: str) -> tuple[str, ...]:
    """The Discord locales that speak one of our languages (``es`` → ``es-ES``, ``es-419``)."""
    return tuple(loc for loc in DISCORD_LOCALES if loc.split("-", 1)[0] == lang)


def localisations(handler: Handler, key: str, limit: int) -> dict[str, str]:
    """``{discord_locale: text}`` for one interface string, in every language but the base one."""
    out: dict[str, str] = {}
    for lang in handler.languages:
        if lang == BASE_LANG:
            continue
        text = truncate(handler.ui(lang, key), limit)
        for locale in discord_locales(lang):
            out[locale] = text
    return out


def _described(handler: Handler, key: str) -> dict[str, Any]:
    return {
        "description": truncate(handler.ui(BASE_LANG, key), DESCRIPTION_MAX),
        "description_localizations": localisations(handler, key, DESCRIPTION_MAX),
    }


def language_choices(handler: Handler) -> list[dict[str, str]]:
    """One choice per available language, named as its speakers write it."""
    return [
        {"name": truncate(handler.catalogue.languages[code].native_name, CHOICE_NAME_MAX), "value": code}
        for code in handler.languages
    ][:CHOICES_MAX]


def explain_command_name(handler: Handler) -> str:
    """The message command's name (its identity in interactions: Discord sends the base name)."""
    return truncate(handler.ui(BASE_LANG, EXPLAIN_KEY), NAME_MAX)


def command_payloads(handler: Handler) -> list[dict[str, Any]]:
    """The whole command set, as ``PUT /applications/{id}/commands`` takes it.

    Names stay the same in every locale (``/http query:`` is what people share in docs and
    screenshots); descriptions, and the message command's name, are localised.
    """
    anywhere = {
        "contexts": [CONTEXT_GUILD, CONTEXT_BOT_DM, CONTEXT_PRIVATE_CHANNEL],
        "integration_types": [INSTALL_GUILD, INSTALL_USER],
    }
    http = {
        "type": CHAT_INPUT,
        "name": HTTP_COMMAND,
        **_described(handler, "cmd_http"),
        "options": [
            {
                "type": OPTION_STRING,
                "name": QUERY_OPTION,
                **_described(handler, "cmd_http_query"),
                "required": True,
                "autocomplete": True,
            },
            {"type": OPTION_BOOLEAN, "name": PRIVATE_OPTION, **_described(handler, "cmd_http_private")},
            {
                "type": OPTION_STRING,
                "name": LANG_OPTION,
                **_described(handler, "cmd_http_lang"),
                "choices": language_choices(handler),
            },
        ],
        **anywhere,
    }
    lang = {
        "type": CHAT_INPUT,
        "name": LANG_COMMAND,
        **_described(handler, "cmd_lang"),
        "options": [
            {
                "type": OPTION_STRING,
                "name": LANGUAGE_OPTION,
                # No interface string of its own yet: the /http option's wording fits.
                **_described(handler, "cmd_http_lang"),
                "required": False,
                "autocomplete": True,
            }
        ],
        # A preference belongs to a guild or a DM channel with the bot, so only where it is installed.
        "contexts": [CONTEXT_GUILD, CONTEXT_BOT_DM],
        "integration_types": [INSTALL_GUILD],
    }
    explain = {
        "type": MESSAGE_COMMAND,
        "name": explain_command_name(handler),
        "name_localizations": localisations(handler, EXPLAIN_KEY, NAME_MAX),
        "description": "",
        **anywhere,
    }
    return [http, lang, explain]


# ---- one interaction -----------------------------------------------------------------------------


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

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Invocation:
        """From an interaction object as Discord posts it to the HTTP endpoint."""
        member = payload.get("member") or {}
        user = member.get("user") or payload.get("user") or {}
        channel_id = payload.get("channel_id") or (payload.get("channel") or {}).get("id")
        guild_id = payload.get("guild_id")
        return cls(
            type=int(payload["type"]),
            data=payload.get("data") or {},
            guild_id=int(guild_id) if guild_id else None,
            channel_id=int(channel_id) if channel_id else None,
            locale=payload.get("locale"),
            guild_locale=payload.get("guild_locale"),
            permissions=int(member.get("permissions") or 0),
            user_name=str(member.get("nick") or user.get("global_name") or user.get("username") or ""),
        )

    @property
    def chat(self) -> str | None:
        """The preference key: the guild, else the (DM) channel."""
        place = self.guild_id or self.channel_id
        return f"discord:{place}" if place else None

    def options(self) -> dict[str, Any]:
        """The command's options by name (top level: our commands have no subcommands)."""
        return {o["name"]: o.get("value") for o in self.data.get("options") or () if "name" in o}

    def focused(self) -> tuple[str, str]:
        """The option being typed in an autocomplete interaction, and its text so far."""
        for option in self.data.get("options") or ():
            if option.get("focused"):
                return str(option.get("name", "")), str(option.get("value") or "")
        return "", ""


def message_text(data: Mapping[str, Any]) -> str:
    """The text of a message command's target: content plus any embed text (bots post logs so)."""
    target = str(data.get("target_id", ""))
    message = ((data.get("resolved") or {}).get("messages") or {}).get(target) or {}
    parts = [str(message.get("content") or "")]
    for embed in message.get("embeds") or ():
        parts += [str(embed.get("title") or ""), str(embed.get("description") or "")]
        parts += [f"{f.get('name', '')} {f.get('value', '')}" for f in embed.get("fields") or ()]
    return "\n".join(p for p in parts if p)


def _message(data: dict[str, Any]) -> dict[str, Any]:
    return {"type": CHANNEL_MESSAGE, "data": data}


class Prepared:
    """One callback body, with its JSON and any adapter's conversion of it computed only once.

    Cached answers are shared between interactions, so nothing may modify ``body``; an adapter
    keeps what it derives from it (discord.py objects) in ``memo``.
    """

    __slots__ = ("_json", "body", "kind", "memo")

    def __init__(self, body: dict[str, Any], kind: str = "") -> None:
        self.body = body
        self.kind = kind
        self.memo: dict[str, Any] = {}
        self._json: bytes | None = None

    @property
    def json(self) -> bytes:
        """The body serialised for an HTTP response."""
        if self._json is None:
            self._json = json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode()
        return self._json


class _Lru:
    """A small least-recently-used map (one event loop: no locking needed)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[tuple[object, ...], Prepared] = OrderedDict()

    def get(self, key: tuple[object, ...]) -> Prepared | None:
        found = self._data.get(key)
        if found is not None:
            self._data.move_to_end(key)
        return found

    def put(self, key: tuple[object, ...], value: Prepared) -> None:
        self._data[key] = value
        if len(self._data) > self._size:
            self._data.popitem(last=False)


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
        self._cache = _Lru(cache_size) if cache_size else None

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
            self.service.metrics.error("discord", "respond")
            if inv.type == AUTOCOMPLETE:
                return Prepared({"type": AUTOCOMPLETE_RESULT, "data": {"choices": []}})
        return Prepared(self.apology(inv))

    def apology(self, inv: Invocation) -> dict[str, Any]:
        """The ephemeral "something went wrong" message in the user's language."""
        lang = self.handler.language((inv.locale, inv.guild_locale))
        return _message(render_text(self.handler.ui(lang, "apology"), ephemeral=True, rtl=self._rtl(lang)))

    def _rtl(self, lang: str) -> bool:
        language = self.handler.catalogue.languages.get(lang)
        return bool(language and language.rtl)

    async def _langs(self, inv: Invocation, explicit: str | None = None) -> tuple[str | None, ...]:
        return await self.service.langs(
            inv.chat, explicit=explicit, user_locale=inv.locale, server_locale=inv.guild_locale
        )

    def _cached(self, key: tuple[object, ...]) -> Prepared | None:
        """The cached answer for ``key``, counted like an answer."""
        if self._cache is None:
            return None
        start = time.perf_counter()
        found = self._cache.get(key)
        if found is not None:
            # The handler did not run, but the query was answered: count it, with what it cost.
            self.service.metrics.observe("discord", found.kind, time.perf_counter() - start)
        return found

    def _store(self, key: tuple[object, ...], text: str, prepared: Prepared) -> None:
        # "random" must stay random; long texts are rare and seldom repeated.
        if self._cache is None or len(text) > CACHED_TEXT_MAX:
            return
        if not self.handler.asks_random(text):
            self._cache.put(key, prepared)

    async def _autocomplete(self, inv: Invocation) -> Prepared:
        name, text = inv.focused()
        if inv.data.get("name") == LANG_COMMAND:
            choices = self._language_suggestions(text)
        elif name == QUERY_OPTION:
            explicit = inv.options().get(LANG_OPTION)
            langs = await self._langs(inv, explicit if isinstance(explicit, str) else None)
            lang = self.handler.language(langs)
            key = ("suggest", text, lang)
            found = self._cached(key)
            if found is not None:
                return found
            items = self.service.suggest("discord", text, langs, limit=CHOICES_MAX)
            choices = render_choices(items, rtl=self._rtl(lang))
            prepared = Prepared({"type": AUTOCOMPLETE_RESULT, "data": {"choices": choices}}, "suggest")
            self._store(key, text, prepared)
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
            found = self._cached(key)
            if found is not None:
                return found
            reply = self.service.answer(Request(query, langs, platform="discord", mode="answer"))
            prepared = Prepared(_message(render_message(reply, self.handler, ephemeral=private)), reply.kind)
            self._store(key, query, prepared)
            return prepared
        if kind == MESSAGE_COMMAND and name == self._explain_name:
            langs = await self._langs(inv)
            text = message_text(inv.data)
            reply = self.service.answer(Request(text, langs, platform="discord", mode="explain"))
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
        reply = self.service.answer(Request(key.text, (lang,), platform="discord", mode=key.mode))
        user = inv.user_name or "?"
        # A new public message, not an edit: the private card stays where it was.
        return _message(render_message(reply, self.handler, mode=key.mode, shared_by=user))

    # ---- /lang -----------------------------------------------------------------------------

    def _native(self, lang: str) -> str:
        return self.handler.catalogue.languages[lang].native_name

    def _available(self) -> str:
        return self.handler.available_languages()

    def _language_suggestions(self, text: str) -> list[dict[str, str]]:
        folded = text.strip().casefold()
        choices = []
        for code, language in self.handler.catalogue.languages.items():
            names = (code, language.native_name.casefold(), language.name.casefold())
            if not folded or any(n.startswith(folded) for n in names):
                choices.append({"name": truncate(language.native_name, CHOICE_NAME_MAX), "value": code})
        return choices[:CHOICES_MAX]

    async def _lang(self, inv: Invocation) -> dict[str, Any]:
        value = inv.options().get(LANGUAGE_OPTION)
        langs = await self._langs(inv)
        current = self.handler.language(langs)
        if not isinstance(value, str) or not value.strip():
            text = self.handler.ui(
                current, "lang_current", language=self._native(current), available=self._available()
            )
            return _message(render_text(text, ephemeral=True, rtl=self._rtl(current)))
        if inv.guild_id and not inv.permissions & (MANAGE_GUILD | ADMINISTRATOR):
            text = self.handler.ui(current, "lang_forbidden")
            return _message(render_text(text, ephemeral=True, rtl=self._rtl(current)))
        chat = inv.chat
        if chat is None:
            return self.apology(inv)
        chosen = self.handler.language_choice(value)
        if chosen == "":
            await self.service.prefs.set(chat, None)
            lang = self.handler.language((inv.locale, inv.guild_locale))
            return _message(render_text(self.handler.ui(lang, "lang_reset"), rtl=self._rtl(lang)))
        if chosen is None:
            text = self.handler.ui(
                current,
                "lang_unknown",
                value=escape_markdown(truncate(value, 100)),
                available=self._available(),
            )
            return _message(render_text(text, ephemeral=True, rtl=self._rtl(current)))
        await self.service.prefs.set(chat, chosen)
        text = self.handler.ui(chosen, "lang_set", language=self._native(chosen))
        return _message(render_text(text, rtl=self._rtl(chosen)))


def _describe(inv: Invocation) -> str:
    if inv.type == MESSAGE_COMPONENT:
        return "component"
    name = inv.data.get("name", "?")
    return f"autocomplete /{name}" if inv.type == AUTOCOMPLETE else f"command {name!r}"


# ---- registering the commands --------------------------------------------------------------------


class CommandSyncError(RuntimeError):
    """Registering the commands failed; the message says why, for the operator."""


def api_root(api_base_url: str) -> str:
    """The REST root to use: Discord's own by default; ``/api/v10`` is added to a bare host."""
    url = (api_base_url or DEFAULT_API).rstrip("/")
    if not re.search(r"/api/v\d+$", url):
        url += "/api/v10"
    return url


@dataclass
class _Rest:
    """Just enough of a REST client for registering commands (no discord.py needed)."""

    session: aiohttp.ClientSession
    root: str
    token: str
    attempts: int = 3
    headers: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.headers = {
            "Authorization": f"Bot {self.token}",
            "User-Agent": USER_AGENT,
            "Content-Type": "application/json",
        }

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        url = self.root + path
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        for attempt in range(self.attempts):
            try:
                async with self.session.request(method, url, data=data, headers=self.headers) as response:
                    text = await response.text()
                    if response.status == 429 and attempt + 1 < self.attempts:
                        retry = _retry_after(text, response.headers)
                        log.warning("discord: rate limited on %s %s, retrying in %.1f s", method, path, retry)
                        await asyncio.sleep(retry)
                        continue
                    if response.status == 401:
                        raise CommandSyncError(
                            "Discord rejected the bot token (401): check [discord] token or DISCORD_BOT_TOKEN"
                        )
                    if response.status >= 400:
                        raise CommandSyncError(
                            f"{method} {path} failed with {response.status}: {text[:1000]}"
                        )
                    return json.loads(text) if text else None
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                raise CommandSyncError(f"cannot reach the Discord API at {self.root}: {exc!r}") from None
        raise CommandSyncError(f"{method} {path}: still rate limited after {self.attempts} attempts")


def _retry_after(text: str, headers: Mapping[str, str]) -> float:
    try:
        value = float(json.loads(text).get("retry_after", 1.0))
    except (ValueError, AttributeError):
        value = float(headers.get("Retry-After", 1.0))
    return min(max(value, 0.0), 60.0)


async def sync_commands(
    config: DiscordConfig,
    guild_id: int | None,
    *,
    handler: Handler | None = None,
    application_id: int | None = None,
) -> int:
    """Register the command set in one guild (instant) or globally; returns how many commands.

    The bulk ``PUT`` replaces the whole set, so running it twice is harmless and a command
    removed from the code disappears from Discord too. Raises :class:`CommandSyncError` with an
    operator-readable message (bad token, unreachable API, a rejected field).
    """
    if not config.token:
        raise CommandSyncError("[discord] token is required to register commands (or set DISCORD_BOT_TOKEN)")
    if handler is None:
        from handlers import load

        handler = Handler(load())
    payload = command_payloads(handler)
    guard = RedactingFilter([config.token])
    guard.attach(REDACTED_LOGGERS)
    try:
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            rest = _Rest(session, api_root(config.api_base_url), config.token)
            app_id = application_id or config.application_id
            if not app_id:
                app = await rest.call("GET", "/oauth2/applications/@me")
                app_id = int(app["id"])
            where = f"/guilds/{guild_id}" if guild_id else ""
            registered = await rest.call("PUT", f"/applications/{app_id}{where}/commands", payload)
    finally:
        guard.detach()
    count = len(registered) if isinstance(registered, list) else len(payload)
    log.info("discord: registered %d commands %s", count, f"in guild {guild_id}" if guild_id else "globally")
    return count


def sync_on_start(config: DiscordConfig) -> bool:
    """Whether the gateway adapter registers commands itself when it starts.

    Only for a development guild: a guild's command set changes instantly and a bulk PUT is
    idempotent, so every restart may do it. Global registration propagates slowly, is rate limited
    and, with shards split across processes, would be repeated by each one: it is an operator step
    (``python -m bot sync-commands``).
    """
    return bool(config.dev_guild_id)
