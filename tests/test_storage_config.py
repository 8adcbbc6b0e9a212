"""``[storage]``: url or path, the URL as a secret (environment, file), shown without its password."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, effective, parse, secrets
from bot.storage.factory import address_of
from bot.storage.urls import parse_address, redact_url

from conftest import BotRunner


def test_addresses_are_read_with_the_usual_conventions() -> None:
    assert address_of("", "prefs.sqlite3") == parse_address("sqlite:///prefs.sqlite3")
    assert parse_address("sqlite:////data/prefs.sqlite3").target == "/data/prefs.sqlite3"
    pg = parse_address("postgresql://bot:p%40ss@db.internal:5432/bot")
    assert (pg.backend, pg.password) == ("postgresql", "p@ss")
    assert pg.shown() == "postgresql://bot:***@db.internal:5432/bot"
    assert parse_address("postgres://bot@db/bot").shown() == "postgres://bot@db/bot"
    assert redact_url("postgresql://bot:x@[::1]:5432/bot?sslmode=require") == (
        "postgresql://bot:***@[::1]:5432/bot?sslmode=require"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:hunter2@h/db", "[storage] url must start with sqlite:/// or postgresql://, not mysql://"),
        (
            "prefs.sqlite3",
            "[storage] url must start with sqlite:/// or postgresql://, not an address without",
        ),
        ("sqlite:///", "[storage] url a sqlite:/// address needs a file path"),
        ("postgresql://u:hunter2@h:port/db", "[storage] url postgresql://u:***@h:port/db is not a valid"),
    ],
)
def test_a_wrong_url_is_one_line_without_the_password(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse({"storage": {"url": url}}, {})
    assert str(caught.value).startswith(message)
    assert "hunter2" not in str(caught.value)


def test_the_url_comes_from_the_environment_first(tmp_path: Path) -> None:
    raw = {"storage": {"url": "postgresql://file@db/bot"}}
    assert parse(raw, {"BOT_STORAGE_URL": "postgresql://env@db/bot"}).storage.url == "postgresql://env@db/bot"
    secret = tmp_path / "storage_url"
    secret.write_text("postgresql://bot:from-a-file@db/bot\n", encoding="utf-8")
    config = parse(raw, {"BOT_STORAGE_URL_FILE": str(secret)})
    assert config.storage.url == "postgresql://bot:from-a-file@db/bot"
    assert effective(config)["storage"]["url"] == "postgresql://bot:***@db/bot"
    assert "from-a-file" not in repr(config)


def test_the_password_is_redacted_from_logs_wherever_it_comes_from() -> None:
    config = parse({"storage": {"url": "postgresql://bot:in-the-url@db/bot"}}, {})
    assert secrets(config, {"PGPASSWORD": "in-the-environment"}) == ["in-the-url", "in-the-environment"]
    assert secrets(parse({}, {}), {"PGPASSWORD": "unused"}) == []  # SQLite: nothing to hide


def test_check_config_shows_where_the_store_is_but_not_its_password(run_bot: BotRunner) -> None:
    env = {
        "BOT_STORAGE_URL": "postgresql://bot:Sup3r-Secret@db.internal:5432/bot",
        "BOT_STORAGE_REQUIRED": "true",
    }
    result = run_bot("check-config", env=env)
    assert result.returncode == 0, result.stderr
    assert "Sup3r-Secret" not in result.stdout + result.stderr
    assert 'url = "postgresql://bot:***@db.internal:5432/bot"' in result.stdout
    assert "required = true" in result.stdout
    assert "BOT_STORAGE_URL" in result.stdout
