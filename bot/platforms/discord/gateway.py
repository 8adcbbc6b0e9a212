"""The Discord gateway adapter: discord.py's ``Bot`` (or ``AutoShardedBot``) on our event loop.

Interactions arrive as gateway events; :class:`~bot.platforms.discord.responder.Responder` answers
them exactly as it does for the HTTP endpoint, and the callback body it returns is sent through
discord.py's public ``InteractionResponse`` API. discord.py's own command tree is bypassed: the
command set is defined once, as API payloads, in :mod:`bot.platforms.discord.commands`.

Disconnects are discord.py's business: it reconnects with RESUME (op 6) on the
``resume_gateway_url`` from READY, and Discord replays the events missed in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from typing import Any, TypeAlias

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.platforms.base import AdapterStartError, redacted_values
from bot.platforms.discord.config import NAME, DiscordConfig
from bot.platforms.discord.errors import describe_failure, describe_response
from bot.platforms.discord.logs import DiscordLogs
from bot.platforms.discord.render import EPHEMERAL
from bot.platforms.discord.responder import AUTOCOMPLETE_RESULT, Invocation, Prepared, Responder
from bot.platforms.discord.sync import (
    REDACTED_LOGGERS,
    CommandSyncError,
    api_root,
    sync_commands,
    sync_on_start,
)
from bot.redaction import RedactingFilter
from bot.service import Service
from bot.wire_text import scrub_json

# Named as before the move into bot.platforms: operators filter log lines on it.
log = logging.getLogger("bot.adapters.discord_gateway")

AnyBot: TypeAlias = commands.Bot | commands.AutoShardedBot
# Discord drops an interaction not answered within 3 s of its creation; keep a margin.
ANSWER_WINDOW = 2.5
CALLBACK_ATTEMPTS = 3


class _DelegatingTree(app_commands.CommandTree[commands.Bot]):
    """A command tree that leaves every interaction to our ``on_interaction`` listener.

    The tree holds no commands (they are registered from raw payloads), so resolving one would
    fail and log ``CommandNotFound`` for every interaction; the global check turns it away first.
    """

    async def interaction_check(self, interaction: discord.Interaction[commands.Bot], /) -> bool:
        """Never let the tree handle an interaction."""
        return False


class _ExpectedWarnings(logging.Filter):
    """Drops discord.py's start-up warnings about choices made here on purpose.

    Without the guilds intent discord.py warns that its guild cache may be incomplete (we keep
    none: interactions carry what we need), and without the ``davey`` package that voice is
    unavailable (we never join voice). Both would otherwise greet the operator at every start.
    """

    EXPECTED = ("Guilds intent seems to be disabled", "davey is not installed")
    LOGGERS = ("discord.state", "discord.client")

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record but those two warnings."""
        return not (record.levelno == logging.WARNING and record.getMessage().startswith(self.EXPECTED))

    def install(self) -> None:
        """Attach to the loggers that emit them."""
        for name in self.LOGGERS:
            logging.getLogger(name).addFilter(self)

    def remove(self) -> None:
        """Detach again."""
        for name in self.LOGGERS:
            logging.getLogger(name).removeFilter(self)


class Endpoints:
    """Points discord.py at another REST API and gateway (an emulator, a proxy) and back.

    discord.py has no per-client setting for either: ``discord.http.Route.BASE`` and
    ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` are class attributes, shared by every
    client in the process. So they are changed on start and restored on stop (unless someone
    else changed them meanwhile), which also means two adapters with different endpoints cannot
    run in one process. An ``AutoShardedBot`` without a fixed ``shard_count`` asks
    ``GET /gateway/bot`` for its URL instead, which the REST redirection already covers.
    """

    def __init__(self, api_base_url: str, gateway_url: str) -> None:
        self.api = api_root(api_base_url) if api_base_url else None
        self.gateway = yarl.URL(gateway_url) if gateway_url else None
        self._saved: tuple[str, yarl.URL] | None = None

    def apply(self) -> None:
        """Redirect discord.py (nothing changes when neither URL is configured)."""
        self._saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        if self.api:
            discord.http.Route.BASE = self.api
        if self.gateway:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self.gateway

    def restore(self) -> None:
        """Put back what was there before :meth:`apply`."""
        if self._saved is None:
            return
        base, gateway = self._saved
        self._saved = None
        if self.api and self.api == discord.http.Route.BASE:
            discord.http.Route.BASE = base
        if self.gateway and self.gateway == discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


