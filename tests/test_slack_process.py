"""Slack through ``python -m bot``: configuration errors, health, metrics, SIGTERM, secrets in logs."""

from __future__ import annotations

import asyncio
import signal
import urllib.request
from pathlib import Path

import pytest

from conftest import BotRunner, free_port, spawn_bot, wait_healthy
from support.slack_emulator import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, SlackEmulator


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


MISSING = [
    (
        "[slack]\nenabled = true\n",
        {},
        "[slack] bot_token is required when [slack] is enabled (or set SLACK_BOT_TOKEN)",
    ),
    (
        "[slack]\nenabled = true\n",
        {"SLACK_BOT_TOKEN": BOT_TOKEN},
        '[slack] app_token is required when [slack] mode = "socket" (or set SLACK_APP_TOKEN)',
    ),
    (
        '[slack]\nenabled = true\nmode = "http"\n',
        {"SLACK_BOT_TOKEN": BOT_TOKEN},
        '[slack] signing_secret is required when [slack] mode = "http" (or set SLACK_SIGNING_SECRET)',
    ),
    ("[slack]\nenabled = true\n", {"SLACK_BOT_TOKEN": APP_TOKEN}, "[slack] bot_token must be the bot token"),
    (
        "[slack]\nenabled = true\n",
        {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": BOT_TOKEN},
        "[slack] app_token must be an app-level token",
    ),
    ('[slack]\nmode = "websocket"\n', {}, "[slack] mode must be 'socket' or 'http'"),
    (
        '[slack]\nenabled = true\npath = "events"\n',
        {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN},
        "[slack] path must start with /",
    ),
]


@pytest.mark.parametrize("command", ["run", "check-config"])
@pytest.mark.parametrize(("text", "env", "message"), MISSING)
def test_a_missing_or_wrong_secret_is_one_line_and_exit_2(
    run_bot: BotRunner, tmp_path: Path, command: str, text: str, env: dict[str, str], message: str
) -> None:
    result = run_bot(command, "--config", _write(tmp_path, text), env=env)
    assert result.returncode == 2, result.stderr
    assert f"configuration error: {message}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for secret in (BOT_TOKEN, APP_TOKEN):
        assert secret not in result.stderr


def test_check_config_masks_the_slack_secrets(run_bot: BotRunner, tmp_path: Path) -> None:
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    result = run_bot("check-config", "--config", _write(tmp_path, "[slack]\nenabled = true\n"), env=env)
    assert result.returncode == 0, result.stderr
    for secret in env.values():
        assert secret not in result.stdout
    assert f'bot_token = "<set, {len(BOT_TOKEN)} characters>"' in result.stdout
    assert "# valid: run starts slack" in result.stdout
    assert "# slack: Socket Mode: no public URL needed" in result.stdout


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def test_run_serves_slack_with_health_metrics_drain_and_no_secret_in_debug_logs(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    async with SlackEmulator() as emu:
        emu.delays["chat.postMessage"] = 0.4
        ops = free_port()
        config = _write(
            tmp_path,
            f'[slack]\nenabled = true\napi_base_url = "{emu.api_base_url}"\n'
            f'[ops]\nenabled = true\nport = {ops}\n[logging]\nlevel = "DEBUG"\n',
        )
        env = {**bot_env, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}
        log = tmp_path / "bot.log"
        process = await spawn_bot(env, tmp_path, log, "--config", config)
        try:
            await wait_healthy(process, ops)
            status, health = await asyncio.to_thread(_get, f"http://127.0.0.1:{ops}/healthz")
            assert status == 200 and '"slack": {"connected": true}' in health
            ack = await emu.envelope("slash_commands", emu.command("/http", "404"))
            assert ack["payload"]["blocks"][0]["text"]["text"] == "404 Not Found"
            _, metrics = await asyncio.to_thread(_get, f"http://127.0.0.1:{ops}/metrics")
            assert 'http_status_bot_requests_total{kind="entry",platform="slack"} 1.0' in metrics
            assert 'http_status_bot_adapter_connected{platform="slack"} 1.0' in metrics
            # A reply in flight when SIGTERM comes is still delivered.
            await emu.envelope("events_api", emu.mention("503"))
            await emu.wait_for(lambda: emu.called("chat.postMessage"))
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 15)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        text = log.read_text(encoding="utf-8")
        assert code == 0, text[-3000:]
        assert len(emu.posts) == 1
        assert "slack_sdk" in text or "slack_bolt" in text or "bot.platforms.slack" in text
        for secret in (BOT_TOKEN, APP_TOKEN):
            assert secret not in text
            assert secret.split("-")[-1] not in text


async def test_run_in_http_mode_exits_1_when_its_port_is_taken(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    import socket

    async with SlackEmulator() as emu:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            config = _write(
                tmp_path,
                f'[slack]\nenabled = true\nmode = "http"\nlisten = "127.0.0.1"\nport = {port}\n'
                f'api_base_url = "{emu.api_base_url}"\n',
            )
            env = {**bot_env, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
            log = tmp_path / "bot.log"
            process = await spawn_bot(env, tmp_path, log, "--config", config)
            code = await asyncio.wait_for(process.wait(), 20)
    text = log.read_text(encoding="utf-8")
    assert code == 1, text
    assert f"cannot start: slack: cannot listen on 127.0.0.1:{port}" in text
    assert SIGNING_SECRET not in text and BOT_TOKEN not in text
