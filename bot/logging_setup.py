"""Logging through the standard library: text or JSON lines, with every secret redacted.

Redaction happens on the *formatted* line, in a formatter that wraps each root handler's own, so
a secret is caught wherever it hides: the message, its arguments, an exception's text or a stack.
(A ``logging.Filter`` runs before formatting and, on a logger, never sees propagated records.)
The redactor itself is :mod:`bot.redaction`'s, the one every log path uses.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable
from typing import TextIO

from bot.redaction import RedactingFormatter, Redactor

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

# Loggers that print one line per HTTP request, with URLs that hold the Telegram token
# (``.../bot<token>/getUpdates``). Quiet unless the operator asks for DEBUG, and redacted even then.
CHATTY_LOGGERS = ("httpx", "httpcore", "aiohttp.access")


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
