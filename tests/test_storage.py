"""The storage contract: preferences and the update journal, on every back end (PostgreSQL on a
real server started for the session, see ``tests/support/postgres.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.storage import (
    MemoryJournal,
    MemoryPreferences,
    PreferenceStore,
    SqliteJournal,
    SqlitePreferences,
    StorageError,
    UpdateJournal,
)
from bot.storage.postgres import LATEST, SCHEMA_TABLE, PostgresStore

from support.postgres import PostgresServer

# Opens one more handle on the same store (a second process, a second replica).
Opener = Callable[[], Awaitable[tuple[PreferenceStore, UpdateJournal, Callable[[], Awaitable[None]]]]]


def _opener(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    if kind == "sqlite":
        path = tmp_path / "shared.db"

        async def open_sqlite() -> tuple[PreferenceStore, UpdateJournal, Callable[[], Awaitable[None]]]:
            prefs, journal = SqlitePreferences(path), SqliteJournal(path)

            async def close() -> None:
                await prefs.close()
                await journal.close()

            return prefs, journal, close

        return open_sqlite
    url = request.getfixturevalue("pg_url")

    async def open_postgres() -> tuple[PreferenceStore, UpdateJournal, Callable[[], Awaitable[None]]]:
        store = PostgresStore(url)
        await store.open()
        return store.prefs, store.journal, store.close

    return open_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """A way to open the same durable store again and again, as replicas or restarts do."""
    return _opener(request.param, request, tmp_path)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[PreferenceStore, UpdateJournal]]:
    """Preferences and journal of each back end, fresh."""
    if request.param == "memory":
        yield MemoryPreferences(), MemoryJournal()
        return
    prefs, journal, close = await _opener(request.param, request, tmp_path)()
    yield prefs, journal
    await close()


# ---- preferences ---------------------------------------------------------------------------------


async def test_a_preference_is_set_replaced_and_cleared(
    stores: tuple[PreferenceStore, UpdateJournal],
) -> None:
    prefs, _ = stores
    assert await prefs.get("telegram:1") is None
    await prefs.set("telegram:1", "fr")
    await prefs.set("discord:2", "de")
    await prefs.set("telegram:1", "ja")
    assert await prefs.get("telegram:1") == "ja"
    assert await prefs.get("discord:2") == "de"
    await prefs.set("telegram:1", None)
    await prefs.set("telegram:404", None)  # clearing what was never set is harmless
    assert await prefs.get("telegram:1") is None
    assert await prefs.get("discord:2") == "de"


async def test_postgresql_reads_many_chats_in_one_query(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    await store.open()
    await store.prefs.set_many([("discord:1", "fr"), ("discord:2", "de"), ("telegram:3", "ja")])
    assert await store.prefs.get_many(["discord:1", "telegram:3", "discord:404"]) == {
        "discord:1": "fr",
        "telegram:3": "ja",
    }
    assert await store.prefs.get_many([]) == {}
    assert await store.prefs.items() == [("discord:1", "fr"), ("discord:2", "de"), ("telegram:3", "ja")]
    await store.close()


async def test_preferences_are_shared_and_survive_a_restart(opener: Opener) -> None:
    first_prefs, _, close_first = await opener()
    second_prefs, _, close_second = await opener()
    await first_prefs.set("discord:900", "pt")
    await close_first()
    if isinstance(second_prefs, SqlitePreferences):
        # One process owns a SQLite file: a second handle does not see another's writes.
        assert await second_prefs.get("discord:900") is None
    else:
        assert await second_prefs.get("discord:900") == "pt"
    await close_second()
    reopened, _, close = await opener()
    assert await reopened.get("discord:900") == "pt"
    await close()


# ---- the update journal --------------------------------------------------------------------------


async def test_recorded_updates_are_claimed_oldest_first_until_done(
    stores: tuple[PreferenceStore, UpdateJournal],
) -> None:
    _, journal = stores
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


async def test_a_live_claim_is_not_taken_over_but_an_expired_one_is(opener: Opener) -> None:
    _, first, close_first = await opener()
    _, second, close_second = await opener()
    await first.record("telegram:1", 1, b"x")
    assert len(await first.claim("telegram:1", "a", limit=5, lease=60)) == 1
    assert await second.claim("telegram:1", "b", limit=5, lease=60) == []
    await first.record("telegram:1", 2, b"y")
    assert [e.update_id for e in await first.claim("telegram:1", "a", limit=5, lease=-1)] == [1, 2]
    assert [e.update_id for e in await second.claim("telegram:1", "b", limit=5, lease=60)] == [1, 2]
    await close_first()
    await close_second()


async def test_an_update_is_held_by_its_recorder_while_it_answers_it(opener: Opener) -> None:
    _, mine, close_mine = await opener()
    _, other, close_other = await opener()
    await mine.record("telegram:1", 7, b"being answered", owner="me", lease=60)
    # Another replica's periodic claim leaves it alone; its recorder may take it back.
    assert await other.claim("telegram:1", "other", limit=5, lease=60) == []
    assert [e.update_id for e in await mine.claim("telegram:1", "me", limit=5, lease=60)] == [7]
    await mine.record("telegram:1", 8, b"recorder died", owner="gone", lease=-1)
    assert [e.update_id for e in await other.claim("telegram:1", "other", limit=5, lease=60)] == [8]
    await close_mine()
    await close_other()


async def test_the_journal_survives_a_restart(opener: Opener) -> None:
    _, journal, close = await opener()
    await journal.record("telegram:1", 5, b"payload")
    await close()
    _, reopened, close = await opener()
    assert [e.payload for e in await reopened.claim("telegram:1", "new", limit=5, lease=30)] == [b"payload"]
    await close()


# ---- PostgreSQL: replicas at the same time -------------------------------------------------------


async def test_replicas_claiming_together_never_take_the_same_update(pg_url: str) -> None:
    replicas = [PostgresStore(pg_url) for _ in range(4)]
    for store in replicas:
        await store.open()
    journal = replicas[0].journal
    await asyncio.gather(*(journal.record("telegram:1", n, b"%d" % n) for n in range(200)))

    async def drain(store: PostgresStore, owner: str) -> list[int]:
        taken: list[int] = []
        while batch := await store.journal.claim("telegram:1", owner, limit=7, lease=60):
            taken += [entry.update_id for entry in batch]
            # An owner's own live claims come back to it until done: mark them done as answered.
            await asyncio.gather(*(store.journal.done("telegram:1", e.update_id) for e in batch))
        return taken

    results = await asyncio.gather(*(drain(store, f"replica-{i}") for i, store in enumerate(replicas)))
    every = [update_id for taken in results for update_id in taken]
    assert sorted(every) == list(range(200)), "each update taken exactly once"
    assert sum(1 for taken in results if taken) >= 2, "the backlog was shared, not taken by one"
    for store in replicas:
        await store.close()


async def test_concurrent_first_starts_create_the_schema_once(postgres: PostgresServer, pg_url: str) -> None:
    replicas = [PostgresStore(pg_url) for _ in range(6)]
    await asyncio.gather(*(store.open() for store in replicas))
    await asyncio.gather(*(store.prefs.set(f"discord:{i}", "fr") for i, store in enumerate(replicas)))
    database = pg_url.rsplit("/", 1)[1]
    rows = postgres.psql(f"SELECT version FROM {SCHEMA_TABLE} ORDER BY version", database)
    assert rows.splitlines() == [str(v) for v in range(1, LATEST + 1)]
    # A later start finds the schema up to date and changes nothing.
    late = PostgresStore(pg_url)
    await late.open()
    assert await late.prefs.get("discord:3") == "fr"
    assert postgres.psql(f"SELECT count(*) FROM {SCHEMA_TABLE}", database) == str(LATEST)
    for store in [*replicas, late]:
        await store.close()


async def test_an_unreachable_server_raises_storage_error_without_the_password(
    postgres: PostgresServer,
) -> None:
    from support.postgres import _free_port

    closed_port = _free_port()
    url = f"postgresql://bot:not-the-password-x9@127.0.0.1:{closed_port}/bot"
    store = PostgresStore(url)
    with pytest.raises(StorageError) as caught:
        await store.open()
    assert "not-the-password-x9" not in str(caught.value)
    assert f"bot:***@127.0.0.1:{closed_port}" in str(caught.value)
    # Still usable later: every operation says the same, none hangs.
    with pytest.raises(StorageError):
        await asyncio.wait_for(store.prefs.get("telegram:1"), 5)
    await store.close()


async def test_a_wrong_password_is_a_storage_error(postgres: PostgresServer) -> None:
    store = PostgresStore(postgres.url().replace(postgres.password, "wrong-password-q7"))
    with pytest.raises(StorageError, match="password authentication failed") as caught:
        await store.open()
    assert "wrong-password-q7" not in str(caught.value)
    await store.close()
