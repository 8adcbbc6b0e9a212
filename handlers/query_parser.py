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

# Free text (log lines, stack traces): where a status code is known to stand.
_STRONG = (
    re.compile(r"\bHTTP/\d(?:\.\d)?\"?\s+(\d{3})\b", re.IGNORECASE),
    re.compile(
        r"\b(?:status(?:[ _-]?code)?|http[ _-]?code|response[ _-]?code|code)\"?\s*[=:]\s*\"?(\d{3})\b",
        re.IGNORECASE,
    ),
    re.compile(r"\b(?:status|error|erreur|fehler|code|returned|got)\s+(\d{3})\b", re.IGNORECASE),
    # "502 Bad Gateway", "404 Client Error": a reason phrase in title case follows the code.
    re.compile(r"(?<![\w.:/-])(\d{3})\s+[A-Z][a-z]+\b"),
)
_ANY_CODE = re.compile(r"(?<![\w.:/-])([1-5]\d\d)(?![\w.:/-]\w)")


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

    Codes in a known position (after ``HTTP/1.1"``, ``status=``...) win; only when there are none
    does any free-standing number between 100 and 599 that the catalogue knows count, so the size
    field of an access-log line is not taken for a status.
    """
    found: list[tuple[int, int]] = []
    for pattern in _STRONG:
        found.extend((m.start(1), int(m.group(1))) for m in pattern.finditer(text))
    if not found:
        found = [(m.start(1), int(m.group(1))) for m in _ANY_CODE.finditer(text)]
        found = [(pos, code) for pos, code in found if code in known]
    ordered = [code for _, code in sorted(found) if 100 <= code <= 599]
    return list(dict.fromkeys(ordered))
