"""Configuration: parsing, precedence of the environment, validation messages, the example file."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from bot.config import (
    Config,
    ConfigError,
    effective,
    enabled_platforms,
    load,
    parse,
    secret_env,
    secrets,
    sections,
)

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_KEY = "ab" * 32


def _error(raw: dict[str, Any], env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(raw, env or {})
    return str(caught.value)


def test_defaults_are_valid_and_enable_nothing() -> None:
    config = parse({}, {})
    assert config == Config()
    assert enabled_platforms(config) == []


def test_example_file_parses_and_documents_every_key() -> None:
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    # Its values are the defaults: the example is also the reference.
    assert parse(raw, {}) == Config()
    for name, section in sections(Config()).items():
        assert name in raw, f"[{name}] missing from config.example.toml"
        keys = {f.name for f in fields(section)}
        assert set(raw[name]) == keys, name
    # Every key carries a comment somewhere above it in its section.
    assert text.count("\n# ") > 30


def test_environment_secrets_win_over_the_file() -> None:
    raw = {
        "telegram": {"enabled": True, "token": "file-token", "secret_token": "file_secret"},
        "discord": {"enabled": True, "token": "file-discord", "public_key": "00" * 32},
    }
    env = {
        "TELEGRAM_BOT_TOKEN": "123:env-token",
        "TELEGRAM_WEBHOOK_SECRET": "env_secret",
        "DISCORD_BOT_TOKEN": "env-discord",
        "DISCORD_PUBLIC_KEY": PUBLIC_KEY,
    }
    config = parse(raw, env)
    assert config.telegram.token == "123:env-token"
    assert config.telegram.secret_token == "env_secret"
    assert config.discord.token == "env-discord"
    assert config.discord.public_key == PUBLIC_KEY
    # Empty variables do not erase the file's value.
    assert parse(raw, {"TELEGRAM_BOT_TOKEN": ""}).telegram.token == "file-token"


def test_secret_from_a_file_named_by_the_environment(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("42:from-a-file\n", encoding="utf-8")
    config = parse({"telegram": {"enabled": True}}, {"TELEGRAM_BOT_TOKEN_FILE": str(secret)})
    assert config.telegram.token == "42:from-a-file"
    message = _error({}, {"DISCORD_BOT_TOKEN_FILE": str(tmp_path / "absent")})
    assert "DISCORD_BOT_TOKEN_FILE" in message


def test_secrets_are_stripped_of_surrounding_whitespace() -> None:
    config = parse({"telegram": {"enabled": True, "token": " 1:abc\n"}}, {})
    assert config.telegram.token == "1:abc"


def test_bot_variables_override_the_file() -> None:
    env = {
        "BOT_TELEGRAM_ENABLED": "true",
        "TELEGRAM_BOT_TOKEN": "1:x",
        "BOT_OPS_PORT": "9100",
        "BOT_DISCORD_SHARD_IDS": "[0, 1]",
        "BOT_DISCORD_SHARD_COUNT": "4",
        "BOT_BOT_SHUTDOWN_TIMEOUT": "3",
        "BOT_LOGGING_FORMAT": "json",
        "BOT_BOT_DEFAULT_LANG": "fr",
    }
    config = parse({"ops": {"port": 1}}, env)
    assert config.telegram.enabled is True
    assert config.ops.port == 9100
    assert config.discord.shard_ids == [0, 1]
    assert config.bot.shutdown_timeout == 3.0
    assert config.logging.format == "json"
    assert config.bot.default_lang == "fr"
    assert _error({}, {"BOT_OPS_PORT": "ninety"}) == (
        "[ops] port must be an integer, not 'ninety' (from BOT_OPS_PORT)"
    )


def test_load_reads_bot_config_and_reports_file_problems(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[bot]\ndefault_lang = "de"\n', encoding="utf-8")
    assert load(None, {"BOT_CONFIG": str(path)}).bot.default_lang == "de"
    assert load(str(path), {"BOT_CONFIG": "/nowhere"}).bot.default_lang == "de"
    with pytest.raises(ConfigError, match="configuration file not found: /nowhere"):
        load(None, {"BOT_CONFIG": "/nowhere"})
    path.write_text("[bot\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load(str(path), {})


@pytest.mark.parametrize(
    ("raw", "env", "expected"),
    [
        ({"telgram": {}}, {}, "unknown section [telgram] (did you mean [telegram]?"),
        ({"telegram": {"tokne": "x"}}, {}, "unknown key [telegram] tokne (did you mean token?"),
        ({"telegram": {"enabled": "yes"}}, {}, "[telegram] enabled must be true or false, not 'yes'"),
        ({"ops": {"port": "http"}}, {}, "[ops] port must be an integer, not 'http'"),
        ({"ops": {"port": 70000}}, {}, "[ops] port must be between 0 and 65535"),
        ({"telegram": {"mode": "push"}}, {}, "[telegram] mode must be 'polling' or 'webhook', not 'push'"),
        ({"discord": {"shard_ids": "0"}}, {}, "[discord] shard_ids must be a list of integers"),
        ({"logging": {"level": "VERBOSE"}}, {}, "[logging] level must be 'DEBUG' or"),
        ({"bot": {"shutdown_timeout": 0}}, {}, "[bot] shutdown_timeout must be greater than 0"),
        ({"ops": []}, {}, "[ops] must be a table"),
        (
            {"telegram": {"enabled": True}},
            {},
            "[telegram] token is required when [telegram] is enabled (or set TELEGRAM_BOT_TOKEN)",
        ),
        (
            {"telegram": {"enabled": True, "mode": "webhook", "webhook_url": "https://x.example/tg"}},
            {"TELEGRAM_BOT_TOKEN": "1:a"},
            "[telegram] secret_token is required in webhook mode (or set TELEGRAM_WEBHOOK_SECRET)",
        ),
        (
            {"telegram": {"enabled": True, "mode": "webhook"}},
            {"TELEGRAM_BOT_TOKEN": "1:a"},
            "[telegram] webhook_url is required in webhook mode",
        ),
        (
            {"telegram": {"enabled": True, "secret_token": "not allowed!"}},
            {"TELEGRAM_BOT_TOKEN": "1:a"},
            "[telegram] secret_token may hold only",
        ),
        (
            {"discord": {"enabled": True}},
            {},
            "[discord] token is required in gateway mode (or set DISCORD_BOT_TOKEN)",
        ),
        (
            {"discord": {"enabled": True, "mode": "interactions"}},
            {},
            "[discord] public_key is required in interactions mode (or set DISCORD_PUBLIC_KEY)",
        ),
        (
            {"discord": {"enabled": True, "mode": "interactions", "public_key": "xyz"}},
            {},
            "[discord] public_key must be 64 hexadecimal characters",
        ),
        (
            {"discord": {"enabled": True, "shard_ids": [0, 4], "shard_count": 4}},
            {"DISCORD_BOT_TOKEN": "t"},
            "[discord] shard_ids must each be between 0 and shard_count - 1",
        ),
        (
            {"discord": {"enabled": True, "shard_ids": [1]}},
            {"DISCORD_BOT_TOKEN": "t"},
            "[discord] shard_ids needs shard_count",
        ),
        (
            {
                "discord": {"enabled": True, "mode": "interactions", "interactions_port": 9090},
                "ops": {"enabled": True},
            },
            {"DISCORD_PUBLIC_KEY": PUBLIC_KEY},
            "[ops] port 9090 is already used by [discord] interactions_port",
        ),
    ],
)
def test_each_error_names_the_key(raw: dict[str, Any], env: dict[str, str], expected: str) -> None:
    message = _error(raw, env)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_discord_interactions_mode_needs_no_token() -> None:
    config = parse({"discord": {"enabled": True, "mode": "interactions"}}, {"DISCORD_PUBLIC_KEY": PUBLIC_KEY})
    assert enabled_platforms(config) == ["discord"]


def test_snowflakes_may_be_strings() -> None:
    config = parse({"discord": {"application_id": "123456789012345678"}}, {})
    assert config.discord.application_id == 123456789012345678


def test_effective_masks_every_secret() -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": "1:telegram-token",
        "TELEGRAM_WEBHOOK_SECRET": "webhook_secret",
        "DISCORD_BOT_TOKEN": "discord-token",
        "DISCORD_PUBLIC_KEY": PUBLIC_KEY,
    }
    config = parse({}, env)
    shown = repr(effective(config))
    for value in env.values():
        assert value not in shown
    assert effective(config)["telegram"]["token"] == "<set, 16 characters>"
    assert effective(parse({}, {}))["telegram"]["token"] == "<not set>"
    assert set(secrets(config)) == {"1:telegram-token", "webhook_secret", "discord-token"}
    assert set(secret_env().values()) <= {(s, k) for s, values in effective(config).items() for k in values}


def test_readme_names_every_key_for_operators() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("### Configuration keys")
    table = readme[start : readme.index("\n### ", start + 1)]
    for name, section in sections(Config()).items():
        row = next(line for line in table.splitlines() if line.startswith(f"| `[{name}]`"))
        for key in fields(section):
            assert f"`{key.name}`" in row, f"[{name}] {key.name} missing from the README table"
    for variable in secret_env():
        assert f"`{variable}`" in readme
