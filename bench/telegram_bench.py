"""Telegram benchmark: this bot against a bare python-telegram-bot bot, same emulator, same run.

Run: ``.venv/bin/python bench/telegram_bench.py [--updates 1500] [--rounds 2]``.

The Bot API emulator (``tests/support/telegram_emulator.py``) runs in this process; each bot runs in a
child process of its own, so the two never share a core with the emulator and each reports its
own peak RSS. For every round and scenario the bare bot and ours are fed the same updates:

* ``command``: ``/http <code>`` in private chats, codes cycling through the catalogue;
* ``inline``: inline word searches (``not found``, ``too many requests``...).

"http-status-bot" runs with the in-memory update journal (what the adapter costs by itself);
"journaled" is the same bot with the SQLite journal ``run`` uses (each update written, with an
fsync, before Telegram is told it arrived, and deleted once answered).

Throughput is measured by the emulator, from the first update handed out by ``getUpdates`` to
the last answer received. Our bot also reports the time spent inside the shared handler
(``service.answer``/``service.suggest``, perf_counter around each call) and the CPU time its
process used per update. Figures are printed, not asserted; targets are shown beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support.telegram_emulator import TelegramEmulator  # noqa: E402

WORDS = (
    "not found",
    "too many requests",
    "bad gateway",
    "unauthorized",
    "forbidden",
    "teapot",
    "moved permanently",
    "gateway timeout",
    "payload too large",
    "service unavailable",
    "conflict",
    "precondition failed",
)
USERS = 50
WARMUP = 200
BARE_TEXT = "HTTP status bot"


# ---- child processes: one bot each --------------------------------------------------------


def _percentile(samples: Sequence[float], fraction: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _peak_rss_kib() -> int:
    """This process's peak resident set size in KiB.

    VmHWM where /proc has it: Linux carries the parent's peak across fork and exec into
    ``ru_maxrss``, which would report the conductor's memory rather than the bot's.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def _child(kind: str, base_url: str, token: str) -> None:
    """Run one bot until told to stop on stdin; report figures as JSON on stdout."""
    from telegram import (
        InlineKeyboardButton,
        InlineKeyboardMarkup,
        InlineQueryResultArticle,
        InputTextMessageContent,
        LinkPreviewOptions,
        Update,
    )
    from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes, InlineQueryHandler

    from bot.platforms.telegram.adapter import TelegramAdapter
    from bot.platforms.telegram.config import TelegramConfig
    from bot.platforms.telegram.render import render_html
    from bot.service import Service
    from handlers import Handler, Item, Reply, Request, load

    wall: list[float] = []
    cpu: list[float] = []
    timing = False

    class TimedService(Service):
        """The real service with a stopwatch around the handler calls.

        perf_counter is the brief's measure; thread_time (CPU time of this thread) is shown
        beside it because on a busy machine a wall-clock p99 also counts time spent descheduled.
        """

        def answer(self, request: Request) -> Reply:
            start, start_cpu = time.perf_counter(), time.thread_time()
            reply = super().answer(request)
            if timing:
                wall.append(time.perf_counter() - start)
                cpu.append(time.thread_time() - start_cpu)
            return reply

        def suggest(self, platform: str, text: str, langs: Sequence[str | None], limit: int) -> list[Item]:
            start, start_cpu = time.perf_counter(), time.thread_time()
            items = super().suggest(platform, text, langs, limit)
            if timing:
                wall.append(time.perf_counter() - start)
                cpu.append(time.thread_time() - start_cpu)
            return items

    stop: Any
    if kind in ("ours", "journaled"):
        handler = Handler(load())
        config = TelegramConfig(enabled=True, token=token, api_base_url=base_url, poll_timeout=10)
        service = TimedService(handler)
        if kind == "journaled":
            from bot.storage import SqliteJournal

            service.journal = SqliteJournal(Path(tempfile.mkdtemp(prefix="bench-")) / "journal.sqlite3")
        adapter = TelegramAdapter(config, service, register_commands=False)
        await adapter.start()
        stop = adapter.stop
    elif kind == "bare":

        async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.message is not None
            await update.message.reply_text(BARE_TEXT)

        async def inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.inline_query is not None
            article = InlineQueryResultArticle("1", BARE_TEXT, InputTextMessageContent(BARE_TEXT))
            await update.inline_query.answer([article])

    else:
        # A plain PTB bot sending the same kind of payload as ours, precomputed: one card with
        # its keyboard, or a page of ten cards. It shows what the payload itself costs in PTB.
        handler = Handler(load())
        preview = LinkPreviewOptions(is_disabled=True)

        def card(code: int) -> tuple[str, InlineKeyboardMarkup]:
            message = render_html(handler.card(code, "en"), share_label="Share")
            rows = [
                [
                    InlineKeyboardButton(b.text, url=b.url, switch_inline_query=b.switch_inline_query)
                    for b in row
                ]
                for row in message.buttons
            ]
            return message.html, InlineKeyboardMarkup(rows)

        card_html, card_markup = card(404)
        articles = []
        for item in handler.suggest("not found", ("en",), 10):
            text, markup = card(item.code)
            content = InputTextMessageContent(text, parse_mode="HTML", link_preview_options=preview)
            articles.append(InlineQueryResultArticle(str(item.code), item.title, content, markup))

        async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.message is not None
            await update.message.reply_text(
                card_html, parse_mode="HTML", link_preview_options=preview, reply_markup=card_markup
            )

        async def inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.inline_query is not None
            await update.inline_query.answer(articles)

    if kind not in ("ours", "journaled"):
        app = ApplicationBuilder().token(token).base_url(base_url).job_queue(None).build()
        app.add_handler(CommandHandler("http", reply))
        app.add_handler(InlineQueryHandler(inline))
        await app.initialize()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=10)

        async def stop_bare() -> None:
            assert app.updater is not None
            await app.updater.stop()
            await app.stop()
            await app.shutdown()

        stop = stop_bare

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("READY", flush=True)
    cpu_start = cpu_end = 0.0
    while line := (await reader.readline()).decode().strip():
        if line == "MARK":
            timing, cpu_start = True, time.process_time()
        elif line == "STOP":
            cpu_end = time.process_time()
            timing = False
            break
        print("OK", flush=True)
    await stop()
    peak_kib = _peak_rss_kib()
    report = {
        "cpu": cpu_end - cpu_start,
        "handler_p50": _percentile(wall, 0.50),
        "handler_p99": _percentile(wall, 0.99),
        "handler_cpu_p99": _percentile(cpu, 0.99),
        "handler_max": max(wall, default=float("nan")),
        "handler_calls": len(wall),
        "rss_mib": peak_kib / 1024,
    }
    print(json.dumps(report), flush=True)


