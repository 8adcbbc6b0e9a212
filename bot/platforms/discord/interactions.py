"""The Discord HTTP interactions endpoint: Discord POSTs each interaction, we answer in the response.

Every request is authenticated with Ed25519 over ``timestamp + raw body`` (Discord signs with the
application's key; we verify with its public key). A missing, malformed or wrong signature, or a
timestamp more than five minutes away from our clock, gets 401 (Discord probes this with bad
signatures before it accepts an endpoint URL). Bodies over 64 KiB are refused with 413 before
they are read.

The endpoint keeps no state between requests (a Share button carries what it shares in its
``custom_id``), so any number of replicas can run behind any load balancer; only ``/lang``
preferences live in the shared preference store.
"""

from __future__ import annotations

import gc
import json
import logging
import time
from collections.abc import Callable

from aiohttp import web
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from bot.http_listener import HttpListener, ListenerLimits, RefusalLog, new_app
from bot.platforms.base import AdapterStartError
from bot.platforms.discord.config import NAME, DiscordConfig
from bot.platforms.discord.logs import DiscordLogs
from bot.platforms.discord.responder import PING, PONG, Invocation, Responder, encode_json
from bot.service import Service
from bot.wire_text import may_hold_surrogates, scrub_json

# Named as before the move into bot.platforms: operators filter log lines on it.
log = logging.getLogger("bot.adapters.discord_interactions")

MAX_BODY = 64 * 1024
MAX_CLOCK_SKEW = 300.0
SIGNATURE_HEADER = "X-Signature-Ed25519"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
_SIGNATURE_HEX_LENGTH = 128
# Seconds since 1970 have 10 digits until 2286; anything much longer is not a timestamp (and
# int() refuses strings over 4,300 digits with an error of its own).
_TIMESTAMP_MAX_DIGITS = 12


class SignatureVerifier:
    """Checks Discord's request signatures against the application's public key."""

    def __init__(
        self,
        public_key: str,
        clock: Callable[[], float] = time.time,
        max_skew: float = MAX_CLOCK_SKEW,
    ) -> None:
        self._key = VerifyKey(bytes.fromhex(public_key))
        self._clock = clock
        self._max_skew = max_skew

    def verify(self, signature: str | None, timestamp: str | None, body: bytes) -> bool:
        """Whether the body was signed by Discord within the allowed clock skew."""
        if not signature or not timestamp or len(signature) != _SIGNATURE_HEX_LENGTH:
            return False
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > _TIMESTAMP_MAX_DIGITS:
            return False
        # A captured request replayed later is refused; so is one dated in the future.
        if abs(self._clock() - int(timestamp)) > self._max_skew:
            return False
        try:
            self._key.verify(timestamp.encode() + body, bytes.fromhex(signature))
        except (BadSignatureError, ValueError):
            return False
        return True


def _json(body: object, status: int = 200) -> web.Response:
    # Exactly "application/json": Discord's own clients and our emulator expect no charset.
    return web.Response(body=encode_json(body), status=status, content_type="application/json")


class DiscordInteractionsAdapter:
    """Serves Discord interactions over HTTP with aiohttp."""

    platform = NAME

    def __init__(
        self,
        config: DiscordConfig,
        service: Service,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._service = service
        self._verifier = SignatureVerifier(config.public_key, clock=clock)
        self._responder = Responder(service, cache_size=config.answer_cache_size)
        self._logs = DiscordLogs(service, config)
        self._listener: HttpListener | None = None
        self._port: int | None = None
        # Refused requests are logged, but a flood of forged ones must not flood the log.
        self._refusals = RefusalLog("discord interactions", 60.0, log)

    @property
    def port(self) -> int | None:
        """The port actually bound (useful when the configured one is 0)."""
        return self._port

    @property
    def url(self) -> str:
        """The endpoint's URL on this machine."""
        host = self._config.interactions_listen
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{host}:{self._port}{self._config.interactions_path}"

    def app(self) -> web.Application:
        """The aiohttp application (one POST route); tests may serve it themselves."""
        # The body limit makes aiohttp itself stop reading at 64 KiB, which covers chunked
        # bodies that announce no length.
        app = new_app("discord interactions", ListenerLimits(max_body=MAX_BODY))
        app.router.add_post(self._config.interactions_path, self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY:
            self._refusals.note("body too large (413)")
            return _json({"error": "body too large"}, 413)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self._refusals.note("body too large (413)")
            return _json({"error": "body too large"}, 413)
        headers = request.headers
        if not self._verifier.verify(headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER), body):
            self._refusals.note("invalid request signature (401)")
            return _json({"error": "invalid request signature"}, 401)
        try:
            payload = json.loads(body)
            if may_hold_surrogates(body):
                payload = scrub_json(payload)
            kind = int(payload["type"])
        except (ValueError, TypeError, KeyError, IndexError, RecursionError):
            self._refusals.note("signed but malformed interaction (400)")
            return _json({"error": "malformed interaction"}, 400)
        if kind == PING:
            return _json({"type": PONG})
        try:
            invocation = Invocation.from_payload(payload)
        except (ValueError, TypeError, KeyError, AttributeError):
            # Signed by Discord, so someone is waiting for an answer: the usual apology.
            self._refusals.note("signed interaction the bot cannot read; answered with an apology")
            sorry = encode_json(self._responder.apology_for(payload))
            return web.Response(body=sorry, content_type="application/json")
        request_for_logs = self._logs.claim(invocation)
        if request_for_logs is not None:
            # "Thinking…" goes back in this response; the summary follows as an edit of it once
            # the response is out (Discord must have it before the edit can find the message).
            deferred = _json(request_for_logs.deferral)
            await deferred.prepare(request)
            await deferred.write_eof()
            self._logs.start(request_for_logs)
            return deferred
        prepared = await self._responder.prepare(invocation)
        return web.Response(body=prepared.json, content_type="application/json")

    async def start(self) -> None:
        """Listen on ``interactions_listen:interactions_port``; raises if the port is taken."""
        self._service.handler.warm()
        # Everything alive now (catalogue, search index, imported modules) lives as long as the
        # process: keep the garbage collector from walking it again on every full collection.
        gc.freeze()
        listener = HttpListener(
            self.app(), self._config.interactions_listen, self._config.interactions_port, shutdown_timeout=5.0
        )
        try:
            await listener.start()
        except OSError as exc:
            raise AdapterStartError(
                f"cannot listen on {self._config.interactions_listen}:{self._config.interactions_port}: "
                f"{exc.strerror or exc}"
            ) from None
        self._listener = listener
        self._port = listener.port
        log.info("discord: interactions endpoint listening on %s", self.url)

    async def stop(self) -> None:
        """Stop listening; requests in flight are finished first, then log summaries being
        prepared get a few seconds to be delivered."""
        if self._listener is not None:
            listener, self._listener = self._listener, None
            await listener.stop()
        await self._logs.close()

    def connected(self) -> bool:
        """Serving while the listening socket is open."""
        return self._listener is not None and self._listener.running
