"""Storage: chat language preferences and the update journal, behind small interfaces.

``bot.storage.sqlite`` is the embedded default (one file, one process); ``bot.storage.postgres``
is shared by replicas (imported only when configured). ``bot.storage.factory`` opens the one
``[storage]`` names, behind the preference cache (``bot.storage.cache``) and with its health
(``bot.storage.health``).
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
