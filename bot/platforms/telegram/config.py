"""``[telegram]``: the Telegram section, its secrets and its checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Final, Literal
from urllib.parse import urlsplit

from bot.platforms.base import ConfigError, Listener, Secret, missing

# The platform's name: its section, metrics label, preference key prefix and Request.platform.
NAME: Final = "telegram"
# What Telegram accepts as a webhook secret_token.
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
DEFAULT_API = "https://api.telegram.org/bot"
# The only ports Telegram's servers deliver webhooks to (a local Bot API server takes any).
WEBHOOK_PORTS = (443, 80, 88, 8443)


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    """``[telegram]``: the Telegram adapter."""

    SECRETS: ClassVar[tuple[Secret, ...]] = (
        Secret("token", "TELEGRAM_BOT_TOKEN"),
        Secret("secret_token", "TELEGRAM_WEBHOOK_SECRET"),
    )

    enabled: bool = False
    token: str = ""
    api_base_url: str = DEFAULT_API
    mode: Literal["polling", "webhook"] = "polling"
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    webhook_path: str = "/telegram"
    webhook_url: str = ""
    secret_token: str = ""
    poll_timeout: int = 30
    inline_cache_time: int = 300

    @property
    def file_base_url(self) -> str:
        """Where files sent to the bot are downloaded from: the same server's ``/file/bot`` path.

        Telegram serves files at ``https://api.telegram.org/file/bot<token>/<path>`` beside the
        methods at ``/bot<token>/<method>``, and so does a self-hosted Bot API server, so the
        file URL follows ``api_base_url`` (``{token}`` placeholders included).
        """
        parts = urlsplit(self.api_base_url)
        root = f"{parts.scheme}://{parts.netloc}"
        path = self.api_base_url[len(root) :]
        at = path.rfind("/bot")
        if at < 0:
            return f"{root}/file/bot"
        return f"{root}{path[:at]}/file{path[at:]}"

    def check(self) -> None:
        """What an enabled Telegram section needs: the token, and in webhook mode a URL and a secret."""
        if not self.enabled:
            return
        if not self.token:
            raise missing(NAME, "token", "when [telegram] is enabled", self.SECRETS)
        if self.mode == "webhook":
            if not self.webhook_url:
                raise missing(NAME, "webhook_url", "in webhook mode", self.SECRETS)
            self._check_webhook_url()
            if not self.secret_token:
                raise missing(NAME, "secret_token", "in webhook mode", self.SECRETS)
        if self.secret_token and not _SECRET_TOKEN.fullmatch(self.secret_token):
            raise ConfigError(
                "[telegram] secret_token may hold only A-Z, a-z, 0-9, _ and -, 1 to 256 characters"
                " (or set TELEGRAM_WEBHOOK_SECRET)"
            )
        if not self.api_base_url.startswith(("http://", "https://")):
            raise ConfigError("[telegram] api_base_url must start with http:// or https://")
        if not self.webhook_path.startswith("/"):
            raise ConfigError("[telegram] webhook_path must start with /")
        if self.poll_timeout < 0:
            raise ConfigError("[telegram] poll_timeout must be 0 or more")
        if self.inline_cache_time < 0:
            raise ConfigError("[telegram] inline_cache_time must be 0 or more")

    def _check_webhook_url(self) -> None:
        """Telegram itself delivers only to HTTPS on ports 443, 80, 88 or 8443; a local Bot API
        server (another ``api_base_url``) to any URL."""
        try:
            parts = urlsplit(self.webhook_url)
            port = parts.port
        except ValueError:
            raise ConfigError("[telegram] webhook_url is not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("[telegram] webhook_url must be a full URL starting with https://")
        if self.api_base_url.rstrip("/") != DEFAULT_API:
            return
        if parts.scheme != "https":
            raise ConfigError(
                "[telegram] webhook_url must start with https:// (Telegram delivers over HTTPS only)"
            )
        if port is not None and port not in WEBHOOK_PORTS:
            raise ConfigError(
                f"[telegram] webhook_url port {port} is not one Telegram delivers to"
                f" ({', '.join(map(str, WEBHOOK_PORTS))}); put a reverse proxy in front of webhook_port"
            )

    def listeners(self) -> tuple[Listener, ...]:
        """The webhook server's port, active in webhook mode."""
        return (Listener("webhook_port", self.webhook_port, self.enabled and self.mode == "webhook"),)
