"""A small emulator of Discord's REST API and gateway, for driving the real discord.py in tests.

It speaks just enough of API v10 for a bot that answers interactions:

* REST: ``GET /users/@me`` (401 on a wrong token), ``GET /oauth2/applications/@me``,
  ``GET /gateway`` and ``/gateway/bot``, bulk ``PUT`` of global and guild commands,
  ``POST /interactions/{id}/{token}/callback`` (answered like Discord with ``with_response``), and
  the interaction webhook: ``PATCH /webhooks/{application}/{token}/messages/@original`` and
  ``POST /webhooks/{application}/{token}`` (follow-ups), for tokens of interactions it issued and,
  like Discord, with a 404 until the interaction was acknowledged.
* Files: callbacks and webhook messages may be ``multipart/form-data`` with a ``payload_json``
  part and ``files[n]`` parts, checked as Discord checks them (at most 10, each within the
  interaction's ``attachment_size_limit``, declared ``attachments`` and ``attachment://`` images
  naming uploaded files). Attachments users posted (:meth:`DiscordEmulator.attachment`) are
  served from a CDN route on the same port, with faults (404, delays) on request.
* Gateway: HELLO (op 10), IDENTIFY (op 2) → READY with ``session_id`` and ``resume_gateway_url``,
  heartbeats (op 1 → op 11), RESUME (op 6) replaying the events missed since the client's last
  sequence number and then RESUMED, and INTERACTION_CREATE dispatches. Several shards may connect.

Responses carry ``Content-Type: application/json`` exactly: discord.py decodes JSON only then.
Every payload the bot sends is checked against Discord's documented limits (and, when
``../shared/specs/discord-openapi.json`` exists, against its schemas); problems are collected in
:attr:`DiscordEmulator.problems` and answered with 400 "Invalid Form Body", as Discord would.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "specs" / "discord-openapi.json"

# Discord's client locales, written out independently of the bot's own list so a typo there shows.
LOCALES = frozenset(
    {
        "id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl", "no",
        "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi", "th",
        "zh-CN", "ja", "zh-TW", "ko",
    }
)  # fmt: skip
MESSAGE_KEYS = frozenset(
    {"content", "embeds", "allowed_mentions", "components", "flags", "tts", "attachments"}
)
# "flags" is not in the API reference for requests, but discord.py 2.7 always sends it and Discord
# accepts it.
EMBED_KEYS = frozenset(
    {"title", "type", "description", "url", "timestamp", "color", "footer", "image", "thumbnail"}
    | {"video", "provider", "author", "fields", "flags"}
)
ALLOWED_FLAGS = (1 << 2) | (1 << 6) | (1 << 12)  # suppress embeds, ephemeral, suppress notifications
EPHEMERAL = 1 << 6
FILES_MAX = 10
# What a bot may upload per file when the interaction does not say (Discord's default since 2024).
DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024

_snowflakes = itertools.count(1_300_000_000_000_000_000)


def snowflake() -> str:
    """A fresh, increasing snowflake id."""
    return str(next(_snowflakes))


# ---- limits, checked by hand ---------------------------------------------------------------------


def embed_total(embed: Mapping[str, Any]) -> int:
    """All the text of one embed, as Discord counts it against the 6,000 limit."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    for f in embed.get("fields") or ():
        total += len(f.get("name") or "") + len(f.get("value") or "")
    return total


