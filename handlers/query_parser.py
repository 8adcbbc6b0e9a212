"""One parser for what users type, shared by every platform.

It recognises codes in their common spellings (``HTTP/2 503 Service Unavailable``, ``#503``,
full-width or Arabic-Indic digits) and classes and patterns (``4xx``, ``50x``); everything else
is words for the search (the handler recognises ``random`` among them). :func:`codes_in_text`
finds the status codes inside free text such as access-log lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from handlers.compare import arabic_and
from handlers.logs.explain import codes_in_log_text
from handlers.normalise import fold, words

MAX_QUERY = 256

ParsedKind = Literal[
    "empty", "too_long", "code", "codes", "class", "pattern", "out_of_range", "words", "random", "help"
]

_VERSION = re.compile(r"\bhttps?(?:/\d+(?:\.\d+)?)?\b")
_CLASS = re.compile(r"^([1-5])(?:xx|\*\*|\?\?)(?:\s|$)")
_PATTERN = re.compile(r"^([1-5]\d)(?:x|\*|\?)(?:\s|$)")
# "6xx", "0xx", "-1": shapes of a status code that no status code can have.
_OUTSIDE = re.compile(r"^(?:[06-9](?:xx|\*\*|\?\?)|[06-9]\d(?:x|\*|\?)|-\s*\d+)$")
_HELP = frozenset({"?", "？", "help", "/help", "/start", "h", "-h", "--help"})


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a query asks for."""

    kind: ParsedKind
    folded: str = ""
    codes: tuple[int, ...] = ()
    prefix: str = ""


def _number(token: str) -> int | None:
    # int() reads every Unicode decimal digit (Arabic-Indic, Devanagari...); NFKC already turned
    # full-width digits into ASCII.
    if token.isdecimal() and len(token) <= 12:
        return int(token)
    if token.isdecimal():
        return 10**12
    return None


def parse(text: str) -> Parsed:
    """Classify a query; never raises."""
    stripped = text.strip()
    if not stripped:
        return Parsed("empty")
    if len(stripped) > MAX_QUERY:
        return Parsed("too_long")
    folded = " ".join(fold(stripped).split())
    if folded in _HELP:
        return Parsed("help", folded)
    bare = _VERSION.sub(" ", folded).strip().lstrip("#").strip()
    if _OUTSIDE.match(bare):
        return Parsed("out_of_range", folded, prefix=bare)
    match = _CLASS.match(bare)
    if match:
        return Parsed("class", folded, prefix=match.group(1))
    match = _PATTERN.match(bare)
    if match:
        return Parsed("pattern", folded, prefix=match.group(1))
    parts = words(arabic_and(bare))
    numbers = [n for n in (_number(t) for t in parts) if n is not None]
    # "cloudflare error 1020", "error 1016 origin dns": a vendor's own error number among words
    # is part of a description, not a status code out of range.
    if numbers and all(n >= 1000 for n in numbers) and any(not t.isdecimal() for t in parts):
        return Parsed("words", folded)
    if len(numbers) == 1:
        return Parsed("code", folded, codes=(numbers[0],))
    if len(numbers) > 1:
        return Parsed("codes", folded, codes=tuple(dict.fromkeys(numbers)))
    return Parsed("words", folded)


def codes_in_text(text: str, known: frozenset[int]) -> list[int]:
    """Status codes mentioned in free text, in order of appearance, each once.

    Log lines in every format the log reader knows give the code of their status field only
    (never an address, a size, a date or a duration); other lines give codes in known positions
    (``HTTP/1.1 502``, ``status=503``, client error messages); a chat message without any log
    line also gives the catalogued (``known``) numbers that stand alone as codes.
    """
    return codes_in_log_text(text, known)