def message_of(interaction: discord.Interaction[Any]) -> dict[str, Any] | None:
    """The message a component sits on, as the parts of its payload that are read back."""
    message = interaction.message
    if message is None:
        return None
    return {
        "id": str(message.id),
        "embeds": [embed.to_dict() for embed in message.embeds],
        "attachments": [attachment.to_dict() for attachment in message.attachments],
    }


# A gateway sends a heartbeat acknowledgement every heartbeat interval (about 41 s): a connection
# silent for this long is dead even if its socket looks open.
_SILENT_FOR = 90.0


def _recent(ws: Any) -> bool:
    """Whether the gateway connection received anything lately.

    discord.py keeps the time of the last frame in its keep-alive thread (``_last_recv``, a
    private attribute: when a release renames it, this check is skipped rather than failing).
    """
    keep_alive = getattr(ws, "_keep_alive", None)
    last = getattr(keep_alive, "_last_recv", None)
    return not isinstance(last, float) or time.perf_counter() - last < _SILENT_FOR


def invocation_from(interaction: discord.Interaction[Any]) -> Invocation:
    """The neutral view of a discord.py interaction (the same fields the HTTP payload gives)."""
    guild_locale = interaction.guild_locale
    return Invocation(
        type=interaction.type.value,
        # discord.py decoded the event's JSON: a lone surrogate escaped in it is repaired here.
        data=scrub_json(dict(interaction.data or {})),
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        locale=str(interaction.locale),
        guild_locale=str(guild_locale) if guild_locale is not None else None,
        permissions=interaction.permissions.value,
        user_name=interaction.user.display_name if interaction.user else "",
        interaction_id=str(interaction.id),
        application_id=str(interaction.application_id),
        token=interaction.token,
        message=message_of(interaction) if interaction.type is discord.InteractionType.component else None,
    )


def view_from(components: list[dict[str, Any]]) -> discord.ui.View:
    """Action rows of buttons as a discord.py view, ready to send and never tracked.

    Share clicks are answered from their ``custom_id`` alone (as over HTTP), so the view is
    stopped before it is sent: discord.py then does not keep it, with a timer, for every message.
    """
    view = discord.ui.View(timeout=None)
    for row, action_row in enumerate(components):
        for button in action_row.get("components", ()):
            view.add_item(
                discord.ui.Button(
                    style=discord.ButtonStyle(button["style"]),
                    label=button.get("label"),
                    url=button.get("url"),
                    custom_id=button.get("custom_id"),
                    row=row,
                )
            )
    view.stop()
    return view


def message_kwargs(data: dict[str, Any]) -> dict[str, Any]:
    """``InteractionResponse.send_message`` arguments for a rendered message."""
    kwargs: dict[str, Any] = {
        "allowed_mentions": discord.AllowedMentions.none(),
        "ephemeral": bool(data.get("flags", 0) & EPHEMERAL),
    }
    if data.get("content"):
        kwargs["content"] = data["content"]
    if data.get("embeds"):
        kwargs["embeds"] = [discord.Embed.from_dict(embed) for embed in data["embeds"]]
    if data.get("components"):
        kwargs["view"] = view_from(data["components"])
    return kwargs


