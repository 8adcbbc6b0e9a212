"""Logs in Telegram chats, end to end: the real python-telegram-bot against the emulator.

Files travel as on Telegram: the bot reads ``file_size``, calls ``getFile``, downloads from the
file URL derived from ``api_base_url``, and uploads the chart with ``sendPhoto`` as
multipart/form-data. Every test ends with no recorded violation of Telegram's rules.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from functools import cache
from typing import Any

import pytest
import telegram
import telegram.error

from bot import log_uploads
from bot.platforms.telegram import logs as telegram_logs
from bot.platforms.telegram.adapter import TelegramAdapter
from bot.platforms.telegram.config import TelegramConfig
from bot.platforms.telegram.delivery import RetryPolicy
from bot.platforms.telegram.render import RLM, render_caption
from bot.service import Service
from handlers import Handler, load
from handlers.logs import MAX_UPLOAD

from support.sample_logs import combined_log, gzipped, many_codes_log
from support.telegram_emulator import (
    BOT_USERNAME,
    Faults,
    Sent,
    TelegramEmulator,
    check_caption,
    image_size,
)

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, max_retry_after=5.0)
PNG = b"\x89PNG\r\n\x1a\n"


@cache
def _handler() -> Handler:
    handler = Handler(load())
    handler.warm()
    return handler


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    emu = TelegramEmulator()
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()
    assert emu.violations == []


@pytest.fixture
async def bot(emulator: TelegramEmulator) -> AsyncIterator[TelegramAdapter]:
    config = TelegramConfig(
        enabled=True, token=emulator.token, api_base_url=emulator.base_url, poll_timeout=2
    )
    adapter = TelegramAdapter(config, Service(_handler()), retry=FAST_RETRY, register_commands=False)
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()


async def replies(
    emu: TelegramEmulator, update: dict[str, Any], count: int, within: float = 15.0
) -> list[Sent]:
    """The bot's answers to ``update`` once there are ``count`` of them."""
    await emu.wait_for(lambda: len(emu.replies_to(update)) >= count, within)
    return emu.replies_to(update)


def pre_blocks(sent: Sent) -> list[str]:
    return [sent.text[e["offset"] : e["offset"] + e["length"]] for e in sent.entities if e["type"] == "pre"]


# ---- summaries ----------------------------------------------------------------------------------


