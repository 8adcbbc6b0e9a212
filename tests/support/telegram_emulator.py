"""A Telegram Bot API emulator for tests and the benchmark: aiohttp on 127.0.0.1.

python-telegram-bot talks to it through its ``base_url`` exactly as it talks to Telegram:
``POST /bot<token>/<method>`` with form-encoded parameters (PTB's default, non-string values
JSON-encoded) or one JSON body (what the adapter sends). The emulator

* keeps a queue of updates and honours ``getUpdates(offset, limit, timeout)`` (long polling,
  batches of up to ``limit`` updates, confirmation by offset), or POSTs updates to a webhook
  registered with ``setWebhook`` (with its ``X-Telegram-Bot-Api-Secret-Token``);
* answers ``getMe``, ``sendMessage``, ``answerInlineQuery``, ``setMyCommands``,
  ``getChatMember``, ``setWebhook``/``deleteWebhook``/``getWebhookInfo``;
* holds files users sent (:meth:`TelegramEmulator.document`), answers ``getFile`` (400 for files
  over the 20 MB a bot may download) and serves ``/file/bot<token>/<file_path>``;
* takes uploads as Telegram does, ``multipart/form-data`` (``sendPhoto``, ``sendDocument``),
  checking each file against the method's limits (photo size, dimensions and ratio; caption
  length after entity parsing);
* parses ``parse_mode=HTML`` like Telegram (a strict subset; bad markup is a 400) and enforces
  Telegram's limits, recording every breach in :attr:`TelegramEmulator.violations`
  (``validate=False``, for the benchmark, keeps only the checks that shape its answers);
* checks every payload against ``../shared/specs/telegram-bot-api.json`` when that file exists
  (unknown fields, missing required fields, wrong nested objects; an uploaded file stands for an
  ``InputFile``);
* injects faults on chosen methods: 429 with ``retry_after`` (and checks that the client waited),
  502, connections reset before the request is processed, or after it was (a lost response);
  holds one chat under flood control (:meth:`TelegramEmulator.flood`); answers raw bodies
  (:attr:`TelegramEmulator.raw_replies`) that Telegram never would.

Tests drive it with the factories (:meth:`TelegramEmulator.message`,
:meth:`TelegramEmulator.inline_query`) and read what the bot sent in :attr:`sent` and
:attr:`inline_answers`.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import random
import re
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "specs" / "telegram-bot-api.json"
DEFAULT_TOKEN = "123456789:AAHemulatorTokenForTestsOnly-0123456789"
BOT_ID = 123456789
BOT_USERNAME = "HttpStatusTestBot"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
# What a bot may download through getFile, and upload as a photo or a document (Bot API docs;
# "MB" there is read as MiB, the larger reading).
DOWNLOAD_LIMIT = 20 * 1024 * 1024
PHOTO_LIMIT = 10 * 1024 * 1024
DOCUMENT_LIMIT = 50 * 1024 * 1024
INLINE_RESULTS_LIMIT = 50
BYTES_64 = 64
ADMIN_RIGHTS = (
    "can_be_edited",
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)
BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
# How PTB encodes form fields: these are JSON, these are integers, these are booleans.
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "link_preview_options",
        "reply_parameters",
        "entities",
        "results",
        "button",
        "commands",
        "scope",
        "allowed_updates",
        "suggested_post_parameters",
        "caption_entities",
    }
)
INT_FIELDS = frozenset(
    {
        "chat_id",
        "user_id",
        "message_thread_id",
        "direct_messages_topic_id",
        "offset",
        "limit",
        "timeout",
        "cache_time",
        "max_connections",
    }
)
BOOL_FIELDS = frozenset(
    {"is_personal", "drop_pending_updates", "disable_notification", "protect_content", "allow_paid_broadcast"}
)


def free_port() -> int:
    """A TCP port nothing listens on right now (on 127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram measures text and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


# ---- HTML, the way Telegram parses it ---------------------------------------------------


class EntityError(ValueError):
    """What Telegram answers as ``Bad Request: can't parse entities: ...``."""


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:=\"[^\"<>]*\"|='[^'<>]*')?)*)\s*>")
_ENTITY = re.compile(r"&(?:#(\d{1,7})|#x([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")
_SPECIAL = re.compile(r"[<>&]")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML parse mode: the visible text and its entities (UTF-16 offsets).

    Strict where Telegram's documentation is: every ``<``, ``>`` and ``&`` that is not part of a
    tag or an entity must be escaped, tags must be supported and properly nested.
    """
    out: list[str] = []
    position = 0  # in UTF-16 units
    stack: list[tuple[str, int, str]] = []
    entities: list[dict[str, Any]] = []
    index = 0
    for special in _SPECIAL.finditer(text):
        start = special.start()
        if start < index:
            continue
        chunk = text[index:start]
        out.append(chunk)
        position += utf16_len(chunk)
        char = special.group()
        if char == ">":
            raise EntityError(f"unescaped '>' at character {start}")
        if char == "&":
            entity = _ENTITY.match(text, start)
            if entity is None:
                raise EntityError(f"unescaped '&' at character {start}")
            decimal, hexadecimal, name = entity.groups()
            decoded = _NAMED[name] if name else chr(int(decimal) if decimal else int(hexadecimal, 16))
            out.append(decoded)
            position += utf16_len(decoded)
            index = entity.end()
            continue
        tag = _TAG.match(text, start)
        if tag is None:
            raise EntityError(f"unescaped '<' at character {start}")
        closing, name, attributes = tag.group(1), tag.group(2).lower(), tag.group(3)
        if name not in _HTML_TAGS:
            raise EntityError(f"unsupported tag <{name}> at character {start}")
        if closing:
            if not stack or stack[-1][0] != name:
                raise EntityError(f"unmatched </{name}> at character {start}")
            _, begin, attrs = stack.pop()
            if position > begin:
                entity_dict: dict[str, Any] = {
                    "type": _HTML_TAGS[name],
                    "offset": begin,
                    "length": position - begin,
                }
                if name == "a":
                    href = re.search(r"href=[\"']([^\"']*)", attrs)
                    entity_dict["url"] = html.unescape(href.group(1)) if href else ""
                entities.append(entity_dict)
        else:
            if name == "a" and "href=" not in attributes:
                raise EntityError(f"<a> without href at character {start}")
            if name == "span" and "tg-spoiler" not in attributes:
                raise EntityError(f"<span> without class tg-spoiler at character {start}")
            stack.append((name, position, attributes))
        index = tag.end()
    tail = text[index:]
    out.append(tail)
    if stack:
        raise EntityError(f"unclosed <{stack[-1][0]}>")
    return "".join(out), sorted(entities, key=lambda e: (e["offset"], -e["length"]))


# ---- the published Bot API description --------------------------------------------------


class SpecChecker:
    """Validates payloads against the machine-readable Bot API description."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        self.methods: Mapping[str, Any] = spec["methods"]
        self.types: Mapping[str, Any] = spec["types"]

    @classmethod
    def load(cls, path: Path = SPEC_PATH) -> SpecChecker | None:
        """The checker, or ``None`` when the specs folder is absent."""
        try:
            return cls(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None

    def fields(self, owner: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
        """A method's or type's fields by name."""
        return {f["name"]: f for f in owner.get("fields", ())}

    def check_method(self, method: str, params: Mapping[str, Any]) -> list[str]:
        """Every way ``params`` is not a valid call of ``method``."""
        described = self.methods.get(method)
        if described is None:
            return [f"{method}: not a Bot API method"]
        return self._check_fields(method, self.fields(described), params)

    def check_type(self, name: str, value: Any, where: str) -> list[str]:
        """Every way ``value`` is not a valid ``name`` object."""
        described = self.types.get(name)
        if described is None:
            return []
        subtypes = described.get("subtypes")
        if subtypes:
            attempts = [self.check_type(sub, value, where) for sub in subtypes]
            if any(not problems for problems in attempts):
                return []
            return [f"{where}: matches no subtype of {name}"]
        if not isinstance(value, dict):
            return [f"{where}: {name} must be an object"]
        return self._check_fields(where, self.fields(described), value)

    def _check_fields(
        self, where: str, known: Mapping[str, Mapping[str, Any]], value: Mapping[str, Any]
    ) -> list[str]:
        problems = [f"{where}: unknown field {key!r}" for key in value if key not in known]
        problems += [
            f"{where}: required field {name!r} missing"
            for name, f in known.items()
            if f["required"] and name not in value
        ]
        for key, item in value.items():
            if key in known:
                problems += self._check_value(f"{where}.{key}", known[key]["types"], item)
        return problems

    def _check_value(self, where: str, types: Iterable[str], value: Any) -> list[str]:
        attempts: list[list[str]] = []
        for kind in types:
            attempts.append(self._check_one(where, kind, value))
            if not attempts[-1]:
                return []
        return attempts[0] if attempts else []

    def _check_one(self, where: str, kind: str, value: Any) -> list[str]:
        if kind == "InputFile":
            return [] if isinstance(value, Upload) else [f"{where}: expected an uploaded file"]
        if isinstance(value, Upload):
            return [f"{where}: a file was uploaded where {kind} was expected"]
        if kind.startswith("Array of "):
            if not isinstance(value, list):
                return [f"{where}: expected {kind}"]
            inner = kind.removeprefix("Array of ")
            return [p for i, item in enumerate(value) for p in self._check_one(f"{where}[{i}]", inner, item)]
        primitive = {
            "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "String": lambda v: isinstance(v, str),
            "Boolean": lambda v: isinstance(v, bool),
            "Float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        }.get(kind)
        if primitive is not None:
            return [] if primitive(value) else [f"{where}: expected {kind}, got {value!r:.60}"]
        return self.check_type(kind, value, where)


# ---- Telegram's documented limits -------------------------------------------------------


def check_keyboard(markup: Any, where: str) -> list[str]:
    """Inline keyboard rules: non-empty button text, one action each, 1-64 byte callback data."""
    problems: list[str] = []
    if not isinstance(markup, dict) or not isinstance(markup.get("inline_keyboard"), list):
        return [f"{where}: reply_markup is not an inline keyboard"]
    count = 0
    for r, row in enumerate(markup["inline_keyboard"]):
        if not isinstance(row, list) or not row:
            problems.append(f"{where}: row {r} is empty")
            continue
        if len(row) > 8:
            problems.append(f"{where}: row {r} has {len(row)} buttons (max 8)")
        for b, button in enumerate(row):
            count += 1
            at = f"{where}: button {r}.{b}"
            text = button.get("text", "")
            if not isinstance(text, str) or not text.strip():
                problems.append(f"{at} has no text")
            actions = [a for a in BUTTON_ACTIONS if a in button]
            if len(actions) != 1:
                problems.append(f"{at} has {len(actions)} actions (exactly one needed)")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= BYTES_64:
                problems.append(f"{at}: callback_data must be 1-64 bytes")
            url = button.get("url")
            if url is not None and not str(url).startswith(("https://", "http://", "tg://")):
                problems.append(f"{at}: url {url!r} has no allowed scheme")
            if url is not None and str(url).startswith("tg://user"):
                problems.append(f"{at}: links to a user")
    if count > 100:
        problems.append(f"{where}: {count} buttons (max 100)")
    return problems


@lru_cache(maxsize=4096)
def _parse_once(text: str) -> tuple[str, tuple[dict[str, Any], ...]] | str:
    """parse_html, memoised: a benchmark sends the same cards over and over, and the emulator
    must not be what limits the bot's rate. An error comes back as its message."""
    try:
        visible, entities = parse_html(text)
    except EntityError as exc:
        return str(exc)
    return visible, tuple(entities)


def check_text(text: Any, parse_mode: Any, where: str) -> tuple[list[str], str, list[dict[str, Any]]]:
    """Problems of a message text, and the visible text and entities Telegram would derive."""
    if not isinstance(text, str):
        return [f"{where}: text is not a string"], "", []
    entities: list[dict[str, Any]] = []
    visible = text
    if parse_mode == "HTML":
        parsed = _parse_once(text)
        if isinstance(parsed, str):
            return [f"{where}: can't parse entities: {parsed}"], text, []
        visible, entities = parsed[0], [dict(e) for e in parsed[1]]
    elif parse_mode is not None:
        return [f"{where}: unexpected parse_mode {parse_mode!r}"], text, []
    problems: list[str] = []
    length = utf16_len(visible.strip())
    if length == 0:
        problems.append(f"{where}: text is empty")
    if length > TEXT_LIMIT:
        problems.append(f"{where}: text is {length} characters after entity parsing (max {TEXT_LIMIT})")
    if any(e["type"] in ("text_mention",) or str(e.get("url", "")).startswith("tg://user") for e in entities):
        problems.append(f"{where}: mentions a user")
    return problems, visible, entities


def check_caption(caption: Any, parse_mode: Any, where: str) -> tuple[list[str], str, list[dict[str, Any]]]:
    """Problems of a media caption (0-1024 characters after entity parsing), its visible text
    and entities."""
    if caption is None:
        return [], "", []
    problems, visible, entities = check_text(caption, parse_mode, where)
    problems = [p for p in problems if "text is empty" not in p and "after entity parsing" not in p]
    length = utf16_len(visible.strip())
    if length > CAPTION_LIMIT:
        problems.append(f"{where}: caption is {length} characters after entity parsing (max {CAPTION_LIMIT})")
    return problems, visible, entities


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG or JPEG, read from its header; ``None`` for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        index = 2
        while index + 9 < len(data):
            if data[index] != 0xFF:
                return None
            marker = data[index + 1]
            length = int.from_bytes(data[index + 2 : index + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[index + 5 : index + 9])
                return int(width), int(height)
            index += 2 + length
    return None


def photo_problems(upload: Upload, where: str) -> list[str]:
    """What Telegram refuses in an uploaded photo: over 10 MB, not an image, width + height over
    10000, or a side more than 20 times the other."""
    problems: list[str] = []
    if len(upload.data) > PHOTO_LIMIT:
        problems.append(f"{where}: photo is {len(upload.data)} bytes (max {PHOTO_LIMIT})")
    size = image_size(upload.data)
    if size is None:
        return [*problems, f"{where}: photo is neither PNG nor JPEG"]
    width, height = size
    if width + height > 10_000:
        problems.append(f"{where}: photo is {width}x{height} (width + height must not exceed 10000)")
    if min(width, height) == 0 or max(width, height) / min(width, height) > 20:
        problems.append(f"{where}: photo is {width}x{height} (ratio must be at most 20)")
    return problems


# ---- state ------------------------------------------------------------------------------


@dataclass
class Faults:
    """Faults injected into one method's calls.

    ``script`` is consumed first, one action per call (``"ok"``, ``"reset"``, ``"reset_after"``,
    ``"502"``, ``"429"``, and for file downloads ``"404"``); then each call draws from the
    probabilities with a seeded generator.
    ``"reset"`` drops the connection before the request is processed (nothing happened);
    ``"reset_after"`` processes it and then drops the connection (the response is lost).
    """

    reset: float = 0.0
    reset_after: float = 0.0
    server_error: float = 0.0
    rate_limit: float = 0.0
    retry_after: int = 1
    seed: int = 0
    script: list[str] = field(default_factory=list)
    # Random faults never hit more than this many calls in a row, so that a client with a few
    # attempts always gets through: the test is about recovery, not about luck.
    max_streak: int = 3
    # Seconds each call of the method takes (to keep replies in flight).
    delay: float = 0.0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        # Per chat: the bot answers chats concurrently, and the promise is per client retry loop.
        self._streaks: dict[object, int] = {}

    def next(self, key: object = None) -> str:
        """The action for the next call (``key``: the chat it is for, if any)."""
        streak = self._streaks.get(key, 0)
        if self.script:
            action = self.script.pop(0)
            self._streaks[key] = streak + 1 if action != "ok" else 0
            return action
        action = "ok"
        roll = self._rng.random()
        for candidate, chance in (
            ("reset", self.reset),
            ("reset_after", self.reset_after),
            ("502", self.server_error),
            ("429", self.rate_limit),
        ):
            if roll < chance:
                action = candidate
                break
            roll -= chance
        if action != "ok" and streak >= self.max_streak:
            action = "ok"
        self._streaks[key] = streak + 1 if action != "ok" else 0
        return action


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class StoredFile:
    """A file a user sent, as Telegram keeps it for ``getFile`` and downloads."""

    file_id: str
    unique_id: str
    data: bytes
    path: str
    announced: bool = True
    downloads: int = 0


@dataclass
class Call:
    """One request the bot made."""

    method: str
    params: dict[str, Any]
    at: float
    outcome: str = "ok"


@dataclass
class Sent:
    """A message the bot sent (committed by the emulator)."""

    message_id: int
    chat_id: int
    html: str
    text: str
    entities: list[dict[str, Any]]
    params: dict[str, Any]
    at: float
    method: str = "sendMessage"
    upload: Upload | None = None

    @property
    def reply_to(self) -> int | None:
        """The message id it quotes, if any."""
        reply = self.params.get("reply_parameters")
        return reply.get("message_id") if isinstance(reply, dict) else None

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """Every inline keyboard button, row after row."""
        markup = self.params.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]


@dataclass
class InlineAnswer:
    """An ``answerInlineQuery`` call the emulator accepted."""

    inline_query_id: str
    results: list[dict[str, Any]]
    params: dict[str, Any]
    at: float

    @property
    def next_offset(self) -> str:
        """The offset to ask for the next page ("" when there is none)."""
        return str(self.params.get("next_offset", ""))


def _error(code: int, description: str, **parameters: Any) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.Response(status=code, body=json.dumps(body).encode(), content_type="application/json")


def _ok(result: Any) -> web.Response:
    return web.Response(
        body=json.dumps({"ok": True, "result": result}).encode(), content_type="application/json"
    )


class TelegramEmulator:
    """The Bot API on ``127.0.0.1``; see the module docstring."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = BOT_USERNAME,
        validate: bool = True,
        spec: SpecChecker | bool | None = True,
        record_calls: bool = True,
    ) -> None:
        self.token = token
        self.bot_user = {
            "id": int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else BOT_ID,
            "is_bot": True,
            "first_name": "HTTP status",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
        }
        self.validate = validate
        self.spec: SpecChecker | None = SpecChecker.load() if spec is True else (spec or None)
        self.record_calls = record_calls
        self.port = 0
        self.calls: list[Call] = []
        self.sent: list[Sent] = []
        self.inline_answers: list[InlineAnswer] = []
        self.violations: list[str] = []
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.faults: dict[str, Faults] = {}
        # Bodies answered (with status 200) instead of the real result, one per call, first
        # in first out: a proxy or a bug returning what Telegram never would.
        self.raw_replies: dict[str, list[bytes]] = {}
        self.admins: dict[int, set[int]] = {}
        self.owners: dict[int, int] = {}
        self.webhook: dict[str, Any] = {}
        self.first_delivery: float | None = None
        self._pending: deque[dict[str, Any]] = deque()
        self._update_ids = itertools.count(1)
        self._inline_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self.files: dict[str, StoredFile] = {}
        self._file_ids = itertools.count(1)
        self._chats: dict[int, dict[str, Any]] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._arrived = asyncio.Event()
        self._changed = asyncio.Event()
        self._flood_until: dict[tuple[str, Any], float] = {}
        # (method, chat) pairs held under flood control by flood(): retrying early is expected.
        self.flooded: set[tuple[str, Any]] = set()
        self._runner: web.AppRunner | None = None
        self._closing = False

    # ---- server -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """python-telegram-bot's ``base_url`` for this emulator."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1 (a free port unless one is given)."""
        # Uploads go up to the 50 MB of sendDocument, and a little over to see a breach.
        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Wake long polls and close."""
        self._closing = True
        self._arrived.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> TelegramEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params, time.monotonic())
        if self.record_calls:
            self.calls.append(call)
        if ":" not in token:
            call.outcome = "404"
            return _error(404, "Not Found")
        if token != self.token:
            call.outcome = "401"
            return _error(401, "Unauthorized")
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            call.outcome = "404"
            return _error(404, "Not Found: method not found")
        if self.validate and self.spec is not None:
            for problem in self.spec.check_method(method, params):
                self.violations.append(f"spec: {problem}")
        raw = self.raw_replies.get(method)
        if raw:
            call.outcome = "raw"
            return web.Response(body=raw.pop(0), content_type="application/json")
        faults = self.faults.get(method)
        chat = params.get("chat_id")
        action = faults.next(chat) if faults else "ok"
        if faults and faults.delay:
            await asyncio.sleep(faults.delay)
        if action != "ok":
            call.outcome = action
        if action == "reset":
            return self._reset(request)
        if action == "502":
            return _error(502, "Bad Gateway")
        # Telegram limits sends per chat (and per bot, far above what tests send).
        flood_key = (method, chat)
        flood = self._flood_until.get(flood_key, 0.0)
        now = time.monotonic()
        if action == "429" or now < flood:
            if now < flood - 0.05 and flood_key not in self.flooded:
                self.violations.append(f"{method}: retried {flood - now:.2f} s before retry_after elapsed")
            wait = faults.retry_after if faults and action == "429" else max(1, round(flood - now))
            if action == "429":
                self._flood_until[flood_key] = now + wait
            call.outcome = "429"
            return _error(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        response: web.StreamResponse = await handler(params)
        if action == "reset_after":
            return self._reset(request)
        return response

    @staticmethod
    def _reset(request: web.Request) -> web.Response:
        # SO_LINGER 0 makes close() send RST: the client sees "connection reset by peer".
        transport = request.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        return web.Response(status=500)

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data = await request.json()
            return dict(data) if isinstance(data, dict) else {}
        form = await request.post() if request.can_read_body else {}
        params: dict[str, Any] = {}
        for key, value in dict(form).items():
            if isinstance(value, web.FileField):
                params[key] = Upload(value.filename, value.content_type, value.file.read())
                continue
            if not isinstance(value, str):
                continue
            if key in JSON_FIELDS:
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    params[key] = value
            elif key in INT_FIELDS and re.fullmatch(r"-?\d+", value):
                params[key] = int(value)
            elif key in BOOL_FIELDS and value in ("true", "false", "True", "False"):
                params[key] = value.lower() == "true"
            else:
                params[key] = value
        for key in ("request_data",):
            params.pop(key, None)
        return params

    def _touch(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # ---- methods ------------------------------------------------------------------------

    async def _m_getMe(self, params: dict[str, Any]) -> web.Response:
        return _ok(self.bot_user)

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = {}
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return _ok(True)

    async def _m_setWebhook(self, params: dict[str, Any]) -> web.Response:
        url = params.get("url", "")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            return _error(400, "Bad Request: secret token contains unallowed characters")
        if url and not str(url).startswith(("https://", "http://127.0.0.1", "http://localhost")):
            return _error(400, "Bad Request: bad webhook: HTTPS url must be provided for webhook")
        self.webhook = {"url": url, "secret_token": secret, "allowed_updates": params.get("allowed_updates")}
        self._touch()
        return _ok(True)

    async def _m_getWebhookInfo(self, params: dict[str, Any]) -> web.Response:
        return _ok(
            {
                "url": self.webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._pending),
            }
        )

    async def _m_setMyCommands(self, params: dict[str, Any]) -> web.Response:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            return _error(400, "Bad Request: commands must be a list of at most 100")
        for command in commands:
            name, description = command.get("command", ""), command.get("description", "")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                self.violations.append(f"setMyCommands: bad command name {name!r}")
            if not 1 <= len(description) <= 256:
                self.violations.append(f"setMyCommands: description of /{name} must be 1-256 characters")
        language = params.get("language_code", "")
        if language and not re.fullmatch(r"[a-z]{2}", language):
            self.violations.append(f"setMyCommands: language_code {language!r} is not ISO 639-1")
        scope = params.get("scope") or {"type": "default"}
        self.commands[(scope.get("type", "default"), language)] = commands
        self._touch()
        return _ok(True)

    async def _m_getUpdates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook.get("url"):
            return _error(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        limit = max(1, min(int(params.get("limit") or 100), 100))
        timeout = float(params.get("timeout") or 0)
        while self._pending and self._pending[0]["update_id"] < offset:
            self._pending.popleft()
        if not self._pending and timeout > 0 and not self._closing:
            arrived = self._arrived
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), timeout)
        batch = list(itertools.islice(self._pending, limit))
        if batch and self.first_delivery is None:
            self.first_delivery = time.monotonic()
        return _ok(batch)

    def _chat_of(self, chat_id: Any) -> dict[str, Any] | None:
        return self._chats.get(chat_id) if isinstance(chat_id, int) else None

    async def _m_sendMessage(self, params: dict[str, Any]) -> web.Response:
        chat = self._chat_of(params.get("chat_id"))
        if chat is None:
            return _error(400, "Bad Request: chat not found")
        problems, visible, entities = check_text(params.get("text"), params.get("parse_mode"), "sendMessage")
        if params.get("parse_mode") == "HTML" and any("can't parse" in p for p in problems):
            self.violations.extend(problems)
            return _error(400, f"Bad Request: {problems[0].split(': ', 1)[1]}")
        if "reply_markup" in params and self.validate:
            problems += check_keyboard(params["reply_markup"], "sendMessage")
        preview = params.get("link_preview_options")
        if not (isinstance(preview, dict) and preview.get("is_disabled")):
            problems.append("sendMessage: link previews are not disabled")
        self.violations.extend(problems)
        if any("characters after entity parsing" in p or "text is empty" in p for p in problems):
            return _error(
                400,
                "Bad Request: message is too long"
                if visible.strip()
                else "Bad Request: message text is empty",
            )
        chat_id = chat["id"]
        message_id = next(self._message_ids.setdefault(chat_id, itertools.count(1)))
        now = time.monotonic()
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": self.bot_user,
            "text": visible,
        }
        if entities:
            message["entities"] = entities
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        reply_to = params.get("reply_parameters")
        if isinstance(reply_to, dict):
            original = self._messages.get((chat_id, reply_to.get("message_id", 0)))
            if original is not None:
                message["reply_to_message"] = original
            elif not reply_to.get("allow_sending_without_reply"):
                return _error(400, "Bad Request: message to be replied not found")
        if "message_thread_id" in params:
            message["message_thread_id"] = params["message_thread_id"]
            message["is_topic_message"] = True
        self.sent.append(Sent(message_id, chat_id, str(params.get("text")), visible, entities, params, now))
        self._touch()
        return _ok(message)

    async def _m_answerInlineQuery(self, params: dict[str, Any]) -> web.Response:
        results = params.get("results")
        where = "answerInlineQuery"
        if not isinstance(results, list):
            return _error(400, "Bad Request: results must be a list")
        if not self.validate:
            self.inline_answers.append(
                InlineAnswer(str(params.get("inline_query_id")), results, params, time.monotonic())
            )
            self._touch()
            return _ok(True)
        problems: list[str] = []
        if len(results) > INLINE_RESULTS_LIMIT:
            problems.append(f"{where}: {len(results)} results (max {INLINE_RESULTS_LIMIT})")
        offset = str(params.get("next_offset", ""))
        if len(offset.encode()) > BYTES_64:
            problems.append(f"{where}: next_offset is longer than 64 bytes")
        ids = [str(r.get("id", "")) for r in results]
        if len(set(ids)) != len(ids):
            problems.append(f"{where}: duplicate result ids")
        for r in results:
            rid = str(r.get("id", ""))
            at = f"{where} result {rid}"
            if not 1 <= len(rid.encode()) <= BYTES_64:
                problems.append(f"{at}: id must be 1-64 bytes")
            if not str(r.get("title", "")).strip():
                problems.append(f"{at}: empty title")
            content = r.get("input_message_content") or {}
            found, _, _ = check_text(content.get("message_text"), content.get("parse_mode"), at)
            problems += found
            preview = content.get("link_preview_options")
            if not (isinstance(preview, dict) and preview.get("is_disabled")):
                problems.append(f"{at}: link previews are not disabled")
            if "reply_markup" in r:
                problems += check_keyboard(r["reply_markup"], at)
        button = params.get("button")
        if isinstance(button, dict):
            start = button.get("start_parameter")
            if start is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", str(start)):
                problems.append(f"{where}: bad start_parameter {start!r}")
            if not str(button.get("text", "")).strip():
                problems.append(f"{where}: button without text")
        self.violations.extend(problems)
        if any("can't parse" in p for p in problems):
            return _error(400, "Bad Request: can't parse entities in an inline result")
        self.inline_answers.append(
            InlineAnswer(str(params.get("inline_query_id")), results, params, time.monotonic())
        )
        self._touch()
        return _ok(True)

    async def _m_getFile(self, params: dict[str, Any]) -> web.Response:
        stored = self.files.get(str(params.get("file_id", "")))
        if stored is None:
            return _error(400, "Bad Request: invalid file_id")
        if len(stored.data) > DOWNLOAD_LIMIT:
            if stored.announced:
                # The size was in the message: a bot should not have asked.
                self.violations.append(f"getFile: {stored.file_id} was announced as {len(stored.data)} bytes")
            return _error(400, "Bad Request: file is too big")
        return _ok(
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.unique_id,
                "file_size": len(stored.data),
                "file_path": stored.path,
            }
        )

    async def _download(self, request: web.Request) -> web.StreamResponse:
        """``GET /file/bot<token>/<file_path>``, as Telegram serves what getFile prepared."""
        token = request.match_info["token"]
        path = request.match_info["path"]
        call = Call("file", {"path": path}, time.monotonic())
        if self.record_calls:
            self.calls.append(call)
        if token != self.token:
            call.outcome = "401"
            return _error(401, "Unauthorized")
        faults = self.faults.get("file")
        action = faults.next() if faults else "ok"
        if faults and faults.delay:
            await asyncio.sleep(faults.delay)
        if action == "reset":
            call.outcome = action
            return self._reset(request)
        if action == "502":
            call.outcome = action
            return _error(502, "Bad Gateway")
        if action == "404":  # the link expired, or the file is gone
            call.outcome = action
            return _error(404, "Not Found")
        stored = next((f for f in self.files.values() if f.path == path), None)
        if stored is None:
            call.outcome = "404"
            return _error(404, "Not Found")
        stored.downloads += 1
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def _m_sendPhoto(self, params: dict[str, Any]) -> web.Response:
        return await self._send_file("sendPhoto", "photo", params)

    async def _m_sendDocument(self, params: dict[str, Any]) -> web.Response:
        return await self._send_file("sendDocument", "document", params)

    async def _send_file(self, method: str, field_name: str, params: dict[str, Any]) -> web.Response:
        chat = self._chat_of(params.get("chat_id"))
        if chat is None:
            return _error(400, "Bad Request: chat not found")
        upload = params.get(field_name)
        if not isinstance(upload, Upload):
            # A file_id or URL would be fetched by Telegram; this bot always uploads.
            self.violations.append(f"{method}: {field_name} is not an uploaded file")
            return _error(400, f"Bad Request: there is no {field_name} in the request")
        problems, visible, entities = check_caption(params.get("caption"), params.get("parse_mode"), method)
        if any("can't parse" in p for p in problems):
            self.violations.extend(problems)
            return _error(400, f"Bad Request: {problems[0].split(': ', 1)[1]}")
        if method == "sendPhoto":
            problems += photo_problems(upload, method)
        elif len(upload.data) > DOCUMENT_LIMIT:
            problems.append(f"{method}: document is {len(upload.data)} bytes (max {DOCUMENT_LIMIT})")
        if not upload.data:
            problems.append(f"{method}: the file is empty")
        if "reply_markup" in params and self.validate:
            problems += check_keyboard(params["reply_markup"], method)
        self.violations.extend(problems)
        if problems:
            return _error(400, f"Bad Request: {problems[0].split(': ', 1)[1]}")
        chat_id = chat["id"]
        message_id = next(self._message_ids.setdefault(chat_id, itertools.count(1)))
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": self.bot_user,
        }
        file_id = f"sent-{message_id}-{chat_id}"
        if method == "sendPhoto":
            width, height = image_size(upload.data) or (0, 0)
            message["photo"] = [
                {
                    "file_id": file_id,
                    "file_unique_id": file_id,
                    "width": width,
                    "height": height,
                    "file_size": len(upload.data),
                }
            ]
        else:
            message["document"] = {
                "file_id": file_id,
                "file_unique_id": file_id,
                "file_name": upload.filename,
                "file_size": len(upload.data),
            }
        if visible:
            message["caption"] = visible
        if entities:
            message["caption_entities"] = entities
        reply_to = params.get("reply_parameters")
        if isinstance(reply_to, dict):
            original = self._messages.get((chat_id, reply_to.get("message_id", 0)))
            if original is not None:
                message["reply_to_message"] = original
            elif not reply_to.get("allow_sending_without_reply"):
                return _error(400, "Bad Request: message to be replied not found")
        if "message_thread_id" in params:
            message["message_thread_id"] = params["message_thread_id"]
            message["is_topic_message"] = True
        caption = params.get("caption")
        self.sent.append(
            Sent(
                message_id,
                chat_id,
                str(caption) if caption is not None else "",
                visible,
                entities,
                params,
                time.monotonic(),
                method=method,
                upload=upload,
            )
        )
        self._touch()
        return _ok(message)

    async def _m_getChatMember(self, params: dict[str, Any]) -> web.Response:
        chat_id, user_id = params.get("chat_id"), params.get("user_id")
        user = {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}
        if isinstance(chat_id, int) and self.owners.get(chat_id) == user_id:
            return _ok({"status": "creator", "user": user, "is_anonymous": False})
        if isinstance(chat_id, int) and user_id in self.admins.get(chat_id, set()):
            member: dict[str, Any] = {"status": "administrator", "user": user, "is_anonymous": False}
            member.update(dict.fromkeys(ADMIN_RIGHTS, True))
            return _ok(member)
        return _ok({"status": "member", "user": user})

    # ---- building updates ---------------------------------------------------------------

    @staticmethod
    def user(
        user_id: int = 1001, *, language_code: str | None = "en", first_name: str = "Ada"
    ) -> dict[str, Any]:
        """A Telegram user."""
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code is not None:
            user["language_code"] = language_code
        return user

    def private_chat(self, user: Mapping[str, Any]) -> dict[str, Any]:
        """The private chat between ``user`` and the bot."""
        chat = {"id": user["id"], "type": "private", "first_name": user.get("first_name", "")}
        self._chats[chat["id"]] = chat
        return chat

    def group(
        self, chat_id: int = -1001234567890, *, title: str = "Backend team", forum: bool = False
    ) -> dict[str, Any]:
        """A supergroup."""
        chat: dict[str, Any] = {"id": chat_id, "type": "supergroup", "title": title}
        if forum:
            chat["is_forum"] = True
        self._chats[chat_id] = chat
        return chat

    def flood(self, chat_id: int, seconds: float, method: str = "sendMessage") -> None:
        """Answer every ``method`` call for ``chat_id`` with 429 for ``seconds`` (a chat that
        Telegram rate-limits), each 429 giving the time left."""
        key = (method, chat_id)
        self._flood_until[key] = time.monotonic() + seconds
        self.flooded.add(key)

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates."""
        self._pending.append(update)
        self._arrived.set()
        self._arrived = asyncio.Event()
        return update

    def document(
        self,
        data: bytes,
        file_name: str | None = "access.log",
        *,
        mime_type: str | None = "text/plain",
        announce_size: bool = True,
    ) -> dict[str, Any]:
        """A file a user sends (a ``Document``), kept for getFile and downloads.

        Without ``announce_size`` the document carries no ``file_size`` (it is optional in the
        Bot API), so the bot learns the size only from getFile or the download.
        """
        number = next(self._file_ids)
        file_id = f"BQACAgQAAx0document{number:04d}"
        stored = StoredFile(
            file_id, f"AgAD{number:04d}", data, f"documents/file_{number}.bin", announced=announce_size
        )
        self.files[file_id] = stored
        document: dict[str, Any] = {"file_id": file_id, "file_unique_id": stored.unique_id}
        if file_name is not None:
            document["file_name"] = file_name
        if mime_type is not None:
            document["mime_type"] = mime_type
        if announce_size:
            document["file_size"] = len(data)
        return document

    def message(
        self,
        text: str,
        *,
        document: Mapping[str, Any] | None = None,
        user: Mapping[str, Any] | None = None,
        chat: Mapping[str, Any] | None = None,
        reply_to: Mapping[str, Any] | None = None,
        quote: str | None = None,
        thread_id: int | None = None,
        via_bot: Mapping[str, Any] | None = None,
        sender_chat: Mapping[str, Any] | None = None,
        queue: bool = True,
    ) -> dict[str, Any]:
        """An update carrying a new message (queued for getUpdates unless ``queue`` is false).

        A leading ``/command`` gets its ``bot_command`` entity, as Telegram adds it. With a
        ``document`` (see :meth:`document`) ``text`` is its caption ("" for none).
        """
        user = dict(user or self.user())
        chat = dict(chat or self.private_chat(user))
        self._chats.setdefault(chat["id"], chat)
        message_id = next(self._message_ids.setdefault(chat["id"], itertools.count(1)))
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": user,
        }
        text_key, entities_key = (
            ("caption", "caption_entities") if document is not None else ("text", "entities")
        )
        if document is not None:
            message["document"] = dict(document)
        if text or document is None:
            message[text_key] = text
        if sender_chat is not None:
            message["sender_chat"] = dict(sender_chat)
        command = re.match(r"/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?", text)
        if command:
            message[entities_key] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command.group())}
            ]
        if reply_to is not None:
            message["reply_to_message"] = dict(reply_to)
        if quote is not None:
            message["quote"] = {"text": quote, "position": 0}
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if via_bot is not None:
            message["via_bot"] = dict(via_bot)
        self._messages[(chat["id"], message_id)] = message
        update = {"update_id": next(self._update_ids), "message": message}
        return self.push(update) if queue else update

    def inline_query(
        self, query: str, *, user: Mapping[str, Any] | None = None, offset: str = "", queue: bool = True
    ) -> dict[str, Any]:
        """An update carrying an inline query."""
        inline = {
            "id": str(next(self._inline_ids)),
            "from": dict(user or self.user()),
            "query": query,
            "offset": offset,
            "chat_type": "sender",
        }
        update = {"update_id": next(self._update_ids), "inline_query": inline}
        return self.push(update) if queue else update

    # ---- webhook driving ----------------------------------------------------------------

    async def deliver(
        self,
        update: Mapping[str, Any],
        *,
        secret: str | None = None,
        content_type: str = "application/json",
        url: str | None = None,
    ) -> int:
        """POST ``update`` to the registered webhook as Telegram does; the HTTP status."""
        target = url or self.webhook.get("url")
        assert target, "no webhook registered"
        token = self.webhook.get("secret_token") if secret is None else secret
        headers = {"Content-Type": content_type}
        if token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        async with (
            ClientSession(timeout=ClientTimeout(total=10)) as session,
            session.post(target, data=json.dumps(update).encode(), headers=headers) as response,
        ):
            return response.status

    # ---- reading what happened ----------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        """Wait until ``predicate()`` holds (checked after every committed call)."""
        deadline = time.monotonic() + within
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the emulator did not see what the test waited for")
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, 0.05))

    def replies_to(self, update: Mapping[str, Any]) -> list[Sent]:
        """Messages the bot sent in answer to a message update.

        In a group the bot quotes the message it answers; in a private chat it does not, so
        every message to that chat counts (tests give each private update its own chat).
        """
        message = update["message"]
        chat_id = message["chat"]["id"]
        if message["chat"]["type"] == "private":
            return [s for s in self.sent if s.chat_id == chat_id]
        return [s for s in self.sent if s.chat_id == chat_id and s.reply_to == message["message_id"]]

    def answers_to(self, update: Mapping[str, Any]) -> list[InlineAnswer]:
        """``answerInlineQuery`` calls for an inline-query update."""
        query_id = update["inline_query"]["id"]
        return [a for a in self.inline_answers if a.inline_query_id == query_id]

    def calls_of(self, method: str) -> list[Call]:
        """Recorded calls of ``method``."""
        return [c for c in self.calls if c.method == method]

    @property
    def pending(self) -> int:
        """Updates not yet confirmed by an offset."""
        return len(self._pending)
