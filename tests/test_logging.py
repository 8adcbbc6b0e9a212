"""Logging: text and JSON formats, and no secret in any line at any level."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logging_setup import install_redaction, setup_logging
from bot.redaction import REDACTED

from conftest import free_port, spawn_bot, wait_healthy

TOKEN = "123456789:AAH-secret_token-value"
WEBHOOK = "webhook_secret_42"
DISCORD = "MTA.discord.token"


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def captured() -> io.StringIO:
    stream = io.StringIO()
    setup_logging("DEBUG", "text", [TOKEN, WEBHOOK, DISCORD], stream=stream)
    return stream


def test_secrets_are_redacted_in_messages_arguments_and_exceptions(captured: io.StringIO) -> None:
    log = logging.getLogger("tests.redaction")
    log.debug("token in the message " + TOKEN)
    log.info("token as an argument %s and %r", TOKEN, {"secret": WEBHOOK})
    log.warning("URL https://api.telegram.org/bot%s/getMe", TOKEN)
    log.warning("quoted %s", urllib.parse.quote(TOKEN, safe=""))
    try:
        raise RuntimeError(f"Unauthorized: Authorization: Bot {DISCORD}")
    except RuntimeError:
        log.exception("failed")
    log.info("stack", stack_info=True)
    text = captured.getvalue()
    for secret in (TOKEN, WEBHOOK, DISCORD, urllib.parse.quote(TOKEN, safe="")):
        assert secret not in text
    assert text.count(REDACTED) >= 6
    assert "Traceback" in text  # the exception is still there, only redacted


def test_http_client_request_lines_are_quiet_unless_debug_and_redacted_even_then() -> None:
    stream = io.StringIO()
    line = 'HTTP Request: POST https://api.telegram.org/bot%s/getUpdates "HTTP/1.1 200 OK"'
    setup_logging("INFO", "text", [TOKEN], stream=stream)
    logging.getLogger("httpx").info(line, TOKEN)
    assert stream.getvalue() == ""
    setup_logging("DEBUG", "text", [TOKEN], stream=stream)
    logging.getLogger("httpx").info(line, TOKEN)
    assert "getUpdates" in stream.getvalue()
    assert TOKEN not in stream.getvalue()


def test_json_format_is_one_object_per_line_and_redacted() -> None:
    stream = io.StringIO()
    setup_logging("INFO", "json", ['quote"d' + TOKEN], stream=stream)
    log = logging.getLogger("tests.json")
    log.info("hello %s", "world")
    try:
        raise ValueError('quote"d' + TOKEN)
    except ValueError:
        log.exception("boom")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "hello world"
    assert first["level"] == "INFO"
    assert first["logger"] == "tests.json"
    assert first["time"].endswith("Z")
    assert "ValueError" in second["exc_info"]
    assert TOKEN not in stream.getvalue()


def test_install_redaction_wraps_existing_handlers() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("tests.install")
    logger.propagate = False
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        install_redaction([TOKEN], root=logger)
        install_redaction([WEBHOOK], root=logger)  # a second call adds to the same redactor
        logger.warning("%s %s", TOKEN, WEBHOOK)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().strip() == f"{REDACTED} {REDACTED}"


# ---- the whole process at DEBUG, against the emulators ----------------------------------------


async def test_no_secret_in_the_logs_of_a_serving_process_at_debug(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    from support.discord_emulator import DiscordEmulator
    from support.emulated_config import emulated_config
    from support.telegram_emulator import Faults, TelegramEmulator

    async with TelegramEmulator() as telegram, DiscordEmulator() as discord:
        # A failed send and its retry log the request too.
        telegram.faults["sendMessage"] = Faults(script=["502", "ok"])
        port = free_port()
        config = tmp_path / "config.toml"
        config.write_text(emulated_config(telegram, discord, port, level="DEBUG"), encoding="utf-8")
        env = {**bot_env, "TELEGRAM_BOT_TOKEN": telegram.token, "DISCORD_BOT_TOKEN": discord.token}
        log = tmp_path / "bot.log"
        process = await spawn_bot(env, tmp_path, log, "--config", str(config))
        try:
            await wait_healthy(process, port)
            await discord.wait_connected()
            update = telegram.message("/http 404")
            inline = telegram.inline_query("not found")
            await telegram.wait_for(lambda: bool(telegram.replies_to(update) and telegram.answers_to(inline)))
            await discord.interact(discord.slash("http", {"query": "503"}))
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), 10) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    text = log.read_text(encoding="utf-8")
    assert "getUpdates" in text, "DEBUG shows the HTTP client's request lines"
    for secret in (telegram.token, discord.token):
        for form in {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret)}:
            assert form not in text
    # The bot id part of a Telegram token is public; the rest never shows.
    assert telegram.token.split(":", 1)[1] not in text
    assert REDACTED in text
