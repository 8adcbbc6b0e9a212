"""compose.yaml, read as data (no Docker here): PostgreSQL, two Discord interactions replicas and a
Telegram webhook replica behind Caddy, every health check wired, no secret in the file, and each
replica's environment a valid configuration of the bot."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import enabled_platforms, parse
from bot.storage.factory import address_of

ROOT = Path(__file__).resolve().parent.parent
BOTS = ("discord-1", "discord-2", "telegram")
# What an operator's .env would hold; the file itself must only refer to these.
DOT_ENV = {
    "BOT_DOMAIN": "chat-bot.example.org",
    "POSTGRES_PASSWORD": "pg-password-from-dot-env",
    "DISCORD_PUBLIC_KEY": "ab" * 32,
    "TELEGRAM_BOT_TOKEN": "123456:telegram-token-from-dot-env",
    "TELEGRAM_WEBHOOK_SECRET": "webhook_secret_from_dot_env",
}
REFERENCE = re.compile(r"\$\{(\w+)(?::?[?-][^}]*)?\}")


def _interpolate(text: str) -> str:
    """Compose's ``${NAME:?message}`` substitution, with the sample .env."""
    return REFERENCE.sub(lambda m: DOT_ENV[m.group(1)], text)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def test_every_secret_comes_from_the_environment(compose: dict[str, Any]) -> None:
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    assert set(REFERENCE.findall(text)) == set(DOT_ENV)
    for value in DOT_ENV.values():
        assert value not in text
    # The storage URL carries no password; the driver gets it from PGPASSWORD.
    for name in BOTS:
        environment = compose["services"][name]["environment"]
        assert address_of(environment["BOT_STORAGE_URL"], "").password is None
        assert environment["PGPASSWORD"] == "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}"


def test_replicas_wait_for_a_healthy_database_and_the_proxy_for_healthy_replicas(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    for name in BOTS:
        bot = services[name]
        assert bot["build"] == "." and bot["depends_on"]["postgres"]["condition"] == "service_healthy"
        # The image's HEALTHCHECK (GET /healthz) is kept; only its timing is tuned.
        assert "test" not in bot["healthcheck"]
        assert bot["stop_grace_period"] == "15s"
    proxy = services["proxy"]
    assert proxy["image"].startswith("caddy:")
    assert {name: dep["condition"] for name, dep in proxy["depends_on"].items()} == dict.fromkeys(
        BOTS, "service_healthy"
    )
    assert proxy["healthcheck"]["test"]
    assert sorted(proxy["ports"]) == ["443:443", "80:80"]


def test_each_replica_is_a_valid_configuration(compose: dict[str, Any]) -> None:
    expected = {"discord-1": ["discord"], "discord-2": ["discord"], "telegram": ["telegram"]}
    for name in BOTS:
        env = {
            key: _interpolate(str(value)) for key, value in compose["services"][name]["environment"].items()
        }
        config = parse({}, env)
        assert enabled_platforms(config) == expected[name], name
        assert config.storage.url == "postgresql://bot@postgres:5432/bot"
        if name == "telegram":
            assert config.telegram.mode == "webhook"
            assert config.telegram.webhook_url == "https://chat-bot.example.org/telegram"
        else:
            assert config.discord.mode == "interactions"


def test_the_proxy_spreads_interactions_and_checks_each_replica(compose: dict[str, Any]) -> None:
    caddyfile = _interpolate(compose["configs"]["caddyfile"]["content"])
    assert caddyfile.startswith("chat-bot.example.org {")
    interactions = re.search(r"reverse_proxy /interactions ([^{]+)\{([^}]*)\}", caddyfile)
    telegram = re.search(r"reverse_proxy /telegram ([^{]+)\{([^}]*)\}", caddyfile)
    assert interactions and telegram
    assert interactions.group(1).split() == ["discord-1:8080", "discord-2:8080"]
    assert telegram.group(1).split() == ["telegram:8443"]
    for block in (interactions.group(2), telegram.group(2)):
        # The image's ops server: /healthz on 9090 (BOT_OPS_PORT in the Dockerfile).
        assert "health_uri /healthz" in block and "health_port 9090" in block
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    exposed = {p for line in dockerfile.splitlines() if line.startswith("EXPOSE ") for p in line.split()[1:]}
    assert "BOT_OPS_PORT=9090" in dockerfile and {"8443", "8080", "9090"} <= exposed
