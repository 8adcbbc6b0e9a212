"""Who is asking: a user's Slack locale and rights, a channel's creator, looked up and remembered.

Slash commands and events carry no locale, so the user's comes from ``users.info`` with
``include_locale``; the same record says whether they administer the workspace. ``conversations.info``
names a channel's creator. Each answer is kept for an hour (a failure for a minute), and each
lookup is given a second at most: a slow Slack makes the reply fall back to the default language
rather than miss Slack's three-second deadline.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

TTL = 3600.0
FAILURE_TTL = 60.0
CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Person:
    """What the bot needs to know about a user."""

    locale: str | None = None
    admin: bool = False


class _Expiring:
    """A bounded map whose entries expire."""

    def __init__(self, size: int, clock: Callable[[], float]) -> None:
        self._size = size
        self._clock = clock
        self._data: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def get(self, key: str) -> tuple[bool, Any]:
        found = self._data.get(key)
        if found is None or found[0] < self._clock():
            return False, None
        return True, found[1]

    def put(self, key: str, value: Any, ttl: float) -> None:
        self._data[key] = (self._clock() + ttl, value)
        self._data.move_to_end(key)
        if len(self._data) > self._size:
            self._data.popitem(last=False)


class Directory:
    """Cached ``users.info`` and ``conversations.info`` answers."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        timeout: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._timeout = timeout
        self._people = _Expiring(CACHE_SIZE, clock)
        self._creators = _Expiring(CACHE_SIZE, clock)

    async def person(self, user: str | None) -> Person:
        """The user's locale and whether they administer the workspace (unknown: neither)."""
        if not user:
            return Person()
        found, value = self._people.get(user)
        if found:
            return value  # type: ignore[no-any-return]
        try:
            response = await asyncio.wait_for(
                self._client.users_info(user=user, include_locale=True), self._timeout
            )
            record = response.get("user") or {}
            person = Person(
                locale=record.get("locale") or None,
                admin=bool(
                    record.get("is_admin") or record.get("is_owner") or record.get("is_primary_owner")
                ),
            )
            self._people.put(user, person, TTL)
        except (SlackApiError, TimeoutError, OSError) as exc:
            # Missing users:read scope, a deleted user, a slow API: answer in the default language.
            log.warning("slack: users.info for %s failed: %s", user, _reason(exc))
            person = Person()
            self._people.put(user, person, FAILURE_TTL)
        return person

    async def creator(self, channel: str) -> str | None:
        """Who created ``channel`` (``None`` when Slack does not tell us)."""
        found, value = self._creators.get(channel)
        if found:
            return value  # type: ignore[no-any-return]
        creator: str | None = None
        ttl = TTL
        try:
            response = await asyncio.wait_for(self._client.conversations_info(channel=channel), self._timeout)
            creator = (response.get("channel") or {}).get("creator") or None
        except (SlackApiError, TimeoutError, OSError) as exc:
            # A private channel the bot is not in answers channel_not_found: admins only, then.
            log.info("slack: conversations.info for %s failed: %s", channel, _reason(exc))
            ttl = FAILURE_TTL
        self._creators.put(channel, creator, ttl)
        return creator

    async def may_configure(self, user: str | None, channel: str | None) -> bool:
        """Whether ``user`` may set ``channel``'s language: a workspace admin or owner, or the
        channel's creator."""
        if not user or not channel:
            return False
        if (await self.person(user)).admin:
            return True
        return await self.creator(channel) == user


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc)
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return str(exc) or type(exc).__name__