# ---- the conductor: emulator here, bots in children ------------------------------------------


class Run:
    """One bot process fed one scenario."""

    def __init__(self, emu: TelegramEmulator, kind: str) -> None:
        self.emu = emu
        self.kind = kind
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Run:
        # What earlier runs left is not needed: keep the conductor small and fast.
        self.emu.sent.clear()
        self.emu.inline_answers.clear()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--child",
            self.kind,
            "--base-url",
            self.emu.base_url,
            "--token",
            self.emu.token,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        await self._expect("READY")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def _expect(self, word: str) -> str:
        assert self.proc and self.proc.stdout
        line = (await asyncio.wait_for(self.proc.stdout.readline(), 60)).decode().strip()
        if not line.startswith(word):
            raise RuntimeError(f"{self.kind} bot said {line!r}, expected {word}")
        return line

    async def tell(self, word: str) -> None:
        assert self.proc and self.proc.stdin
        self.proc.stdin.write(f"{word}\n".encode())
        await self.proc.stdin.drain()

    async def feed(self, scenario: str, count: int, codes: Sequence[int]) -> float:
        """Push ``count`` updates, wait for every answer; updates per second."""
        emu = self.emu
        answers = len(emu.sent) + len(emu.inline_answers)
        users = [emu.user(100_000 + i) for i in range(USERS)]
        emu.first_delivery = None
        for i in range(count):
            user = users[i % USERS]
            if scenario == "command":
                emu.message(f"/http {codes[i % len(codes)]}", user=user)
            else:
                emu.inline_query(WORDS[i % len(WORDS)], user=user)
        target = answers + count
        await emu.wait_for(lambda: len(emu.sent) + len(emu.inline_answers) >= target, within=600)
        last = max([s.at for s in emu.sent[-1:]] + [a.at for a in emu.inline_answers[-1:]])
        assert emu.first_delivery is not None
        return count / (last - emu.first_delivery)

    async def measure(self, scenario: str, count: int, codes: Sequence[int]) -> dict[str, Any]:
        await self.feed(scenario, WARMUP, codes)
        await self.tell("MARK")
        await self._expect("OK")
        rate = await self.feed(scenario, count, codes)
        await self.tell("STOP")
        assert self.proc and self.proc.stdout
        report: dict[str, Any] = json.loads(await asyncio.wait_for(self.proc.stdout.readline(), 60))
        await asyncio.wait_for(self.proc.wait(), 30)
        report["rate"] = rate
        report["cpu_ms_per_update"] = 1000 * report["cpu"] / count
        return report


