"""What every adapter is given: the handler, metrics, the preference store and the update journal."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.metrics import Metrics
from bot.storage import MemoryJournal, MemoryPreferences, PreferenceStore, StorageError, UpdateJournal
from handlers import Handler, Item, Reply, Request


@dataclass
class Service:
    """The shared core as adapters see it: answers are timed and counted per platform."""

    handler: Handler
    metrics: Metrics = field(default_factory=Metrics)
    prefs: PreferenceStore = field(default_factory=MemoryPreferences)
    # Where adapters keep the updates they took until they are answered (see bot.storage.base).
    journal: UpdateJournal = field(default_factory=MemoryJournal)
    default_lang: str = "en"

    def answer(self, request: Request) -> Reply:
        """The handler's reply, timed; a failure is counted and re-raised for the adapter."""
        start = time.perf_counter()
        try:
            reply = self.handler.answer(request)
        except Exception:
            self.metrics.error(request.platform, "handler")
            raise
        self.metrics.observe(request.platform, reply.kind, time.perf_counter() - start)
        return reply

    def suggest(self, platform: str, text: str, langs: Sequence[str | None], limit: int) -> list[Item]:
        """Autocomplete or inline choices, timed like an answer."""
        start = time.perf_counter()
        try:
            items = self.handler.suggest(text, langs, limit)
        except Exception:
            self.metrics.error(platform, "handler")
            raise
        self.metrics.observe(platform, "suggest", time.perf_counter() - start)
        return items

    async def langs(
        self,
        chat: str | None,
        explicit: str | None = None,
        user_locale: str | None = None,
        server_locale: str | None = None,
    ) -> tuple[str | None, ...]:
        """Language preferences strongest first: the explicit option, the chat's stored
        preference, the user's client locale, the server's locale, then the configured default.
        """
        stored = None
        if chat:
            try:
                stored = await self.prefs.get(chat)
            except StorageError:
                # A store that cannot answer costs the chat its preference, never the reply.
                stored = None
        return (explicit, stored, user_locale, server_locale, self.default_lang)
