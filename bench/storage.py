"""Storage benchmark: SQLite beside PostgreSQL (a script that prints figures, not a test).

A PostgreSQL server is started for the run in a temporary directory (tests/support/postgres.py:
the operating system's initdb and pg_ctl, 127.0.0.1, durable default settings), filled with
10,000 chats of which a fifth have a language.

1. Preference reads in this process, one at a time, p50/p99/max (of the best of three passes:
   a pass that meets another program's burst on a shared machine says nothing about the store):
   - PostgreSQL, cache miss: the store's ``get`` (one pooled round trip), and the same through the
     cache with ``cache_ttl = 0`` (what every miss costs, bounded wait included). Target p99 <= 2 ms.
   - Cache hit, over either store. Target p99 <= 50 µs.
   - SQLite's own ``get`` for reference (its whole table lives in memory).
2. Replies per second through one Discord interactions replica: a real ``python -m bot run``
   process answering signed ``/http`` requests for 500 guilds, with ``[storage]`` on SQLite, on
   PostgreSQL (default ``cache_ttl``, 5 s) and on PostgreSQL with ``cache_ttl = 0`` (every reply
   reads the database: the worst case). The three replicas are started once, warmed up, then
   measured in turns, back to back in each round (the order flips every round): steady state,
   not start-up. The best of the rounds and the median of each round's ratio are shown.
   The replica's CPU time is reported too (replies per CPU-second; and PostgreSQL's own CPU,
   which SQLite does not need), as the wall-clock rate moves with whatever else the machine
   runs. Target: PostgreSQL within 5 % of SQLite. A second SQLite replica, identical to the
   first, is measured beside them: its ratio to the first is what the run cannot tell apart.
   On a shared machine a run's rate moves by a fifth from one run to the next whatever the store:
   short runs, many rounds, and the median of each round's ratio (two contenders measured within
   seconds of each other) are what says something. The replica gets a CPU of its own where there
   are two or more (``--no-pin`` to share them).

Usage: ``.venv/bin/python bench/storage.py [--seconds 2] [--rounds 12] [--no-pin]`` (about 4 minutes)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.discord_bench import Run, cpu_seconds, free_port  # noqa: E402
from bot.storage import SqlitePreferences  # noqa: E402
from bot.storage.cache import CachedPreferences  # noqa: E402
from bot.storage.health import StoreHealth  # noqa: E402
from bot.storage.postgres import PostgresStore  # noqa: E402

from support.postgres import PostgresServer, running_server  # noqa: E402

CHATS = 10_000
GUILDS = 500
LANGS = ("fr", "de", "ja", "es", "pt", "ru", "zh", "ko", "ar", "hi", "ta")
# On Linux with two CPUs or more, the replica measured gets a CPU of its own and everything else
# (clients, PostgreSQL, this script) the others: otherwise the clients and the server take turns
# on the replica's CPU, and a run's rate says more about the scheduler than about the store.
REPLICA_CPUS: set[int] = set()

AGAIN = "SQLite, a second replica"
# Measured in this order, reversed every other round: SQLite has its twin on one side and
# PostgreSQL on the other, so both ratios compare contenders measured seconds apart.
CONTENDERS = (AGAIN, "SQLite", "PostgreSQL", "PostgreSQL, cache_ttl 0")

QUERIES = ("404", "503", "500", "418", "429", "301", "5xx", "not found", "bad gateway", "teapot")


def chat_languages() -> dict[str, str]:
    """The stored preferences: every fifth chat has one."""
    return {f"discord:{9_300_000_000_000_000_00 + n}": LANGS[n % len(LANGS)] for n in range(0, CHATS, 5)}


def quantiles(samples: list[float]) -> tuple[float, float, float]:
    """p50, p99 and max, in microseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return statistics.median(ordered) * 1e6, p99 * 1e6, ordered[-1] * 1e6


async def timed(read: Callable[[str], Awaitable[str | None]], keys: list[str]) -> list[float]:
    samples = []
    clock = time.perf_counter
    for key in keys:
        began = clock()
        await read(key)
        samples.append(clock() - began)
    return samples