def message_problems(data: Mapping[str, Any]) -> list[str]:
    """Everything in a message payload that Discord would refuse."""
    problems = [f"unknown message key {k!r}" for k in data if k not in MESSAGE_KEYS]
    content = data.get("content")
    if content is not None and len(content) > 2000:
        problems.append(f"content is {len(content)} characters")
    embeds = data.get("embeds") or []
    if len(embeds) > 10:
        problems.append(f"{len(embeds)} embeds")
    if not content and not embeds:
        problems.append("empty message")
    if int(data.get("flags") or 0) & ~ALLOWED_FLAGS:
        problems.append(f"flags {data['flags']} not allowed")
    for i, embed in enumerate(embeds):
        where = f"embeds[{i}]"
        problems += [f"{where}: unknown key {k!r}" for k in embed if k not in EMBED_KEYS]
        for key, limit in (("title", 256), ("description", 4096)):
            if len(embed.get(key) or "") > limit:
                problems.append(f"{where}.{key} is {len(embed[key])} characters")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            problems.append(f"{where}: {len(fields)} fields")
        for j, f in enumerate(fields):
            if not 1 <= len(f.get("name") or "") <= 256:
                problems.append(f"{where}.fields[{j}].name has {len(f.get('name') or '')} characters")
            if not 1 <= len(f.get("value") or "") <= 1024:
                problems.append(f"{where}.fields[{j}].value has {len(f.get('value') or '')} characters")
        if len((embed.get("footer") or {}).get("text") or "") > 2048:
            problems.append(f"{where}.footer is too long")
        if len((embed.get("author") or {}).get("name") or "") > 256:
            problems.append(f"{where}.author is too long")
        color = embed.get("color")
        if color is not None and not 0 <= color <= 0xFFFFFF:
            problems.append(f"{where}.color {color} out of range")
        if embed_total(embed) > 6000:
            problems.append(f"{where} holds {embed_total(embed)} characters (more than 6000)")
    rows = data.get("components") or []
    if len(rows) > 5:
        problems.append(f"{len(rows)} action rows")
    for i, row in enumerate(rows):
        buttons = row.get("components") or []
        if row.get("type") != 1 or not 1 <= len(buttons) <= 5:
            problems.append(f"components[{i}] is not an action row of 1-5 components")
        for j, button in enumerate(buttons):
            where = f"components[{i}][{j}]"
            if button.get("type") != 2:
                problems.append(f"{where} is not a button")
                continue
            if len(button.get("label") or "") > 80:
                problems.append(f"{where}.label is too long")
            if button.get("style") == 5:
                url = button.get("url") or ""
                if not url.startswith(("https://", "http://")) or len(url) > 512 or "custom_id" in button:
                    problems.append(f"{where}: a link button needs a URL (≤ 512) and no custom_id")
            elif not 1 <= len(button.get("custom_id") or "") <= 100 or "url" in button:
                problems.append(f"{where}: a button needs a custom_id of 1-100 characters and no url")
    return problems


def choices_problems(data: Mapping[str, Any]) -> list[str]:
    """Everything in an autocomplete result that Discord would refuse."""
    choices = data.get("choices")
    if choices is None:
        return ["autocomplete result without choices"]
    problems = [f"{len(choices)} choices"] if len(choices) > 25 else []
    for i, choice in enumerate(choices):
        if not 1 <= len(choice.get("name") or "") <= 100:
            problems.append(f"choices[{i}].name has {len(choice.get('name') or '')} characters")
        value = choice.get("value")
        if isinstance(value, str) and len(value) > 100:
            problems.append(f"choices[{i}].value is too long")
    return problems


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes


def file_problems(
    data: Mapping[str, Any], uploads: Sequence[Upload], limit: int = DEFAULT_ATTACHMENT_LIMIT
) -> list[str]:
    """What Discord refuses in the files of a message: parts not named ``files[n]``, more than
    ten, empty or over the size limit, ``attachments`` entries or ``attachment://`` images that
    name no uploaded file."""
    problems: list[str] = []
    if len(uploads) > FILES_MAX:
        problems.append(f"{len(uploads)} files (max {FILES_MAX})")
    by_index: dict[str, Upload] = {}
    for upload in uploads:
        match = re.fullmatch(r"files\[(\d+)\]", upload.field)
        if match is None:
            problems.append(f"file part {upload.field!r} is not named files[n]")
            continue
        by_index[match.group(1)] = upload
        if not upload.filename:
            problems.append(f"{upload.field} has no filename")
        if not upload.data:
            problems.append(f"{upload.field} is empty")
        if len(upload.data) > limit:
            problems.append(f"{upload.field} is {len(upload.data)} bytes (max {limit})")
    names = {u.filename for u in uploads}
    for entry in data.get("attachments") or ():
        index = str(entry.get("id"))
        found = by_index.get(index)
        if found is None:
            problems.append(f"attachments: id {index} names no uploaded file")
        elif entry.get("filename") not in (None, found.filename):
            problems.append(f"attachments: id {index} is {found.filename!r}, not {entry.get('filename')!r}")
    for i, embed in enumerate(data.get("embeds") or ()):
        for key in ("image", "thumbnail"):
            url = str((embed.get(key) or {}).get("url") or "")
            if url.startswith("attachment://") and url.removeprefix("attachment://") not in names:
                problems.append(f"embeds[{i}].{key} names {url}, which was not uploaded")
    return problems


def _valid_chat_name(name: str) -> bool:
    return 1 <= len(name) <= 32 and all((c.isalnum() or c in "-_'") and c.lower() == c for c in name)


def _localisation_problems(where: str, mapping: Any, limit: int, names: bool) -> list[str]:
    problems: list[str] = []
    for locale, text in (mapping or {}).items():
        if locale not in LOCALES:
            problems.append(f"{where}: unknown locale {locale!r}")
        if not 1 <= len(text) <= limit:
            problems.append(f"{where}[{locale}] has {len(text)} characters")
        if names and not _valid_chat_name(text):
            problems.append(f"{where}[{locale}] {text!r} is not a valid command name")
    return problems


