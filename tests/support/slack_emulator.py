"""A small emulator of Slack, for driving the real Bolt for Python and slack_sdk in tests.

It plays both sides of the conversation:

* **Slack's Web API** (``POST``/``GET /api/<method>``, the token in ``Authorization: Bearer``):
  ``auth.test``, ``apps.connections.open`` (answering with this emulator's websocket URL),
  ``users.info`` (with ``include_locale``), ``conversations.info`` and ``chat.postMessage``, which
  can be made to answer 429 with ``Retry-After`` a number of times.
* **response_url**: ``POST /response/<id>`` records what the bot sends there.
* **Socket Mode**: ``/socket`` greets with ``hello``, then carries the envelopes a test sends
  (:meth:`SlackEmulator.envelope`) and collects their acknowledgements by ``envelope_id``.
* **HTTP mode**: :meth:`SlackEmulator.post` signs a request as Slack does (``v0`` HMAC-SHA256 of
  ``v0:{timestamp}:{body}`` with the signing secret) and sends it to the bot's endpoint, encoded as
  Slack encodes it: slash commands and interactivity as forms, events as JSON.

Every message the bot sends (through the Web API, a ``response_url`` or an acknowledgement) is
checked against Block Kit's documented limits; problems are collected in
:attr:`SlackEmulator.problems`, and the Web API answers ``invalid_blocks`` as Slack would.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

BOT_TOKEN = "xoxb-1111-2222-emulatedbottokenvalue"
APP_TOKEN = "xapp-1-A0001-3333-emulatedapptokenvalue"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0001"
BOT_USER = "UBOT0001"

# ---- Block Kit's limits, written out independently of the bot's renderer --------------------------
LIMITS = {
    "blocks": 50,
    "header": 150,
    "text": 3000,
    "fields": 10,
    "field": 2000,
    "context_elements": 10,
    "actions_elements": 25,
    "button_text": 75,
    "button_value": 2000,
    "button_url": 3000,
    "action_id": 255,
    "message_text": 40000,
}
BLOCK_TYPES = frozenset({"header", "section", "context", "actions", "divider"})

_ids = itertools.count(1)


def _text_problems(where: str, obj: Any, limit: int, kinds: tuple[str, ...]) -> list[str]:
    if not isinstance(obj, Mapping) or obj.get("type") not in kinds:
        return [f"{where}: not a text object of type {'/'.join(kinds)}"]
    text = obj.get("text")
    if not isinstance(text, str) or not 1 <= len(text) <= limit:
        return [f"{where}: text length {len(text) if isinstance(text, str) else text!r} outside 1..{limit}"]
    if "verbatim" in obj and obj["type"] != "mrkdwn":
        return [f"{where}: verbatim is for mrkdwn only"]
    if "emoji" in obj and obj["type"] != "plain_text":
        return [f"{where}: emoji is for plain_text only"]
    return []


def blocks_problems(message: Mapping[str, Any]) -> list[str]:
    """Everything in a message's ``text`` and ``blocks`` that Slack would refuse."""
    problems: list[str] = []
    text = message.get("text")
    blocks = message.get("blocks")
    if not text and not blocks:
        problems.append("message has neither text nor blocks")
    if isinstance(text, str) and len(text) > LIMITS["message_text"]:
        problems.append(f"text longer than {LIMITS['message_text']}")
    if blocks is None:
        return problems
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= LIMITS["blocks"]:
        return [*problems, f"blocks: {len(blocks) if isinstance(blocks, list) else blocks!r} outside 1..50"]
    action_ids: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind not in BLOCK_TYPES:
            problems.append(f"{where}: unknown block type {kind!r}")
            continue
        if kind == "header":
            problems += _text_problems(f"{where}.text", block.get("text"), LIMITS["header"], ("plain_text",))
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"{where}: a section needs text or fields")
            if "text" in block:
                problems += _text_problems(
                    f"{where}.text", block["text"], LIMITS["text"], ("mrkdwn", "plain_text")
                )
            if "fields" in block:
                fields = block["fields"]
                if not isinstance(fields, list) or not 1 <= len(fields) <= LIMITS["fields"]:
                    problems.append(f"{where}.fields: {len(fields)} outside 1..10")
                else:
                    for j, f in enumerate(fields):
                        problems += _text_problems(
                            f"{where}.fields[{j}]", f, LIMITS["field"], ("mrkdwn", "plain_text")
                        )
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= LIMITS["context_elements"]:
                problems.append(f"{where}.elements outside 1..10")
            else:
                for j, e in enumerate(elements):
                    problems += _text_problems(
                        f"{where}.elements[{j}]", e, LIMITS["text"], ("mrkdwn", "plain_text")
                    )
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= LIMITS["actions_elements"]:
                problems.append(f"{where}.elements outside 1..25")
                continue
            for j, button in enumerate(elements):
                at = f"{where}.elements[{j}]"
                if button.get("type") != "button":
                    problems.append(f"{at}: only buttons are expected")
                    continue
                problems += _text_problems(
                    f"{at}.text", button.get("text"), LIMITS["button_text"], ("plain_text",)
                )
                action_id = button.get("action_id", "")
                if not 1 <= len(action_id) <= LIMITS["action_id"]:
                    problems.append(f"{at}.action_id length outside 1..255")
                if action_id in action_ids:
                    problems.append(f"{at}.action_id {action_id!r} repeated")
                action_ids.add(action_id)
                if "value" in button and not 1 <= len(button["value"]) <= LIMITS["button_value"]:
                    problems.append(f"{at}.value length outside 1..2000")
                if "url" in button and not 1 <= len(button["url"]) <= LIMITS["button_url"]:
                    problems.append(f"{at}.url length outside 1..3000")
                if button.get("style") not in (None, "primary", "danger"):
                    problems.append(f"{at}.style {button.get('style')!r}")
    return problems


