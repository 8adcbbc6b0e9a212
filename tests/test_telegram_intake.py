"""How Telegram updates come in: concurrency across chats, the journal, a polling loop that
survives bad replies, a webhook that refuses garbage cleanly.

The real python-telegram-bot application against the emulator, over sockets on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.metrics import Metrics
from bot.ops import OpsServer
from bot.platforms.telegram.adapter import TelegramAdapter
from bot.platforms.telegram.config import TelegramConfig
from bot.platforms.telegram.delivery import RetryPolicy
from bot.platforms.telegram.dispatch import ChatDispatcher
from bot.runtime import Runtime
from bot.service import Service
from bot.storage import JournalEntry, MemoryJournal, SqliteJournal, SqlitePreferences
from handlers import Handler, load

from support.telegram_emulator import BOT_ID, Faults, TelegramEmulator, free_port

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

SECRET = "s3cret_webhook-token"
# Waits out a flood wait as long as Telegram asks (up to a minute), like production.
PATIENT = RetryPolicy(attempts=5, base_delay=0.05, max_delay=0.2, max_retry_after=60.0)


@cache
def _handler() -> Handler:
    handler = Handler(load())
    handler.warm()
    return handler


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    emu = TelegramEmulator()
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()
    assert emu.violations == []


def config_for(emu: TelegramEmulator, **changes: Any) -> TelegramConfig:
    base = TelegramConfig(enabled=True, token=emu.token, api_base_url=emu.base_url, poll_timeout=1)
    return replace(base, **changes)


def webhook_config(emu: TelegramEmulator) -> TelegramConfig:
    port = free_port()
    return config_for(
        emu,
        mode="webhook",
        webhook_listen="127.0.0.1",
        webhook_port=port,
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        secret_token=SECRET,
    )


async def _until(predicate: Any, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


# ---- one slow chat, the others answered at once ----------------------------------------------


async def test_a_flood_limited_chat_a_slow_api_call_and_a_locked_store_delay_no_other_chat(
    emulator: TelegramEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "prefs.sqlite3"
    # Preferences and journal in one file, as run opens them: the lock below holds both.
    service = Service(_handler(), prefs=SqlitePreferences(path), journal=SqliteJournal(path))
    adapter = TelegramAdapter(config_for(emulator), service, retry=PATIENT, drain_timeout=0.5)
    await adapter.start()
    lock = sqlite3.connect(path, isolation_level=None)
    try:
        # A group Telegram holds under flood control for 30 s...
        flooded = emulator.group(-1001)
        emulator.flood(flooded["id"], 30.0)
        emulator.message("/http 404", chat=flooded, user=emulator.user(21_001))
        # ...a group whose administrator check is slow (getChatMember takes 3 s)...
        slow = emulator.group(-1002)
        emulator.faults["getChatMember"] = Faults(delay=3.0)
        emulator.message("/lang fr", chat=slow, user=emulator.user(21_002))
        # ...and a private chat whose /lang write meets a locked database file.
        lock.execute("BEGIN IMMEDIATE")
        emulator.message("/lang de", user=emulator.user(21_003))
        await emulator.wait_for(lambda: len(emulator.calls_of("getChatMember")) == 1)
        began = time.monotonic()
        others = [emulator.message(f"/http {200 + i}", user=emulator.user(21_100 + i)) for i in range(5)]
        await emulator.wait_for(lambda: all(emulator.replies_to(u) for u in others), within=10)
        slowest = max(emulator.replies_to(u)[0].at for u in others) - began
        print(f"\nfive other chats answered within {slowest * 1000:.0f} ms")
        assert slowest < 1.0
        assert not any(s.chat_id == flooded["id"] for s in emulator.sent)
    finally:
        lock.rollback()
        lock.close()
        await adapter.stop()
        await service.prefs.close()
        await service.journal.close()


async def test_messages_of_one_chat_are_answered_in_order(emulator: TelegramEmulator) -> None:
    emulator.faults["sendMessage"] = Faults(delay=0.05)
    adapter = TelegramAdapter(config_for(emulator), Service(_handler()), retry=PATIENT)
    await adapter.start()
    try:
        user = emulator.user(22_000)
        codes = [200, 201, 202, 203, 204, 205, 206, 300]
        updates = [emulator.message(f"/http {code}", user=user) for code in codes]
        noise = [emulator.message("/http 404", user=emulator.user(22_100 + i)) for i in range(10)]
        await emulator.wait_for(lambda: len(emulator.sent) == len(updates) + len(noise), within=10)
        mine = [s.text.split()[0] for s in emulator.sent if s.chat_id == user["id"]]
        assert mine == [str(code) for code in codes]
    finally:
        await adapter.stop()


async def test_the_dispatcher_bounds_work_in_flight() -> None:
    running = 0
    peak = 0

    async def work(item: int) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    dispatcher: ChatDispatcher[int] = ChatDispatcher(work, max_in_flight=4, max_queued=8)
    for i in range(40):
        await dispatcher.submit(i, i)
        assert dispatcher.pending <= 8
    assert await dispatcher.drain(5.0)
    assert peak == 4


# ---- the journal -------------------------------------------------------------------------------


class SlowJournal(MemoryJournal):
    """Records take a while, and every call is kept in order."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.log: list[tuple[str, int]] = []
        self.recorded_at: dict[int, float] = {}

    async def record(
        self, source: str, update_id: int, payload: bytes, owner: str = "", lease: float = 0.0
    ) -> None:
        await asyncio.sleep(self.delay)
        await super().record(source, update_id, payload, owner, lease)
        self.log.append(("record", update_id))
        self.recorded_at[update_id] = time.monotonic()

    async def done(self, source: str, update_id: int) -> None:
        await super().done(source, update_id)
        self.log.append(("done", update_id))

    def entries(self) -> list[int]:
        return sorted(u for _, u in self._entries)


