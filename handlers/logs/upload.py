"""A log file handed over whole (a chat attachment): checks, then a summary or a refusal.

Nothing here raises on what a user sends: a file too big, compressed too far, binary, or in an
encoding that cannot be read gets a :class:`~handlers.logs.report.LogReport` of kind ``error``
with a localised explanation.
"""

from __future__ import annotations

import codecs
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from handlers.logs.report import LogReport, ReportError, render_text
from handlers.logs.summary import LogSummary, Summariser

if TYPE_CHECKING:
    from handlers.answer import Handler

MAX_UPLOAD = 20 * 1024 * 1024  # what a Telegram bot may download; Discord allows 10 MiB to 500 MiB
MAX_UNCOMPRESSED = 256 * 1024 * 1024
CHUNK = 1024 * 1024
_SAMPLE = 64 * 1024
_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 12, 13, 27))


def gunzip(data: bytes, limit: int = MAX_UNCOMPRESSED) -> bytes | None:
    """``data`` itself, or its gzip content; ``None`` when that is over ``limit``.

    Raises :class:`ValueError` for a corrupt gzip stream.
    """
    if data[:2] != b"\x1f\x8b":
        return data
    out = bytearray()
    decompressor = zlib.decompressobj(wbits=47)
    pending = data
    try:
        while pending:
            out += decompressor.decompress(pending, limit + 1 - len(out))
            if len(out) > limit:
                return None
            pending = decompressor.unconsumed_tail
            if decompressor.eof and decompressor.unused_data[:2] == b"\x1f\x8b":  # concatenated members
                pending = decompressor.unused_data
                decompressor = zlib.decompressobj(wbits=47)
    except zlib.error as exc:
        raise ValueError(f"corrupt gzip data: {exc}") from exc
    return bytes(out)


def problem(data: bytes) -> ReportError | None:
    """Why ``data`` (already uncompressed) cannot be read as a text log, or ``None``."""
    if not data.strip():
        return "empty"
    sample = data[:_SAMPLE]
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    if b"\x00" in sample or len(sample.translate(None, _CONTROL)) < 0.95 * len(sample):
        return "binary"
    text = sample.decode("utf-8", "replace")
    if text.count("\ufffd") > max(2, len(text) // 100):
        return "encoding"
    return None


def utf8(data: bytes) -> bytes:
    """UTF-16 (with its byte-order mark) re-encoded as UTF-8; anything else as it is."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", "replace").encode("utf-8")
    return data.removeprefix(codecs.BOM_UTF8)


def chunks(data: bytes, size: int = CHUNK) -> Iterator[bytes]:
    """``data`` in slices of ``size`` bytes."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def summarise_bytes(data: bytes, fmt: str = "auto") -> LogSummary:
    """Summarise a whole log held in memory (plain or gzip, UTF-8 or UTF-16)."""
    try:
        plain = gunzip(data) or b""
    except ValueError:
        plain = b""
    return _summarise_plain(plain, fmt)


def _summarise_plain(plain: bytes, fmt: str) -> LogSummary:
    summariser = Summariser(fmt)
    for chunk in chunks(utf8(plain)):
        summariser.feed_chunk(chunk)
    return summariser.result()


def report_upload(
    data: bytes, handler: Handler, lang: str, fmt: str = "auto", limit: int = MAX_UPLOAD
) -> LogReport:
    """Check, read and summarise an uploaded log; a refusal instead when it cannot be read."""
    language = handler.catalogue.languages.get(lang) or handler.catalogue.languages["en"]
    lang = language.code
    error: ReportError | None = None
    plain: bytes | None = b""
    if len(data) > limit:
        error = "too_big"
    else:
        try:
            plain = gunzip(data)
        except ValueError:
            plain = b"\x00"  # a corrupt gzip file is as unreadable as a binary one
        if plain is None:
            error, limit = "too_big", MAX_UNCOMPRESSED
        else:
            error = problem(plain)
    if error is not None or plain is None:
        error = error or "too_big"
        body = handler.ui(lang, f"logs_err_{error}", limit=limit // (1024 * 1024))
        return LogReport("error", lang, handler.ui(lang, "error_title"), body, error=error, rtl=language.rtl)
    summary = _summarise_plain(plain, fmt)
    text = render_text(summary, handler, lang)
    title, _, body = text.partition("\n")
    return LogReport("summary", lang, title, body, summary=summary, rtl=language.rtl)
