"""The HTTP interactions mode: signed requests over a real socket to the aiohttp endpoint."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from functools import cache
from typing import Any

import aiohttp
import pytest
from nacl.signing import SigningKey

from bot.metrics import Metrics
from bot.platforms.base import AdapterStartError
from bot.platforms.discord.config import DiscordConfig
from bot.platforms.discord.interactions import MAX_BODY, DiscordInteractionsAdapter
from bot.platforms.discord.render import EPHEMERAL
from bot.platforms.discord.responder import MANAGE_GUILD
from bot.service import Service
from bot.storage import MemoryPreferences, PreferenceStore
from handlers import Handler, load

from support.discord_emulator import DiscordEmulator, SpecValidator, choices_problems, message_problems

VALIDATOR = SpecValidator.load()
KEY = SigningKey.generate()
PUBLIC_KEY = KEY.verify_key.encode().hex()
# Builds interaction payloads exactly as the gateway tests do; no server is started for it.
PAYLOADS = DiscordEmulator()


@cache
def shared_handler() -> Handler:
    handler = Handler(load())
    handler.warm()
    return handler


def signed(body: bytes, *, key: SigningKey = KEY, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = key.sign(stamp.encode() + body).signature.hex()
    return {
        "X-Signature-Ed25519": signature,
        "X-Signature-Timestamp": stamp,
        "Content-Type": "application/json",
    }


def config(**overrides: Any) -> DiscordConfig:
    base = DiscordConfig(
        enabled=True,
        mode="interactions",
        public_key=PUBLIC_KEY,
        interactions_listen="127.0.0.1",
        interactions_port=0,
    )
    return replace(base, **overrides)


async def start(
    prefs: PreferenceStore | None = None, **overrides: Any
) -> tuple[DiscordInteractionsAdapter, Service]:
    service = Service(shared_handler(), Metrics(), prefs or MemoryPreferences())
    adapter = DiscordInteractionsAdapter(config(**overrides), service)
    await adapter.start()
    return adapter, service


@pytest.fixture
async def endpoint() -> AsyncIterator[DiscordInteractionsAdapter]:
    adapter, _ = await start()
    yield adapter
    await adapter.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(autouse=True)
def checked_payloads() -> Iterator[list[dict[str, Any]]]:
    """Every callback body the endpoint returns is checked against Discord's limits and the spec."""
    bodies: list[dict[str, Any]] = []
    yield bodies
    for body in bodies:
        if body["type"] == 4:
            assert message_problems(body["data"]) == []
            assert body["data"]["allowed_mentions"] == {"parse": []}
        elif body["type"] == 8:
            assert choices_problems(body["data"]) == []
        if VALIDATOR is not None:
            assert VALIDATOR.callback_errors(body) == []


async def post(
    http: aiohttp.ClientSession,
    adapter: DiscordInteractionsAdapter,
    payload: dict[str, Any],
    checked: list[dict[str, Any]],
) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    async with http.post(adapter.url, data=body, headers=signed(body)) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        result: dict[str, Any] = await response.json()
    checked.append(result)
    return result


async def test_ping_gets_pong(
    endpoint: DiscordInteractionsAdapter, http: aiohttp.ClientSession, checked_payloads: list[dict[str, Any]]
) -> None:
    assert endpoint.connected()
    assert await post(http, endpoint, {"type": 1, "id": "1", "token": "t"}, checked_payloads) == {"type": 1}


async def test_a_command_is_answered_in_the_http_response(
    endpoint: DiscordInteractionsAdapter, http: aiohttp.ClientSession, checked_payloads: list[dict[str, Any]]
) -> None:
    result = await post(http, endpoint, PAYLOADS.slash("http", {"query": "503"}), checked_payloads)
    assert result["type"] == 4
    (embed,) = result["data"]["embeds"]
    assert embed["title"] == "503 Service Unavailable" and embed["color"] == 0xE74C3C
    assert [b["style"] for b in result["data"]["components"][0]["components"]] == [5, 5, 5]


async def test_autocomplete_is_answered_with_type_8(
    endpoint: DiscordInteractionsAdapter, http: aiohttp.ClientSession, checked_payloads: list[dict[str, Any]]
) -> None:
    result = await post(http, endpoint, PAYLOADS.autocomplete("http", "query", "50"), checked_payloads)
    assert result["type"] == 8
    assert [c["value"] for c in result["data"]["choices"]][:12] == [str(c) for c in range(500, 512)]
    words = await post(http, endpoint, PAYLOADS.autocomplete("http", "query", "not f"), checked_payloads)
    assert words["data"]["choices"][0]["value"] == "404"


async def test_share_is_stateless_so_another_replica_answers_it(
    endpoint: DiscordInteractionsAdapter, http: aiohttp.ClientSession, checked_payloads: list[dict[str, Any]]
) -> None:
    private = await post(
        http, endpoint, PAYLOADS.slash("http", {"query": "404", "private": True}), checked_payloads
    )
    assert private["data"]["flags"] & EPHEMERAL
    custom_id = private["data"]["components"][0]["components"][-1]["custom_id"]
    replica, _ = await start()
    try:
        shared = await post(http, replica, PAYLOADS.button(custom_id, user_name="Lin"), checked_payloads)
    finally:
        await replica.stop()
    assert shared["type"] == 4 and not shared["data"].get("flags", 0) & EPHEMERAL
    assert shared["data"]["embeds"][0]["title"] == "404 Not Found"
    assert shared["data"]["embeds"][0]["footer"]["text"] == "Shared by Lin"