async def best_of(
    passes: int, read: Callable[[str], Awaitable[str | None]], keys: list[str]
) -> tuple[float, float, float]:
    """The quantiles of the pass with the lowest p99: on a shared machine a pass can coincide
    with someone else's burst, which says nothing about the store."""
    return min([quantiles(await timed(read, keys)) for _ in range(passes)], key=lambda q: q[1])


async def bench_reads(
    server: PostgresServer, database: str, count: int, passes: int = 3
) -> dict[str, tuple[float, float, float]]:
    keys = [f"discord:{9_300_000_000_000_000_00 + n}" for n in range(CHATS)]
    random.Random(7).shuffle(keys)
    reads = [keys[n % len(keys)] for n in range(count)]
    results: dict[str, tuple[float, float, float]] = {}

    store = PostgresStore(server.url(database))
    await store.open()
    await store.prefs.set_many(chat_languages().items())
    await timed(store.prefs.get, reads[:500])  # warm-up: pool connection, prepared statement
    results["PostgreSQL get (miss, no cache)"] = await best_of(passes, store.prefs.get, reads)
    uncached = CachedPreferences(store.prefs, StoreHealth("PostgreSQL"), ttl=0)
    results["PostgreSQL through the cache, ttl 0 (miss)"] = await best_of(passes, uncached.get, reads)
    cached = CachedPreferences(store.prefs, StoreHealth("PostgreSQL"), ttl=3600)
    await timed(cached.get, keys)  # every chat once: from now on, hits
    results["PostgreSQL through the cache (hit)"] = await best_of(passes, cached.get, reads * 10)
    await store.close()

    with tempfile.TemporaryDirectory() as folder:
        sqlite = SqlitePreferences(Path(folder) / "prefs.sqlite3")
        for chat, lang in chat_languages().items():
            await sqlite.set(chat, lang)
        results["SQLite get (its table in memory)"] = await best_of(passes, sqlite.get, reads * 10)
        over_sqlite = CachedPreferences(sqlite, StoreHealth("SQLite"), ttl=3600)
        await timed(over_sqlite.get, keys)
        results["SQLite through the cache (hit)"] = await best_of(passes, over_sqlite.get, reads * 10)
        await sqlite.close()
    return results


# ---- 2. replies per second through one replica ---------------------------------------------------


def signed_requests(key_hex: str) -> list[tuple[str, str, str]]:
    """Pre-signed /http requests spread over GUILDS guilds (every fifth with a language)."""
    from nacl.signing import SigningKey

    from support.discord_emulator import DiscordEmulator

    key = SigningKey(bytes.fromhex(key_hex))
    payloads = DiscordEmulator()
    stamp = str(int(time.time()))
    out = []
    for n in range(2000):
        guild = str(9_300_000_000_000_000_00 + (n * 7919) % GUILDS)
        payload = payloads.slash("http", {"query": QUERIES[n % len(QUERIES)]}, guild_id=guild)
        body = json.dumps(payload, separators=(",", ":"))
        out.append((key.sign(stamp.encode() + body.encode()).signature.hex(), stamp, body))
    return out