def command_problems(commands: Sequence[Mapping[str, Any]]) -> list[str]:
    """Everything in a bulk command registration that Discord would refuse."""
    problems: list[str] = []
    seen: set[tuple[int, str]] = set()
    for command in commands:
        kind = command.get("type", 1)
        name = command.get("name", "")
        where = f"command {name!r}"
        if (kind, name) in seen:
            problems.append(f"{where}: duplicate")
        seen.add((kind, name))
        if kind == 1:
            if not _valid_chat_name(name):
                problems.append(f"{where}: invalid slash command name")
            if not 1 <= len(command.get("description") or "") <= 100:
                problems.append(f"{where}: description must have 1-100 characters")
            problems += _localisation_problems(
                f"{where}.name_localizations", command.get("name_localizations"), 32, True
            )
        else:
            if not 1 <= len(name) <= 32:
                problems.append(f"{where}: name must have 1-32 characters")
            if command.get("description"):
                problems.append(f"{where}: context menu commands have no description")
            problems += _localisation_problems(
                f"{where}.name_localizations", command.get("name_localizations"), 32, False
            )
        problems += _localisation_problems(
            f"{where}.description_localizations", command.get("description_localizations"), 100, False
        )
        options = command.get("options") or []
        if len(options) > 25:
            problems.append(f"{where}: more than 25 options")
        optional_seen = False
        for option in options:
            owhere = f"{where} option {option.get('name')!r}"
            if not _valid_chat_name(option.get("name", "")):
                problems.append(f"{owhere}: invalid name")
            if not 1 <= len(option.get("description") or "") <= 100:
                problems.append(f"{owhere}: description must have 1-100 characters")
            problems += _localisation_problems(
                f"{owhere}.description_localizations", option.get("description_localizations"), 100, False
            )
            if option.get("required"):
                if optional_seen:
                    problems.append(f"{owhere}: required options must come first")
            else:
                optional_seen = True
            choices = option.get("choices") or []
            if choices and option.get("autocomplete"):
                problems.append(f"{owhere}: choices and autocomplete together")
            problems += [f"{owhere}: {p}" for p in choices_problems({"choices": choices})]
    return problems


# ---- the OpenAPI description, with a small JSON Schema subset ------------------------------------


