"""The shared back end: preferences and the update journal in PostgreSQL, through an asyncpg pool.

Every replica behind a load balancer opens the same database, so a ``/lang`` set through one is
read by the next, and an update taken by a replica that dies is claimed by another once its
lease runs out. One :class:`PostgresStore` owns the pool; :class:`PostgresPreferences` and
:class:`PostgresJournal` are views over it.

The schema is created and upgraded by the first operation of each process (and again after an
outage if the database was unreachable at start), in a transaction holding an advisory lock, so
replicas starting together wait for each other instead of racing on ``CREATE TABLE``. Every
failure of the database or of the network reaches callers as :class:`StorageError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

import asyncpg

from bot.storage.base import JournalEntry, StorageError
from bot.storage.urls import redact_url

log = logging.getLogger(__name__)

# The advisory lock that serialises schema changes: "httpbot!" in ASCII, as a signed bigint.
SCHEMA_LOCK = 0x68747470626F7421
SCHEMA_TABLE = "http_status_bot_schema"

# Each step runs once per database, in order, inside the locked transaction; never edit a step
# that has shipped, add the next one.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE chat_language (
            chat text PRIMARY KEY,
            lang text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE update_journal (
            source text NOT NULL,
            update_id bigint NOT NULL,
            payload bytea NOT NULL,
            owner text NOT NULL DEFAULT '',
            leased_until timestamptz NOT NULL DEFAULT '-infinity',
            attempts integer NOT NULL DEFAULT 0,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (source, update_id)
        );
        """,
    ),
)
LATEST = MIGRATIONS[-1][0]
# Schema steps (and waiting for another replica's) may take longer than a query may.
MIGRATION_TIMEOUT = 60.0

# What a database that is down, restarting, refusing us or unreachable raises.
FAILURES: tuple[type[Exception], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions._base.InternalClientError,
    OSError,
    TimeoutError,
)
# Creating the pool also rejects a DSN asyncpg cannot read (ClientConfigurationError).
OPEN_FAILURES: tuple[type[Exception], ...] = (*FAILURES, ValueError)


def describe(exc: BaseException) -> str:
    """One line about a failure, for a log line or a :class:`StorageError` (no password in it:
    neither asyncpg nor the OS ever put one in their messages)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def migrate(connection: Any) -> list[int]:
    """Bring the schema to :data:`LATEST`; the versions applied (none when it was up to date)."""
    timeout = MIGRATION_TIMEOUT
    applied: list[int] = []
    async with connection.transaction():
        # Held until commit: a replica arriving meanwhile waits, then finds nothing to do.
        await connection.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK, timeout=timeout)
        await connection.execute(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} ("
            " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
            timeout=timeout,
        )
        current = await connection.fetchval(f"SELECT coalesce(max(version), 0) FROM {SCHEMA_TABLE}")
        for version, statements in MIGRATIONS:
            if version > current:
                await connection.execute(statements, timeout=timeout)
                await connection.execute(f"INSERT INTO {SCHEMA_TABLE} (version) VALUES ($1)", version)
                applied.append(version)
    if current > LATEST:
        # A newer release upgraded the database: steps only ever add, so this one keeps working.
        log.warning("storage: schema version %d is newer than this release's %d", current, LATEST)
    return applied


class PostgresStore:
    """An asyncpg pool over one database, with the schema ensured before first use.

    The pool opens connections on demand (none at creation), so a database that is down at start
    delays nothing: operations fail with :class:`StorageError` until it answers, and the pool
    reconnects by itself once it does.
    """

    def __init__(
        self,
        dsn: str,
        *,
        max_size: int = 5,
        connect_timeout: float = 2.0,
        command_timeout: float = 2.0,
    ) -> None:
        self.dsn = dsn
        self.shown = redact_url(dsn)
        self._max_size = max_size
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._pool: Any = None
        self._schema_ready = False
        self._schema_lock = asyncio.Lock()
        self.prefs = PostgresPreferences(self)
        self.journal = PostgresJournal(self)

    async def open(self) -> None:
        """Create the pool and try the schema once; raises :class:`StorageError` if the database
        cannot be reached now (the store stays usable and retries on the next operation)."""
        if self._pool is None:
            try:
                self._pool = await asyncpg.create_pool(
                    self.dsn,
                    min_size=0,
                    max_size=self._max_size,
                    timeout=self._connect_timeout,
                    command_timeout=self._command_timeout,
                    server_settings={"application_name": "http-status-bot"},
                    reset=_keep_session,
                )
            except OPEN_FAILURES as exc:
                raise StorageError(f"PostgreSQL at {self.shown}: {describe(exc)}") from exc
        try:
            async with self.connection("open"):
                pass
        except StorageError as exc:
            reason = describe(exc.__cause__) if exc.__cause__ is not None else str(exc)
            raise StorageError(f"PostgreSQL at {self.shown}: {reason}") from exc

    async def _ensure_schema(self, connection: Any) -> None:
        if self._schema_ready:
            return
        async with self._schema_lock:
            if not self._schema_ready:
                applied = await migrate(connection)
                if applied:
                    log.info("storage: schema brought to version %d at %s", LATEST, self.shown)
                self._schema_ready = True

    @contextlib.asynccontextmanager
    async def connection(self, operation: str) -> AsyncIterator[Any]:
        """A pooled connection with the schema in place; every failure becomes
        :class:`StorageError` naming ``operation``."""
        if self._pool is None:
            raise StorageError(f"PostgreSQL {operation}: the store is not open")
        try:
            async with self._pool.acquire(timeout=self._connect_timeout) as connection:
                await self._ensure_schema(connection)
                yield connection
        except FAILURES as exc:
            raise StorageError(f"PostgreSQL {operation} failed: {describe(exc)}") from exc

    async def ping(self) -> None:
        """One round trip (the health probe); raises :class:`StorageError` when it fails."""
        async with self.connection("probe") as connection:
            await connection.fetchval("SELECT 1")

    async def close(self) -> None:
        """Close the pool, waiting briefly for connections in use, then cutting them."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), 2.0)
        except FAILURES:  # TimeoutError among them
            pool.terminate()


