"""Benchmark of log files in chats (a script that prints figures, not a test).

1. Telegram: a document captioned ``/http`` of 1, 5 and 19.5 MiB, from the update to the chart
   photo sent (getFile, download, summary, message, sendPhoto), through the real adapter and the
   emulator in this process. CPU time is the whole process's (bot and emulator together).
2. Discord, the HTTP interactions endpoint: ``/http-logs`` on a 19.5 MiB attachment, from the
   POST to the edit that carries the summary; and meanwhile, ordinary ``/http 404`` interactions
   posted one after another, whose latency shows what the summary costs everyone else. The same
   run is repeated with the summary forced onto the event loop (as it would be without the worker
   thread) for comparison. Target: ordinary interactions stay far under Discord's 3 s.

Figures on a shared machine move with whatever else runs: compare rows of one run.
Usage: ``.venv/bin/python bench/chat_logs.py [--rounds 3]`` (about a minute)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from nacl.signing import SigningKey

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.logs import generate  # noqa: E402
from bot.metrics import Metrics  # noqa: E402
from bot.platforms.discord.config import DiscordConfig  # noqa: E402
from bot.platforms.discord.interactions import DiscordInteractionsAdapter  # noqa: E402
from bot.platforms.telegram.adapter import TelegramAdapter  # noqa: E402
from bot.platforms.telegram.config import TelegramConfig  # noqa: E402
from bot.service import Service  # noqa: E402
from handlers import Handler, load  # noqa: E402

from support.discord_emulator import DiscordEmulator  # noqa: E402
from support.telegram_emulator import TelegramEmulator  # noqa: E402

MIB = 1024 * 1024
TO_THREAD = asyncio.to_thread
KEY = SigningKey.generate()
T = TypeVar("T")


def make_log(mib: float, folder: Path) -> bytes:
    """A generated combined-format log of about ``mib`` MiB (bench/logs.py's generator)."""
    path = folder / f"access-{mib}.log"
    generate(path, max(int(mib * MIB / 150), 1))  # lines average under 200 bytes: trimmed below
    data = path.read_bytes()
    while len(data) > mib * MIB:
        data = data[: data.rfind(b"\n", 0, int(mib * MIB)) + 1]
    return data


class Clock:
    """Wall and process CPU time of one measured span."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


# ---- Telegram -----------------------------------------------------------------------------------


async def telegram(handler: Handler, logs: dict[float, bytes], rounds: int) -> None:
    emu = TelegramEmulator(record_calls=False)
    await emu.start()
    config = TelegramConfig(enabled=True, token=emu.token, api_base_url=emu.base_url, poll_timeout=1)
    adapter = TelegramAdapter(config, Service(handler, Metrics()), register_commands=False)
    await adapter.start()
    try:
        print("Telegram: document captioned /http → summary message + chart photo")
        for mib, data in logs.items():
            walls, cpus = [], []
            for round_ in range(rounds):
                user = emu.user(10_000 + round_ * 100 + int(mib * 10))
                with Clock() as clock:
                    update = emu.message("/http", user=user, document=emu.document(data))
                    await emu.wait_for(lambda u=update: len(emu.replies_to(u)) >= 2, 120)  # type: ignore[misc]
                sent = emu.replies_to(update)
                assert sent[0].text.startswith("Log summary") and sent[1].method == "sendPhoto", sent[0].text
                walls.append(clock.wall)
                cpus.append(clock.cpu)
            print(
                f"  {len(data) / MIB:5.1f} MiB  median {statistics.median(walls):5.2f} s wall "
                f"(best {min(walls):5.2f}), {statistics.median(cpus):5.2f} s CPU (bot + emulator)"
            )
        assert emu.violations == [], emu.violations[:3]
    finally:
        await adapter.stop()
        await emu.stop()


# ---- Discord ------------------------------------------------------------------------------------


def signed(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    return {
        "X-Signature-Ed25519": KEY.sign(stamp.encode() + body).signature.hex(),
        "X-Signature-Timestamp": stamp,
        "Content-Type": "application/json",
    }


@asynccontextmanager
async def endpoint(handler: Handler, emu: DiscordEmulator) -> AsyncIterator[DiscordInteractionsAdapter]:
    config = DiscordConfig(
        enabled=True,
        mode="interactions",
        public_key=KEY.verify_key.encode().hex(),
        interactions_listen="127.0.0.1",
        interactions_port=0,
        api_base_url=emu.api_base_url,
    )
    adapter = DiscordInteractionsAdapter(config, Service(handler, Metrics()))
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()


async def post(http: aiohttp.ClientSession, url: str, payload: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    async with http.post(url, data=body, headers=signed(body)) as response:
        result: dict[str, Any] = await response.json()
        return result


async def on_the_loop(function: Callable[..., T], /, *args: Any) -> T:
    """``asyncio.to_thread`` replaced: the work runs right here, holding up the loop."""
    return function(*args)


async def discord(handler: Handler, data: bytes, rounds: int) -> None:
    print(f"Discord HTTP endpoint: /http-logs on {len(data) / MIB:.1f} MiB, /http 404 meanwhile")
    for mode in ("worker thread", "on the loop"):
        totals, others, worst = [], [], []
        for _ in range(rounds):
            async with DiscordEmulator(check_payloads=True) as emu, endpoint(handler, emu) as adapter:
                if mode == "on the loop":
                    setattr(asyncio, "to_thread", on_the_loop)  # noqa: B010 - for this run only
                try:
                    async with aiohttp.ClientSession() as http:
                        payload = emu.slash("http-logs", {}, attachments={"file": emu.attachment(data)})
                        latencies: list[float] = []
                        with Clock() as clock:
                            emu.acknowledge(payload, await post(http, adapter.url, payload))
                            waiting = asyncio.ensure_future(emu.webhook_message(payload, within=120))
                            while not waiting.done():
                                started = time.perf_counter()
                                answer = await post(http, adapter.url, emu.slash("http", {"query": "404"}))
                                assert answer["type"] == 4
                                latencies.append(time.perf_counter() - started)
                            sent = await waiting
                finally:
                    setattr(asyncio, "to_thread", TO_THREAD)  # noqa: B010
                assert sent.file("timeline.png") is not None and emu.problems == [], emu.problems[:3]
            totals.append(clock.wall)
            others.append(statistics.median(latencies))
            worst.append(max(latencies))
        print(
            f"  {mode:13}  summary delivered in {statistics.median(totals):5.2f} s; "
            f"/http 404 meanwhile: median {statistics.median(others) * 1000:6.1f} ms, "
            f"worst {max(worst) * 1000:6.0f} ms"
        )


async def run(rounds: int) -> None:
    logging.disable(logging.WARNING)
    handler = Handler(load())
    handler.warm()
    with tempfile.TemporaryDirectory(prefix="chat-logs-bench-") as folder:
        logs = {mib: make_log(mib, Path(folder)) for mib in (1.0, 5.0, 19.5)}
    await telegram(handler, logs, rounds)
    await discord(handler, logs[19.5], rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.rounds))


if __name__ == "__main__":
    main()