async def test_the_message_command_and_dm_interactions(
    endpoint: DiscordInteractionsAdapter, http: aiohttp.ClientSession, checked_payloads: list[dict[str, Any]]
) -> None:
    text = 'upstream responded "HTTP/1.1 504 Gateway Timeout" while reading status=504; retry status=503'
    payload = PAYLOADS.message_command("Explain HTTP status", text, guild_id=None)
    result = await post(http, endpoint, payload, checked_payloads)
    description = result["data"]["embeds"][0]["description"]
    assert "**504 Gateway Timeout**" in description and "**503 Service Unavailable**" in description


async def test_lang_is_shared_through_the_preference_store(
    http: aiohttp.ClientSession, checked_payloads: list[dict[str, Any]]
) -> None:
    handler = shared_handler()
    target = "fr" if "fr" in handler.languages else "en"
    prefs = MemoryPreferences()
    first, _ = await start(prefs)
    second, _ = await start(prefs)
    try:
        payload = PAYLOADS.slash("lang", {"language": target}, permissions=MANAGE_GUILD)
        await post(http, first, payload, checked_payloads)
        result = await post(http, second, PAYLOADS.slash("http", {"query": "404"}), checked_payloads)
        assert result["data"]["embeds"][0]["fields"][0]["name"] == handler.ui(target, "field_class")
        # In a DM there is no server to manage: anyone may choose.
        dm = await post(
            http, second, PAYLOADS.slash("lang", {"language": target}, guild_id=None), checked_payloads
        )
        assert not dm["data"].get("flags", 0) & EPHEMERAL
    finally:
        await first.stop()
        await second.stop()


async def test_a_handler_failure_gets_an_apology(
    http: aiohttp.ClientSession,
    checked_payloads: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    adapter, service = await start()
    try:

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("boom")

        monkeypatch.setattr(service, "answer", broken)
        with caplog.at_level(logging.ERROR):
            result = await post(
                http, adapter, PAYLOADS.slash("http", {"query": "404"}, locale="en-GB"), checked_payloads
            )
        assert result["data"] == {
            "content": shared_handler().ui("en", "apology"),
            "allowed_mentions": {"parse": []},
            "flags": EPHEMERAL,
        }
        assert "failed" in caplog.text
        monkeypatch.setattr(service, "suggest", broken)
        choices = await post(http, adapter, PAYLOADS.autocomplete("http", "query", "4"), checked_payloads)
        assert choices == {"type": 8, "data": {"choices": []}}
    finally:
        await adapter.stop()


# ---- refusals ------------------------------------------------------------------------------------


async def status_of(
    http: aiohttp.ClientSession, adapter: DiscordInteractionsAdapter, body: bytes, headers: dict[str, str]
) -> int:
    async with http.post(adapter.url, data=body, headers=headers) as response:
        return response.status


PING = json.dumps({"type": 1, "id": "1", "token": "t"}).encode()


async def test_a_signature_from_another_key_is_refused(
    endpoint: DiscordInteractionsAdapter, http: aiohttp.ClientSession
) -> None:
    assert await status_of(http, endpoint, PING, signed(PING, key=SigningKey.generate())) == 401


async def test_a_tampered_body_is_refused(
    endpoint: DiscordInteractionsAdapter, http: aiohttp.ClientSession
) -> None:
    headers = signed(PING)
    tampered = PING.replace(b'"type": 1', b'"type": 2')
    assert tampered != PING
    assert await status_of(http, endpoint, tampered, headers) == 401


@pytest.mark.parametrize("age, expected", [(-301, 401), (-400, 401), (400, 401), (-290, 200), (0, 200)])
async def test_timestamps_more_than_five_minutes_away_are_refused(
    endpoint: DiscordInteractionsAdapter, http: aiohttp.ClientSession, age: int, expected: int
) -> None:
    headers = signed(PING, timestamp=int(time.time()) + age)
    assert await status_of(http, endpoint, PING, headers) == expected


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Signature-Timestamp": "1700000000"},
        {"X-Signature-Ed25519": "ab" * 64},
        {"X-Signature-Ed25519": "zz" * 64, "X-Signature-Timestamp": str(int(time.time()))},
        {"X-Signature-Ed25519": "ab" * 10, "X-Signature-Timestamp": str(int(time.time()))},
        {"X-Signature-Ed25519": "ab" * 64, "X-Signature-Timestamp": "soon"},
    ],
)
async def test_missing_or_malformed_signatures_are_refused(
    endpoint: DiscordInteractionsAdapter, http: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    assert await status_of(http, endpoint, PING, headers) == 401


async def test_bodies_over_64_kib_are_refused(
    endpoint: DiscordInteractionsAdapter, http: aiohttp.ClientSession
) -> None:
    big = json.dumps({"type": 1, "pad": "x" * MAX_BODY}).encode()
    assert await status_of(http, endpoint, big, signed(big)) == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * (MAX_BODY // 4)

    # No Content-Length: aiohttp's own read limit stops it.
    async with http.post(endpoint.url, data=chunks(), headers=signed(b"")) as response:
        assert response.status == 413
    fits = json.dumps({"type": 1, "pad": "x" * (MAX_BODY - 100)}).encode()
    assert len(fits) <= MAX_BODY
    assert await status_of(http, endpoint, fits, signed(fits)) == 200


async def test_a_signed_but_malformed_body_is_a_bad_request(
    endpoint: DiscordInteractionsAdapter, http: aiohttp.ClientSession
) -> None:
    for body in (b"not json", b"[]", b'{"no": "type"}'):
        assert await status_of(http, endpoint, body, signed(body)) == 400


async def test_a_busy_port_is_a_clear_start_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        adapter = DiscordInteractionsAdapter(
            config(interactions_port=port), Service(shared_handler(), Metrics(), MemoryPreferences())
        )
        with pytest.raises(AdapterStartError, match=f"cannot listen on 127.0.0.1:{port}"):
            await adapter.start()
        assert not adapter.connected()