async def test_polling_journals_unanswered_updates_before_moving_the_offset(
    emulator: TelegramEmulator,
) -> None:
    # Answers take longer than the poller waits before moving on: every update is journaled.
    emulator.faults["sendMessage"] = Faults(delay=0.5)
    journal = SlowJournal(delay=0.05)
    adapter = TelegramAdapter(config_for(emulator), Service(_handler(), journal=journal), retry=PATIENT)
    await adapter.start()
    try:
        updates = [emulator.message(f"/http {200 + i}", user=emulator.user(23_000 + i)) for i in range(5)]
        await emulator.wait_for(lambda: all(emulator.replies_to(u) for u in updates))
        await _until(lambda: journal.entries() == [])
    finally:
        await adapter.stop()
    ids = [u["update_id"] for u in updates]
    assert all(journal.log.index(("record", u)) < journal.log.index(("done", u)) for u in ids)
    # The getUpdates call that moved the offset past an update came after it was journaled.
    polls = [c for c in emulator.calls_of("getUpdates") if "offset" in c.params]
    for update_id in ids:
        confirming = next(c for c in polls if c.params["offset"] > update_id)
        assert confirming.at >= journal.recorded_at[update_id]


async def test_updates_answered_at_once_are_never_written_to_the_journal(emulator: TelegramEmulator) -> None:
    journal = SlowJournal()
    adapter = TelegramAdapter(config_for(emulator), Service(_handler(), journal=journal), retry=PATIENT)
    await adapter.start()
    try:
        updates = [emulator.message(f"/http {200 + i}", user=emulator.user(23_100 + i)) for i in range(20)]
        await emulator.wait_for(lambda: all(emulator.replies_to(u) for u in updates))
        # One more poll, to see that the offset moved past them all.
        await emulator.wait_for(lambda: emulator.pending == 0)
    finally:
        await adapter.stop()
    # Answered before the offset had to move: nothing to remember (a loaded machine may be slow
    # for a few of them).
    assert len(journal.log) <= 2 * 5, journal.log


async def test_updates_left_in_the_journal_are_answered_on_start(
    emulator: TelegramEmulator, tmp_path: Path
) -> None:
    journal = SqliteJournal(tmp_path / "journal.sqlite3")
    source = f"telegram:{BOT_ID}"
    left = [
        emulator.message(f"/http {400 + i}", user=emulator.user(24_000 + i), queue=False) for i in range(3)
    ]
    for update in left:
        await journal.record(source, update["update_id"], json.dumps(update).encode())
    adapter = TelegramAdapter(config_for(emulator), Service(_handler(), journal=journal), retry=PATIENT)
    await adapter.start()
    try:
        await emulator.wait_for(lambda: all(len(emulator.replies_to(u)) == 1 for u in left))
        await _until(lambda: not _pending(tmp_path / "journal.sqlite3"))
    finally:
        await adapter.stop()
        await journal.close()


def _pending(path: Path) -> list[int]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT update_id FROM update_journal")]