def texts_of(message: Mapping[str, Any]) -> list[str]:
    """Every piece of text a message shows (its text and each text object in its blocks)."""
    out = [str(message.get("text") or "")]
    for block in message.get("blocks") or ():
        for key in ("text",):
            if isinstance(block.get(key), Mapping):
                out.append(block[key]["text"])
        for item in [*block.get("fields", ()), *block.get("elements", ())]:
            if isinstance(item, Mapping) and isinstance(item.get("text"), Mapping):
                out.append(item["text"]["text"])
            elif isinstance(item, Mapping) and isinstance(item.get("text"), str):
                out.append(item["text"])
    return out


def mentions_in(message: Mapping[str, Any]) -> list[str]:
    """Anything in the message Slack would turn into a mention, a broadcast or a link."""
    import re

    found: list[str] = []
    for text in texts_of(message):
        found += re.findall(r"<[@#!][^>]*>|<https?:[^>]*>", text)
        found += re.findall(r"(?<![\w\u2060])@(?:here|channel|everyone)\b", text, re.IGNORECASE)
    return found


@dataclass
class Call:
    """One Web API call as the emulator received it."""

    method: str
    params: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)


@dataclass
class Socket:
    """One Socket Mode connection."""

    ws: web.WebSocketResponse
    acks: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)


