"""The embedded store: chat language preferences and the update journal in one SQLite file.

One process owns the file (no server needed). Replicas behind a load balancer share a
PostgreSQL database instead, through the same interfaces (:mod:`bot.storage.base`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from bot.storage.base import JournalEntry


class SqlitePreferences:
    """Preferences in a SQLite file; reads come from memory, writes go through to disk.

    One process owns the file: its cache is authoritative, so a lookup on the hot path costs a
    dict access rather than a query.
    """

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS chat_language (chat TEXT PRIMARY KEY, lang TEXT NOT NULL)"
        )
        self._cache = dict(self._db.execute("SELECT chat, lang FROM chat_language").fetchall())
        self._lock = asyncio.Lock()

    async def get(self, chat: str) -> str | None:
        """The chat's language, or ``None``."""
        return self._cache.get(chat)

    async def set(self, chat: str, lang: str | None) -> None:
        """Set or clear the chat's language, durably."""
        async with self._lock:
            if lang is None:
                await asyncio.to_thread(self._db.execute, "DELETE FROM chat_language WHERE chat = ?", (chat,))
                self._cache.pop(chat, None)
            else:
                await asyncio.to_thread(
                    self._db.execute,
                    "INSERT INTO chat_language (chat, lang) VALUES (?, ?) "
                    "ON CONFLICT(chat) DO UPDATE SET lang = excluded.lang",
                    (chat, lang),
                )
                self._cache[chat] = lang

    async def items(self) -> list[tuple[str, str]]:
        """Every stored preference, by chat (what ``storage migrate`` copies)."""
        return sorted(self._cache.items())

    async def close(self) -> None:
        """Close the database once no call is using it (a call cancelled by its caller may still
        run in its thread: closing under it would crash the process)."""
        async with self._lock:
            self._db.close()


class SqliteJournal:
    """The update journal in a SQLite file (WAL), written before updates are confirmed."""

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None, timeout=5.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        # Durable at each commit: the journal exists to survive a crash.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS update_journal ("
            " source TEXT NOT NULL, update_id INTEGER NOT NULL, payload BLOB NOT NULL,"
            " owner TEXT NOT NULL DEFAULT '', leased_until REAL NOT NULL DEFAULT 0,"
            " attempts INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (source, update_id))"
        )
        self._lock = asyncio.Lock()

    async def record(
        self, source: str, update_id: int, payload: bytes, owner: str = "", lease: float = 0.0
    ) -> None:
        """Keep an update (again is harmless: the first copy stays), leased to its recorder."""
        async with self._lock:
            await asyncio.to_thread(
                self._db.execute,
                "INSERT OR IGNORE INTO update_journal (source, update_id, payload, owner, leased_until)"
                " VALUES (?, ?, ?, ?, ?)",
                (source, update_id, payload, owner, time.time() + lease if lease > 0 else 0.0),
            )

    async def claim(self, source: str, owner: str, limit: int, lease: float) -> list[JournalEntry]:
        """Unanswered updates no live claim holds, oldest first, leased to ``owner``."""
        async with self._lock:
            return await asyncio.to_thread(self._claim, source, owner, limit, lease)

    def _claim(self, source: str, owner: str, limit: int, lease: float) -> list[JournalEntry]:
        now = time.time()
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            rows = self._db.execute(
                "SELECT update_id, payload, attempts FROM update_journal"
                " WHERE source = ? AND (owner = ? OR leased_until < ?) ORDER BY update_id LIMIT ?",
                (source, owner, now, limit),
            ).fetchall()
            self._db.executemany(
                "UPDATE update_journal SET owner = ?, leased_until = ?, attempts = attempts + 1"
                " WHERE source = ? AND update_id = ?",
                [(owner, now + lease, source, row[0]) for row in rows],
            )
        return [JournalEntry(int(u), bytes(p), int(a) + 1) for u, p, a in rows]

    async def done(self, source: str, update_id: int) -> None:
        """Forget an answered update."""
        async with self._lock:
            await asyncio.to_thread(
                self._db.execute,
                "DELETE FROM update_journal WHERE source = ? AND update_id = ?",
                (source, update_id),
            )

    async def close(self) -> None:
        """Close the database once no call is using it (a call cancelled by its caller may still
        run in its thread: closing under it would crash the process)."""
        async with self._lock:
            self._db.close()