class SpecValidator:
    """Validates instances against schemas of Discord's OpenAPI description.

    Only the keywords that description uses are implemented (types, properties, required, lengths,
    item counts, bounds, enum/const, allOf/anyOf/oneOf, $ref, additionalProperties, pattern);
    ``format`` is not checked. Enough to catch a wrong field, type or limit without a dependency.
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec

    @classmethod
    def load(cls, path: Path = SPEC_PATH) -> SpecValidator | None:
        """The validator, or ``None`` when the specification is not on this machine."""
        if not path.exists():
            return None
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def schema(self, name: str) -> Mapping[str, Any]:
        """A named schema of ``components.schemas``."""
        return dict(self.spec["components"]["schemas"][name])

    def request_schema(self, path: str, method: str) -> Mapping[str, Any]:
        """The JSON request body schema of one operation."""
        operation = self.spec["paths"][path][method]
        return dict(operation["requestBody"]["content"]["application/json"]["schema"])

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = {
                **self.spec["components"]["schemas"][name],
                **{k: v for k, v in schema.items() if k != "$ref"},
            }
        return schema

    @staticmethod
    def _type_ok(value: Any, kind: str) -> bool:
        match kind:
            case "null":
                return value is None
            case "boolean":
                return isinstance(value, bool)
            case "integer":
                return isinstance(value, int) and not isinstance(value, bool)
            case "number":
                return isinstance(value, (int, float)) and not isinstance(value, bool)
            case "string":
                return isinstance(value, str)
            case "array":
                return isinstance(value, list)
            case "object":
                return isinstance(value, dict)
        return True

    def errors(self, value: Any, schema: Mapping[str, Any], where: str = "$") -> list[str]:
        """Every violation, each with the JSON path where it occurs."""
        schema = self._resolve(schema)
        out: list[str] = []
        kinds = schema.get("type")
        if kinds is not None:
            kinds = [kinds] if isinstance(kinds, str) else kinds
            if not any(self._type_ok(value, k) for k in kinds):
                return [f"{where}: {value!r:.60} is not of type {kinds}"]
        if "const" in schema and value != schema["const"]:
            out.append(f"{where}: {value!r:.60} is not {schema['const']!r}")
        if "enum" in schema and value not in schema["enum"]:
            out.append(f"{where}: {value!r:.60} not in {schema['enum']}")
        if isinstance(value, str):
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                out.append(f"{where}: longer than {schema['maxLength']}")
            if "minLength" in schema and len(value) < schema["minLength"]:
                out.append(f"{where}: shorter than {schema['minLength']}")
            if "pattern" in schema and not re.search(schema["pattern"], value):
                out.append(f"{where}: does not match {schema['pattern']}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "maximum" in schema and value > schema["maximum"]:
                out.append(f"{where}: above {schema['maximum']}")
            if "minimum" in schema and value < schema["minimum"]:
                out.append(f"{where}: below {schema['minimum']}")
        if isinstance(value, list):
            if "maxItems" in schema and len(value) > schema["maxItems"]:
                out.append(f"{where}: more than {schema['maxItems']} items")
            if "minItems" in schema and len(value) < schema["minItems"]:
                out.append(f"{where}: fewer than {schema['minItems']} items")
            if "items" in schema:
                for i, item in enumerate(value):
                    out += self.errors(item, schema["items"], f"{where}[{i}]")
        if isinstance(value, dict):
            if "maxProperties" in schema and len(value) > schema["maxProperties"]:
                out.append(f"{where}: more than {schema['maxProperties']} properties")
            out += [f"{where}: missing {k!r}" for k in schema.get("required", ()) if k not in value]
            properties = schema.get("properties", {})
            extra = schema.get("additionalProperties", True)
            for key, item in value.items():
                if key in properties:
                    out += self.errors(item, properties[key], f"{where}.{key}")
                elif extra is False:
                    out.append(f"{where}: unexpected property {key!r}")
                elif isinstance(extra, dict):
                    out += self.errors(item, extra, f"{where}.{key}")
        for sub in schema.get("allOf", ()):
            out += self.errors(value, sub, where)
        if "anyOf" in schema:
            branches = [self.errors(value, sub, where) for sub in schema["anyOf"]]
            if all(branches):
                out.append(f"{where}: matches no alternative: {min(branches, key=len)}")
        if "oneOf" in schema:
            branches = [self.errors(value, sub, where) for sub in schema["oneOf"]]
            matched = sum(1 for b in branches if not b)
            if matched != 1:
                out.append(f"{where}: matches {matched} of oneOf (closest: {min(branches, key=len)})")
        return out

    def callback_errors(self, body: Any) -> list[str]:
        """Problems in an interaction callback body."""
        schema = self.request_schema("/interactions/{interaction_id}/{interaction_token}/callback", "post")
        return self.errors(body, schema)

    def webhook_errors(self, body: Any, original: bool) -> list[str]:
        """Problems in a webhook message: an edit of the original, or a follow-up."""
        if original:
            return self.errors(
                body,
                self.request_schema("/webhooks/{webhook_id}/{webhook_token}/messages/@original", "patch"),
            )
        return self.errors(body, self.request_schema("/webhooks/{webhook_id}/{webhook_token}", "post"))

    def commands_errors(self, body: Any) -> list[str]:
        """Problems in a bulk command registration."""
        return self.errors(body, self.request_schema("/applications/{application_id}/commands", "put"))


# ---- the emulator --------------------------------------------------------------------------------


@dataclass
class Session:
    """One gateway session: what a RESUME needs to pick up where it left off."""

    id: str
    shard: tuple[int, int]
    seq: int = 0
    ws: web.WebSocketResponse | None = None
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=5000))


@dataclass
class Callback:
    """An interaction callback the bot sent."""

    interaction_id: str
    token: str
    body: dict[str, Any]
    files: list[Upload] = field(default_factory=list)


@dataclass
class WebhookMessage:
    """A message sent through an interaction's webhook: the edited original or a follow-up."""

    token: str
    original: bool
    body: dict[str, Any]
    files: list[Upload]
    ephemeral: bool
    message: dict[str, Any] = field(default_factory=dict)

    def file(self, name: str) -> bytes | None:
        """The bytes of the uploaded file called ``name``."""
        return next((u.data for u in self.files if u.filename == name), None)


@dataclass
class Issued:
    """An interaction the emulator created: what its webhook may do."""

    payload: dict[str, Any]
    acknowledged: bool = False
    ephemeral: bool = False


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body).encode(), status=status, headers={"Content-Type": "application/json"}
    )


def _invalid(problems: list[str]) -> web.Response:
    errors = {"_errors": [{"code": "BASE_TYPE_INVALID", "message": p} for p in problems]}
    return _json({"code": 50035, "message": "Invalid Form Body", "errors": errors}, 400)


def _message_object(
    message_id: str,
    kwargs: dict[str, Any],
    author: dict[str, Any],
    content: str,
    message_type: int,
    flags: int,
) -> dict[str, Any]:
    """A message as Discord includes it in an interaction payload."""
    return {
        "id": message_id,
        "channel_id": kwargs.get("channel_id", "900000000000000002"),
        "author": author,
        "content": content,
        "timestamp": "2024-01-01T00:00:00+00:00",
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": message_type,
        "flags": flags,
    }


