"""Runtime benchmark: start-up to healthy, memory while serving both platforms, shutdown under load.

Run: ``.venv/bin/python bench/runtime.py [--runs 3] [--updates 600]``. A real ``python -m bot run``
process serves Telegram (polling) and Discord (gateway) against the emulators in ``tests/``; all
traffic stays on 127.0.0.1. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import wait_healthy  # noqa: E402
from support.discord_emulator import DiscordEmulator  # noqa: E402
from support.emulated_config import emulated_config  # noqa: E402
from support.telegram_emulator import TelegramEmulator  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mib(pid: int) -> tuple[float, float]:
    """Current and peak resident memory of a process, in MiB (Linux)."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


class Bot:
    """One ``python -m bot run`` process pointed at the emulators."""

    def __init__(self, workdir: Path, telegram: TelegramEmulator, discord: DiscordEmulator) -> None:
        self.port = _free_port()
        self.workdir = workdir
        self.config = workdir / "config.toml"
        self.config.write_text(
            emulated_config(telegram, discord, self.port, "WARNING", workdir / "prefs.sqlite3"),
            encoding="utf-8",
        )
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BOT_")},
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "DISCORD_BOT_TOKEN": discord.token,
        }
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> float:
        """Spawn and wait for /healthz 200; seconds from spawn to healthy."""
        began = time.monotonic()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--config",
            str(self.config),
            env=self.env,
            cwd=self.workdir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=(self.workdir / "bot.log").open("w"),
        )
        try:
            await wait_healthy(self.process, self.port, interval=0.01)
        except AssertionError:
            raise RuntimeError((self.workdir / "bot.log").read_text()[-2000:]) from None
        return time.monotonic() - began

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def terminate(self) -> tuple[float, int]:
        """SIGTERM; seconds until exit and the exit status."""
        assert self.process is not None
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(self.process.wait(), 30)
        return time.monotonic() - began, status


async def _emulators() -> tuple[TelegramEmulator, DiscordEmulator]:
    telegram = TelegramEmulator(validate=False, spec=False, record_calls=False)
    discord = DiscordEmulator(check_payloads=False)
    await telegram.start()
    await discord.start()
    return telegram, discord


async def startup(runs: int) -> list[float]:
    """Seconds from spawn to /healthz 200, serving both platforms."""
    times = []
    for _ in range(runs):
        telegram, discord = await _emulators()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                bot = Bot(Path(tmp), telegram, discord)
                times.append(await bot.start())
                await bot.terminate()
        finally:
            await telegram.stop()
            await discord.stop()
    return times


async def serve_and_stop(updates: int) -> dict[str, Any]:
    """Serve ``updates`` Telegram updates and as many Discord interactions, measure memory, then
    SIGTERM in the middle of a second burst and measure the shutdown."""
    telegram, discord = await _emulators()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bot = Bot(Path(tmp), telegram, discord)
            await bot.start()
            await discord.wait_connected()
            idle_rss, _ = _rss_mib(bot.pid)
            began = time.monotonic()
            sent = [
                telegram.message(f"/http {400 + i % 30}", user=telegram.user(10_000 + i))
                for i in range(updates)
            ]
            futures = [
                discord.send(discord.slash("http", {"query": str(500 + i % 12)})) for i in range(updates)
            ]
            await asyncio.wait_for(asyncio.gather(*futures), 120)
            await telegram.wait_for(lambda: all(telegram.replies_to(u) for u in sent[-5:]), 120)
            served_in = time.monotonic() - began
            rss, peak = _rss_mib(bot.pid)

            # Second burst: SIGTERM while updates are queued and replies are in flight.
            burst = [
                telegram.message(f"/http {500 + i % 12}", user=telegram.user(50_000 + i))
                for i in range(updates)
            ]
            pending_interactions = [
                discord.send(discord.slash("http", {"query": "404"})) for _ in range(updates // 4)
            ]
            await asyncio.sleep(0.3)
            stop_seconds, status = await bot.terminate()
            taken = burst[: len(burst) - telegram.pending]
            answered = sum(1 for u in taken if len(telegram.replies_to(u)) == 1)
            return {
                "served_in": served_in,
                "idle_rss": idle_rss,
                "rss": rss,
                "peak": peak,
                "stop_seconds": stop_seconds,
                "status": status,
                "taken": len(taken),
                "answered": answered,
                "left_queued": telegram.pending,
                "interactions_answered": sum(1 for f in pending_interactions if f.done()),
                "interactions_sent": len(pending_interactions),
            }
    finally:
        await telegram.stop()
        await discord.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="start-up measurements")
    parser.add_argument("--updates", type=int, default=600, help="updates and interactions per burst")
    args = parser.parse_args()

    times = await startup(args.runs)
    print(
        f"start-up to healthy (telegram + discord, {args.runs} runs): "
        f"median {statistics.median(times):.2f} s, max {max(times):.2f} s"
    )
    r = await serve_and_stop(args.updates)
    n = args.updates
    print(f"served {n} Telegram updates + {n} Discord interactions in {r['served_in']:.2f} s")
    print(
        f"RSS serving both platforms: {r['idle_rss']:.1f} MiB idle, "
        f"{r['rss']:.1f} MiB after the burst, peak {r['peak']:.1f} MiB"
    )
    print(
        f"SIGTERM under load: exit {r['status']} in {r['stop_seconds']:.2f} s; "
        f"Telegram updates taken {r['taken']}, answered exactly once {r['answered']}, "
        f"left queued at Telegram {r['left_queued']}; "
        f"Discord interactions answered {r['interactions_answered']}/{r['interactions_sent']}"
    )


if __name__ == "__main__":
    asyncio.run(main())
