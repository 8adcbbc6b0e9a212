"""Explain mode reads log lines exactly: the status field, never addresses, sizes or dates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from handlers import Handler, Request, load
from handlers.logs import MAX_EXPLAIN_BYTES, explainable, looks_like_log
from handlers.query_parser import codes_in_text

ROOT = Path(__file__).resolve().parent.parent
KNOWN = frozenset(load().by_code)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51"
)
LONG_LINE = (
    f'203.0.113.7 - - [10/Oct/2025:13:55:36 +0000] "GET /checkout/cart/items?session=9f8e7d6c5b4a3f2e1d0c '
    f'HTTP/1.1" 502 157 "https://shop.example.com/products/category/outdoor/tents?page=3&sort=price" '
    f'"{CHROME}"'
)


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        # The examples: IP octets and sizes are not codes.
        ('203.0.113.7 - - [10/Oct/2025:13:55:36 +0000] "GET / HTTP/1.1" 502 157', [502]),
        ('151.101.1.69 - - [10/Oct/2025:13:55:36 +0000] "GET /a HTTP/2.0" 200 512', [200]),
        ("203.0.113.7 GET /x 502 157", [502]),
        ("151.101.1.69 200 512", [200]),
        # Dates, pids and connection numbers of error logs are not codes.
        ("2025/10/10 13:56:02 [error] upstream timed out", []),
        (
            "2025/10/10 13:56:02 [error] 2011#2011: *404 upstream timed out (110: Connection timed out) "
            "while reading response header from upstream, client: 203.0.113.7, server: example.com, "
            'request: "GET /api HTTP/1.1", upstream: "http://10.0.0.1:8080/api", host: "example.com"',
            [],
        ),
        ("deployed at 2025-10-10", []),
        ("Retrying in 300 seconds", []),
        ("took 404 ms, 200 bytes, pid 503", []),
        (LONG_LINE, [502]),
        # Client messages.
        ("Failed to load resource: the server responded with a status of 404 (Not Found)", [404]),
        ("AxiosError: Request failed with status code 502", [502]),
        (
            "requests.exceptions.HTTPError: 503 Server Error: Service Unavailable for url: https://x.test/",
            [503],
        ),
        # Chat messages still work.
        ("first 404 then 503", [404, 503]),
        ("we get 502s since the deploy at 10:30", [502]),
        # A block: each code once, in order.
        (
            '10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 502 157\n'
            '10.0.0.2 - - [01/Jan/2024:00:00:01 +0000] "GET /a HTTP/1.1" 404 200\n'
            '10.0.0.3 - - [01/Jan/2024:00:00:02 +0000] "GET /b HTTP/1.1" 502 301\n'
            "upstream status=503",
            [502, 404, 503],
        ),
    ],
)
def test_codes_in_text(text: str, codes: list[int]) -> None:
    assert codes_in_text(text, KNOWN) == codes


def test_explain_accepts_8_kib_and_refuses_more() -> None:
    handler = Handler(load())
    assert len(LONG_LINE) > 256
    reply = handler.answer(Request(LONG_LINE, mode="explain"))
    assert (reply.kind, reply.codes) == ("entry", (502,))
    block = "\n".join([LONG_LINE] * (MAX_EXPLAIN_BYTES // (len(LONG_LINE) + 1)))
    assert len(block.encode()) <= MAX_EXPLAIN_BYTES
    assert handler.answer(Request(block, mode="explain")).codes == (502,)
    too_long = handler.answer(Request(block + "\n" + LONG_LINE, mode="explain"))
    assert (too_long.kind, too_long.error) == ("error", "too_long")
    assert "8 KiB" in too_long.body
    # Typed queries keep their limit.
    assert handler.answer(Request(LONG_LINE)).error == "too_long"


def test_what_ask_explains() -> None:
    assert looks_like_log(LONG_LINE) and explainable(LONG_LINE)
    assert not looks_like_log("404") and not looks_like_log("not found")
    assert not explainable("x" * 300)


def test_ask_stdin_explains_a_long_combined_log_line() -> None:
    lines = [
        LONG_LINE,
        "404",
        "x" * 300,
        '10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 404',
    ]
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "-", "--json"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        timeout=30,
        check=False,
    )
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(o["kind"], o["codes"], o["error"]) for o in out] == [
        ("entry", [502], None),
        ("entry", [404], None),
        ("error", [], "too_long"),
        ("entry", [200], None),
    ]
    assert out[0]["query"] == LONG_LINE


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ('{"level":30,"req":{"method":"GET","url":"/x"},"res":{"statusCode":502},"responseTime":404}', [502]),
        ('{"level":"error","message":"Request failed with status code 503","port":8080}', [503]),
        ("upstream answered with HTTP 504 after 300 ms", [504]),
        ('{"level":"info","msg":"listening","port":443}', []),
    ],
)
def test_json_messages_and_http_codes(text: str, codes: list[int]) -> None:
    assert codes_in_text(text, KNOWN) == codes


def test_short_typed_queries_are_not_taken_for_logs() -> None:
    for query in ("status 404 vs 403", "error 500", "Request failed with status code 502"):
        assert not looks_like_log(query)
    assert looks_like_log("status 404 vs 403", free_text=True)
    assert looks_like_log('{"status": 404}') and looks_like_log("< HTTP/2 503")
