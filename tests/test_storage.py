"""The storage contract: preferences and the update journal, on every back end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage import MemoryJournal, SqliteJournal, UpdateJournal


@pytest.fixture(params=["memory", "sqlite"])
async def journal(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[UpdateJournal]:
    store: UpdateJournal = MemoryJournal() if request.param == "memory" else SqliteJournal(tmp_path / "j.db")
    yield store
    await store.close()


async def test_recorded_updates_are_claimed_oldest_first_until_done(journal: UpdateJournal) -> None:
    for update_id in (12, 10, 11):
        await journal.record("telegram:1", update_id, f"u{update_id}".encode())
    await journal.record("telegram:1", 10, b"second copy is ignored")
    await journal.record("telegram:2", 99, b"another bot")
    claimed = await journal.claim("telegram:1", "me", limit=10, lease=30)
    assert [(e.update_id, e.payload, e.attempts) for e in claimed] == [
        (10, b"u10", 1), (11, b"u11", 1), (12, b"u12", 1),
    ]  # fmt: skip
    await journal.done("telegram:1", 11)
    again = await journal.claim("telegram:1", "me", limit=10, lease=30)
    assert [(e.update_id, e.attempts) for e in again] == [(10, 2), (12, 2)]
    assert [e.update_id for e in await journal.claim("telegram:2", "me", limit=1, lease=30)] == [99]


async def test_a_live_claim_is_not_taken_over_but_an_expired_one_is(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    first, second = SqliteJournal(path), SqliteJournal(path)
    await first.record("telegram:1", 1, b"x")
    assert len(await first.claim("telegram:1", "a", limit=5, lease=60)) == 1
    assert await second.claim("telegram:1", "b", limit=5, lease=60) == []
    await first.record("telegram:1", 2, b"y")
    assert [e.update_id for e in await first.claim("telegram:1", "a", limit=5, lease=-1)] == [1, 2]
    assert [e.update_id for e in await second.claim("telegram:1", "b", limit=5, lease=60)] == [1, 2]
    await first.close()
    await second.close()


async def test_the_journal_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = SqliteJournal(path)
    await journal.record("telegram:1", 5, b"payload")
    await journal.close()
    reopened = SqliteJournal(path)
    assert [e.payload for e in await reopened.claim("telegram:1", "new", limit=5, lease=30)] == [b"payload"]
    await reopened.close()
