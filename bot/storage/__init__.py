"""Storage: chat language preferences and the update journal, behind small interfaces.

``bot.storage.sqlite`` is the embedded default; a shared back end implements the same protocols.
"""

from bot.storage.base import JournalEntry, PreferenceStore, StorageError, UpdateJournal
from bot.storage.memory import MemoryJournal, MemoryPreferences
from bot.storage.sqlite import SqliteJournal, SqlitePreferences

__all__ = [
    "JournalEntry",
    "MemoryJournal",
    "MemoryPreferences",
    "PreferenceStore",
    "SqliteJournal",
    "SqlitePreferences",
    "StorageError",
    "UpdateJournal",
]
