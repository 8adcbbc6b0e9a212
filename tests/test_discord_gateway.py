"""The gateway mode: the real discord.py, driven over real sockets by the emulator in tests/."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from functools import cache
from typing import Any

import discord
import pytest

from bot.metrics import Metrics
from bot.platforms.base import AdapterStartError
from bot.platforms.discord.config import DiscordConfig
from bot.platforms.discord.gateway import DiscordGatewayAdapter
from bot.platforms.discord.render import EPHEMERAL
from bot.platforms.discord.responder import ADMINISTRATOR, MANAGE_GUILD
from bot.service import Service
from bot.storage import MemoryPreferences
from handlers import Handler, load

from support.discord_emulator import DiscordEmulator, SpecValidator

GUILD = 900000000000000001
VALIDATOR = SpecValidator.load()


@cache
def shared_handler() -> Handler:
    handler = Handler(load())
    handler.warm()
    return handler


def new_service() -> Service:
    return Service(shared_handler(), Metrics(), MemoryPreferences())


@pytest.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    async with DiscordEmulator(validator=VALIDATOR) as emu:
        yield emu
    # Every payload the bot sent is checked: limits by hand, schemas when the spec is present.
    assert emu.problems == []
    for callback in emu.callbacks:
        if callback.body["type"] == 4:
            assert callback.body["data"]["allowed_mentions"] == {"parse": []}


def config_for(emu: DiscordEmulator, **overrides: Any) -> DiscordConfig:
    base = DiscordConfig(
        enabled=True,
        mode="gateway",
        token=emu.token,
        api_base_url=emu.api_base_url,
        gateway_url=emu.gateway_url,
        dev_guild_id=GUILD,
    )
    return replace(base, **overrides)


@asynccontextmanager
async def running(
    emu: DiscordEmulator, service: Service | None = None, **overrides: Any
) -> AsyncIterator[DiscordGatewayAdapter]:
    adapter = DiscordGatewayAdapter(config_for(emu, **overrides), service or new_service(), ready_timeout=10)
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()


@pytest.fixture
async def bot(emulator: DiscordEmulator) -> AsyncIterator[DiscordGatewayAdapter]:
    async with running(emulator) as adapter:
        yield adapter


def embed_of(callback: dict[str, Any]) -> dict[str, Any]:
    assert callback["type"] == 4
    (embed,) = callback["data"]["embeds"]
    return dict(embed)


def buttons_of(callback: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for row in callback["data"].get("components", ()) for b in row["components"]]


async def test_start_logs_in_connects_and_registers_commands_in_the_dev_guild(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    assert bot.connected()
    assert ("GET", "/users/@me") in emulator.requests
    assert len(emulator.identifies) == 1
    assert [c["name"] for c in emulator.commands[str(GUILD)]] == [
        "http",
        "http-logs",
        "lang",
        "Explain HTTP status",
    ]
    assert None not in emulator.commands


async def test_slash_command_answers_with_a_card(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    callback = await emulator.interact(emulator.slash("http", {"query": "503"}))
    embed = embed_of(callback)
    assert embed["title"] == "503 Service Unavailable"
    assert embed["color"] == 0xE74C3C
    assert [f["name"] for f in embed["fields"]][:3] == ["Class", "Standing", "Sent by"]
    assert [b["label"] for b in buttons_of(callback)] == ["Specification", "MDN", "AWS ALB troubleshooting"]
    assert all(b["style"] == 5 for b in buttons_of(callback))
    assert not callback["data"].get("flags", 0) & EPHEMERAL


async def test_class_queries_answer_with_one_compact_embed(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    embed = embed_of(await emulator.interact(emulator.slash("http", {"query": "4xx"})))
    assert "404 Not Found" in embed["description"] and "fields" not in embed


async def test_autocomplete_lists_codes_then_words_within_25_choices(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    start = time.perf_counter()
    callback = await emulator.interact(emulator.autocomplete("http", "query", "50"))
    assert time.perf_counter() - start < 1.0
    assert callback["type"] == 8
    values = [c["value"] for c in callback["data"]["choices"]]
    assert values[:12] == [str(c) for c in range(500, 512)]
    assert len(values) <= 25
    assert callback["data"]["choices"][0]["name"].startswith("500 Internal Server Error · ")
    words = await emulator.interact(emulator.autocomplete("http", "query", "not f"))
    assert words["data"]["choices"][0]["value"] == "404"
    empty = await emulator.interact(emulator.autocomplete("http", "query", ""))
    assert 1 <= len(empty["data"]["choices"]) <= 25


async def test_autocomplete_offers_a_comparison_as_one_choice(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    callback = await emulator.interact(emulator.autocomplete("http", "query", "401 vs 403"))
    choices = callback["data"]["choices"]
    assert choices[0] == {"name": "401 Unauthorized vs 403 Forbidden", "value": "401 vs 403"}
    assert [c["value"] for c in choices[1:3]] == ["401", "403"]
    chosen = await emulator.interact(emulator.slash("http", {"query": choices[0]["value"]}))
    assert embed_of(chosen)["title"] == "401 Unauthorized vs 403 Forbidden"


async def test_a_private_reply_can_be_shared_to_the_channel(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    private = await emulator.interact(emulator.slash("http", {"query": "429", "private": True}))
    assert private["data"]["flags"] & EPHEMERAL
    share = buttons_of(private)[-1]
    assert share["label"] == "Share" and share["custom_id"] == "share:en:a:429"
    shared = await emulator.interact(emulator.button(share["custom_id"], user_name="Grace"))
    assert not shared["data"].get("flags", 0) & EPHEMERAL
    assert embed_of(shared)["title"] == embed_of(private)["title"] == "429 Too Many Requests"
    assert embed_of(shared)["footer"]["text"] == "Shared by Grace"
    assert all("custom_id" not in b for b in buttons_of(shared))


async def test_the_message_command_explains_every_code_in_a_message(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    log = (
        '10.0.0.1 - - [01/Jan/2024:10:00:00 +0000] "GET /api HTTP/1.1" 502 166\n'
        '10.0.0.2 - - [01/Jan/2024:10:00:01 +0000] "GET /missing HTTP/1.1" 404 12\n'
        '10.0.0.3 - - [01/Jan/2024:10:00:02 +0000] "POST /login HTTP/1.1" 429 0'
    )
    callback = await emulator.interact(emulator.message_command("Explain HTTP status", log))
    embed = embed_of(callback)
    assert embed["title"] == "Status codes in this message"
    for title in ("502 Bad Gateway", "404 Not Found", "429 Too Many Requests"):
        assert f"**{title}**" in embed["description"]
    assert callback["data"]["flags"] & EPHEMERAL
    assert buttons_of(callback)[-1]["custom_id"] == "share:en:e:502 404 429"
    status_line = await emulator.interact(
        emulator.message_command("Explain HTTP status", "HTTP/1.1 503 Service Unavailable")
    )
    assert embed_of(status_line)["title"] == "503 Service Unavailable"


async def test_the_reply_language_follows_option_then_user_locale(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    if "fr" not in shared_handler().languages:
        pytest.skip("no French catalogue yet")
    explicit = await emulator.interact(emulator.slash("http", {"query": "404", "lang": "fr"}))
    assert embed_of(explicit)["fields"][0]["name"] == shared_handler().ui("fr", "field_class")
    by_locale = await emulator.interact(emulator.slash("http", {"query": "404"}, locale="fr"))
    assert embed_of(by_locale)["fields"][0]["name"] == shared_handler().ui("fr", "field_class")
    english = await emulator.interact(
        emulator.slash("http", {"query": "404"}, locale="fr", guild_locale="fr")
    )
    assert english["data"]["embeds"] == by_locale["data"]["embeds"]


async def test_only_server_managers_change_a_guild_language(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    handler = shared_handler()
    target = "fr" if "fr" in handler.languages else "en"
    denied = await emulator.interact(emulator.slash("lang", {"language": target}, permissions=0))
    assert denied["data"]["content"] == handler.ui("en", "lang_forbidden")
    assert denied["data"]["flags"] & EPHEMERAL
    allowed = await emulator.interact(emulator.slash("lang", {"language": target}, permissions=MANAGE_GUILD))
    native = handler.catalogue.languages[target].native_name
    assert allowed["data"]["content"] == handler.ui(target, "lang_set", language=native)
    answer = await emulator.interact(emulator.slash("http", {"query": "404"}))
    assert embed_of(answer)["fields"][0]["name"] == handler.ui(target, "field_class")
    current = await emulator.interact(emulator.slash("lang", {}))
    assert native in current["data"]["content"]
    reset = await emulator.interact(emulator.slash("lang", {"language": "reset"}, permissions=ADMINISTRATOR))
    assert reset["data"]["content"] == handler.ui("en", "lang_reset")
    unknown = await emulator.interact(
        emulator.slash("lang", {"language": "**klingon**"}, permissions=MANAGE_GUILD)
    )
    assert "\\*\\*klingon\\*\\*" in unknown["data"]["content"] and unknown["data"]["flags"] & EPHEMERAL
    suggestions = await emulator.interact(emulator.autocomplete("lang", "language", "fr"))
    assert all(len(c["name"]) <= 100 for c in suggestions["data"]["choices"])


async def test_a_forced_disconnect_resumes_and_later_interactions_are_answered(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    session = emulator.session()
    assert session is not None
    await emulator.disconnect(code=4000)
    # Sent while the bot is away: Discord replays it after RESUME.
    missed = emulator.send(emulator.slash("http", {"query": "500"}))
    assert embed_of(await asyncio.wait_for(missed, 10))["title"] == "500 Internal Server Error"
    await emulator.wait_connected()
    assert len(emulator.resumes) == 1 and emulator.resumes[0]["session_id"] == session.id
    assert len(emulator.identifies) == 1
    later = await emulator.interact(emulator.slash("http", {"query": "404"}))
    assert embed_of(later)["title"] == "404 Not Found"
    assert bot.connected()


async def test_a_handler_failure_gets_an_ephemeral_apology_and_a_log_line(
    emulator: DiscordEmulator, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = new_service()
    async with running(emulator, service):

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("catalogue on fire")

        monkeypatch.setattr(service, "answer", broken)
        with caplog.at_level(logging.ERROR):
            callback = await emulator.interact(emulator.slash("http", {"query": "404"}))
        assert callback["data"]["content"] == shared_handler().ui("en", "apology")
        assert callback["data"]["flags"] & EPHEMERAL
        assert any("answering a command 'http' interaction failed" in r.getMessage() for r in caplog.records)
        assert (
            'http_status_bot_errors_total{platform="discord",stage="respond"} 1.0'
            in service.metrics.render().decode()
        )


async def test_a_bad_token_is_a_clear_start_error_and_nothing_is_left_changed(
    emulator: DiscordEmulator,
) -> None:
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    adapter = DiscordGatewayAdapter(config_for(emulator, token="wrong-token"), new_service())
    with pytest.raises(AdapterStartError, match="rejected the bot token"):
        await adapter.start()
    assert not adapter.connected()
    assert (base, gateway) == (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)


async def test_an_unreachable_api_is_a_clear_start_error() -> None:
    emu = DiscordEmulator()
    await emu.start()
    api, ws = emu.api_base_url, emu.gateway_url
    await emu.stop()
    config = DiscordConfig(enabled=True, token="t", api_base_url=api, gateway_url=ws)
    with pytest.raises(AdapterStartError, match="cannot reach the Discord API"):
        await DiscordGatewayAdapter(config, new_service(), login_timeout=5).start()


async def test_stop_restores_discord_py_endpoints(emulator: DiscordEmulator) -> None:
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with running(emulator) as adapter:
        assert emulator.api_base_url == discord.http.Route.BASE
        assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == emulator.gateway_url
    assert not adapter.connected()
    assert (base, gateway) == (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)


async def test_global_registration_is_left_to_sync_commands(emulator: DiscordEmulator) -> None:
    async with running(emulator, dev_guild_id=0) as adapter:
        assert adapter.connected()
        assert emulator.commands == {}


async def test_shards_identify_with_their_id_and_count(emulator: DiscordEmulator) -> None:
    async with running(emulator, shard_count=2, shard_ids=[1]) as adapter:
        assert isinstance(adapter.bot, discord.AutoShardedClient)
        assert [i.get("shard") for i in emulator.identifies] == [[1, 2]]
        callback = await emulator.interact(emulator.slash("http", {"query": "418"}), shard=1)
        assert embed_of(callback)["title"].startswith("418 ")
        assert adapter.connected()


async def test_the_token_never_reaches_the_logs_even_at_debug(
    emulator: DiscordEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(emulator):
        await emulator.interact(emulator.slash("http", {"query": "404", "private": True}))
        await emulator.disconnect()
        await emulator.interact(emulator.slash("http", {"query": "500"}))
    with pytest.raises(AdapterStartError):
        await DiscordGatewayAdapter(config_for(emulator, token=emulator.token + "x"), new_service()).start()
    assert len(caplog.records) > 20
    assert emulator.token not in caplog.text
    assert all(emulator.token not in r.getMessage() for r in caplog.records)


async def test_start_up_warnings_about_deliberate_choices_are_not_shown(
    emulator: DiscordEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with running(emulator):
        pass
    assert "Guilds intent" not in caplog.text and "davey" not in caplog.text
