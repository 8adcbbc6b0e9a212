"""Logs in chats: a file someone uploads or a block they paste, summarised for any platform.

The platforms differ in how a file arrives (Telegram's ``getFile``, a Discord attachment URL)
and in how a summary is shown; everything in between is here, once:

* which uploads and pasted blocks are logs (:func:`log_file_name`, :func:`pasted_log`);
* the refusal for a file over the limit, given before anything is downloaded (:meth:`LogSummaries.too_big`);
* the summary and its chart, computed in a worker thread so that a 20 MiB log does not hold up
  every other chat served by the same event loop (:meth:`LogSummaries.summarise`);
* the report's text cut into blocks (prose, table rows, timeline bars) and fitted to a length
  limit, so that each renderer only decides how a block looks (:func:`report_sections`, :func:`fit`).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.render.text import ELLIPSIS
from bot.service import Service
from handlers.logs import MAX_UPLOAD, LogReport, looks_like_log, report_upload, timeline_png
from handlers.logs.chart import available as chart_available

MIB = 1024 * 1024
# What chat users call their logs; rotated files keep a number after the suffix (access.log.1).
LOG_SUFFIXES = (".log", ".txt", ".json", ".jsonl", ".ndjson", ".har", ".gz")
_ROTATED = re.compile(r"\.log\.\d+$")
# A pasted block is a chat message: far below what a file may hold.
PASTE_MAX = 64 * 1024
CHART_NAME = "timeline.png"
# Longest line a chat summary shows: a path can be kilobytes long, and one such line must not
# push every other line out of a message.
LINE_MAX = 300

BlockKind = Literal["text", "rows", "bars"]


def log_file_name(name: str | None) -> bool:
    """Whether a file name says "log": ``.log``, ``.txt``, ``.json``, ``.har``, ``.gz``, ``access.log.1``."""
    if not name:
        return False
    folded = name.casefold()
    return folded.endswith(LOG_SUFFIXES) or bool(_ROTATED.search(folded))


def pasted_log(text: str) -> bool:
    """Whether a pasted text is a log to summarise rather than a message to explain: several
    lines, every one of them a line the log reader understands in a log format."""
    lines = sum(1 for line in text.splitlines() if line.strip())
    if lines < 2 or len(text) > PASTE_MAX:
        return False
    return looks_like_log(text)


@dataclass(frozen=True, slots=True)
class LogAnswer:
    """A summary (or refusal) ready for a renderer.

    ``chart`` is the timeline PNG when one could be drawn; ``note`` says why there is none when
    the log had a timeline but the chart library is missing.
    """

    report: LogReport
    chart: bytes | None = None
    note: str | None = None

    @property
    def refused(self) -> bool:
        """Whether the upload was refused (too big, binary, unreadable, empty)."""
        return self.report.kind == "error"


class LogSummaries:
    """Summaries of uploaded logs, off the event loop and a few at a time.

    Reading a log is pure Python: on the loop, a 20 MiB file would stop every chat for about a
    second. In a worker thread the loop keeps answering (the interpreter switches threads every
    few milliseconds). ``slots`` bounds how many run at once, which bounds memory too: a
    compressed upload may expand to 256 MiB before it is refused.
    """

    def __init__(self, service: Service, platform: str, slots: int = 1) -> None:
        self.service = service
        self.platform = platform
        self._slots = asyncio.Semaphore(max(1, slots))

    def language(self, langs: Iterable[str | None]) -> str:
        """The reply language for these preferences."""
        return self.service.handler.language(langs)

    def too_big(self, langs: Iterable[str | None], limit: int = MAX_UPLOAD) -> LogAnswer:
        """The refusal for a file announced as bigger than ``limit``, without downloading it."""
        handler = self.service.handler
        lang = self.language(langs)
        rtl = handler.catalogue.languages[lang].rtl
        body = handler.ui(lang, "logs_err_too_big", limit=limit // MIB)
        report = LogReport("error", lang, handler.ui(lang, "error_title"), body, error="too_big", rtl=rtl)
        self.service.metrics.observe(self.platform, "error", 0.0)
        return LogAnswer(report)

    async def summarise(self, data: bytes, langs: Iterable[str | None]) -> LogAnswer:
        """The summary of ``data`` (plain or gzip) with its chart, or the refusal."""
        lang = self.language(langs)
        async with self._slots:
            start = time.perf_counter()
            try:
                answer = await asyncio.to_thread(self._work, data, lang)
            except Exception:
                self.service.metrics.error(self.platform, "handler")
                raise
        kind = "error" if answer.refused else "logs"
        self.service.metrics.observe(self.platform, kind, time.perf_counter() - start)
        return answer

    def _work(self, data: bytes, lang: str) -> LogAnswer:
        handler = self.service.handler
        report = report_upload(data, handler, lang)
        if report.summary is None or not report.summary.timeline:
            return LogAnswer(report)
        chart = timeline_png(report.summary)
        note = None if chart is not None or chart_available() else handler.ui(lang, "logs_chart_unavailable")
        return LogAnswer(report, chart, note)


# ---- the report as blocks ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Block:
    """Consecutive lines of one kind: ``text`` (sentences), ``rows`` (an aligned table, shown in
    a fixed-width font) or ``bars`` (the text timeline, which the chart replaces when space runs out)."""

    kind: BlockKind
    lines: tuple[str, ...]


Section = tuple[Block, ...]


def _shorten(line: str, limit: int = LINE_MAX) -> str:
    return line if len(line) <= limit else line[: limit - 1].rstrip() + ELLIPSIS


def report_sections(body: str) -> list[Section]:
    """The report's body as sections (paragraphs separated by blank lines) of blocks.

    The log reader writes table rows indented by two spaces; rows drawn with ``█``/``░`` are the
    timeline. Rows lose that indentation (a fixed-width block shows them apart already).
    """
    sections: list[Section] = []
    for paragraph in body.split("\n\n"):
        blocks: list[Block] = []
        for raw in paragraph.split("\n"):
            if not raw.strip():
                continue
            if raw.startswith("  "):
                line = _shorten(raw[2:])
                kind: BlockKind = "bars" if "█" in line or "░" in line else "rows"
            else:
                line, kind = _shorten(raw), "text"
            if blocks and blocks[-1].kind == kind:
                blocks[-1] = Block(kind, (*blocks[-1].lines, line))
            else:
                blocks.append(Block(kind, (line,)))
        if blocks:
            sections.append(tuple(blocks))
    return sections


def _without_bars(section: Section) -> Section:
    """A section without its timeline rows and the heading right before them."""
    out: list[Block] = []
    for block in section:
        if block.kind == "bars":
            if out and out[-1].kind == "text":
                heading = out.pop()
                if len(heading.lines) > 1:
                    out.append(Block("text", heading.lines[:-1]))
            continue
        out.append(block)
    return tuple(out)


def fit(
    sections: Sequence[Section],
    size: Callable[[Sequence[Section]], int],
    limit: int,
    *,
    chart: bool = False,
) -> list[Section]:
    """``sections`` shortened until ``size(sections) <= limit``.

    With a chart beside the text, the text timeline goes first (the chart shows the same);
    then lines are dropped from the end and a last ``…`` line says that something was.
    """
    current = list(sections)
    if size(current) <= limit:
        return current
    if chart:
        current = [s for s in (_without_bars(section) for section in current) if s]
        if size(current) <= limit:
            return current
    lines = [
        (i, j, line) for i, section in enumerate(current) for j, b in enumerate(section) for line in b.lines
    ]
    # The most lines that fit, by bisection (the size grows with every line kept).
    low, high = 1, len(lines) - 1
    best = _rebuild(current, lines[:1])
    while low <= high:
        middle = (low + high) // 2
        candidate = _rebuild(current, lines[:middle])
        if size(candidate) <= limit:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def _rebuild(sections: Sequence[Section], kept: Sequence[tuple[int, int, str]]) -> list[Section]:
    """The first lines of ``sections`` (``kept``), then an ellipsis paragraph."""
    out: list[list[Block]] = []
    last: tuple[int, int] | None = None
    for i, j, line in kept:
        if last is None or last[0] != i:
            out.append([])
        if last != (i, j):
            out[-1].append(Block(sections[i][j].kind, ()))
        block = out[-1][-1]
        out[-1][-1] = Block(block.kind, (*block.lines, line))
        last = (i, j)
    out.append([Block("text", (ELLIPSIS,))])
    return [tuple(blocks) for blocks in out]
