"""What the bot keeps between runs, as interfaces: chat language preferences and the update journal.

Two back ends implement them: SQLite (:mod:`bot.storage.sqlite`, one file, one process) and, for
replicas that share state, PostgreSQL. Adapters see only these protocols.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class StorageError(RuntimeError):
    """The store could not be read or written (a locked file, a database that is down)."""


class PreferenceStore(Protocol):
    """Where a chat's language preference lives. Keys look like ``telegram:-1001234``."""

    async def get(self, chat: str) -> str | None:
        """The chat's language, or ``None`` when it has none."""

    async def set(self, chat: str, lang: str | None) -> None:
        """Set (or with ``None`` clear) the chat's language."""

    async def close(self) -> None:
        """Release the store."""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """An update taken from a platform and not yet answered."""

    update_id: int
    payload: bytes
    attempts: int


class UpdateJournal(Protocol):
    """Updates taken from a platform, kept until they are answered, so a crash loses none.

    An adapter records an update before it confirms it to the platform (Telegram: before the
    ``getUpdates`` offset moves past it, or before the webhook answers 200), marks it done once
    answered, and on start claims what an earlier run left. ``source`` names the stream
    (``telegram:<bot id>``) so that several bots can share one store; ``owner`` names the process
    holding a claim, which expires after ``lease`` seconds so another replica may take it over.
    """

    async def record(
        self, source: str, update_id: int, payload: bytes, owner: str = "", lease: float = 0.0
    ) -> None:
        """Keep an update (again is harmless: the first copy stays), held by ``owner`` for
        ``lease`` seconds so that no other replica claims it while its recorder answers it.
        """

    async def claim(self, source: str, owner: str, limit: int, lease: float) -> list[JournalEntry]:
        """Up to ``limit`` unanswered updates, oldest first, that no live claim holds; they are
        leased to ``owner`` for ``lease`` seconds and their attempt count goes up by one.
        """

    async def done(self, source: str, update_id: int) -> None:
        """Forget an answered update."""

    async def close(self) -> None:
        """Release the journal."""
