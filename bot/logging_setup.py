"""Logging through the standard library: text or JSON lines, with every secret redacted.

Redaction happens on the *formatted* line, in a formatter that wraps each root handler's own, so
a secret is caught wherever it hides: the message, its arguments, an exception's text or a stack.
(A ``logging.Filter`` runs before formatting and, on a logger, never sees propagated records.)
"""

from __future__ import annotations

import json
import logging
import sys
import time
import urllib.parse
from collections.abc import Iterable
from typing import TextIO

REDACTED = "***"
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

# Loggers that print one line per HTTP request, with URLs that hold the Telegram token
# (``.../bot<token>/getUpdates``). Quiet unless the operator asks for DEBUG, and redacted even then.
CHATTY_LOGGERS = ("httpx", "httpcore", "aiohttp.access")


def _variants(secret: str) -> set[str]:
    """The spellings a secret can take in a log line: raw, URL-quoted, JSON-escaped."""
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret)}
    forms.add(json.dumps(secret)[1:-1])
    return {f for f in forms if f}


class Redactor:
    """Replaces every known secret in a string with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._forms: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Also redact these values."""
        forms = set(self._forms)
        for secret in secrets:
            if secret:
                forms |= _variants(secret)
        # Longest first, so a secret that contains another is replaced whole.
        self._forms = sorted(forms, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._forms)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message`` and ``exc_info``."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        out: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc_info"] = record.exc_text
        if record.stack_info:
            out["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False)


class RedactingFormatter(logging.Formatter):
    """Formats with an inner formatter, then redacts the finished line."""

    def __init__(self, inner: logging.Formatter, redact: Redactor) -> None:
        super().__init__()
        self.inner = inner
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """The inner formatter's line with every secret replaced."""
        return self.redact(self.inner.format(record))


def make_formatter(fmt: str) -> logging.Formatter:
    """The formatter for ``[logging] format``: ``"text"`` or ``"json"``."""
    if fmt == "json":
        return JsonFormatter()
    return logging.Formatter(TEXT_FORMAT)


def install_redaction(secrets: Iterable[str], root: logging.Logger | None = None) -> Redactor:
    """Wrap the formatter of every handler on ``root`` so that ``secrets`` never reach output."""
    root = root or logging.getLogger()
    redactor = Redactor(secrets)
    for handler in root.handlers:
        current = handler.formatter
        if isinstance(current, RedactingFormatter):
            current.redact.add(secrets)
            continue
        handler.setFormatter(RedactingFormatter(current or logging.Formatter(), redactor))
    return redactor


def setup_logging(
    level: str = "INFO",
    fmt: str = "text",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Configure the root logger: one stream handler, the chosen format, secrets redacted.

    Replaces handlers a previous call installed, so it can be called again (tests, restarts).
    """
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_http_status_bot", False):
            root.removeHandler(old)
            old.close()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._http_status_bot = True  # type: ignore[attr-defined]
    handler.setFormatter(RedactingFormatter(make_formatter(fmt), Redactor(secrets)))
    root.addHandler(handler)
    root.setLevel(level)
    quiet = level != "DEBUG"
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING if quiet else logging.NOTSET)
    logging.captureWarnings(True)
    return handler
