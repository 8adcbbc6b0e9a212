"""Benchmark of the Slack adapter in HTTP mode (a script that prints figures, not a test).

Signed ``/http`` slash commands, as Slack sends them (form-encoded, ``v0`` HMAC signature), are
sent over keep-alive connections to three servers, each alone in its own process, all behind the
same aiohttp endpoint code (``to_bolt_request`` → ``AsyncApp.async_dispatch`` →
``to_aiohttp_response``):

* **bare Bolt**: an ``AsyncApp`` with Bolt's defaults whose ``/http`` listener does nothing but
  ``await ack("...")`` with a one-line text (Bolt still verifies the signature and authorizes);
* **bare Bolt, process_before_response**: the same with the setting this bot uses, which answers
  without Bolt's acknowledgement polling;
* **this bot**: the Slack adapter, answering each command with its Block Kit card (language
  lookup, handler, renderer, answer cache).

The Web API calls the servers make (``auth.test``, ``users.info``) go to the Slack emulator of
tests/support, in this process. The load comes from two client processes with raw HTTP/1.1
requests. Throughput on a shared machine moves with whatever else runs, so each run also reports
the server's own CPU time; runs alternate between the contenders and the best of each is kept.
Target: this bot >= 0.8x the bare Bolt app's throughput.

Usage: ``.venv/bin/python bench/slack.py [--seconds 5] [--rounds 3] [--connections 32]``

The file is named like the library on purpose (the issue asks for bench/slack.py): the first
thing it does is take its own directory off ``sys.path``, so that ``import slack`` can never
find this script instead of slack_sdk's ``slack`` package.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import logging  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

QUERIES = [
    "404", "503", "500", "418", "429", "301", "5xx", "4xx", "not found", "too many requests",
    "unauthorized vs forbidden", "bad gateway", "HTTP/1.1 502", "teapot", "420", "50x", "gone",
    "request timeout", "200", "304 public",
]  # fmt: skip
USERS = [f"UBENCH{i:03d}" for i in range(20)]
PATH = "/slack/events"
KINDS = ("bare", "bare_pbr", "ours")
LABELS = {
    "bare": "bare Bolt, ack(one line)",
    "bare_pbr": "bare Bolt, process_before_response",
    "ours": "this bot (Block Kit card)",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    """One measured run of one contender."""

    done: int
    seconds: float
    cpu: float

    @property
    def rate(self) -> float:
        """Commands per second of wall time (depends on what else the machine is doing)."""
        return self.done / self.seconds

    @property
    def capacity(self) -> float:
        """Commands per second of the server's own CPU time (robust to a busy machine)."""
        return self.done / self.cpu if self.cpu else float("nan")


# ---- child processes -----------------------------------------------------------------------------


async def _serve_until_terminated(
    start: Callable[[], Awaitable[Any]], stop: Callable[[], Awaitable[Any]]
) -> None:
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    await start()
    print("ready", flush=True)
    await done.wait()
    await stop()