async def test_an_update_that_keeps_failing_is_dropped_from_the_journal(emulator: TelegramEmulator) -> None:
    journal = MemoryJournal()
    source = f"telegram:{BOT_ID}"
    poison = emulator.message("/http 500", user=emulator.user(25_000), queue=False)
    await journal.record(source, poison["update_id"], json.dumps(poison).encode())
    for _ in range(5):  # five earlier runs claimed it and died
        await journal.claim(source, "earlier", 10, 0.0)
    adapter = TelegramAdapter(config_for(emulator), Service(_handler(), journal=journal), retry=PATIENT)
    await adapter.start()
    try:
        sentinel = emulator.message("/http 200", user=emulator.user(25_001))
        await emulator.wait_for(lambda: bool(emulator.replies_to(sentinel)))
        assert emulator.replies_to(poison) == []
        left = [e.update_id for e in await journal.claim(source, "later", 10, 0.0)]
        assert poison["update_id"] not in left
    finally:
        await adapter.stop()


async def test_stop_waits_for_journal_calls_still_running_in_their_thread(emulator: TelegramEmulator) -> None:
    # The runtime closes the store once the adapters have stopped: a SQLite call still running
    # in its thread then would use a closed connection (the process crashed with SIGSEGV).
    class SlowClaims(MemoryJournal):
        finished = False

        async def claim(self, source: str, owner: str, limit: int, lease: float) -> list[JournalEntry]:
            await asyncio.to_thread(time.sleep, 0.5)
            self.finished = True
            return await super().claim(source, owner, limit, lease)

    journal = SlowClaims()
    adapter = TelegramAdapter(config_for(emulator), Service(_handler(), journal=journal), retry=PATIENT)
    await adapter.start()
    await asyncio.sleep(0.05)  # the start-up claim is running
    await adapter.stop()
    assert journal.finished


# ---- a polling loop that survives bad replies ---------------------------------------------------


async def test_a_poisoned_getupdates_reply_turns_health_bad_then_polling_recovers(
    emulator: TelegramEmulator,
) -> None:
    adapter = TelegramAdapter(config_for(emulator, poll_timeout=0), Service(_handler()), retry=PATIENT)
    await adapter.start()
    try:
        await _until(adapter.connected)
        poisoned = {"update_id": "not-a-number", "message": {"text": "/http 404"}}
        emulator.raw_replies["getUpdates"] = [json.dumps({"ok": True, "result": [poisoned]}).encode()]
        await _until(lambda: not adapter.connected())
        await _until(adapter.connected, within=10)
        after = emulator.message("/http 418", user=emulator.user(26_000))
        await emulator.wait_for(lambda: bool(emulator.replies_to(after)))
    finally:
        await adapter.stop()


@pytest.mark.parametrize(
    "body",
    [
        b"<html>502 Bad Gateway</html>",
        b'{"ok": true, "result": {"update_id": 1}}',
        b'{"ok": true, "result": [1, "two", null]}',
        b"[" * 100_000,
    ],
)
async def test_unreadable_getupdates_replies_are_failed_polls(
    emulator: TelegramEmulator, body: bytes
) -> None:
    adapter = TelegramAdapter(config_for(emulator, poll_timeout=0), Service(_handler()), retry=PATIENT)
    await adapter.start()
    try:
        emulator.raw_replies["getUpdates"] = [body]
        await _until(lambda: not adapter.connected())
        after = emulator.message("/http 418", user=emulator.user(26_100))
        await emulator.wait_for(lambda: bool(emulator.replies_to(after)), within=10)
        await _until(adapter.connected)
    finally:
        await adapter.stop()


async def test_a_dead_polling_loop_is_reported(emulator: TelegramEmulator) -> None:
    adapter = TelegramAdapter(config_for(emulator, poll_timeout=0), Service(_handler()), retry=PATIENT)
    await adapter.start()
    try:
        await _until(adapter.connected)
        task = adapter._receiving
        assert task is not None
        task.cancel()
        await _until(lambda: not adapter.connected())
    finally:
        await adapter.stop()


async def test_a_dead_polling_loop_turns_healthz_503_until_the_runtime_restarts_the_adapter(
    emulator: TelegramEmulator,
) -> None:
    service = Service(_handler())
    adapters: list[TelegramAdapter] = []

    def build() -> TelegramAdapter:
        adapters.append(TelegramAdapter(config_for(emulator, poll_timeout=0), service, retry=PATIENT))
        return adapters[-1]

    runtime = Runtime({"telegram": build}, restart_after=1.0, restart_initial_delay=0.1, check_interval=0.1)
    ops = OpsServer("127.0.0.1", 0, Metrics(), runtime.health)
    await ops.start()
    await runtime.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:

            async def status() -> int:
                async with session.get(f"{ops.url}/healthz") as response:
                    return response.status

            await _until_async(status, 200)
            # The receive loop dies, whatever the reason: health must say so.
            task = adapters[0]._receiving
            assert task is not None
            task.cancel()
            await _until_async(status, 503)
            await _until_async(status, 200, within=10)
        assert runtime.restarts() == {"telegram": 1}
        after = emulator.message("/http 418", user=emulator.user(26_200))
        await emulator.wait_for(lambda: bool(emulator.replies_to(after)))
    finally:
        await runtime.stop()
        await ops.stop()


