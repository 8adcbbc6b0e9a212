"""Stores that forget on exit: for tests and a console session."""

from __future__ import annotations

from bot.storage.base import JournalEntry


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

    async def items(self) -> list[tuple[str, str]]:
        """Every stored preference, by chat."""
        return sorted(self._data.items())

    async def close(self) -> None:
        """Nothing to release."""


class MemoryJournal:
    """An update journal in memory (tests; a process that needs no durability)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, int], tuple[bytes, int]] = {}

    async def record(
        self, source: str, update_id: int, payload: bytes, owner: str = "", lease: float = 0.0
    ) -> None:
        """Keep an update (again is harmless)."""
        self._entries.setdefault((source, update_id), (payload, 0))

    async def claim(self, source: str, owner: str, limit: int, lease: float) -> list[JournalEntry]:
        """Every unanswered update of ``source`` (one process: no leases to respect)."""
        found = sorted((u, p, a) for (s, u), (p, a) in self._entries.items() if s == source)[:limit]
        for update_id, payload, attempts in found:
            self._entries[(source, update_id)] = (payload, attempts + 1)
        return [JournalEntry(u, p, a + 1) for u, p, a in found]

    async def done(self, source: str, update_id: int) -> None:
        """Forget an answered update."""
        self._entries.pop((source, update_id), None)

    async def close(self) -> None:
        """Nothing to release."""
