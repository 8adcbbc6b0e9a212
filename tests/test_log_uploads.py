"""Logs in chats, the platform-neutral part: what counts as a log, the summary off the event
loop, and a summary's text cut to fit a message."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import log_uploads
from bot.log_uploads import Block, LogSummaries, fit, log_file_name, pasted_log, report_sections
from bot.platforms.telegram.render import RLM, render_log_report, utf16_len
from bot.render.text import ELLIPSIS
from bot.service import Service
from handlers import Handler, load
from handlers.logs import MAX_UPLOAD, report_upload

from support.sample_logs import combined_log, many_codes_log
from support.telegram_emulator import check_text


@cache
def handler() -> Handler:
    return Handler(load())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("access.log", True),
        ("ACCESS.LOG", True),
        ("access.log.1", True),
        ("access.log.2.gz", True),
        ("export.har", True),
        ("events.jsonl", True),
        ("notes.txt", True),
        ("screenshot.png", False),
        ("logbook.pdf", False),
        ("", False),
        (None, False),
    ],
)
def test_log_file_names(name: str | None, expected: bool) -> None:
    assert log_file_name(name) is expected


def test_a_pasted_block_is_a_log_when_every_line_is_a_log_line() -> None:
    assert pasted_log(combined_log(minutes=1))
    assert not pasted_log(combined_log(minutes=1).split("\n")[0])  # one line: explained, not summarised
    assert not pasted_log("prod says 502\nand then 404 for a while")
    assert not pasted_log(combined_log(minutes=1) + "and a sentence of someone's own\n")


def test_the_report_is_cut_into_sections_of_prose_rows_and_bars() -> None:
    body = report_upload(combined_log().encode(), handler(), "en").body
    sections = report_sections(body)
    kinds = [[block.kind for block in section] for section in sections]
    assert kinds[0] == ["text"]
    assert kinds[1] == ["text", "rows", "text"]  # title, counts table, classes
    assert ["text", "bars"] in kinds  # the timeline under its heading (no jump in this log)
    rows = next(s for s in sections if s[0].lines[0] == "Status codes")[1]
    assert rows.lines[0].startswith("200")  # the two-space indentation is gone


def _size(sections: Sequence[tuple[Block, ...]]) -> int:
    return sum(len(line) + 1 for section in sections for block in section for line in block.lines)


def test_fit_drops_the_text_timeline_first_when_a_chart_goes_along() -> None:
    sections = report_sections(report_upload(many_codes_log().encode(), handler(), "en").body)
    total = _size(sections)
    bars = sum(len(line) + 1 for s in sections for b in s if b.kind == "bars" for line in b.lines)
    fitted = fit(sections, _size, total - bars // 2, chart=True)
    assert not any(block.kind == "bars" for section in fitted for block in section)
    assert fitted[-1] != ((Block("text", (ELLIPSIS,)),))  # nothing else had to go


@settings(max_examples=40, deadline=None)
@given(limit=st.integers(min_value=20, max_value=6000), chart=st.booleans())
def test_fit_keeps_within_any_limit_and_says_when_it_cut(limit: int, chart: bool) -> None:
    sections = report_sections(report_upload(many_codes_log().encode(), handler(), "en").body)
    fitted = fit(sections, _size, limit, chart=chart)
    first_line = fitted[0][0].lines[0]
    assert _size(fitted) <= limit or _size(fitted) <= len(first_line) + len(ELLIPSIS) + 2
    if _size(sections) > limit and not chart:
        assert fitted[-1] == (Block("text", (ELLIPSIS,)),)


@settings(max_examples=25, deadline=None)
@given(limit=st.integers(min_value=200, max_value=4096), lang=st.sampled_from(["en", "ar", "ja", "ru"]))
def test_telegram_summaries_stay_within_the_limit_and_parse(limit: int, lang: str) -> None:
    report = report_upload(many_codes_log().encode(), handler(), lang)
    rendered = render_log_report(report, chart=True, limit=limit)
    problems, visible, _ = check_text(rendered.html, "HTML", "summary")
    assert [p for p in problems if "can't parse" in p] == []
    assert utf16_len(visible.strip()) <= limit
    assert visible.startswith(RLM) == (lang == "ar")


def test_a_refusal_renders_as_its_one_line() -> None:
    report = report_upload(b"\x00\x01\x02" * 100, handler(), "ar")
    rendered = render_log_report(report)
    assert rendered.html == RLM + handler().ui("ar", "logs_err_binary")


# ---- summaries off the event loop ---------------------------------------------------------------


async def test_summaries_run_in_a_worker_thread_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []
    running = 0
    most = 0

    def slow_report(data: bytes, h: Handler, lang: str) -> Any:
        nonlocal running, most
        running += 1
        most = max(most, running)
        threads.append(threading.get_ident())
        time.sleep(0.05)
        running -= 1
        return report_upload(data, h, lang)

    monkeypatch.setattr(log_uploads, "report_upload", slow_report)
    summaries = LogSummaries(Service(handler()), "test")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    beat = asyncio.create_task(ticker())
    data = combined_log().encode()
    answers = await asyncio.gather(*(summaries.summarise(data, ("en",)) for _ in range(3)))
    beat.cancel()
    assert all(a.report.kind == "summary" and a.chart is not None for a in answers)
    assert loop_thread not in threads
    assert most == 1
    assert ticks > 5  # the loop kept running meanwhile


async def test_too_big_is_answered_without_data_and_counted() -> None:
    service = Service(handler())
    summaries = LogSummaries(service, "test")
    answer = summaries.too_big(("fr", "en"))
    assert answer.refused and answer.report.error == "too_big"
    assert answer.report.body == handler().ui("fr", "logs_err_too_big", limit=MAX_UPLOAD // (1024 * 1024))
    await summaries.summarise(combined_log().encode(), ("en",))
    metrics = service.metrics.render().decode()
    assert 'http_status_bot_requests_total{kind="error",platform="test"} 1.0' in metrics
    assert 'http_status_bot_requests_total{kind="logs",platform="test"} 1.0' in metrics
