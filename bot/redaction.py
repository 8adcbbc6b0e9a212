"""Keeping secrets out of the logs: one redactor, one mask, for every path a log line takes.

A record can reach output two ways, and each gets the same :class:`Redactor`:

* through the handlers :func:`bot.logging_setup.setup_logging` installs, whose
  :class:`RedactingFormatter` redacts the *finished* line (message, arguments, traceback, stack);
* through a handler installed by someone else (pytest's ``caplog``, a library, an adapter run
  without ``setup_logging``). Adapters cover those with a :class:`RedactingFilter` for as long as
  they run: it rewrites records where they are created, before any handler sees them.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
import urllib.parse
from collections.abc import Iterable

REDACTED = "***"
# Short-lived credentials no configuration knows: Discord's interaction tokens (valid 15 minutes,
# enough to post in the user's name), in callback and webhook URLs and in gateway events that
# discord.py logs at DEBUG.
_PATTERNS = (
    re.compile(r"(/(?:interactions|webhooks)/\d+/)[A-Za-z0-9_.\-]{16,}"),
    re.compile(r"""(['"]token['"]\s*:\s*['"])[A-Za-z0-9_.\-]{16,}"""),
)


def spellings(secret: str) -> set[str]:
    """The forms a secret takes in a log line: raw, URL-quoted (in a path or a query) and
    JSON-escaped (a token with a quote or a backslash inside a logged payload)."""
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret)}
    forms.add(json.dumps(secret)[1:-1])
    return {form for form in forms if form}


class Redactor:
    """Replaces every known secret in a string with :data:`REDACTED`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._forms: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Also redact these values (empty ones are ignored)."""
        forms = set(self._forms)
        for secret in secrets:
            if secret:
                forms |= spellings(secret)
        # Longest first, so that a secret containing another is replaced whole.
        self._forms = sorted(forms, key=len, reverse=True)

    def __bool__(self) -> bool:
        """Whether any configured secret is known (the token patterns apply regardless)."""
        return bool(self._forms)

    def leaks(self, text: str) -> bool:
        """Whether ``text`` holds any secret in any of its spellings, or an interaction token."""
        return any(form in text for form in self._forms) or any(p.search(text) for p in _PATTERNS)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(rf"\g<1>{REDACTED}", text)
        return text


class RedactingFormatter(logging.Formatter):
    """Formats with an inner formatter, then redacts the finished line."""

    def __init__(self, inner: logging.Formatter, redact: Redactor) -> None:
        super().__init__()
        self.inner = inner
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """The inner formatter's line with every secret replaced."""
        return self.redact(self.inner.format(record))


class RedactingFilter(logging.Filter):
    """Rewrites records in place so that no secret survives in them; never drops one.

    A filter on a logger sees only the records created on that very logger, not those its
    children propagate, so :meth:`attach` puts it on every existing logger under each prefix, on
    the root logger, and on the root's handlers (which do see propagated records).
    """

    def __init__(self, secrets: Iterable[str] | Redactor = ()) -> None:
        super().__init__()
        self.redact = secrets if isinstance(secrets, Redactor) else Redactor(secrets)
        self._attached: list[logging.Filterer] = []

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact message, arguments, exception text and stack of ``record``."""
        redact = self.redact
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the formatter's problem, not ours
            return True
        if redact.leaks(message):
            record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            text = record.exc_text or "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            if redact.leaks(text):
                # Formatters print exc_text when it is set; exc_info would be rendered again, raw.
                record.exc_text, record.exc_info = redact(text), None
        elif record.exc_text and redact.leaks(record.exc_text):
            record.exc_text = redact(record.exc_text)
        if record.stack_info and redact.leaks(record.stack_info):
            record.stack_info = redact(record.stack_info)
        return True

    def attach(self, prefixes: Iterable[str]) -> None:
        """Install on the loggers named by ``prefixes`` and all their existing children, on the
        root logger and on its handlers."""
        wanted = tuple(prefixes)
        children = tuple(f"{prefix}." for prefix in wanted)
        names = set(wanted)
        for name, item in list(logging.root.manager.loggerDict.items()):
            if isinstance(item, logging.Logger) and name.startswith(children):
                names.add(name)
        root = logging.getLogger()
        targets: list[logging.Filterer] = [logging.getLogger(name) for name in sorted(names)]
        targets += [root, *root.handlers]
        for target in targets:
            if self not in target.filters:
                target.addFilter(self)
                self._attached.append(target)

    def detach(self) -> None:
        """Remove from everything :meth:`attach` installed it on."""
        for target in self._attached:
            target.removeFilter(self)
        self._attached.clear()
