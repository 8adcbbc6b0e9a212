"""``[discord]``: the Discord section, its secrets and its checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Final, Literal

from bot.platforms.base import ConfigError, Listener, Secret, missing

# The platform's name: its section, metrics label, preference key prefix and Request.platform.
NAME: Final = "discord"


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    """``[discord]``: the Discord adapter (gateway or HTTP interactions)."""

    SECRETS: ClassVar[tuple[Secret, ...]] = (
        Secret("token", "DISCORD_BOT_TOKEN"),
        # Public by design: masked by check-config like the others, but not scrubbed from logs.
        Secret("public_key", "DISCORD_PUBLIC_KEY", redact=False),
    )

    enabled: bool = False
    mode: Literal["gateway", "interactions"] = "gateway"
    token: str = ""
    application_id: int = 0
    public_key: str = ""
    interactions_listen: str = "0.0.0.0"
    interactions_port: int = 8080
    interactions_path: str = "/interactions"
    dev_guild_id: int = 0
    shard_count: int = 0
    shard_ids: list[int] = field(default_factory=list)
    api_base_url: str = ""
    gateway_url: str = ""
    answer_cache_size: int = 2048

    def check(self) -> None:
        """What an enabled Discord section needs: a token (gateway) or a public key (interactions),
        and sensible shard settings."""
        if not self.enabled:
            return
        if self.mode == "gateway" and not self.token:
            raise missing(NAME, "token", "in gateway mode", self.SECRETS)
        if self.mode == "interactions":
            if not self.public_key:
                raise missing(NAME, "public_key", "in interactions mode", self.SECRETS)
            try:
                if len(bytes.fromhex(self.public_key)) != 32:
                    raise ValueError
            except ValueError:
                raise ConfigError(
                    "[discord] public_key must be 64 hexadecimal characters (or set DISCORD_PUBLIC_KEY)"
                ) from None
        for key in ("application_id", "dev_guild_id", "shard_count"):
            if getattr(self, key) < 0:
                raise ConfigError(f"[discord] {key} must be 0 or more")
        if self.shard_ids and not self.shard_count:
            raise ConfigError("[discord] shard_ids needs shard_count")
        if any(not 0 <= i < self.shard_count for i in self.shard_ids):
            raise ConfigError("[discord] shard_ids must each be between 0 and shard_count - 1")
        if len(set(self.shard_ids)) != len(self.shard_ids):
            raise ConfigError("[discord] shard_ids must not repeat a shard")
        if not self.interactions_path.startswith("/"):
            raise ConfigError("[discord] interactions_path must start with /")
        if self.api_base_url and not self.api_base_url.startswith(("http://", "https://")):
            raise ConfigError("[discord] api_base_url must be empty or start with http:// or https://")
        if self.gateway_url and not self.gateway_url.startswith(("ws://", "wss://")):
            raise ConfigError("[discord] gateway_url must be empty or start with ws:// or wss://")

    def listeners(self) -> tuple[Listener, ...]:
        """The interactions endpoint's port, active in interactions mode."""
        active = self.enabled and self.mode == "interactions"
        return (Listener("interactions_port", self.interactions_port, active),)
