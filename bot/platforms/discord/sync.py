"""Registering the Discord command set through the REST API (``python -m bot sync-commands``).

Just enough of a REST client for one bulk ``PUT``: no discord.py, so registering commands, like
the HTTP interactions mode, stays light.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.platforms.base import redacted_values
from bot.platforms.discord.commands import command_payloads
from bot.platforms.discord.config import DiscordConfig
from bot.platforms.discord.errors import describe_failure, describe_response
from bot.redaction import RedactingFilter
from handlers import Handler

# Named as before the move into bot.platforms: operators filter log lines on it.
log = logging.getLogger("bot.adapters.discord_commands")

DEFAULT_API = "https://discord.com/api/v10"
USER_AGENT = "DiscordBot (https://github.com/http-status-bot/http-status-bot, 0.1.0)"
# Loggers whose records could carry the bot token. discord.py 2.7 does not log the token itself
# (it logs request bodies, URLs with *interaction* tokens, and gateway events, never the IDENTIFY
# payload), but an exception message, a third-party library or a future version might.
REDACTED_LOGGERS = ("discord", "aiohttp", "bot", "asyncio")
REQUEST_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0
LIMITS = f"{CONNECT_TIMEOUT:.0f} s to connect, {REQUEST_TIMEOUT:.0f} s in all"


class CommandSyncError(RuntimeError):
    """Registering the commands failed; the message says why, for the operator."""


def api_root(api_base_url: str) -> str:
    """The REST root to use: Discord's own by default; ``/api/v10`` is added to a bare host."""
    url = (api_base_url or DEFAULT_API).rstrip("/")
    if not re.search(r"/api/v\d+$", url):
        url += "/api/v10"
    return url


@dataclass
class _Rest:
    """Just enough of a REST client for registering commands (no discord.py needed)."""

    session: aiohttp.ClientSession
    root: str
    token: str
    attempts: int = 3
    headers: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.headers = {
            "Authorization": f"Bot {self.token}",
            "User-Agent": USER_AGENT,
            "Content-Type": "application/json",
        }

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        url = self.root + path
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        for attempt in range(self.attempts):
            try:
                async with self.session.request(method, url, data=data, headers=self.headers) as response:
                    text = await response.text()
                    if response.status == 429 and attempt + 1 < self.attempts:
                        retry = _retry_after(text, response.headers)
                        log.warning("discord: rate limited on %s %s, retrying in %.1f s", method, path, retry)
                        await asyncio.sleep(retry)
                        continue
                    if response.status == 401:
                        raise CommandSyncError(
                            "Discord rejected the bot token (401): check [discord] token or DISCORD_BOT_TOKEN"
                        )
                    if response.status >= 400:
                        raise CommandSyncError(
                            f"{method} {path} failed: {describe_response(response.status, text)}"
                        )
                    try:
                        return json.loads(text) if text else None
                    except ValueError:
                        answer = describe_response(response.status, text)
                        raise CommandSyncError(f"{method} {path}: the answer is not JSON: {answer}") from None
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                raise CommandSyncError(
                    f"cannot reach the Discord API at {self.root}: {describe_failure(exc, LIMITS)}"
                ) from None
        raise CommandSyncError(f"{method} {path}: still rate limited after {self.attempts} attempts")


def _retry_after(text: str, headers: Mapping[str, str]) -> float:
    try:
        value = float(json.loads(text).get("retry_after", 1.0))
    except (ValueError, AttributeError):
        value = float(headers.get("Retry-After", 1.0))
    return min(max(value, 0.0), 60.0)


async def sync_commands(
    config: DiscordConfig,
    guild_id: int | None,
    *,
    handler: Handler | None = None,
    application_id: int | None = None,
) -> int:
    """Register the command set in one guild (instant) or globally; returns how many commands.

    The bulk ``PUT`` replaces the whole set, so running it twice is harmless and a command
    removed from the code disappears from Discord too. Raises :class:`CommandSyncError` with an
    operator-readable message (bad token, unreachable API, a rejected field).
    """
    if not config.token:
        raise CommandSyncError("[discord] token is required to register commands (or set DISCORD_BOT_TOKEN)")
    if handler is None:
        from handlers import load

        handler = Handler(load())
    payload = command_payloads(handler)
    guard = RedactingFilter(redacted_values(config))
    guard.attach(REDACTED_LOGGERS)
    try:
        # A host that does not answer fails in seconds, as Telegram's does, not after the total.
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT, sock_connect=CONNECT_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            rest = _Rest(session, api_root(config.api_base_url), config.token)
            app_id = application_id or config.application_id
            if not app_id:
                app = await rest.call("GET", "/oauth2/applications/@me")
                app_id = int(app["id"])
            where = f"/guilds/{guild_id}" if guild_id else ""
            registered = await rest.call("PUT", f"/applications/{app_id}{where}/commands", payload)
    finally:
        guard.detach()
    count = len(registered) if isinstance(registered, list) else len(payload)
    log.info("discord: registered %d commands %s", count, f"in guild {guild_id}" if guild_id else "globally")
    return count


def sync_on_start(config: DiscordConfig) -> bool:
    """Whether the gateway adapter registers commands itself when it starts.

    Only for a development guild: a guild's command set changes instantly and a bulk PUT is
    idempotent, so every restart may do it. Global registration propagates slowly, is rate limited
    and, with shards split across processes, would be repeated by each one: it is an operator step
    (``python -m bot sync-commands``).
    """
    return bool(config.dev_guild_id)
