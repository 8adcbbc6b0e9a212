"""Durable chat language preferences.

:class:`PreferenceStore` is the small interface adapters use; :class:`SqlitePreferences` keeps
preferences in one SQLite file (no server needed). When several replicas serve the same bot, a
shared store (Redis, PostgreSQL...) can implement the same three methods.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Protocol


class PreferenceStore(Protocol):
    """Where a chat's language preference lives. Keys look like ``telegram:-1001234``."""

    async def get(self, chat: str) -> str | None:
        """The chat's language, or ``None`` when it has none."""

    async def set(self, chat: str, lang: str | None) -> None:
        """Set (or with ``None`` clear) the chat's language."""

    async def close(self) -> None:
        """Release the store."""


class MemoryPreferences:
    """A store that forgets on exit, for tests and for a console session."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}

    async def get(self, chat: str) -> str | None:
        """The chat's language, or ``None``."""
        return self._data.get(chat)

    async def set(self, chat: str, lang: str | None) -> None:
        """Set or clear the chat's language."""
        if lang is None:
            self._data.pop(chat, None)
        else:
            self._data[chat] = lang

    async def close(self) -> None:
        """Nothing to release."""


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

    async def close(self) -> None:
        """Close the database."""
        self._db.close()