class SlackEmulator:
    """Slack's Web API, response URLs and Socket Mode, on one local aiohttp server."""

    def __init__(
        self,
        *,
        bot_token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        signing_secret: str = SIGNING_SECRET,
        team: str = TEAM,
        bot_user: str = BOT_USER,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.team = team
        self.bot_user = bot_user
        self.users: dict[str, dict[str, Any]] = {
            "UALICE": {"name": "alice", "locale": "en-US"},
            "UADMIN": {"name": "root", "locale": "en-US", "is_admin": True},
        }
        self.channels: dict[str, dict[str, Any]] = {"C0001": {"name": "general", "creator": "UCREATOR"}}
        self.calls: list[Call] = []
        self.posts: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.problems: list[str] = []
        # method -> [(status, retry_after)] answered before the real answer, in order
        self._refusals: dict[str, list[tuple[int, int]]] = {}
        self.delays: dict[str, float] = {}
        self.sockets: list[Socket] = []
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._changed = asyncio.Event()

    # ---- server ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=4 << 20)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{id}", self._response)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Close every socket and stop listening."""
        for socket in self.sockets:
            with contextlib.suppress(Exception):
                await socket.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> SlackEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_base_url(self) -> str:
        """The ``[slack] api_base_url`` that points the bot here."""
        return f"http://127.0.0.1:{self.port}/api/"

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], Any], within: float = 10.0) -> Any:
        """Wait until ``predicate()`` is true (re-checked whenever something arrives)."""
        deadline = time.monotonic() + within
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the awaited Slack traffic did not arrive")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))

    # ---- Web API --------------------------------------------------------------------------------

    def refuse(self, method: str, times: int = 1, status: int = 429, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with ``status`` (429: ``Retry-After``)."""
        self._refusals.setdefault(method, []).extend([(status, retry_after)] * times)

    def called(self, method: str) -> list[Call]:
        """The calls of ``method`` received so far, in order."""
        return [call for call in self.calls if call.method == method]

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(await request.post())
        return params

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else params.get("token")
        self.calls.append(Call(method, params, token))
        self._notify()
        if method in self.delays:
            await asyncio.sleep(self.delays[method])
        refusals = self._refusals.get(method)
        if refusals:
            status, retry_after = refusals.pop(0)
            headers = {"Retry-After": str(retry_after)} if status == 429 else {}
            return web.json_response({"ok": False, "error": "ratelimited"}, status=status, headers=headers)
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if not token:
            return web.json_response({"ok": False, "error": "not_authed"})
        if token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        body: dict[str, Any] = await handler(params)
        return web.json_response(body)

    async def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://emulated.slack.test/",
            "team": "Emulated",
            "user": "httpbot",
            "team_id": self.team,
            "user_id": self.bot_user,
            "bot_id": "B0001",
            "is_enterprise_install": False,
        }

    async def _m_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket?ticket={next(_ids)}"}

    async def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        record = {"id": params["user"], "team_id": self.team, "is_admin": False, "is_owner": False, **user}
        if str(params.get("include_locale")).lower() not in ("true", "1"):
            record.pop("locale", None)
        return {"ok": True, "user": record}

    async def _m_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(params.get("channel")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": {"id": params["channel"], **channel}}

    async def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        message = dict(params)
        for key in ("blocks",):
            if isinstance(message.get(key), str):
                message[key] = json.loads(message[key])
        problems = blocks_problems(message)
        if not message.get("channel"):
            problems.append("chat.postMessage without channel")
        if problems:
            self.problems += problems
            return {"ok": False, "error": "invalid_blocks", "errors": problems}
        ts = f"{time.time():.6f}"
        self.posts.append({**message, "ts": ts})
        self._notify()
        return {"ok": True, "channel": message["channel"], "ts": ts, "message": {"text": message.get("text")}}

    # ---- response_url ---------------------------------------------------------------------------

    def response_url(self) -> str:
        """A fresh ``response_url`` for a command, a shortcut or a button."""
        return f"http://127.0.0.1:{self.port}/response/{next(_ids)}"

    async def _response(self, request: web.Request) -> web.Response:
        body = await request.json()
        problems = blocks_problems(body)
        if body.get("response_type") not in (None, "ephemeral", "in_channel"):
            problems.append(f"response_type {body.get('response_type')!r}")
        self.problems += problems
        self.responses.append({**body, "url_id": request.match_info["id"]})
        self._notify()
        if problems:
            return web.Response(status=400, text="invalid_blocks")
        return web.Response(text="ok")

    # ---- Socket Mode ----------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        socket = Socket(ws)
        self.sockets.append(socket)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self.live_sockets()),
                "debug_info": {"host": "emulator", "approximate_connection_time": 3600},
                "connection_info": {"app_id": "A0001"},
            }
        )
        self._notify()
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            future = socket.acks.get(str(data.get("envelope_id")))
            if future is not None and not future.done():
                future.set_result(data)
                self._notify()
        self._notify()
        return ws

    def live_sockets(self) -> list[Socket]:
        """Open Socket Mode connections."""
        return [s for s in self.sockets if not s.ws.closed]

    async def wait_connected(self, within: float = 10.0) -> Socket:
        """The first open Socket Mode connection, once there is one."""
        sockets = await self.wait_for(self.live_sockets, within)
        return sockets[0]  # type: ignore[no-any-return]

    async def send_envelope(
        self, kind: str, payload: Mapping[str, Any], *, retry_attempt: int = 0
    ) -> asyncio.Future[dict[str, Any]]:
        """Send an envelope on the first open connection; the future gets its acknowledgement."""
        socket = await self.wait_connected()
        envelope_id = f"env-{next(_ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        socket.acks[envelope_id] = future
        await socket.ws.send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": dict(payload),
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        return future

    async def envelope(
        self, kind: str, payload: Mapping[str, Any], *, retry_attempt: int = 0, within: float = 10.0
    ) -> dict[str, Any]:
        """Send an envelope and return its acknowledgement (``{"envelope_id", "payload"?}``)."""
        future = await self.send_envelope(kind, payload, retry_attempt=retry_attempt)
        ack = await asyncio.wait_for(future, within)
        if "payload" in ack and ack["payload"].get("blocks"):
            self.problems += blocks_problems(ack["payload"])
        return ack

    # ---- HTTP mode ------------------------------------------------------------------------------

    def sign(self, body: bytes, timestamp: int | None = None, secret: str | None = None) -> dict[str, str]:
        """The headers Slack signs a request with."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        base = b"v0:" + stamp.encode() + b":" + body
        digest = hmac.new((secret or self.signing_secret).encode(), base, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}

    @staticmethod
    def encode(kind: str, payload: Mapping[str, Any]) -> tuple[bytes, str]:
        """A payload as Slack sends it over HTTP: its body and content type."""
        if kind == "slash_commands":
            return urllib.parse.urlencode(payload).encode(), "application/x-www-form-urlencoded"
        if kind == "interactive":
            form = {"payload": json.dumps(payload)}
            return urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
        return json.dumps(payload).encode(), "application/json"

    async def post(
        self,
        url: str,
        kind: str,
        payload: Mapping[str, Any],
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        retry_num: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, str, dict[str, str]]:
        """POST a signed payload to the bot's endpoint: status, body text and headers."""
        body, content_type = self.encode(kind, payload)
        sent = {"Content-Type": content_type, **self.sign(body, timestamp, secret), **(headers or {})}
        if retry_num is not None:
            sent |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=sent) as response:
            return response.status, await response.text(), dict(response.headers)

    # ---- payloads -------------------------------------------------------------------------------

    def command(
        self, command: str, text: str, *, user: str = "UALICE", channel: str = "C0001", **extra: Any
    ) -> dict[str, Any]:
        """A slash command's fields."""
        return {
            "token": "legacy-verification-token",
            "team_id": self.team,
            "team_domain": "emulated",
            "channel_id": channel,
            "channel_name": self.channels.get(channel, {}).get("name", "directmessage"),
            "user_id": user,
            "user_name": self.users.get(user, {}).get("name", "someone"),
            "command": command,
            "text": text,
            "api_app_id": "A0001",
            "is_enterprise_install": "false",
            "response_url": self.response_url(),
            "trigger_id": f"trigger-{next(_ids)}",
            **extra,
        }

    def event(self, event: Mapping[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
        """An Events API callback around ``event``."""
        return {
            "token": "legacy-verification-token",
            "team_id": self.team,
            "api_app_id": "A0001",
            "event": {"event_ts": f"{time.time():.6f}", **event},
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_ids):08d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "team_id": self.team,
                    "user_id": self.bot_user,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }

    def mention(
        self, text: str, *, user: str = "UALICE", channel: str = "C0001", **extra: Any
    ) -> dict[str, Any]:
        """``@bot TEXT`` in a channel."""
        ts = f"{time.time():.6f}"
        return self.event(
            {
                "type": "app_mention",
                "user": user,
                "text": f"<@{self.bot_user}> {text}",
                "ts": ts,
                "channel": channel,
                **extra,
            }
        )

    def direct(
        self, text: str, *, user: str = "UALICE", channel: str = "D0001", **extra: Any
    ) -> dict[str, Any]:
        """A message to the bot in a direct message."""
        ts = f"{time.time():.6f}"
        return self.event(
            {
                "type": "message",
                "channel_type": "im",
                "user": user,
                "text": text,
                "ts": ts,
                "channel": channel,
                **extra,
            }
        )

    def shortcut(
        self, message: Mapping[str, Any], *, user: str = "UALICE", channel: str = "C0001"
    ) -> dict[str, Any]:
        """The message shortcut *Explain HTTP status* on ``message``."""
        return {
            "type": "message_action",
            "token": "legacy-verification-token",
            "action_ts": f"{time.time():.6f}",
            "team": {"id": self.team, "domain": "emulated"},
            "user": {
                "id": user,
                "name": self.users.get(user, {}).get("name", "someone"),
                "team_id": self.team,
            },
            "channel": {"id": channel, "name": self.channels.get(channel, {}).get("name", "directmessage")},
            "is_enterprise_install": False,
            "callback_id": "explain_http_status",
            "trigger_id": f"trigger-{next(_ids)}",
            "response_url": self.response_url(),
            "message_ts": message.get("ts", "1700000000.000100"),
            "message": {"type": "message", "ts": "1700000000.000100", **message},
        }

    def button(
        self, action_id: str, value: str | None = None, *, user: str = "UALICE", channel: str = "C0001"
    ) -> dict[str, Any]:
        """A click on a button of an ephemeral message."""
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": "b1",
            "type": "button",
            "text": {"type": "plain_text", "text": "Share"},
            "action_ts": f"{time.time():.6f}",
        }
        if value is not None:
            action["value"] = value
        return {
            "type": "block_actions",
            "user": {
                "id": user,
                "username": self.users.get(user, {}).get("name", "someone"),
                "name": self.users.get(user, {}).get("name", "someone"),
                "team_id": self.team,
            },
            "api_app_id": "A0001",
            "token": "legacy-verification-token",
            "container": {"type": "message", "message_ts": "1700000000.000200", "is_ephemeral": True},
            "trigger_id": f"trigger-{next(_ids)}",
            "team": {"id": self.team, "domain": "emulated"},
            "channel": {"id": channel, "name": self.channels.get(channel, {}).get("name", "directmessage")},
            "is_enterprise_install": False,
            "response_url": self.response_url(),
            "actions": [action],
        }