class DiscordEmulator:
    """Discord's REST API and gateway on 127.0.0.1, with hooks for tests."""

    def __init__(
        self,
        token: str = "emulated-bot-token.abcdef.123456",
        *,
        heartbeat_interval: float = 41.25,
        validator: SpecValidator | None = None,
        check_payloads: bool = True,
    ) -> None:
        self.token = token
        self.application_id = snowflake()
        self.bot_user = {
            "id": self.application_id,
            "username": "http-status",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
            "flags": 0,
        }
        self.heartbeat_interval = heartbeat_interval
        self.validator = validator
        self.check_payloads = check_payloads
        self.commands: dict[str | None, list[dict[str, Any]]] = {}
        self.callbacks: list[Callback] = []
        # The next this many interaction callbacks are answered 429; their interaction ids.
        self.callback_rate_limits = 0
        self.rate_limited: list[str] = []
        self.problems: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.sessions: dict[str, Session] = {}
        self.keep_callbacks = True
        self.webhook_messages: list[WebhookMessage] = []
        self.early_webhooks = 0
        self.issued: dict[str, Issued] = {}
        self.attachments: dict[str, bytes] = {}
        self.downloads: list[str] = []
        # Faults of the CDN route: "404" or "ok" per request, consumed in order; and a delay.
        self.cdn_script: list[str] = []
        self.cdn_delay = 0.0
        self._webhook_waiters: dict[str, list[asyncio.Future[WebhookMessage]]] = {}
        self._by_shard: dict[int, Session] = {}
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._connected = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1."""
        # Room for ten files of 10 MiB and a little more, to see a breach rather than a 413.
        app = web.Application(client_max_size=128 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        app.router.add_get("/attachments/{channel}/{attachment}/{filename}", self._cdn)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = next(a[1] for a in self._runner.addresses if isinstance(a, tuple))

    async def stop(self) -> None:
        """Close every gateway connection and stop listening."""
        for session in self.sessions.values():
            if session.ws is not None:
                with contextlib.suppress(Exception):
                    await session.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> DiscordEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_base_url(self) -> str:
        """What the bot's ``api_base_url`` should be."""
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        """What the bot's ``gateway_url`` should be."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    # ---- REST ------------------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.token}"

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        self.requests.append((request.method, path))
        parts = path.strip("/").split("/")
        if parts[0] == "interactions" and len(parts) == 4 and parts[3] == "callback":
            return await self._callback(request, parts[1], parts[2])
        if parts[0] == "webhooks" and len(parts) >= 3:
            # Interaction webhooks are authorised by their token alone.
            return await self._webhook(request, parts)
        if not self._authorised(request):
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        match request.method, parts:
            case "GET", ["users", "@me"]:
                return _json(self.bot_user)
            case "GET", ["oauth2", "applications", "@me"]:
                return _json(self._application())
            case "GET", ["gateway"]:
                return _json({"url": self.gateway_url})
            case "GET", ["gateway", "bot"]:
                limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
                return _json({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})
            case "PUT", ["applications", app, "commands"] if app == self.application_id:
                return await self._put_commands(request, None)
            case "PUT", ["applications", app, "guilds", guild, "commands"] if app == self.application_id:
                return await self._put_commands(request, guild)
        return _json({"message": "404: Not Found", "code": 0}, 404)

    def _application(self) -> dict[str, Any]:
        return {
            "id": self.application_id,
            "name": "http-status",
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": {**self.bot_user, "bot": False, "id": snowflake(), "username": "owner"},
            "verify_key": "00" * 32,
            "flags": 0,
            "team": None,
        }

    async def _put_commands(self, request: web.Request, guild: str | None) -> web.Response:
        body = await request.json()
        problems = command_problems(body) if self.check_payloads else []
        if self.validator is not None:
            problems += self.validator.commands_errors(body)
        if problems:
            self.problems += problems
            return _invalid(problems)
        registered = [
            {**c, "id": snowflake(), "application_id": self.application_id, "version": snowflake()}
            | ({"guild_id": guild} if guild else {})
            for c in body
        ]
        self.commands[guild] = registered
        return _json(registered)

    async def _callback(self, request: web.Request, interaction_id: str, token: str) -> web.Response:
        body, uploads = await self._body(request)
        if self.callback_rate_limits:
            # As Discord's edge answers a 429 that did not come through its proxy: no Via header.
            self.callback_rate_limits -= 1
            self.rate_limited.append(interaction_id)
            wait = 0.2
            return web.Response(
                status=429,
                body=json.dumps({"message": "You are being rate limited.", "retry_after": wait}).encode(),
                headers={"Retry-After": str(wait)},
                content_type="application/json",
            )
        problems = self.callback_problems(body)
        if uploads:
            data = body.get("data") or {}
            problems += file_problems(data, uploads, self._attachment_limit(token))
        issued = self.issued.get(token)
        if issued is not None and not problems:
            if issued.acknowledged:
                problems.append("interaction has already been acknowledged")
            issued.acknowledged = True
            issued.ephemeral = bool(int((body.get("data") or {}).get("flags") or 0) & EPHEMERAL)
        if self.keep_callbacks:
            self.callbacks.append(Callback(interaction_id, token, body, uploads))
        waiter = self._waiters.pop(interaction_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(body)
        if problems:
            self.problems += problems
            return _invalid(problems)
        kind = body.get("type")
        data = body.get("data") or {}
        response: dict[str, Any] = {
            "interaction": {
                "id": interaction_id,
                "type": 2,
                "response_message_loading": False,
                "response_message_ephemeral": bool(int(data.get("flags") or 0) & 64),
            },
        }
        if kind == 4:
            message_id = snowflake()
            response["interaction"]["response_message_id"] = message_id
            response["resource"] = {"type": 4}
        return _json(response)

    def callback_problems(self, body: Mapping[str, Any]) -> list[str]:
        """What Discord would refuse in one interaction callback body."""
        problems: list[str] = []
        if self.check_payloads:
            kind = body.get("type")
            data = body.get("data") or {}
            if kind in (4, 7):
                problems += message_problems(data)
            elif kind == 8:
                problems += choices_problems(data)
            elif kind not in (1, 5, 6):
                problems.append(f"unexpected callback type {kind}")
        if self.validator is not None:
            problems += self.validator.callback_errors(body)
        return problems

    @staticmethod
    async def _body(request: web.Request) -> tuple[dict[str, Any], list[Upload]]:
        """A JSON body, or a multipart one: ``payload_json`` and its ``files[n]`` parts."""
        if request.content_type != "multipart/form-data":
            return await request.json(), []
        body: dict[str, Any] = {}
        uploads: list[Upload] = []
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            name = part.name or ""
            content = await part.read()
            if part.filename is not None:
                content_type = part.headers.get("Content-Type", "application/octet-stream")
                uploads.append(Upload(name, part.filename, content_type, bytes(content)))
            elif name == "payload_json":
                body = json.loads(content)
        return body, uploads

    def _attachment_limit(self, token: str) -> int:
        issued = self.issued.get(token)
        limit = issued.payload.get("attachment_size_limit") if issued else None
        return int(limit) if isinstance(limit, int) else DEFAULT_ATTACHMENT_LIMIT

    def acknowledge(self, payload: Mapping[str, Any], response: Mapping[str, Any]) -> None:
        """Record that the bot answered ``payload`` with ``response`` (what Discord learns from an
        interactions endpoint's HTTP response, which tests receive in its place)."""
        issued = self.issued.get(str(payload.get("token")))
        if issued is None:
            return
        if issued.acknowledged:
            self.problems.append("interaction acknowledged twice")
        issued.acknowledged = True
        issued.ephemeral = bool(int((response.get("data") or {}).get("flags") or 0) & EPHEMERAL)

    async def _webhook(self, request: web.Request, parts: list[str]) -> web.Response:
        application, token = parts[1], parts[2]
        original = parts[3:] == ["messages", "@original"]
        if application != self.application_id or token not in self.issued:
            return _json({"message": "Unknown Webhook", "code": 10015}, 404)
        if not (original and request.method == "PATCH") and not (
            len(parts) == 3 and request.method == "POST"
        ):
            return _json({"message": "405: Method Not Allowed", "code": 0}, 405)
        issued = self.issued[token]
        body, uploads = await self._body(request)
        if not issued.acknowledged:
            # Discord has no message to edit (or follow) until the interaction is answered. Not
            # a breach in itself (an endpoint's deferral may still be on its way), but counted.
            self.early_webhooks += 1
            return _json({"message": "Unknown Webhook", "code": 10015}, 404)
        problems: list[str] = []
        if self.check_payloads:
            problems += message_problems(body)
            flags = int(body.get("flags") or 0)
            if original and flags & EPHEMERAL:
                problems.append("an edit cannot make a message ephemeral")
        problems += file_problems(body, uploads, self._attachment_limit(token))
        if self.validator is not None:
            problems += self.validator.webhook_errors(body, original)
        if problems:
            self.problems += problems
            return _invalid(problems)
        ephemeral = issued.ephemeral if original else bool(int(body.get("flags") or 0) & EPHEMERAL)
        # Uploaded files become attachments served by the CDN, as on Discord.
        attachments = [self.attachment(u.data, u.filename, content_type=u.content_type) for u in uploads]
        message = {
            "id": snowflake(),
            "channel_id": issued.payload.get("channel_id"),
            "type": 20,
            "content": body.get("content") or "",
            "embeds": body.get("embeds") or [],
            "attachments": attachments,
            "flags": EPHEMERAL if ephemeral else 0,
        }
        sent = WebhookMessage(token, original, body, uploads, ephemeral, message)
        self.webhook_messages.append(sent)
        for waiter in self._webhook_waiters.pop(token, []):
            if not waiter.done():
                waiter.set_result(sent)
        return _json(message)

    async def webhook_message(self, payload: Mapping[str, Any], within: float = 15.0) -> WebhookMessage:
        """The first message the bot sends through ``payload``'s webhook (waiting for it)."""
        token = str(payload["token"])
        for sent in self.webhook_messages:
            if sent.token == token:
                return sent
        future: asyncio.Future[WebhookMessage] = asyncio.get_running_loop().create_future()
        self._webhook_waiters.setdefault(token, []).append(future)
        return await asyncio.wait_for(future, within)

    # ---- the CDN ---------------------------------------------------------------------------

    def attachment(
        self,
        data: bytes,
        filename: str = "access.log",
        *,
        content_type: str = "text/plain",
        size: int | None = None,
    ) -> dict[str, Any]:
        """A file a user attached, served by the CDN route; ``size`` overrides what is announced."""
        attachment_id = snowflake()
        self.attachments[attachment_id] = data
        url = f"http://127.0.0.1:{self.port}/attachments/900000000000000002/{attachment_id}/{filename}"
        return {
            "id": attachment_id,
            "filename": filename,
            "size": len(data) if size is None else size,
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        attachment = request.match_info["attachment"]
        self.downloads.append(attachment)
        if self.cdn_delay:
            await asyncio.sleep(self.cdn_delay)
        action = self.cdn_script.pop(0) if self.cdn_script else "ok"
        data = self.attachments.get(attachment)
        if action == "404" or data is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=data, content_type="application/octet-stream")

    # ---- gateway ---------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        await ws.send_str(
            json.dumps({"op": 10, "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000)}})
        )
        session: Session | None = None
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(message.data)
                op, data = payload.get("op"), payload.get("d")
                if op == 1:
                    await ws.send_str(json.dumps({"op": 11}))
                elif op == 2:
                    session = await self._identify(ws, data)
                elif op == 6:
                    session = await self._resume(ws, data)
        finally:
            if session is not None and session.ws is ws:
                session.ws = None
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> Session | None:
        self.identifies.append(data)
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        shard_id, count = data.get("shard") or (0, 1)
        session = Session(uuid.uuid4().hex, (shard_id, count), ws=ws)
        self.sessions[session.id] = session
        self._by_shard[shard_id] = session
        ready = {
            "v": 10,
            "user": self.bot_user,
            "guilds": [],
            "session_id": session.id,
            "resume_gateway_url": self.gateway_url,
            "shard": [shard_id, count],
            "application": {"id": self.application_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        await self._send(session, "READY", ready)
        async with self._connected:
            self._connected.notify_all()
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> Session | None:
        self.resumes.append(data)
        session = self.sessions.get(data.get("session_id", ""))
        if data.get("token") != self.token or session is None:
            await ws.send_str(json.dumps({"op": 9, "d": False}))
            return None
        session.ws = ws
        last = int(data.get("seq") or 0)
        for event in list(session.events):
            if event["s"] > last:
                await ws.send_str(json.dumps(event))
        await self._send(session, "RESUMED", {})
        async with self._connected:
            self._connected.notify_all()
        return session

    async def _send(self, session: Session, name: str, data: Any) -> None:
        session.seq += 1
        event = {"op": 0, "t": name, "s": session.seq, "d": data}
        session.events.append(event)
        if session.ws is not None and not session.ws.closed:
            with contextlib.suppress(ConnectionError):
                await session.ws.send_str(json.dumps(event))

    # ---- test hooks ------------------------------------------------------------------------

    def session(self, shard: int = 0) -> Session | None:
        """The latest session of a shard."""
        return self._by_shard.get(shard)

    async def wait_connected(self, shard: int = 0, within: float = 10.0) -> Session:
        """Wait until the shard has a live connection (after IDENTIFY or RESUME)."""

        def live() -> bool:
            session = self._by_shard.get(shard)
            return session is not None and session.ws is not None and not session.ws.closed

        async with asyncio.timeout(within), self._connected:
            await self._connected.wait_for(live)
        return self._by_shard[shard]

    async def send_raw(self, text: str, shard: int = 0) -> None:
        """Send a frame as it is on a shard's connection (garbage, to test the client)."""
        session = self._by_shard[shard]
        assert session.ws is not None
        await session.ws.send_str(text)

    async def disconnect(self, shard: int = 0, code: int = 4000) -> None:
        """Drop a shard's connection as Discord does on trouble (4000: resumable)."""
        session = self._by_shard[shard]
        ws, session.ws = session.ws, None
        if ws is not None:
            await ws.close(code=code, message=b"emulated disconnect")

    def send(self, payload: dict[str, Any], shard: int = 0) -> asyncio.Future[dict[str, Any]]:
        """Dispatch INTERACTION_CREATE; the future gets the callback body the bot sends."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[payload["id"]] = future
        session = self._by_shard[shard]
        task = asyncio.get_running_loop().create_task(self._send(session, "INTERACTION_CREATE", payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return future

    async def interact(self, payload: dict[str, Any], shard: int = 0, within: float = 10.0) -> dict[str, Any]:
        """Dispatch one interaction and return the callback the bot answered it with."""
        return await asyncio.wait_for(self.send(payload, shard), within)

    # ---- interaction payloads ----------------------------------------------------------------

    def interaction(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        guild_id: str | None = "900000000000000001",
        channel_id: str = "900000000000000002",
        locale: str = "en-US",
        guild_locale: str | None = "en-US",
        permissions: int = 0,
        user_name: str = "Ada",
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An interaction as Discord sends it to bots (guild or DM)."""
        interaction_id = snowflake()
        user = {
            "id": "700000000000000001",
            "username": user_name.lower(),
            "discriminator": "0",
            "global_name": user_name,
            "avatar": None,
            "public_flags": 0,
        }
        payload: dict[str, Any] = {
            "id": interaction_id,
            "application_id": self.application_id,
            "type": kind,
            "data": data,
            "token": f"interaction-token-{interaction_id}",
            "version": 1,
            "locale": locale,
            "app_permissions": str((1 << 46) - 1),
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
            "channel_id": channel_id,
        }
        if guild_id is not None:
            payload["guild_id"] = guild_id
            if guild_locale is not None:
                payload["guild_locale"] = guild_locale
            payload["guild"] = {"id": guild_id, "locale": guild_locale or "en-US", "features": []}
            payload["channel"] = {
                "id": channel_id,
                "type": 0,
                "guild_id": guild_id,
                "name": "general",
                "position": 0,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
                "topic": None,
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "flags": 0,
            }
            payload["member"] = {
                "user": user,
                "roles": [],
                "joined_at": "2024-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
                "nick": None,
                "pending": False,
                "permissions": str(permissions),
            }
            payload["authorizing_integration_owners"] = {"0": guild_id}
            payload["context"] = 0
        else:
            payload["user"] = user
            payload["channel"] = {"id": channel_id, "type": 1, "recipients": [user], "flags": 0}
            payload["authorizing_integration_owners"] = {"0": guild_id or "0"}
            payload["context"] = 1
        if message is not None:
            payload["message"] = message
        self.issued[payload["token"]] = Issued(payload)
        return payload

    def slash(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        attachments: dict[str, dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """A chat-input command interaction (type 2); ``attachments`` fill attachment options
        (type 11: the option holds the id, ``resolved.attachments`` the attachment)."""
        opts = [
            {"name": k, "type": 5 if isinstance(v, bool) else 3, "value": v}
            for k, v in (options or {}).items()
        ]
        data: dict[str, Any] = {"id": snowflake(), "name": name, "type": 1, "options": opts}
        if attachments:
            opts += [{"name": k, "type": 11, "value": a["id"]} for k, a in attachments.items()]
            data["resolved"] = {"attachments": {a["id"]: a for a in attachments.values()}}
        return self.interaction(2, data, **kwargs)

    def autocomplete(
        self, name: str, focused: str, text: str, others: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """An autocomplete interaction (type 4) while ``focused`` is being typed."""
        opts = [{"name": k, "type": 3, "value": v} for k, v in (others or {}).items()]
        opts.append({"name": focused, "type": 3, "value": text, "focused": True})
        data = {"id": snowflake(), "name": name, "type": 1, "options": opts}
        return self.interaction(4, data, **kwargs)

    def message_command(
        self, name: str, content: str, *, attachments: Sequence[dict[str, Any]] = (), **kwargs: Any
    ) -> dict[str, Any]:
        """A message context-menu command (type 2, command type 3) on a message with ``content``
        (and ``attachments``, see :meth:`attachment`)."""
        target = snowflake()
        author = {"id": "700000000000000009", "username": "logger", "discriminator": "0", "avatar": None}
        message = _message_object(target, kwargs, author, content, message_type=0, flags=0)
        message["attachments"] = list(attachments)
        data = {
            "id": snowflake(),
            "name": name,
            "type": 3,
            "target_id": target,
            "resolved": {"messages": {target: message}},
        }
        return self.interaction(2, data, **kwargs)

    def button(
        self,
        custom_id: str,
        *,
        embeds: Sequence[dict[str, Any]] = (),
        attachments: Sequence[dict[str, Any]] = (),
        **kwargs: Any,
    ) -> dict[str, Any]:
        """A button click (type 3) on an ephemeral message of ours (showing ``embeds`` and
        ``attachments``, as Discord includes them)."""
        message = _message_object(snowflake(), kwargs, self.bot_user, "", message_type=20, flags=64)
        message["components"] = []
        message["embeds"] = list(embeds)
        message["attachments"] = list(attachments)
        data = {"custom_id": custom_id, "component_type": 2}
        return self.interaction(3, data, message=message, **kwargs)
