"""``python -m bot logs``: one streaming pass over a log file, in bounded memory."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from typing import BinaryIO, TextIO, cast

from bot.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from handlers import Handler
from handlers.logs.report import render_text, summary_json
from handlers.logs.summary import LogSummary, Summariser
from handlers.logs.upload import CHUNK, problem

PROGRESS_FROM = 4 * 1024 * 1024  # files smaller than this are read before a bar would show


class Progress:
    """A one-line progress bar on standard error, redrawn at most ten times a second."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.start = time.monotonic()
        self._drawn = 0.0

    def update(self, done: int, final: bool = False) -> None:
        """Show ``done`` bytes out of the total."""
        now = time.monotonic()
        if not final and now - self._drawn < 0.1:
            return
        self._drawn = now
        share = min(done / self.total, 1.0) if self.total else 1.0
        speed = done / max(now - self.start, 1e-6) / 1e6
        bar = "#" * int(30 * share)
        self.stream.write(f"\r[{bar:<30}] {share:6.1%} {speed:7.1f} MB/s")
        if final:
            self.stream.write("\n")
        self.stream.flush()


def _open(path: str, stdin: TextIO) -> tuple[BinaryIO, BinaryIO, int]:
    """The stream to read (decompressed), the raw file under it (for progress) and its size."""
    if path == "-":
        raw: BinaryIO = stdin.buffer if hasattr(stdin, "buffer") else sys.stdin.buffer
        size = 0
    else:
        raw = open(path, "rb")  # noqa: SIM115 - closed by run_logs
        size = os.fstat(raw.fileno()).st_size
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    if head == b"\x1f\x8b" or path.endswith(".gz"):
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb")), raw, size
    return raw, raw, size


def summarise_stream(
    stream: BinaryIO, fmt: str, progress: Progress | None = None, raw: BinaryIO | None = None
) -> LogSummary:
    """Read ``stream`` a chunk at a time into one summary."""
    summariser = Summariser(fmt)
    while chunk := stream.read(CHUNK):
        summariser.feed_chunk(chunk)
        if progress is not None and raw is not None:
            progress.update(raw.tell())
    return summariser.result()


def run_logs(
    args: argparse.Namespace, handler: Handler, stdin: TextIO, out: TextIO, locale: str | None
) -> int:
    """Summarise ``args.file``; 0 on success, 1 when it cannot be read, 2 for wrong usage."""
    if args.lang and handler.supported(args.lang) is None:
        sys.stderr.write(f"unknown language {args.lang!r}; available: {', '.join(handler.languages)}\n")
        return EXIT_USAGE
    lang = handler.language((args.lang, locale))
    try:
        stream, raw, size = _open(args.file, stdin)
    except OSError as exc:
        sys.stderr.write(f"{args.file}: {exc.strerror or exc}\n")
        return EXIT_FAILURE
    try:
        peek = raw.peek(64 * 1024) if hasattr(raw, "peek") else b""
        error = problem(peek) if peek[:2] != b"\x1f\x8b" and peek else None
        if error in ("binary", "encoding"):
            sys.stderr.write(handler.ui(lang, f"logs_err_{error}") + "\n")
            return EXIT_FAILURE
        progress = Progress(size, sys.stderr) if size > PROGRESS_FROM and sys.stderr.isatty() else None
        try:
            summary = summarise_stream(stream, args.format, progress, raw)
        except (OSError, EOFError) as exc:
            sys.stderr.write(f"{args.file}: {exc}\n")
            return EXIT_FAILURE
        if progress is not None:
            progress.update(size, final=True)
    finally:
        if args.file != "-":
            raw.close()
    text = render_text(summary, handler, lang)
    chart_path = None
    if args.chart:
        from handlers.logs.chart import timeline_png

        png = timeline_png(summary)
        if png is None:
            text += "\n\n" + handler.ui(lang, "logs_chart_unavailable")
        else:
            with open(args.chart, "wb") as file:
                file.write(png)
            chart_path = args.chart
            text += "\n\n" + handler.ui(lang, "logs_chart_written", path=args.chart)
    if args.json:
        data = summary_json(summary, text, lang)
        data["chart"] = chart_path
        out.write(json.dumps(data, ensure_ascii=False) + "\n")
    else:
        out.write(text + "\n")
    return EXIT_OK
