"""The query parser: every common spelling of a code, classes, patterns, free text."""

from __future__ import annotations

import pytest

from handlers.normalise import fold, tokens
from handlers.query_parser import MAX_QUERY, codes_in_text, parse


@pytest.mark.parametrize(
    "text",
    ["503", "HTTP 503", "#503", "503.", "http/1.1 503", "HTTP/2 503 Service Unavailable", "５０３",
     " 503 ", "HTTP/1.0 503", "https 503", "error 503", "status code 503?", "٥٠٣", "५०३"],
)  # fmt: skip
def test_code_spellings(text: str) -> None:
    parsed = parse(text)
    assert parsed.kind == "code"
    assert parsed.codes == (503,)


@pytest.mark.parametrize(
    ("text", "kind", "prefix"),
    [("4xx", "class", "4"), ("5XX", "class", "5"), ("５ｘｘ", "class", "5"), ("2**", "class", "2"),
     ("50x", "pattern", "50"), ("41X", "pattern", "41"), ("HTTP 4xx", "class", "4")],
)  # fmt: skip
def test_classes_and_patterns(text: str, kind: str, prefix: str) -> None:
    parsed = parse(text)
    assert (parsed.kind, parsed.prefix) == (kind, prefix)


def test_several_codes_keep_their_order() -> None:
    assert parse("401 vs 403").codes == (401, 403)
    assert parse("403, 401, 403").codes == (403, 401)


def test_empty_too_long_random_and_words() -> None:
    assert parse("").kind == "empty"
    assert parse(" \t ").kind == "empty"
    assert parse("x" * (MAX_QUERY + 1)).kind == "too_long"
    assert parse("x" * MAX_QUERY).kind == "words"
    assert parse("Random").kind == "words"
    assert parse("not found").kind == "words"


def test_huge_numbers_do_not_overflow() -> None:
    parsed = parse("9" * 200)
    assert parsed.kind == "code"
    assert parsed.codes[0] > 599


def test_folding() -> None:
    assert fold("Trop de REQUÊTES") == "trop de requetes"
    assert fold("Ｎｏｔ Ｆｏｕｎｄ") == "not found"
    assert fold("Straße") == "strasse"
    assert fold("Не найдено, ещё") == "не найдено, еще"
    # Marks of non-Latin scripts are part of the spelling and stay.
    assert fold("नहीं मिला") == "नहीं मिला"
    assert tokens(fold("l'URL « trop » longue")) == ["l", "url", "trop", "longue"]


KNOWN = frozenset({200, 404, 499, 502, 503})


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ('127.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET /api HTTP/1.1" 502 173 "-" "curl/8.5"', [502]),
        ("HTTP/1.1 502 Bad Gateway", [502]),
        ('{"level":"error","status":503,"path":"/x"}', [503]),
        ("requests.exceptions.HTTPError: 404 Client Error: Not Found for url: https://x.test/a", [404]),
        ("upstream returned 502, then 503 Service Unavailable after 120 ms", [502, 503]),
        ("status=499 bytes=0 rt=0.300", [499]),
        ("nothing to see at 10:30 on 2026-11-27, 4 items", []),
    ],
)
def test_codes_in_free_text(text: str, codes: list[int]) -> None:
    assert codes_in_text(text, KNOWN) == codes
