"""``[slack]``: the Slack section, its secrets and its checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final, Literal

from bot.platforms.base import ConfigError, Listener, Secret, missing

# The platform's name: its section, metrics label, preference key prefix and Request.platform.
NAME: Final = "slack"
DEFAULT_API_BASE_URL: Final = "https://slack.com/api/"


@dataclass(frozen=True, slots=True)
class SlackConfig:
    """``[slack]``: the Slack adapter (Socket Mode or HTTP), on Bolt for Python."""

    SECRETS: ClassVar[tuple[Secret, ...]] = (
        Secret("bot_token", "SLACK_BOT_TOKEN"),
        Secret("signing_secret", "SLACK_SIGNING_SECRET"),
        Secret("app_token", "SLACK_APP_TOKEN"),
    )

    enabled: bool = False
    mode: Literal["socket", "http"] = "socket"
    bot_token: str = ""
    signing_secret: str = ""
    app_token: str = ""
    listen: str = "0.0.0.0"
    port: int = 3000
    path: str = "/slack/events"
    api_base_url: str = ""

    def check(self) -> None:
        """What an enabled Slack section needs: the bot token, and the signing secret (HTTP) or
        the app-level token (Socket Mode), each of the right kind."""
        if not self.enabled:
            return
        if not self.bot_token:
            raise missing(NAME, "bot_token", "when [slack] is enabled", self.SECRETS)
        # A token pasted into the wrong key fails later with a vague invalid_auth: say it now.
        if not self.bot_token.startswith("xoxb-"):
            raise ConfigError(
                "[slack] bot_token must be the bot token (xoxb-..., from OAuth & Permissions)"
                " (or set SLACK_BOT_TOKEN)"
            )
        if self.mode == "http" and not self.signing_secret:
            raise missing(NAME, "signing_secret", 'when [slack] mode = "http"', self.SECRETS)
        if self.mode == "socket":
            if not self.app_token:
                raise missing(NAME, "app_token", 'when [slack] mode = "socket"', self.SECRETS)
            if not self.app_token.startswith("xapp-"):
                raise ConfigError(
                    "[slack] app_token must be an app-level token (xapp-..., from Basic Information"
                    " → App-Level Tokens) (or set SLACK_APP_TOKEN)"
                )
        if not self.path.startswith("/"):
            raise ConfigError("[slack] path must start with /")
        if self.api_base_url and not self.api_base_url.startswith(("http://", "https://")):
            raise ConfigError("[slack] api_base_url must be empty or start with http:// or https://")

    def listeners(self) -> tuple[Listener, ...]:
        """The events endpoint's port, active in HTTP mode."""
        return (Listener("port", self.port, self.enabled and self.mode == "http"),)

    @property
    def web_api_url(self) -> str:
        """The Web API base URL as slack_sdk wants it (method names are appended to it)."""
        base = self.api_base_url or DEFAULT_API_BASE_URL
        return base if base.endswith("/") else base + "/"
