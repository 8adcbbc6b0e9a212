"""Replicas sharing PostgreSQL, as deployed: ``python -m bot run`` processes in Discord
interactions mode, signed requests over real sockets, a real server (tests/support/postgres.py)
that is stopped and started again under traffic."""

from __future__ import annotations

import asyncio
import json
import signal
import statistics
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import aiohttp
from nacl.signing import SigningKey

from bot.platforms.discord.responder import MANAGE_GUILD
from handlers import Handler, load

from conftest import free_port, spawn_bot, wait_healthy
from support.discord_emulator import DiscordEmulator
from support.postgres import PostgresServer

KEY = SigningKey.generate()
PAYLOADS = DiscordEmulator()  # builds interaction payloads; no server is started for it


@cache
def _handler() -> Handler:
    return Handler(load())


@dataclass
class Replica:
    """One ``python -m bot run`` process: its interactions URL and its ops server."""

    name: str
    process: asyncio.subprocess.Process
    url: str
    ops: str
    log: Path


def _env(bot_env: dict[str, str], postgres: PostgresServer, database: str, **extra: str) -> dict[str, str]:
    return {
        **bot_env,
        "BOT_DISCORD_ENABLED": "true",
        "BOT_DISCORD_MODE": "interactions",
        "DISCORD_PUBLIC_KEY": KEY.verify_key.encode().hex(),
        "BOT_OPS_ENABLED": "true",
        # As operators are told to: the password in PGPASSWORD, not in the URL.
        "BOT_STORAGE_URL": postgres.url(database, password=False),
        "PGPASSWORD": postgres.password,
        **extra,
    }


@asynccontextmanager
async def replicas(env: dict[str, str], tmp_path: Path, count: int) -> AsyncIterator[list[Replica]]:
    """``count`` replicas started together (so their first starts race on the schema)."""
    started: list[Replica] = []
    try:
        for n in range(count):
            port, ops = free_port(), free_port()
            log = tmp_path / f"replica-{n}.log"
            own = {**env, "BOT_DISCORD_INTERACTIONS_PORT": str(port), "BOT_OPS_PORT": str(ops)}
            process = await spawn_bot(own, tmp_path, log)
            started.append(
                Replica(
                    f"replica-{n}",
                    process,
                    f"http://127.0.0.1:{port}/interactions",
                    f"http://127.0.0.1:{ops}",
                    log,
                )
            )
        await asyncio.gather(*(wait_healthy(r.process, int(r.ops.rsplit(":", 1)[1])) for r in started))
        yield started
    finally:
        for replica in started:
            if replica.process.returncode is None:
                replica.process.send_signal(signal.SIGTERM)
        for replica in started:
            try:
                await asyncio.wait_for(replica.process.wait(), 15)
            except TimeoutError:
                replica.process.kill()
                await replica.process.wait()


