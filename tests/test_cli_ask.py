"""``python -m bot ask`` and ``python -m bot console`` as a user runs them."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"kind", "query", "lang", "codes", "class", "error", "title", "text"}
# An entry (a card, or 000) also carries its facts and its links.
ENTRY_KEYS = KEYS | {"sent_by", "seen_by_client", "retry", "links"}


def run(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "", "LC_MESSAGES": "", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=full_env,
        timeout=30,
        check=False,
    )


def test_ask_prints_a_card() -> None:
    result = run("ask", "404")
    assert result.returncode == 0
    assert result.stdout.startswith("404 Not Found\n")
    assert "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.5" in result.stdout


def test_ask_json_has_the_contract_keys() -> None:
    result = run("ask", "HTTP/2 503 Service Unavailable", "--json")
    data = json.loads(result.stdout)
    assert set(data) == ENTRY_KEYS
    assert data["kind"] == "entry"
    assert data["query"] == "HTTP/2 503 Service Unavailable"
    assert data["lang"] == "en"
    assert data["codes"] == [503]
    assert data["class"] == "5xx"
    assert data["error"] is None
    assert data["title"] == "503 Service Unavailable"
    assert data["text"].startswith("503 Service Unavailable\n")
    assert (data["sent_by"], data["seen_by_client"], data["retry"]) == ("origin", True, "after_delay")
    assert data["links"][:2] == [
        {"label": "Specification", "url": "https://www.rfc-editor.org/rfc/rfc9110#section-15.6.4"},
        {"label": "MDN", "url": "https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Status/503"},
    ]


def test_ask_words_join_and_language_option() -> None:
    data = json.loads(run("ask", "trop", "de", "requêtes", "--lang", "fr", "--json").stdout)
    assert (data["codes"], data["lang"], data["query"]) == ([429], "fr", "trop de requêtes")


def test_ask_stdin_answers_every_line_in_order() -> None:
    lines = ["404", "", "4xx", "99", "123", "x" * 300, "unauthorized vs forbidden", "zzqxv wvvkj", "   "]
    result = run("ask", "-", "--json", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(lines)
    assert [o["query"] for o in out] == lines
    assert all(set(o) == (ENTRY_KEYS if o["kind"] == "entry" else KEYS) for o in out)
    kinds = [(o["kind"], o["error"]) for o in out]
    assert kinds == [
        ("entry", None), ("help", None), ("list", None), ("error", "out_of_range"), ("unassigned", None),
        ("error", "too_long"), ("compare", None), ("error", "no_match"), ("help", None),
    ]  # fmt: skip
    assert out[2]["class"] == "4xx"
    assert out[4]["class"] == "1xx" and out[4]["codes"] == [123]
    assert out[6]["codes"] == [401, 403]
    assert "100 to 599" in out[3]["text"]


def test_ask_stdin_plain_text() -> None:
    result = run("ask", "-", stdin="404\n503\n")
    assert result.returncode == 0
    assert "404 Not Found" in result.stdout and "503 Service Unavailable" in result.stdout


def test_wrong_usage_exits_2() -> None:
    assert run("ask").returncode == 2
    assert run("ask", "404", "--lang", "xx").returncode == 2
    assert run("ask", "404", "--bogus").returncode == 2
    assert run("frobnicate").returncode == 2
    assert run().returncode == 2


def test_locale_from_the_environment_is_a_fallback() -> None:
    assert json.loads(run("ask", "404", "--json", env={"LANG": "fr_FR.UTF-8"}).stdout)["lang"] == "fr"
    assert (
        json.loads(run("ask", "404", "--json", "--lang", "en", env={"LANG": "fr_FR.UTF-8"}).stdout)["lang"]
        == "en"
    )


def test_ask_and_console_import_no_platform_library() -> None:
    code = (
        "import sys, io; from bot.cli import main; main(['ask', '404'], out=io.StringIO());"
        "import bot.platforms.console.adapter;"
        "bad = [m for m in ('discord', 'telegram') if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _read_until(fd: int, marker: bytes, timeout: float = 15.0) -> bytes:
    buffer = b""
    deadline = time.monotonic() + timeout
    while marker not in buffer:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{marker!r} not seen in {buffer!r}")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buffer += chunk
    return buffer


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_console_in_a_terminal_with_history(tmp_path: Path) -> None:
    history = tmp_path / "history"
    pid, fd = pty.fork()
    if pid == 0:  # the child becomes the console
        os.chdir(ROOT)
        env = {**os.environ, "HTTP_STATUS_BOT_HISTORY": str(history), "LANG": "C.UTF-8", "TERM": "dumb"}
        os.execvpe(sys.executable, [sys.executable, "-m", "bot", "console"], env)
    try:
        _read_until(fd, b"http> ")
        os.write(fd, b"404\r")
        out = _read_until(fd, b"http> ")
        assert b"404 Not Found" in out
        os.write(fd, b"trop de requetes\r")
        assert b"429 Too Many Requests" in _read_until(fd, b"http> ")
        os.write(fd, b"quit\r")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        os.close(fd)
    assert history.read_text().splitlines()[-3:] == ["404", "trop de requetes", "quit"]


def test_console_reads_piped_input_until_end_of_file() -> None:
    result = run("console", stdin="404\n5xx\n")
    assert result.returncode == 0
    assert "404 Not Found" in result.stdout and "5xx · Server error" in result.stdout