async def _until_async(probe: Any, wanted: int, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while await probe() != wanted:
        assert time.monotonic() < deadline, f"never {wanted}"
        await asyncio.sleep(0.05)


# ---- the webhook -----------------------------------------------------------------------------------


async def test_the_webhook_answers_200_only_once_the_update_is_journaled(emulator: TelegramEmulator) -> None:
    journal = SlowJournal(delay=0.3)
    adapter = TelegramAdapter(webhook_config(emulator), Service(_handler(), journal=journal), retry=PATIENT)
    await adapter.start()
    try:
        update = emulator.message("/http 404", user=emulator.user(27_000), queue=False)
        began = time.monotonic()
        assert await emulator.deliver(update) == 200
        assert time.monotonic() - began >= 0.3
        assert ("record", update["update_id"]) in journal.log
        await emulator.wait_for(lambda: bool(emulator.replies_to(update)))
    finally:
        await adapter.stop()


@pytest.mark.parametrize(
    "body, status",
    [
        (b"[" * 100_000, 400),
        (b'{"update_id": 1, "message": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", 400),
        (b'{"update_id": 1, "message": "text"}', 400),
        (b'{"update_id": true}', 400),
        (b"\xff\xfe not json", 400),
        (b"x" * (2 << 20), 413),
    ],
)
async def test_hostile_webhook_bodies_get_a_client_error(
    emulator: TelegramEmulator, body: bytes, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = TelegramAdapter(webhook_config(emulator), Service(_handler()), retry=PATIENT)
    await adapter.start()
    try:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(emulator.webhook["url"], data=body, headers=headers) as response,
        ):
            assert response.status == status
        update = emulator.message("/http 200", user=emulator.user(27_100), queue=False)
        assert await emulator.deliver(update) == 200
        await emulator.wait_for(lambda: bool(emulator.replies_to(update)))
    finally:
        await adapter.stop()
    assert not _bot_errors(caplog)


async def test_a_lone_surrogate_in_a_message_is_answered_in_both_modes(
    emulator: TelegramEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    def escaped(update: dict[str, Any]) -> bytes:
        return json.dumps(update).replace("SURROGATE", "\\ud800").encode()

    polled = emulator.message("/http xyzzy SURROGATE plugh", user=emulator.user(28_000), queue=False)
    reply = {"ok": True, "result": [polled]}
    emulator.raw_replies["getUpdates"] = [json.dumps(reply).replace("SURROGATE", "\\ud800").encode()]
    adapter = TelegramAdapter(config_for(emulator), Service(_handler()), retry=PATIENT)
    await adapter.start()
    try:
        await emulator.wait_for(lambda: bool(emulator.replies_to(polled)))
    finally:
        await adapter.stop()
    adapter = TelegramAdapter(webhook_config(emulator), Service(_handler()), retry=PATIENT)
    await adapter.start()
    try:
        pushed = emulator.message("/http SURROGATE 404", user=emulator.user(28_001), queue=False)
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(emulator.webhook["url"], data=escaped(pushed), headers=headers) as response,
        ):
            assert response.status == 200
        await emulator.wait_for(lambda: bool(emulator.replies_to(pushed)))
    finally:
        await adapter.stop()
    for update in (polled, pushed):
        (sent,) = emulator.replies_to(update)
        assert "went wrong" not in sent.text
    assert not _bot_errors(caplog)


def _bot_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Tracebacks and errors logged by the bot (the emulator's own server logs as aiohttp.server,
    the bot's listeners as bot.http.*), including a client session this test left unclosed."""
    gc.collect()
    return [r for r in caplog.records if (r.exc_info or r.levelno >= 40) and r.name != "aiohttp.server"]


@pytest.fixture(autouse=True)
def _earlier_garbage_is_not_ours(caplog: pytest.LogCaptureFixture) -> None:
    """Objects other tests left behind are collected before this test's log is read: a session
    they did not close must not be blamed on this one."""
    gc.collect()
    caplog.clear()