async def test_a_document_captioned_http_gets_the_summary_then_the_chart(
    bot: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    document = emulator.document(combined_log().encode(), "access.log")
    update = emulator.message("/http", document=document)
    summary, chart = await replies(emulator, update, 2)
    assert summary.method == "sendMessage" and chart.method == "sendPhoto"
    assert summary.text.startswith("Log summary (combined)\n120 lines read: 120 understood")
    assert summary.entities[0] == {"type": "bold", "offset": 0, "length": len("Log summary (combined)")}
    tables = pre_blocks(summary)
    assert any(row.startswith("200") for row in tables[0].split("\n"))  # the counts, aligned
    assert any("█" in block for block in tables)  # the timeline fits, so it stays
    assert "502 Bad Gateway" in summary.text and "Sent by" in summary.text
    assert chart.upload is not None and chart.upload.data.startswith(PNG)
    assert chart.upload.filename == "timeline.png"
    assert image_size(chart.upload.data) == (960, 360)
    assert chart.text == "Log summary (combined)"
    assert chart.params["parse_mode"] == "HTML"
    assert emulator.files[document["file_id"]].downloads == 1


async def test_in_a_group_the_caption_may_name_the_bot_and_replies_quote_the_file(
    bot: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    group = emulator.group()
    other = emulator.message("/http@SomeOtherBot", chat=group, document=emulator.document(b"x 200\n"))
    update = emulator.message(
        f"/http@{BOT_USERNAME}", chat=group, document=emulator.document(gzipped(combined_log()), "a.log.gz")
    )
    summary, chart = await replies(emulator, update, 2)
    assert summary.text.startswith("Log summary (combined)")
    assert summary.reply_to == chart.reply_to == update["message"]["message_id"]
    assert emulator.replies_to(other) == []
    assert len(emulator.calls_of("getFile")) == 1


async def test_http_in_reply_to_a_document_summarises_it(
    bot: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    group = emulator.group()
    posted = emulator.message(
        "", chat=group, document=emulator.document(combined_log().encode(), "nginx.txt"), queue=False
    )
    update = emulator.message("/http", chat=group, reply_to=posted["message"])
    summary, chart = await replies(emulator, update, 2)
    assert summary.text.startswith("Log summary (combined)")
    assert chart.method == "sendPhoto"


async def test_any_document_sent_in_a_private_chat_is_read_as_a_log(
    bot: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    update = emulator.message(
        "", document=emulator.document(combined_log(minutes=3).encode(), None, mime_type=None)
    )
    summary, _ = await replies(emulator, update, 2)
    assert summary.text.startswith("Log summary (combined)\n12 lines read")


async def test_http_in_reply_to_pasted_log_lines_summarises_them_and_other_text_is_explained(
    bot: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    group = emulator.group()
    pasted = emulator.message(combined_log(minutes=2), chat=group, queue=False)
    update = emulator.message("/http", chat=group, reply_to=pasted["message"])
    summary, _ = await replies(emulator, update, 2)
    assert summary.text.startswith("Log summary (combined)\n8 lines read")
    chat = emulator.message("prod says 502\nand then 404 for a while", chat=group, queue=False)
    explained = emulator.message("/http", chat=group, reply_to=chat["message"])
    (sent,) = await replies(emulator, explained, 1)
    assert sent.text.startswith("Status codes in this message")


async def test_a_long_summary_fits_one_message_and_gives_up_the_text_timeline_first(
    bot: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    update = emulator.message("/http", document=emulator.document(many_codes_log().encode()))
    summary, chart = await replies(emulator, update, 2)
    assert len(summary.text) <= 4096  # checked in UTF-16 units by the emulator as well
    assert not any("█" in block or "░" in block for block in pre_blocks(summary))
    assert "Requests per" not in summary.text
    assert chart.upload is not None and chart.upload.data.startswith(PNG)


async def test_without_the_chart_library_the_summary_says_so(
    bot: TelegramAdapter, emulator: TelegramEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_uploads, "timeline_png", lambda summary: None)
    monkeypatch.setattr(log_uploads, "chart_available", lambda: False)
    update = emulator.message("/http", document=emulator.document(combined_log().encode()))
    (summary,) = await replies(emulator, update, 1)
    assert summary.text.endswith(_handler().ui("en", "logs_chart_unavailable"))
    assert emulator.calls_of("sendPhoto") == []


async def test_arabic_summaries_read_right_to_left_and_tables_stay_as_they_are(
    bot: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    user = emulator.user(4004, language_code="ar")
    update = emulator.message("/http", user=user, document=emulator.document(combined_log().encode()))
    summary, chart = await replies(emulator, update, 2)
    handler = _handler()
    assert summary.text.startswith(RLM + handler.ui("ar", "logs_title", format="combined"))
    tables = pre_blocks(summary)
    outside = summary.text
    for block in tables:
        assert RLM not in block
        outside = outside.replace(block, "")
    assert all(line.startswith(RLM) for line in outside.split("\n") if line.strip())
    assert chart.text.startswith(RLM)


# ---- refusals and failures ----------------------------------------------------------------------


async def test_a_file_announced_over_20_mib_is_refused_without_downloading(
    bot: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    update = emulator.message("/http", document=emulator.document(b"a" * (MAX_UPLOAD + 1)))
    (sent,) = await replies(emulator, update, 1)
    assert sent.text == "That file is too big: the limit is 20 MiB."
    assert emulator.calls_of("getFile") == [] and emulator.calls_of("file") == []


async def test_a_file_of_unknown_size_over_20_mib_is_refused_when_telegram_says_so(
    bot: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    document = emulator.document(b"a" * (MAX_UPLOAD + 1), announce_size=False)
    update = emulator.message("/http", document=document)
    (sent,) = await replies(emulator, update, 1)
    assert sent.text == "That file is too big: the limit is 20 MiB."
    assert emulator.calls_of("file") == []


@pytest.mark.parametrize(
    ("data", "reply"),
    [
        (PNG + bytes(range(256)) * 8, "That file is not a text log."),
        (
            "café crème 502\n".encode("latin-1") * 200,
            "That file's text encoding cannot be read: send it as UTF-8.",
        ),
        (b"\n\n   \n", "That file is empty."),
        (gzipped("abc\n" * 100)[:10] + b"\xff" * 20, "That file is not a text log."),
    ],
    ids=["binary", "encoding", "empty", "corrupt-gzip"],
)
async def test_unreadable_files_get_one_clear_line(
    bot: TelegramAdapter, emulator: TelegramEmulator, data: bytes, reply: str
) -> None:
    update = emulator.message("/http", document=emulator.document(data, "upload.log"))
    (sent,) = await replies(emulator, update, 1)
    assert sent.text == reply
    assert emulator.calls_of("sendPhoto") == []


async def test_utf16_logs_are_read(bot: TelegramAdapter, emulator: TelegramEmulator) -> None:
    update = emulator.message("/http", document=emulator.document(combined_log().encode("utf-16")))
    summary, _ = await replies(emulator, update, 2)
    assert summary.text.startswith("Log summary (combined)\n120 lines read")


async def test_a_failed_download_gets_the_apology(bot: TelegramAdapter, emulator: TelegramEmulator) -> None:
    emulator.faults["file"] = Faults(script=["502"])
    update = emulator.message("/http", document=emulator.document(combined_log().encode()))
    (sent,) = await replies(emulator, update, 1)
    assert sent.text == _handler().ui("en", "apology")


async def test_a_download_that_stalls_gets_the_apology(
    bot: TelegramAdapter, emulator: TelegramEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telegram_logs, "DOWNLOAD_READ_TIMEOUT", 0.2)
    emulator.faults["file"] = Faults(script=["ok"], delay=1.0)
    update = emulator.message("/http", document=emulator.document(combined_log().encode()))
    (sent,) = await replies(emulator, update, 1)
    assert sent.text == _handler().ui("en", "apology")
    # The bot is still serving.
    later = emulator.message("/http 404", user=emulator.user(5005))
    (card,) = await replies(emulator, later, 1)
    assert card.text.startswith("404 Not Found")


async def test_a_file_that_has_gone_gets_the_apology_and_the_log_line_hides_the_token(
    bot: TelegramAdapter, emulator: TelegramEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.faults["file"] = Faults(script=["404"])
    update = emulator.message("/http", document=emulator.document(combined_log().encode()))
    (sent,) = await replies(emulator, update, 1)
    assert sent.text == _handler().ui("en", "apology")
    assert emulator.calls_of("sendPhoto") == []
    assert "log file not downloaded" in caplog.text
    assert emulator.token not in caplog.text


# ---- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api", "files"),
    [
        ("https://api.telegram.org/bot", "https://api.telegram.org/file/bot"),
        ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot"),
        ("https://api.telegram.org/bot{token}/test", "https://api.telegram.org/file/bot{token}/test"),
        ("https://bot.example.com/", "https://bot.example.com/file/bot"),
    ],
)
def test_files_come_from_the_api_servers_file_path(api: str, files: str) -> None:
    assert TelegramConfig(api_base_url=api).file_base_url == files


# ---- the emulator's own checks ------------------------------------------------------------------


async def test_the_emulator_refuses_uploads_telegram_would_refuse() -> None:
    emu = TelegramEmulator()
    await emu.start()
    try:
        chat = emu.private_chat(emu.user(7007))
        async with telegram.Bot(emu.token, base_url=emu.base_url) as client:
            await client.send_document(chat["id"], b"GET / 200\n", filename="a.log", caption="fine")
            with pytest.raises(telegram.error.BadRequest):
                await client.send_photo(chat["id"], b"not an image", filename="a.png")
            with pytest.raises(telegram.error.BadRequest):
                await client.send_document(chat["id"], b"x", filename="b.log", caption="y" * 1025)
            wide = _png(4000, 100)
            with pytest.raises(telegram.error.BadRequest):
                await client.send_photo(chat["id"], wide, filename="wide.png")
        assert [s.method for s in emu.sent] == ["sendDocument"]
        assert any("neither PNG nor JPEG" in v for v in emu.violations)
        assert any("caption is 1025 characters" in v for v in emu.violations)
        assert any("ratio must be at most 20" in v for v in emu.violations)
    finally:
        await emu.stop()


def _png(width: int, height: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height)).save(out, "PNG")
    return out.getvalue()


def test_captions_are_cut_to_1024_characters() -> None:
    caption = render_caption("Log summary " + "é" * 2000, rtl=True)
    problems, visible, _ = check_caption(caption.html, "HTML", "sendPhoto")
    assert problems == [] and len(visible) <= 1024 and visible.startswith(RLM)
