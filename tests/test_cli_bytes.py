"""``ask``, ``ask -`` and ``logs -`` given bytes that are not UTF-8: every line still answered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LATIN1_LOG = (
    b'203.0.113.9 - - [02/Dec/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 12 "-" "curl"\n'
    b'203.0.113.9 - - [02/Dec/2026:10:00:01 +0000] "GET /caf\xe9 HTTP/1.1" 404 12 "-" "curl"\n'
    b'203.0.113.9 - - [02/Dec/2026:10:00:02 +0000] "GET /b HTTP/1.1" 503 12 "-" "curl"\n'
)


def run(*args: str | bytes, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "LC_MESSAGES": ""}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=30,
        check=False,
    )


def test_ask_stdin_answers_every_line_around_a_latin1_one() -> None:
    result = run("ask", "-", "--json", stdin=b"404\ncaf\xe9 not found\n503\n")
    assert result.returncode == 0, result.stderr.decode()
    assert b"Traceback" not in result.stderr
    answers = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [a["query"] for a in answers] == ["404", "caf\ufffd not found", "503"]
    assert answers[0]["codes"] == [404] and answers[2]["codes"] == [503]


def test_ask_stdin_explains_latin1_log_lines() -> None:
    result = run("ask", "-", "--json", stdin=LATIN1_LOG)
    assert result.returncode == 0, result.stderr.decode()
    answers = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [a["codes"] for a in answers] == [[200], [404], [503]]


def test_ask_takes_an_argument_that_is_not_utf8() -> None:
    result = run("ask", "--json", b"caf\xe9")
    assert result.returncode == 0, result.stderr.decode()
    assert b"Traceback" not in result.stderr
    assert json.loads(result.stdout)["query"] == "caf\ufffd"


def test_logs_stdin_counts_every_line_around_a_latin1_one() -> None:
    result = run("logs", "-", "--json", stdin=LATIN1_LOG)
    assert result.returncode == 0, result.stderr.decode()
    assert b"Traceback" not in result.stderr
    data = json.loads(result.stdout)
    assert (data["lines"], data["parsed"]) == (3, 3)
    assert data["counts"] == {"200": 1, "404": 1, "503": 1}
    assert data["top_paths"]["404"] == [{"path": "/caf\ufffd", "count": 1}]