async def _keep_session(connection: Any) -> None:
    """What a connection goes back to the pool with: as it is.

    asyncpg resets every connection it takes back (one more round trip on every query's
    release, which doubled a preference read). The store sets no session state (no SET, no LISTEN,
    no temporary table; its advisory lock is a transaction's), so there is nothing to reset, but
    for a transaction a cancelled caller may have left open.
    """
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


class PostgresPreferences:
    """Chat language preferences in the ``chat_language`` table (a view over the store's pool)."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def get(self, chat: str) -> str | None:
        """The chat's language, or ``None``."""
        async with self._store.connection("get") as connection:
            lang: str | None = await connection.fetchval(
                "SELECT lang FROM chat_language WHERE chat = $1", chat
            )
        return lang

    async def get_many(self, chats: list[str]) -> dict[str, str]:
        """The languages of those of ``chats`` that have one, in one round trip."""
        async with self._store.connection("get") as connection:
            rows = await connection.fetch(
                "SELECT chat, lang FROM chat_language WHERE chat = ANY($1::text[])", chats
            )
        return {str(row[0]): str(row[1]) for row in rows}

    async def set(self, chat: str, lang: str | None) -> None:
        """Set or clear the chat's language."""
        async with self._store.connection("set") as connection:
            if lang is None:
                await connection.execute("DELETE FROM chat_language WHERE chat = $1", chat)
            else:
                await connection.execute(
                    "INSERT INTO chat_language (chat, lang) VALUES ($1, $2)"
                    " ON CONFLICT (chat) DO UPDATE SET lang = excluded.lang, updated_at = now()",
                    chat,
                    lang,
                )

    async def items(self) -> list[tuple[str, str]]:
        """Every stored preference, by chat."""
        async with self._store.connection("items") as connection:
            rows = await connection.fetch("SELECT chat, lang FROM chat_language ORDER BY chat")
        return [(str(row[0]), str(row[1])) for row in rows]

    async def set_many(self, items: Iterable[tuple[str, str]]) -> None:
        """Set many preferences in one transaction (``storage migrate``)."""
        rows = list(items)
        async with self._store.connection("set") as connection, connection.transaction():
            await connection.executemany(
                "INSERT INTO chat_language (chat, lang) VALUES ($1, $2)"
                " ON CONFLICT (chat) DO UPDATE SET lang = excluded.lang, updated_at = now()",
                rows,
            )

    async def close(self) -> None:
        """Nothing of its own to release: the pool belongs to the :class:`PostgresStore`."""


class PostgresJournal:
    """The update journal in the ``update_journal`` table, shared by every replica.

    Leases are timed by the database's clock, so replicas whose clocks disagree still agree on
    when a claim has expired. ``claim`` skips rows another transaction is claiming at that very
    moment (``FOR UPDATE SKIP LOCKED``) rather than waiting for them: two replicas claiming
    together split the backlog instead of both taking it.
    """

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def record(
        self, source: str, update_id: int, payload: bytes, owner: str = "", lease: float = 0.0
    ) -> None:
        """Keep an update (again is harmless: the first copy stays), leased to its recorder so
        that another replica's claim leaves it alone while it is being answered."""
        async with self._store.connection("record") as connection:
            await connection.execute(
                "INSERT INTO update_journal (source, update_id, payload, owner, leased_until)"
                " VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))"
                " ON CONFLICT (source, update_id) DO NOTHING",
                source,
                update_id,
                payload,
                owner,
                max(lease, 0.0),
            )

    async def claim(self, source: str, owner: str, limit: int, lease: float) -> list[JournalEntry]:
        """Up to ``limit`` unanswered updates no live claim holds, oldest first, leased to ``owner``
        for ``lease`` seconds, their attempt count up by one."""
        async with self._store.connection("claim") as connection:
            rows = await connection.fetch(
                """
                WITH picked AS (
                    SELECT update_id FROM update_journal
                    WHERE source = $1 AND (owner = $2 OR leased_until < now())
                    ORDER BY update_id
                    LIMIT $3
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE update_journal AS j
                SET owner = $2,
                    leased_until = now() + make_interval(secs => $4),
                    attempts = j.attempts + 1
                FROM picked
                WHERE j.source = $1 AND j.update_id = picked.update_id
                RETURNING j.update_id, j.payload, j.attempts
                """,
                source,
                owner,
                limit,
                float(lease),
            )
        # RETURNING follows no ORDER BY: sort here.
        return sorted(
            (JournalEntry(int(row[0]), bytes(row[1]), int(row[2])) for row in rows),
            key=lambda entry: entry.update_id,
        )

    async def done(self, source: str, update_id: int) -> None:
        """Forget an answered update."""
        async with self._store.connection("done") as connection:
            await connection.execute(
                "DELETE FROM update_journal WHERE source = $1 AND update_id = $2", source, update_id
            )

    async def close(self) -> None:
        """Nothing of its own to release: the pool belongs to the :class:`PostgresStore`."""