async def _conduct(count: int, rounds: int) -> None:
    from handlers import load

    codes = load().codes
    emu = TelegramEmulator(validate=False, record_calls=False)
    await emu.start()
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    try:
        for number in range(rounds):
            for scenario in ("command", "inline"):
                kinds = ("bare", "card", "ours", "journaled")
                for kind in kinds[number % 4 :] + kinds[: number % 4]:
                    async with Run(emu, kind) as run:
                        report = await run.measure(scenario, count, codes)
                    results.setdefault((scenario, kind), []).append(report)
                    print(
                        f"  round {number + 1} {scenario:<7} {kind:<9} {report['rate']:7.1f} updates/s"
                        f"  cpu {report['cpu_ms_per_update']:.2f} ms/update",
                        flush=True,
                    )
    finally:
        await emu.stop()
    print()
    print(f"Telegram bench: {count} updates per run, {rounds} round(s), medians of rounds")
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPU(s), load average "
        f"{os.getloadavg()[0]:.2f}; emulator in this process, each bot in its own"
    )
    names = {
        "bare": "bare PTB bot",
        "card": "PTB bot, same payloads",
        "ours": "http-status-bot",
        "journaled": "  with the SQLite journal",
    }
    for scenario, label, call in (
        ("command", "/http <code>", "service.answer"),
        ("inline", "inline word search", "service.suggest"),
    ):
        rate = {k: statistics.median(r["rate"] for r in results[(scenario, k)]) for k in names}
        best = {k: max(r["rate"] for r in results[(scenario, k)]) for k in names}
        cpu = {k: statistics.median(r["cpu_ms_per_update"] for r in results[(scenario, k)]) for k in names}
        ours_runs = results[(scenario, "ours")]
        p50 = statistics.median(r["handler_p50"] for r in ours_runs) * 1e6
        p99 = statistics.median(r["handler_p99"] for r in ours_runs) * 1e6
        cpu_p99 = statistics.median(r["handler_cpu_p99"] for r in ours_runs) * 1e6
        worst = max(r["handler_max"] for r in ours_runs) * 1e6
        print(f"{label}:")
        for kind, name in names.items():
            print(
                f"  {name:<24} {rate[kind]:6.1f} updates/s (best {best[kind]:6.1f})"
                f"   {cpu[kind]:.2f} ms CPU per update"
            )
        print(
            f"  ours/bare  {rate['ours'] / rate['bare']:.2f} by throughput"
            f" (best {best['ours'] / best['bare']:.2f}),"
            f" {cpu['bare'] / cpu['ours']:.2f} by CPU per update   (target >= 0.90)"
        )
        print(
            f"  journaled/ours  {rate['journaled'] / rate['ours']:.2f} by throughput,"
            f" {cpu['ours'] / cpu['journaled']:.2f} by CPU per update"
        )
        print(
            f"  ours/same payloads  {rate['ours'] / rate['card']:.2f} by throughput,"
            f" {cpu['card'] / cpu['ours']:.2f} by CPU per update"
        )
        print(
            f"  inside the handler ({call}): p50 {p50:.0f} µs, p99 {p99:.0f} µs (perf_counter),"
            f" p99 {cpu_p99:.0f} µs (CPU time), max {worst:.0f} µs   (target p99 <= 1000 µs)"
        )
    rss = {
        kind: max(r["rss_mib"] for (_, k), runs in results.items() if k == kind for r in runs)
        for kind in names
    }
    print("peak RSS: " + ", ".join(f"{names[k]} {rss[k]:.1f} MiB" for k in names))


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments; conduct the benchmark or be one of its bots."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--updates", type=int, default=1000, help="measured updates per run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (each runs every bot)")
    parser.add_argument("--child", choices=("bare", "card", "ours", "journaled"), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        asyncio.run(_child(args.child, args.base_url, args.token))
    else:
        asyncio.run(_conduct(args.updates, args.rounds))


if __name__ == "__main__":
    main()
