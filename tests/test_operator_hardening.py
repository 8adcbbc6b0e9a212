"""What an operator may get wrong, answered in one line and the documented exit status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.config import ConfigError, parse

from conftest import ROOT, BotRunner


def _error(raw: dict[str, Any], env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        parse(raw, env or {})
    return str(raised.value)


def test_a_configuration_file_that_is_not_utf8_is_one_line_and_exit_2(
    run_bot: BotRunner, tmp_path: Path
) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[bot]\ndefault_lang = "fr" # caf\xe9\n')
    result = run_bot("check-config", "--config", str(path))
    assert result.returncode == 2
    assert result.stderr == (
        f"configuration error: {path} is not UTF-8 text (byte 0xe9 at offset 31); save it as UTF-8\n"
    )


def test_check_config_into_a_pipe_closed_early_prints_no_traceback(bot_env: dict[str, str]) -> None:
    result = subprocess.run(
        ["bash", "-c", f"'{sys.executable}' -m bot check-config | head -1"],
        env=bot_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.stdout.startswith("# configuration:")
    assert result.stderr == ""


def test_a_misspelt_environment_override_is_an_error_like_a_misspelt_key() -> None:
    message = _error({}, {"BOT_TELEGRAM_ENABLD": "true"})
    assert message.startswith("unknown variable BOT_TELEGRAM_ENABLD (did you mean BOT_TELEGRAM_ENABLED?")
    assert _error({}, {"BOT_OPSS_PORT": "1"}).startswith(
        "unknown variable BOT_OPSS_PORT (did you mean BOT_OPS_PORT?"
    )
    assert parse({}, {"BOT_CONFIG": "x", "BOT_OPS_PORT": "9100"}).ops.port == 9100


def test_numbers_are_typed_strictly_and_only_ids_may_be_strings() -> None:
    assert _error({"ops": {"port": "9090"}}) == "[ops] port must be an integer, not '9090'"
    assert _error({"telegram": {"poll_timeout": "30"}}).startswith(
        "[telegram] poll_timeout must be an integer"
    )
    config = parse({"discord": {"application_id": "123456789012345678", "dev_guild_id": "42"}}, {})
    assert (config.discord.application_id, config.discord.dev_guild_id) == (123456789012345678, 42)


def test_a_secret_of_the_wrong_type_is_not_repeated() -> None:
    message = _error({"telegram": {"token": 123456789}})
    assert message == "[telegram] token must be a string, not a value of type int (not shown: a secret)"
    assert "123456789" not in _error({"discord": {"public_key": ["123456789"]}})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://bot.example/tg", "[telegram] webhook_url must start with https://"),
        ("https://bot.example:8080/tg", "[telegram] webhook_url port 8080 is not one Telegram delivers to"),
        ("https:///tg", "[telegram] webhook_url must be a full URL"),
        ("https://bot.example:99999/tg", "[telegram] webhook_url is not a valid URL"),
    ],
)
def test_a_webhook_url_telegram_cannot_deliver_to_is_refused(url: str, expected: str) -> None:
    telegram = {"enabled": True, "mode": "webhook", "webhook_url": url, "secret_token": "s"}
    message = _error({"telegram": telegram}, {"TELEGRAM_BOT_TOKEN": "1:a"})
    assert message.startswith(expected), message


@pytest.mark.parametrize(
    "url", ["https://bot.example/tg", "https://bot.example:8443/tg", "https://b.example:88/"]
)
def test_webhook_urls_telegram_delivers_to_pass(url: str) -> None:
    telegram = {"enabled": True, "mode": "webhook", "webhook_url": url, "secret_token": "s"}
    assert parse({"telegram": telegram}, {"TELEGRAM_BOT_TOKEN": "1:a"}).telegram.webhook_url == url


def test_a_local_bot_api_server_may_deliver_anywhere() -> None:
    telegram = {
        "enabled": True,
        "mode": "webhook",
        "webhook_url": "http://127.0.0.1:9000/tg",
        "secret_token": "s",
        "api_base_url": "http://127.0.0.1:8081/bot",
    }
    assert parse({"telegram": telegram}, {"TELEGRAM_BOT_TOKEN": "1:a"}).telegram.webhook_port == 8443