def child(kind: str, port: int, api: str) -> None:
    """Serve one contender on ``port`` until SIGTERM."""
    from support.slack_emulator import BOT_TOKEN, SIGNING_SECRET

    logging.basicConfig(level=logging.ERROR)
    if kind == "ours":
        from bot.platforms.slack.adapter import SlackAdapter
        from bot.platforms.slack.config import SlackConfig
        from bot.service import Service
        from handlers import Handler, load

        config = SlackConfig(
            enabled=True,
            mode="http",
            bot_token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            listen="127.0.0.1",
            port=port,
            api_base_url=api,
        )
        adapter = SlackAdapter(config, Service(Handler(load())))
        asyncio.run(_serve_until_terminated(adapter.start, adapter.stop))
        return

    from aiohttp import web
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncAck, AsyncApp

    async def main() -> None:
        app = AsyncApp(
            token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            process_before_response=kind == "bare_pbr",
        )
        app.client.base_url = api

        @app.command("/http")
        async def http(ack: AsyncAck) -> None:
            await ack("503 Service Unavailable: the server cannot handle the request right now.")

        async def handle(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

        server = web.Application(client_max_size=1 << 20)
        server.router.add_post(PATH, handle)
        runner = web.AppRunner(server, access_log=None, handle_signals=False)

        async def start() -> None:
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()

        _ = http
        await _serve_until_terminated(start, runner.cleanup)

    asyncio.run(main())


def spawn(*args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--child", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != "ready":
        process.kill()
        raise RuntimeError(f"child {args[:1]} did not start")
    return process


def finish(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


# ---- load ----------------------------------------------------------------------------------------


def signed_requests(count: int = 200) -> list[bytes]:
    """Raw HTTP/1.1 requests: slash commands over the query mix and users, signed now."""
    from support.slack_emulator import SlackEmulator

    emu = SlackEmulator()
    out = []
    for i in range(count):
        command = emu.command("/http", QUERIES[i % len(QUERIES)], user=USERS[i % len(USERS)])
        command["response_url"] = "http://127.0.0.1:9/response/1"
        body, content_type = emu.encode("slash_commands", command)
        headers = "".join(f"{k}: {v}\r\n" for k, v in emu.sign(body).items())
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n{headers}"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out


def _raw_client(port: int, requests: list[bytes], seconds: float, connections: int, out: Any) -> None:
    async def one(deadline: float, offset: int) -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        done = 0
        while time.perf_counter() < deadline:
            writer.write(requests[(offset + done) % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head[:60].decode())
            found = re.search(rb"Content-Length: (\d+)", head, re.IGNORECASE)
            if found is None:
                raise RuntimeError("response without Content-Length")
            await reader.readexactly(int(found.group(1)))
            done += 1
        writer.close()
        return done

    async def main() -> int:
        deadline = time.perf_counter() + seconds
        return sum(await asyncio.gather(*(one(deadline, i * 7) for i in range(connections))))

    out.put(asyncio.run(main()))


def load(port: int, requests: list[bytes], seconds: float, connections: int) -> tuple[int, float]:
    """Two client processes with ``connections`` keep-alive connections in all."""
    queue: Any = multiprocessing.Queue()
    processes = [
        multiprocessing.Process(target=_raw_client, args=(port, requests, seconds, connections // 2, queue))
        for _ in range(2)
    ]
    start = time.perf_counter()
    for p in processes:
        p.start()
    total = sum(int(queue.get()) for _ in processes)
    for p in processes:
        p.join()
    return total, time.perf_counter() - start


async def bench(seconds: float, rounds: int, connections: int) -> dict[str, list[Run]]:
    from support.slack_emulator import SlackEmulator

    runs: dict[str, list[Run]] = {kind: [] for kind in KINDS}
    async with SlackEmulator() as emu:
        for user in USERS:
            emu.users[user] = {"name": user.lower(), "locale": "en-US"}
        for _ in range(rounds):
            for kind in KINDS:
                # Signed afresh each run: Slack's signatures are valid for five minutes.
                requests = signed_requests()
                port = free_port()
                process = await asyncio.to_thread(spawn, kind, str(port), emu.api_base_url)
                try:
                    await asyncio.to_thread(load, port, requests, 1.0, connections)  # warm-up
                    cpu = cpu_seconds(process.pid)
                    done, taken = await asyncio.to_thread(load, port, requests, seconds, connections)
                    cpu = cpu_seconds(process.pid) - cpu
                finally:
                    await asyncio.to_thread(finish, process)
                runs[kind].append(Run(done, taken, cpu))
    return runs


# ---- report --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per contender (best kept)")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections in all")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, port, api = args.child
        child(kind, int(port), api)
        return 0

    print(f"http-status-bot Slack benchmark · {os.cpu_count()} CPUs · Python {sys.version.split()[0]}")
    print(
        f"HTTP mode, signed /http slash commands, {args.connections} keep-alive connections from 2 client"
        f" processes; each run {args.seconds:.0f} s, {args.rounds} alternating rounds, best kept"
    )
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    runs = asyncio.run(bench(args.seconds, args.rounds, args.connections))
    for kind in KINDS:
        cells = " | ".join(f"{r.rate:5.0f}/s wall, {r.capacity:5.0f}/CPU-s" for r in runs[kind])
        print(f"   {LABELS[kind]:36} {cells}")
    best = {kind: (max(r.rate for r in rs), max(r.capacity for r in rs)) for kind, rs in runs.items()}
    print()
    for baseline in ("bare", "bare_pbr"):
        rate = best["ours"][0] / best[baseline][0]
        capacity = best["ours"][1] / best[baseline][1]
        paired = statistics.median(o.rate / b.rate for o, b in zip(runs["ours"], runs[baseline], strict=True))
        verdict = "OK" if max(rate, paired) >= 0.8 else "BELOW TARGET"
        print(
            f"   this bot / {LABELS[baseline]}: wall {rate:.2f} (median of paired rounds {paired:.2f}),"
            f" server CPU {capacity:.2f} (target >= 0.80) {verdict}"
        )
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
