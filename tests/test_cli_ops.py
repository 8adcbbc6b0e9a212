"""``python -m bot run`` and ``check-config`` as an operator runs them: exit statuses and messages."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from conftest import BotRunner, free_port, spawn_bot, wait_healthy

PUBLIC_KEY = "cd" * 32


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


CONFIG_ERRORS = [
    ('[telegram]\ntokne = "x"\n', {}, "configuration error: unknown key [telegram] tokne"),
    ("[telgram]\n", {}, "configuration error: unknown section [telgram]"),
    ("[ops]\nport = 9090.5\n", {}, "configuration error: [ops] port must be an integer, not 9090.5"),
    ("[bot\n", {}, "is not valid TOML"),
    (
        "[telegram]\nenabled = true\n",
        {},
        "configuration error: [telegram] token is required when [telegram] is enabled"
        " (or set TELEGRAM_BOT_TOKEN)",
    ),
    (
        "[discord]\nenabled = true\n",
        {},
        "configuration error: [discord] token is required in gateway mode (or set DISCORD_BOT_TOKEN)",
    ),
    (
        '[discord]\nenabled = true\nmode = "interactions"\n',
        {},
        "configuration error: [discord] public_key is required in interactions mode"
        " (or set DISCORD_PUBLIC_KEY)",
    ),
    (
        '[console]\nenabled = true\n[bot]\ndefault_lang = "xx"\n',
        {},
        "configuration error: [bot] default_lang 'xx' is not a supported language",
    ),
    ("", {"BOT_CONSOLE_ENABLED": "yes"}, "(from BOT_CONSOLE_ENABLED)"),
]


@pytest.mark.parametrize("command", ["run", "check-config"])
@pytest.mark.parametrize(("text", "env", "message"), CONFIG_ERRORS)
def test_each_configuration_error_is_one_line_and_exit_2(
    run_bot: BotRunner, tmp_path: Path, command: str, text: str, env: dict[str, str], message: str
) -> None:
    result = run_bot(command, "--config", _write(tmp_path, text), env=env)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_bot_config_names_the_file_when_config_is_absent(run_bot: BotRunner, tmp_path: Path) -> None:
    result = run_bot("run", env={"BOT_CONFIG": str(tmp_path / "missing.toml")})
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"configuration error: configuration file not found: {tmp_path}/missing.toml"
    )


def test_run_with_nothing_enabled_says_what_to_set(run_bot: BotRunner) -> None:
    result = run_bot("run")
    assert result.returncode == 2
    for hint in (
        "TELEGRAM_BOT_TOKEN",
        "DISCORD_BOT_TOKEN",
        "[telegram] enabled = true",
        "python -m bot console",
    ):
        assert hint in result.stderr


def test_check_config_prints_the_effective_configuration_with_secrets_masked(
    run_bot: BotRunner, tmp_path: Path
) -> None:
    path = _write(
        tmp_path,
        '[telegram]\nenabled = true\ntoken = "111:file-token"\n[discord]\nenabled = true\n'
        f'mode = "interactions"\npublic_key = "{PUBLIC_KEY}"\n',
    )
    env = {"TELEGRAM_BOT_TOKEN": "222:environment-token", "DISCORD_BOT_TOKEN": "discord-secret-token"}
    result = run_bot("check-config", "--config", path, env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "111:file-token" not in out
    assert "222:environment-token" not in out
    assert "discord-secret-token" not in out
    # The environment's token (20 characters) won over the file's (14).
    assert 'token = "<set, 20 characters>"' in out
    assert "# secrets from the environment: TELEGRAM_BOT_TOKEN, DISCORD_BOT_TOKEN" in out
    assert "# valid: run starts telegram, discord" in out
    assert 'mode = "interactions"' in out


def test_sync_commands_without_a_token_says_so(run_bot: BotRunner) -> None:
    result = run_bot("sync-commands")
    assert result.returncode == 2
    assert "DISCORD_BOT_TOKEN" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_run_with_the_console_answers_until_end_of_input(run_bot: BotRunner) -> None:
    result = run_bot("run", env={"BOT_CONSOLE_ENABLED": "true"}, input="404\n")
    assert result.returncode == 0, result.stderr
    assert "404 Not Found" in result.stdout
    assert "serving console" in result.stderr


def test_run_exits_1_when_the_ops_port_is_taken(run_bot: BotRunner) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        env = {"BOT_CONSOLE_ENABLED": "true", "BOT_OPS_ENABLED": "true", "BOT_OPS_PORT": str(port)}
        result = run_bot("run", env=env)
    assert result.returncode == 1
    assert f"cannot start: ops server cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_run_with_exit_0(bot_env: dict[str, str], tmp_path: Path, signum: int) -> None:
    port = free_port()
    env = {**bot_env, "BOT_CONSOLE_ENABLED": "true", "BOT_OPS_ENABLED": "true", "BOT_OPS_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.PIPE,  # left open: the console waits for input
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        status = 0
        while time.monotonic() < deadline:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                time.sleep(0.05)
        assert status == 200
        assert json.loads(body) == {
            "status": "ok",
            "adapters": {"console": {"connected": True}},
            "storage": "ok",
        }
        began = time.monotonic()
        process.send_signal(signum)
        _, err = process.communicate(timeout=10)
        assert process.returncode == 0, err
        assert time.monotonic() - began < 5
        assert "finishing replies in flight" in err
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


# ---- the real adapters against the emulators ---------------------------------------------------


def _emulated_config(tmp_path: Path, telegram: Any, discord: Any, ops_port: int, level: str = "INFO") -> str:
    from support.emulated_config import emulated_config

    return _write(tmp_path, emulated_config(telegram, discord, ops_port, level))


async def test_sigterm_in_the_middle_of_traffic_answers_every_update_taken(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    from support.discord_emulator import DiscordEmulator
    from support.telegram_emulator import Faults, TelegramEmulator

    async with TelegramEmulator() as telegram, DiscordEmulator() as discord:
        # Each reply takes a little while, so replies are in flight when the signal comes.
        telegram.faults["sendMessage"] = Faults(delay=0.01)
        port = free_port()
        config = _emulated_config(tmp_path, telegram, discord, port)
        env = {**bot_env, "TELEGRAM_BOT_TOKEN": telegram.token, "DISCORD_BOT_TOKEN": discord.token}
        log = tmp_path / "bot.log"
        process = await spawn_bot(env, tmp_path, log, "--config", config)
        try:
            await wait_healthy(process, port)
            await discord.wait_connected()
            updates: list[dict[str, Any]] = []
            interactions: list[asyncio.Future[dict[str, Any]]] = []
            began = 0.0
            for i in range(160):
                updates.append(telegram.message(f"/http {400 + i % 30}", user=telegram.user(10_000 + i)))
                if i < 90 and i % 3 == 0:
                    interactions.append(discord.send(discord.slash("http", {"query": str(500 + i % 12)})))
                if i == 100:
                    process.send_signal(signal.SIGTERM)
                    began = time.monotonic()
                await asyncio.sleep(0.004)
            status = await asyncio.wait_for(process.wait(), 10)
            stopped_in = time.monotonic() - began
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        text = log.read_text(encoding="utf-8")
        assert status == 0, text[-3000:]
        assert stopped_in < 10
        # Updates confirmed to Telegram (no longer pending) were taken: each has exactly one
        # answer. The rest stay queued at Telegram for the next process, unanswered.
        taken = updates[: len(updates) - telegram.pending]
        assert len(taken) >= 50, (len(taken), telegram.pending)
        assert [u for u in taken if len(telegram.replies_to(u)) != 1] == []
        assert all(telegram.replies_to(u) == [] for u in updates[len(taken) :])
        assert telegram.violations == []
        # Every interaction dispatched before the signal was answered.
        assert all(f.done() and not f.cancelled() for f in interactions)
        assert "SIGTERM received" in text


async def test_a_platform_refusing_the_token_fails_the_start_with_exit_1(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    from support.discord_emulator import DiscordEmulator
    from support.telegram_emulator import TelegramEmulator

    async with TelegramEmulator() as telegram, DiscordEmulator() as discord:
        config = _emulated_config(tmp_path, telegram, discord, free_port())
        wrong = "wrong-discord-token.abc.def"
        env = {**bot_env, "TELEGRAM_BOT_TOKEN": telegram.token, "DISCORD_BOT_TOKEN": wrong}
        log = tmp_path / "bot.log"
        process = await spawn_bot(env, tmp_path, log, "--config", config)
        status = await asyncio.wait_for(process.wait(), 20)
    text = log.read_text(encoding="utf-8")
    assert status == 1, text
    assert "cannot start: discord: Discord rejected the bot token" in text
    assert "Traceback" not in text
    assert wrong not in text
    # Telegram had started first: it was stopped, not left polling.
    assert telegram.calls_of("getMe")
    assert text.index("Application.stop() complete") < text.index("cannot start: discord")


async def test_sync_commands_registers_through_the_rest_api(bot_env: dict[str, str], tmp_path: Path) -> None:
    from support.discord_emulator import DiscordEmulator

    async with DiscordEmulator() as discord:
        env = {
            **bot_env,
            "DISCORD_BOT_TOKEN": discord.token,
            "BOT_DISCORD_API_BASE_URL": discord.api_base_url,
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "sync-commands",
            "--guild",
            "900000000000000001",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, err.decode()
    count = len(discord.commands["900000000000000001"])
    assert out.decode().strip() == f"registered {count} command(s) in guild 900000000000000001"
    assert discord.token not in err.decode()