async def interact(http: aiohttp.ClientSession, replica: Replica, payload: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    stamp = str(int(time.time()))
    headers = {
        "X-Signature-Ed25519": KEY.sign(stamp.encode() + body).signature.hex(),
        "X-Signature-Timestamp": stamp,
        "Content-Type": "application/json",
    }
    async with http.post(replica.url, data=body, headers=headers) as response:
        assert response.status == 200, await response.text()
        result: dict[str, Any] = await response.json()
    return result


async def healthz(http: aiohttp.ClientSession, replica: Replica) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{replica.ops}/healthz") as response:
        return response.status, await response.json()


def _lang(language: str, guild: str, locale: str = "en-US") -> dict[str, Any]:
    return PAYLOADS.slash(
        "lang", {"language": language}, guild_id=guild, permissions=MANAGE_GUILD, locale=locale
    )


def _http(query: str, guild: str) -> dict[str, Any]:
    return PAYLOADS.slash("http", {"query": query}, guild_id=guild)


def _class_field(result: dict[str, Any]) -> str:
    return str(result["data"]["embeds"][0]["fields"][0]["name"])


async def _until(condition: Callable[[], Any], limit: float = 15.0) -> float:
    began = time.monotonic()
    while not await condition():
        assert time.monotonic() - began < limit, "condition not met in time"
        await asyncio.sleep(0.05)
    return time.monotonic() - began


async def test_lang_set_through_one_replica_is_used_by_the_other(
    bot_env: dict[str, str], tmp_path: Path, postgres: PostgresServer
) -> None:
    handler = _handler()
    database = postgres.create_database("replicas")
    env = _env(bot_env, postgres, database, BOT_STORAGE_CACHE_TTL="0.5")
    guild = "910000000000000001"
    async with replicas(env, tmp_path, 2) as (first, second), aiohttp.ClientSession() as http:
        # Nothing stored yet: English, from the client's locale.
        assert _class_field(await interact(http, second, _http("404", guild))) == handler.ui(
            "en", "field_class"
        )
        saved = await interact(http, first, _lang("fr", guild))
        assert saved["data"]["content"].startswith(handler.ui("fr", "lang_set", language="Français")[:20])
        await asyncio.sleep(0.6)  # the second replica's cached "no preference" expires
        french = await interact(http, second, _http("404", guild))
        assert _class_field(french) == handler.ui("fr", "field_class")
        # And back the other way, through the other replica.
        await interact(http, second, _lang("de", guild))
        await asyncio.sleep(0.6)
        assert _class_field(await interact(http, first, _http("503", guild))) == handler.ui(
            "de", "field_class"
        )
        for replica in (first, second):
            assert (await healthz(http, replica)) == (
                200,
                {"status": "ok", "adapters": {"discord": {"connected": True}}, "storage": "ok"},
            )
    assert postgres.psql("SELECT chat, lang FROM chat_language", database) == f"discord:{guild}|de"
    # Both started on an empty database at the same time: the schema was created once.
    assert postgres.psql("SELECT count(*) FROM http_status_bot_schema", database) == "1"
    for replica in (first, second):
        text = replica.log.read_text(encoding="utf-8")
        assert postgres.password not in text
        assert "Traceback" not in text


async def test_postgres_stopped_and_restarted_under_traffic_every_interaction_is_answered(
    bot_env: dict[str, str], tmp_path: Path, postgres: PostgresServer
) -> None:
    handler = _handler()
    database = postgres.create_database("outage")
    # A short time to live, so that the outage is met by cache misses, not hidden by hits.
    env = _env(bot_env, postgres, database, BOT_STORAGE_CACHE_TTL="0.2")
    guilds = [str(920000000000000000 + n) for n in range(40)]
    french_guild = guilds[0]
    latencies: dict[str, list[float]] = {"before": [], "outage": [], "after": []}
    phase = "before"
    answered = 0
    wrong: list[str] = []
    async with replicas(env, tmp_path, 1) as (replica,), aiohttp.ClientSession() as http:
        await interact(http, replica, _lang("fr", french_guild))

        async def traffic(worker: int) -> None:
            nonlocal answered
            n = worker
            while phase != "done":
                guild = guilds[n % len(guilds)]
                began = time.monotonic()
                result = await interact(http, replica, _http(str(400 + n % 30), guild))
                latencies[phase if phase != "done" else "after"].append(time.monotonic() - began)
                embeds = result["data"].get("embeds") or []
                if result["type"] != 4 or not embeds:
                    wrong.append(json.dumps(result)[:200])
                answered += 1
                n += 4
                await asyncio.sleep(0.005)

        workers = [asyncio.create_task(traffic(w)) for w in range(4)]
        try:
            await asyncio.sleep(1.0)
            phase = "outage"
            stopped_at = time.monotonic()
            await asyncio.to_thread(postgres.stop)

            async def degraded() -> bool:
                return (await healthz(http, replica))[1].get("storage") == "degraded"

            noticed = await _until(degraded, 10)
            status, body = await healthz(http, replica)
            assert (status, body["status"]) == (200, "ok")
            refused = await interact(http, replica, _lang("ja", guilds[1], locale="fr"))
            assert refused["data"]["content"] == handler.ui("fr", "lang_unsaved")
            # The guild that chose French before the outage still gets French from the cache.
            during = await interact(http, replica, _http("500", french_guild))
            assert _class_field(during) == handler.ui("fr", "field_class")
            await asyncio.sleep(max(0.0, 2.0 - (time.monotonic() - stopped_at)))
            await asyncio.to_thread(postgres.start)
            restarted_at = time.monotonic()

            async def recovered() -> bool:
                return (await healthz(http, replica))[1].get("storage") == "ok"

            recovery = await _until(recovered, 15)
            phase = "after"
            saved = await interact(http, replica, _lang("ja", guilds[1]))
            assert saved["data"]["content"] == handler.ui("ja", "lang_set", language="日本語")
            await asyncio.sleep(0.5)
        finally:
            phase = "done"
            await asyncio.gather(*workers)
        async with http.get(f"{replica.ops}/metrics") as response:
            metrics = await response.text()
    outage = time.monotonic() - stopped_at
    errors = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("http_status_bot_storage_errors_total{")
    )
    assert wrong == []
    assert all(latencies.values()), {k: len(v) for k, v in latencies.items()}
    assert max(latencies["outage"]) < 1.0, max(latencies["outage"])
    assert errors > 0
    saved_lang = postgres.psql(f"SELECT lang FROM chat_language WHERE chat = 'discord:{guilds[1]}'", database)
    assert saved_lang == "ja"
    text = replica.log.read_text(encoding="utf-8")
    assert "Traceback" not in text and postgres.password not in text
    assert text.count("PostgreSQL unavailable") == 1 and text.count("PostgreSQL available again") == 1

    def p99(values: list[float]) -> float:
        return statistics.quantiles(values, n=100)[98] * 1000 if len(values) >= 2 else values[0] * 1000

    print(
        f"\noutage test: {answered} interactions answered, none lost or apologised for;"
        f" outage noticed by /healthz in {noticed:.2f} s, PostgreSQL down {restarted_at - stopped_at:.1f} s,"
        f" store 'ok' again {recovery:.2f} s after restart; {errors:.0f} store errors counted"
    )
    for name, values in latencies.items():
        print(
            f"  {name:>6}: {len(values):4d} replies, p50 {statistics.median(values) * 1000:.1f} ms,"
            f" p99 {p99(values):.1f} ms, max {max(values) * 1000:.1f} ms"
        )
    assert outage > 2