def _client(port: int, requests: list[bytes], first: int, seconds: float, connections: int, out: Any) -> None:
    """Keep-alive HTTP/1.1 connections, each walking the requests from its own offset: clients in
    lockstep would all ask for the same guild at the same moment, which real traffic never does."""

    async def one(offset: int, deadline: float) -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        done = 0
        while time.perf_counter() < deadline:
            writer.write(requests[(offset + done) % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head[:40].decode())
            found = re.search(rb"Content-Length: (\d+)", head, re.IGNORECASE)
            if found is None:
                raise RuntimeError("response without Content-Length")
            await reader.readexactly(int(found.group(1)))
            done += 1
        writer.close()
        return done

    async def main() -> int:
        deadline = time.perf_counter() + seconds
        step = len(requests) // (2 * connections)
        offsets = [(first + n) * step for n in range(connections)]
        return sum(await asyncio.gather(*(one(offset, deadline) for offset in offsets)))

    try:
        out.put(asyncio.run(main()))
    except Exception as exc:  # reported by the parent, which would otherwise wait forever
        out.put(f"client failed: {type(exc).__name__}: {exc}")


def run_clients(port: int, triples: list[tuple[str, str, str]], seconds: float) -> tuple[int, float]:
    """Two client processes of 16 connections each; requests completed and seconds taken."""
    requests = [
        (
            f"POST /interactions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-Signature-Ed25519: {sig}\r\nX-Signature-Timestamp: {stamp}\r\n"
            f"Content-Length: {len(body.encode())}\r\n\r\n{body}"
        ).encode()
        for sig, stamp, body in triples
    ]
    queue: Any = multiprocessing.Queue()
    processes = [
        multiprocessing.Process(target=_client, args=(port, requests, 16 * n, seconds, 16, queue))
        for n in range(2)
    ]
    start = time.perf_counter()
    for process in processes:
        process.start()
    results = [queue.get(timeout=seconds + 60) for _ in processes]
    for process in processes:
        process.join()
    failures = [result for result in results if isinstance(result, str)]
    if failures:
        raise RuntimeError(failures[0])
    return sum(results), time.perf_counter() - start


def postgres_cpu(server: PostgresServer) -> float:
    """CPU seconds used so far by the postmaster and every backend under it."""
    root = int((server.data / "postmaster.pid").read_text().split()[0])
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == root or int(fields[1]) == root:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def start_replica(env: dict[str, str], workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port, ops = free_port(), free_port()
    log = workdir / f"replica-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env={**env, "BOT_DISCORD_INTERACTIONS_PORT": str(port), "BOT_OPS_PORT": str(ops)},
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )
    if REPLICA_CPUS:
        os.sched_setaffinity(process.pid, REPLICA_CPUS)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text()[-2000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ops}/healthz", timeout=1) as response:
                if response.status == 200:
                    return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the replica did not become healthy")


def stop_replica(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


def bench_replies(
    server: PostgresServer, database: str, seconds: float, rounds: int
) -> dict[str, list[tuple[Run, float]]]:
    from nacl.signing import SigningKey

    key = SigningKey.generate()
    base = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "PG"))},
        "PYTHONPATH": str(ROOT),
        "BOT_DISCORD_ENABLED": "true",
        "BOT_DISCORD_MODE": "interactions",
        "DISCORD_PUBLIC_KEY": key.verify_key.encode().hex(),
        "BOT_OPS_ENABLED": "true",
        "BOT_LOGGING_LEVEL": "WARNING",
    }
    runs: dict[str, list[tuple[Run, float]]] = {name: [] for name in CONTENDERS}
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        sqlite_path = workdir / "prefs.sqlite3"

        async def fill_sqlite() -> None:
            prefs = SqlitePreferences(sqlite_path)
            for chat, lang in chat_languages().items():
                await prefs.set(chat, lang)
            await prefs.close()

        asyncio.run(fill_sqlite())
        sqlite_copy = workdir / "prefs-again.sqlite3"
        shutil.copyfile(sqlite_path, sqlite_copy)
        pg = {"BOT_STORAGE_URL": server.url(database, password=False), "PGPASSWORD": server.password}
        envs = {
            # The same replica twice: how far apart two identical contenders land is the run's
            # noise, the yardstick for the PostgreSQL ratio.
            AGAIN: {**base, "BOT_STORAGE_PATH": str(sqlite_copy)},
            "SQLite": {**base, "BOT_STORAGE_PATH": str(sqlite_path)},
            "PostgreSQL": {**base, **pg},
            "PostgreSQL, cache_ttl 0": {**base, **pg, "BOT_STORAGE_CACHE_TTL": "0"},
        }
        # Each replica is started once and measured in turns: steady state, not start-up.
        replicas = {name: start_replica(env, workdir) for name, env in envs.items()}
        try:
            triples = signed_requests(key.encode().hex())
            for _, port in replicas.values():
                run_clients(port, triples, 2.0)  # warm-up: every guild read once, caches filled
            for round_number in range(rounds):
                # Fresh signatures each round: the endpoint refuses stale timestamps.
                triples = signed_requests(key.encode().hex())
                # The order flips every round, so that neither back end always runs first.
                order = list(replicas.items())
                for name, (process, port) in order if round_number % 2 == 0 else order[::-1]:
                    # Its caches went cold while the others ran: steady traffic first, then measure.
                    run_clients(port, triples, 1.0)
                    cpu, pg_cpu = cpu_seconds(process.pid), postgres_cpu(server)
                    done, taken = run_clients(port, triples, seconds)
                    cpu, pg_cpu = cpu_seconds(process.pid) - cpu, postgres_cpu(server) - pg_cpu
                    own_cpu = pg_cpu if name.startswith("PostgreSQL") else 0.0
                    runs[name].append((Run(done, taken, cpu), own_cpu))
        finally:
            for process, _ in replicas.values():
                stop_replica(process)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each measured run")
    parser.add_argument("--rounds", type=int, default=12, help="alternating runs per contender")
    parser.add_argument("--reads", type=int, default=20_000, help="timed preference reads per case")
    parser.add_argument("--no-pin", action="store_true", help="let the replica share every CPU")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) >= 2 and not args.no_pin:
        REPLICA_CPUS.add(cpus[0])
        os.sched_setaffinity(0, cpus[1:])

    print(f"http-status-bot storage benchmark · {os.cpu_count()} CPUs · Python {sys.version.split()[0]}")
    pinned = f"replica on CPU {min(REPLICA_CPUS)}, the rest on the others" if REPLICA_CPUS else "no pinning"
    print(f"{pinned}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with running_server(settings=()) as server:
        version = server.psql("SHOW server_version")
        print(
            f"PostgreSQL {version} on 127.0.0.1 (durable defaults),"
            f" {CHATS} chats, {CHATS // 5} with a language\n"
        )
        database = server.create_database("bench")

        print(f"1. Preference reads, one at a time, {args.reads} per pass, best of 3 passes by p99 (µs)")
        reads = asyncio.run(bench_reads(server, database, args.reads))
        for name, (p50, p99, top) in reads.items():
            print(f"   {name:44} p50 {p50:8.1f}   p99 {p99:8.1f}   max {top:9.1f}")
        miss = reads["PostgreSQL through the cache, ttl 0 (miss)"][1]
        hit = reads["PostgreSQL through the cache (hit)"][1]
        print(
            f"   cache miss p99 {miss / 1000:.2f} ms (target <= 2 ms)"
            f" {'OK' if miss <= 2000 else 'ABOVE TARGET'}"
        )
        print(f"   cache hit p99 {hit:.1f} µs (target <= 50 µs) {'OK' if hit <= 50 else 'ABOVE TARGET'}\n")

        print(
            f"2. Replies per second through one interactions replica ({GUILDS} guilds, signed /http,"
            f" 2 client processes x 16 connections, {args.seconds:.0f} s runs, {args.rounds} rounds)"
        )
        replies = bench_replies(server, database, args.seconds, args.rounds)
    best: dict[str, tuple[float, float]] = {}
    for name, measured in replies.items():
        cells = " | ".join(
            f"{run.rate:5.0f}/s, {run.capacity:5.0f}/CPU-s"
            + (f", PG CPU {pg:.2f} s" if name.startswith("PostgreSQL") else "")
            for run, pg in measured
        )
        print(f"   {name:24} {cells}")
        best[name] = (max(r.rate for r, _ in measured), max(r.capacity for r, _ in measured))
    sqlite_rate, sqlite_capacity = best["SQLite"]
    for name in (AGAIN, "PostgreSQL", "PostgreSQL, cache_ttl 0"):
        rate, capacity = best[name]
        # Rounds run their contenders back to back: a round's ratio sees about the same machine.
        pairs = list(zip(replies[name], replies["SQLite"], strict=True))
        ratios = [ours.rate / base.rate for (ours, _), (base, _) in pairs]
        paired_rate = statistics.median(ratios)
        paired_capacity = statistics.median(ours.capacity / base.capacity for (ours, _), (base, _) in pairs)
        print(
            f"   {name} / SQLite: best vs best wall {rate / sqlite_rate:.3f}, replica CPU"
            f" {capacity / sqlite_capacity:.3f}; median of rounds wall {paired_rate:.3f},"
            f" replica CPU {paired_capacity:.3f}; rounds from {min(ratios):.2f} to {max(ratios):.2f}"
        )
        if name == "PostgreSQL":
            verdict = "OK" if max(rate / sqlite_rate, paired_rate) >= 0.95 else "BELOW TARGET"
            print(f"   target: PostgreSQL within 5 % of SQLite (>= 0.95): {verdict}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
