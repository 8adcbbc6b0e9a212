"""A store that fails: /lang says it cannot save, answers go on, /healthz and /metrics say so, and
the state comes back by itself. Opening the configured store, and refusing to when required."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path

import aiohttp
import pytest

from bot import flows
from bot.config import parse
from bot.metrics import Metrics
from bot.ops import OpsServer, health
from bot.runtime import serve
from bot.service import Service
from bot.storage import JournalEntry, MemoryPreferences, StorageError
from bot.storage.factory import open_stores
from bot.storage.health import StoreHealth
from handlers import Handler, load

from conftest import free_port


@cache
def _handler() -> Handler:
    return Handler(load())


class Broken(MemoryPreferences):
    """A store whose database is down."""

    async def get(self, chat: str) -> str | None:
        raise StorageError("connection refused")

    async def set(self, chat: str, lang: str | None) -> None:
        raise StorageError("connection refused")


async def test_lang_says_it_cannot_save_now_in_the_askers_language() -> None:
    handler = _handler()
    service = Service(handler, prefs=Broken())
    result = await flows.lang(service, "discord:1", "de", may_configure=True, user_locale="fr")
    assert result.outcome == "unavailable" and not result.changed
    assert (result.notice.lang, result.notice.text) == ("fr", handler.ui("fr", "lang_unsaved"))
    reset = await flows.lang(service, "discord:1", "reset", may_configure=True, user_locale="ja")
    assert (reset.outcome, reset.notice.text) == ("unavailable", handler.ui("ja", "lang_unsaved"))
    # Reading the preference fails too: the reply still goes out, in the client's language.
    assert handler.language(await service.langs("discord:1", user_locale="fr")) == "fr"
    shown = await flows.lang(service, "discord:1", None, may_configure=True, user_locale="fr")
    assert shown.outcome == "current" and shown.notice.lang == "fr"


def test_every_language_says_it_cannot_save_in_its_own_words() -> None:
    handler = _handler()
    english = handler.ui("en", "lang_unsaved")
    for lang in handler.languages:
        assert handler.ui(lang, "lang_unsaved").strip()
        assert lang == "en" or handler.ui(lang, "lang_unsaved") != english, lang


def test_healthz_reports_the_store_and_fails_only_when_it_is_required() -> None:
    up = {"discord": True}
    assert health(up, storage="ok") == (
        200,
        {"status": "ok", "adapters": {"discord": {"connected": True}}, "storage": "ok"},
    )
    status, body = health(up, storage="degraded")
    assert (status, body["status"], body["storage"]) == (200, "ok", "degraded")
    status, body = health(up, storage="degraded", storage_required=True)
    assert (status, body["status"]) == (503, "degraded")
    assert health(up, storage="ok", storage_required=True)[0] == 200


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def test_the_store_state_and_errors_over_http(session: aiohttp.ClientSession) -> None:
    metrics = Metrics()
    store_health = StoreHealth("PostgreSQL", metrics)
    server = OpsServer("127.0.0.1", 0, metrics, lambda: {"discord": True}, storage=store_health.state)
    await server.start()
    try:
        store_health.failed("get", StorageError("connection refused"))
        store_health.failed("set", StorageError("connection refused"))
        async with session.get(f"{server.url}/healthz") as response:
            assert response.status == 200
            assert (await response.json())["storage"] == "degraded"
        async with session.get(f"{server.url}/metrics") as response:
            text = await response.text()
        assert 'http_status_bot_storage_errors_total{operation="get"} 1.0' in text
        assert 'http_status_bot_storage_errors_total{operation="set"} 1.0' in text
        assert "http_status_bot_storage_up 0.0" in text
        store_health.succeeded()
        async with session.get(f"{server.url}/healthz") as response:
            assert (await response.json())["storage"] == "ok"
    finally:
        await server.stop()


async def test_the_probe_notices_an_outage_and_the_recovery_without_traffic(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    down = True

    async def probe() -> None:
        if down:
            raise StorageError("connection refused")

    store_health = StoreHealth("PostgreSQL", Metrics(), probe, interval=0.05, retry=0.02)
    store_health.start()
    try:
        for _ in range(100):
            if store_health.state() == "degraded":
                break
            await asyncio.sleep(0.01)
        assert store_health.state() == "degraded"
        down = False
        for _ in range(100):
            if store_health.state() == "ok":
                break
            await asyncio.sleep(0.01)
        assert store_health.state() == "ok"
    finally:
        await store_health.stop()
    # One line when it goes, one when it comes back: not one per failed probe.
    assert caplog.text.count("PostgreSQL unavailable") == 1
    assert caplog.text.count("PostgreSQL available again") == 1


async def test_sqlite_is_opened_from_path_or_url(tmp_path: Path) -> None:
    config = parse({"storage": {"path": str(tmp_path / "a.sqlite3")}}, {}).storage
    stores = await open_stores(config)
    await stores.prefs.set("telegram:1", "fr")
    await stores.journal.record("telegram:1", 1, b"x")
    assert stores.health.state() == "ok"
    await stores.close()
    url = f"sqlite:///{tmp_path / 'a.sqlite3'}"  # four slashes: an absolute path
    reopened = await open_stores(parse({"storage": {"url": url}}, {}).storage)
    assert await reopened.prefs.get("telegram:1") == "fr"
    assert reopened.shown == url
    await reopened.close()


async def test_a_sqlite_file_that_cannot_be_opened_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    config = parse({"storage": {"path": str(tmp_path / "file" / "below.sqlite3")}}, {}).storage
    with pytest.raises(StorageError, match="cannot open"):
        await open_stores(config)


async def test_postgres_down_at_start_is_degraded_unless_required() -> None:
    url = f"postgresql://bot:hunter2-secret@127.0.0.1:{free_port()}/bot"
    metrics = Metrics()
    stores = await open_stores(parse({"storage": {"url": url}}, {}).storage, metrics)
    try:
        assert stores.health.state() == "degraded"
        assert await asyncio.wait_for(stores.prefs.get("discord:1"), 1) is None
        with pytest.raises(StorageError):
            await stores.prefs.set("discord:1", "fr")
        assert b'http_status_bot_storage_errors_total{operation="open"} 1.0' in metrics.render()
    finally:
        await stores.close()
    required = parse({"storage": {"url": url, "required": True}}, {}).storage
    with pytest.raises(StorageError) as caught:
        await open_stores(required)
    assert "hunter2-secret" not in str(caught.value)


@pytest.fixture
def restore_signals() -> object:
    import signal

    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield None
    for s, h in saved.items():
        signal.signal(s, h)


@pytest.mark.usefixtures("restore_signals")
async def test_run_refuses_to_start_without_a_required_store(caplog: pytest.LogCaptureFixture) -> None:
    url = f"postgresql://bot:hunter2-secret@127.0.0.1:{free_port()}/bot"
    config = parse({"storage": {"url": url, "required": True}}, {})
    caplog.set_level(logging.INFO)
    assert await serve(config, _handler(), build=lambda *_: {}) == 1
    assert "cannot start: storage: PostgreSQL at postgresql://bot:***@127.0.0.1" in caplog.text
    assert "hunter2-secret" not in caplog.text


async def test_journal_failures_are_counted_by_operation_and_raised_as_storage_errors() -> None:
    from bot.storage import MemoryJournal
    from bot.storage.health import MeteredJournal

    class Down(MemoryJournal):
        async def claim(self, source: str, owner: str, limit: int, lease: float) -> list[JournalEntry]:
            raise OSError("connection refused")

    metrics = Metrics()
    store_health = StoreHealth("PostgreSQL", metrics)
    journal = MeteredJournal(Down(), store_health)
    await journal.record("telegram:1", 1, b"x")
    with pytest.raises(StorageError, match="connection refused"):
        await journal.claim("telegram:1", "me", 10, 30)
    assert store_health.state() == "degraded"
    assert b'http_status_bot_storage_errors_total{operation="claim"} 1.0' in metrics.render()
    await journal.done("telegram:1", 1)
    assert store_health.state() == "ok"
