"""Logs made up for the chat tests: small, deterministic, with errors spread over time."""

from __future__ import annotations

import gzip
import time

START = 1_741_773_600  # 2025-03-12 10:00:00 UTC
CODES = (200, 200, 200, 404, 200, 502, 200, 304)


def combined_log(
    minutes: int = 30, per_minute: int = 4, codes: tuple[int, ...] = CODES, path_length: int = 0
) -> str:
    """A combined-format log, ``per_minute`` lines a minute, codes taken in turn from ``codes``.

    ``path_length`` pads every path to that many characters (to test long lines).
    """
    lines = []
    for i in range(minutes * per_minute):
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(START + i * 60 // per_minute))
        code = codes[i % len(codes)]
        path = f"/api/items/{i % 7}"
        if path_length:
            path = (path + "/" + "x" * path_length)[:path_length]
        lines.append(
            f'10.0.{i % 5}.{i % 250} - - [{stamp}] "GET {path} HTTP/1.1" {code} {100 + i} "-" "curl/8.5.0"'
        )
    return "\n".join(lines) + "\n"


def gzipped(text: str) -> bytes:
    """``text`` as a gzip file."""
    return gzip.compress(text.encode("utf-8"), mtime=0)


def many_codes_log() -> str:
    """A log long in every part of the summary: dozens of codes, long paths, a long timeline."""
    codes = tuple(range(400, 432)) + tuple(range(500, 512)) + (200, 301, 302, 304)
    return combined_log(minutes=48 * 60, per_minute=1, codes=codes, path_length=200)