class DiscordGatewayAdapter:
    """Connects to Discord's gateway with discord.py and answers interactions."""

    platform = NAME

    def __init__(
        self,
        config: DiscordConfig,
        service: Service,
        *,
        sync_commands: bool | None = None,
        login_timeout: float = 10.0,
        ready_timeout: float = 60.0,
    ) -> None:
        self._config = config
        self._service = service
        self._responder = Responder(service, cache_size=config.answer_cache_size)
        self._logs = DiscordLogs(service, config)
        self._sync = sync_on_start(config) if sync_commands is None else sync_commands
        self._login_timeout = login_timeout
        self._ready_timeout = ready_timeout
        self._endpoints = Endpoints(config.api_base_url, config.gateway_url)
        self._bot: AnyBot | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._log_guard = RedactingFilter(redacted_values(config))
        self._quiet = _ExpectedWarnings()

    @property
    def bot(self) -> AnyBot | None:
        """The discord.py bot while the adapter runs."""
        return self._bot

    def _make_bot(self) -> AnyBot:
        options: dict[str, Any] = {
            # Slash commands need no message content, and "when mentioned" is the one prefix that
            # does not make discord.py warn about the missing privileged intent.
            "command_prefix": commands.when_mentioned,
            "intents": discord.Intents.none(),
            "help_command": None,
            "tree_cls": _DelegatingTree,
            "allowed_mentions": discord.AllowedMentions.none(),
            # Interactions carry what we need: no message, member or guild caches to fill.
            "max_messages": None,
            "chunk_guilds_at_startup": False,
            "member_cache_flags": discord.MemberCacheFlags.none(),
            "guild_ready_timeout": 0.0,
        }
        if self._config.shard_count:
            # Without shard_ids one process runs every shard; with them, only its share.
            if self._config.shard_ids:
                options["shard_ids"] = list(self._config.shard_ids)
            return commands.AutoShardedBot(shard_count=self._config.shard_count, **options)
        return commands.Bot(**options)

    async def start(self) -> None:
        """Log in, register commands when configured to, connect, and wait for READY.

        Raises :class:`AdapterStartError` when the token is refused, the API cannot be reached,
        or the gateway closes for good (bad shard settings, missing intents).
        """
        self._log_guard.attach(REDACTED_LOGGERS)
        self._quiet.install()
        self._endpoints.apply()
        self._service.handler.warm()
        bot = self._make_bot()
        bot.add_listener(self._on_interaction, "on_interaction")
        bot.add_listener(self._on_ready, "on_ready")
        try:
            await self._login(bot)
        except BaseException:
            await self._abandon(bot)
            raise
        self._bot = bot
        if self._sync:
            await self._register(bot)
        self._task = asyncio.create_task(bot.connect(reconnect=True), name="discord-gateway")
        self._task.add_done_callback(self._gateway_ended)
        waiter = asyncio.create_task(self._ready.wait())
        try:
            done, _ = await asyncio.wait(
                {self._task, waiter}, timeout=self._ready_timeout, return_when="FIRST_COMPLETED"
            )
        finally:
            waiter.cancel()
        if self._task in done:
            exc = self._task.exception()
            await self._abandon(bot)
            raise AdapterStartError(f"the Discord gateway closed the connection for good: {exc!r}")
        if not done:
            log.warning("discord: not READY after %.0f s; still trying", self._ready_timeout)
        # Everything alive now (catalogue, search index, discord.py's modules and state) lives as
        # long as the process: keep the garbage collector from walking it on every full collection.
        gc.freeze()

    async def _login(self, bot: AnyBot) -> None:
        where = discord.http.Route.BASE
        try:
            await asyncio.wait_for(bot.login(self._config.token), self._login_timeout)
        except discord.LoginFailure:
            raise AdapterStartError(
                "Discord rejected the bot token (401 from GET /users/@me): "
                "check [discord] token or DISCORD_BOT_TOKEN"
            ) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            reason = describe_failure(exc, f"{self._login_timeout:.0f} s")
            raise AdapterStartError(f"cannot reach the Discord API at {where}: {reason}") from None
        except discord.HTTPException as exc:
            reason = describe_response(exc.status, str(exc.text))
            raise AdapterStartError(f"the Discord API refused to log in: {reason}") from None

    async def _register(self, bot: AnyBot) -> None:
        guild = self._config.dev_guild_id or None
        try:
            await sync_commands(
                self._config, guild, handler=self._service.handler, application_id=bot.application_id
            )
        except CommandSyncError as exc:
            # The previously registered commands still work: serve them rather than refuse to start.
            log.error("discord: could not register commands: %s", exc)

    async def _abandon(self, bot: AnyBot) -> None:
        with contextlib.suppress(Exception):
            await bot.close()
        if self._task is not None:
            with contextlib.suppress(BaseException):
                await self._task
        self._task = None
        self._bot = None
        self._endpoints.restore()
        self._quiet.remove()
        self._log_guard.detach()

    async def stop(self) -> None:
        """Close the gateway connection and the HTTP session; restore discord.py's endpoints.

        Log summaries in progress get a few seconds to be delivered first.
        """
        await self._logs.close()
        if self._bot is not None:
            await self._abandon(self._bot)
        self._ready.clear()

    def connected(self) -> bool:
        """Whether the gateway loop runs and every shard this process runs has an open,
        recently heard-from connection."""
        bot = self._bot
        task = self._task
        if bot is None or task is None or task.done() or bot.is_closed() or not bot.is_ready():
            return False
        if isinstance(bot, commands.AutoShardedBot):
            shards = bot.shards.values()
            # A shard's connection hangs off its (private) parent; without it, no recency check.
            return bool(shards) and all(
                not s.is_closed() and _recent(getattr(getattr(s, "_parent", None), "ws", None))
                for s in shards
            )
        return bot.ws is not None and bot.ws.open and _recent(bot.ws)

    def _gateway_ended(self, task: asyncio.Task[None]) -> None:
        """discord.py reconnects by itself on network trouble; anything else (a frame it cannot
        parse) ends its loop for good. Say so once: connected() turns false and the runtime
        replaces the adapter after [bot] restart_after."""
        if task.cancelled() or self._bot is None:
            return
        exc = task.exception()
        if exc is not None and self._ready.is_set():
            self._service.metrics.error(NAME, "connection")
            log.warning("discord: the gateway connection ended: %s: %s", type(exc).__name__, str(exc)[:200])

    async def _on_ready(self) -> None:
        self._ready.set()

    async def _on_interaction(self, interaction: discord.Interaction[commands.Bot]) -> None:
        invocation = invocation_from(interaction)
        request = self._logs.claim(invocation)
        if request is not None:
            # A log takes longer than the first answer may: "thinking…" now, the summary later.
            try:
                await interaction.response.defer(ephemeral=request.ephemeral, thinking=True)
            except discord.HTTPException as exc:
                self._service.metrics.error(NAME, "send")
                log.warning("discord: could not defer interaction %s: %s", interaction.id, exc)
                return
            self._logs.start(request)
            return
        received = time.monotonic()
        prepared = await self._responder.prepare(invocation)
        for attempt in range(CALLBACK_ATTEMPTS):
            try:
                await self._respond(interaction, prepared)
                return
            except discord.HTTPException as exc:
                wait = _rate_limit_wait(exc)
                # The interaction must be answered within 3 s of its creation: retry a rate
                # limit only while an answer can still arrive in time.
                late = time.monotonic() - received + (wait or 0.0) > ANSWER_WINDOW
                if wait is None or late or attempt + 1 == CALLBACK_ATTEMPTS:
                    # Most often the 3-second window passed (10062 Unknown interaction) or a retry won.
                    self._service.metrics.error(NAME, "send")
                    log.warning("discord: could not answer interaction %s: %s", interaction.id, exc)
                    return
                self._service.metrics.retry(NAME, "rate_limit")
                log.info("discord: interaction %s rate limited; retrying in %.2f s", interaction.id, wait)
                await asyncio.sleep(wait)

    async def _respond(self, interaction: discord.Interaction[commands.Bot], prepared: Prepared) -> None:
        response = prepared.body
        if response["type"] == AUTOCOMPLETE_RESULT:
            choices = prepared.memo.get("choices")
            if choices is None:
                choices = prepared.memo["choices"] = [
                    app_commands.Choice(name=c["name"], value=c["value"]) for c in response["data"]["choices"]
                ]
            await interaction.response.autocomplete(choices)
        else:
            # Embeds and a stopped view are only read when sent, so a cached answer's
            # discord.py objects are built once and reused.
            kwargs = prepared.memo.get("kwargs")
            if kwargs is None:
                kwargs = prepared.memo["kwargs"] = message_kwargs(response["data"])
            await interaction.response.send_message(**kwargs)


def _rate_limit_wait(exc: discord.HTTPException) -> float | None:
    """Seconds Discord asked to wait before trying again, or ``None`` if ``exc`` is no 429.

    discord.py retries a 429 itself only when the response came through Discord's proxy (a
    ``Via`` header); without one it assumes a ban and gives up at once.
    """
    if exc.status != 429:
        return None
    headers = getattr(exc.response, "headers", None) or {}
    try:
        return max(0.0, float(headers.get("Retry-After", "0.5")))
    except ValueError:
        return 0.5
