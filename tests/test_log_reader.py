"""The log reader and ``logs`` on hand-written samples of every format, with exact counts."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from handlers import Handler, load
from handlers.catalogue import LANGUAGES
from handlers.logs.chart import timeline_png
from handlers.logs.reader import FORMATS, LogReader
from handlers.logs.report import render_text, summary_json
from handlers.logs.senders import seen_by_client, sender
from handlers.logs.summary import Summariser, summarise
from handlers.logs.topk import TopK
from handlers.logs.upload import report_upload, summarise_bytes

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = Path(__file__).with_name("logs")

# file: (format, lines, parsed, unparsed, counts, targets)
EXPECTED: dict[str, tuple[str, int, int, int, dict[str, int], dict[str, dict[str, int]]]] = {
    "combined.log": ("combined", 8, 7, 1, {"502": 2, "200": 1, "400": 1, "401": 1, "404": 1, "499": 1}, {}),
    "common.log": ("common", 4, 4, 0, {"200": 2, "404": 1, "500": 1}, {}),
    "vhost_combined.log": ("vhost_combined", 3, 3, 0, {"200": 1, "404": 1, "503": 1}, {}),
    "nginx_error.log": ("nginx_error", 3, 3, 0, {}, {}),
    "apache_error.log": ("apache_error", 3, 3, 0, {}, {}),
    "ingress_nginx.log": (
        "ingress_nginx", 4, 4, 0, {"200": 1, "502": 1, "503": 1, "504": 1},
        {"502": {"502": 1}, "503": {"-": 1}, "504": {"504": 1}},
    ),
    "cri_ingress.log": ("ingress_nginx", 3, 2, 1, {"200": 1, "502": 1}, {"502": {"502": 1}}),
    "traefik.log": ("traefik", 2, 2, 0, {"200": 1, "502": 1}, {}),
    "traefik.jsonl": ("traefik", 3, 3, 0, {"200": 1, "429": 1, "502": 1}, {"429": {"-": 1}, "502": {"-": 1}}),
    "alb.log": (
        "alb", 5, 5, 0, {"502": 2, "101": 1, "200": 1, "460": 1},
        {"460": {"-": 1}, "502": {"-": 1, "502": 1}},
    ),
    "elb.log": ("elb", 2, 2, 0, {"200": 1, "503": 1}, {"503": {"-": 1}}),
    "haproxy.log": (
        "haproxy", 4, 4, 0, {"200": 1, "404": 1, "503": 1, "504": 1},
        {"404": {"404": 1}, "503": {"-": 1}, "504": {"-": 1}},
    ),
    "iis.log": ("iis", 12, 12, 0, {"200": 2, "403.14": 1, "404": 1, "404.13": 1, "500.19": 1}, {}),
    "json_generic.jsonl": ("json", 7, 7, 0, {"200": 1, "404": 1, "429": 1, "502": 1, "503": 1}, {}),
    "otel.jsonl": ("otel", 4, 4, 0, {"200": 1, "404": 1, "500": 1, "503": 1}, {}),
    "gcp.jsonl": ("gcp", 2, 2, 0, {"200": 1, "502": 1}, {}),
    "cloudflare.jsonl": (
        "cloudflare", 3, 3, 0, {"200": 1, "403": 1, "522": 1}, {"403": {"-": 1}, "522": {"-": 1}},
    ),
    "caddy.jsonl": ("caddy", 2, 2, 0, {"200": 1, "504": 1}, {}),
    "pretty.json": ("json", 18, 18, 0, {"200": 1, "201": 1, "404": 1, "503": 1}, {}),
    "session.har": ("har", 34, 34, 0, {"000": 1, "200": 1, "504": 1}, {}),
    "curl_verbose.txt": ("curl", 16, 16, 0, {"503": 1}, {}),
    "curl_head.txt": ("curl", 9, 8, 0, {"200": 1, "301": 1}, {}),
    "client_messages.txt": (
        "message", 10, 9, 1,
        {"502": 2, "401": 1, "403": 1, "404": 1, "429": 1, "500": 1, "503": 1, "504": 1}, {},
    ),
    "free_text.log": ("text", 5, 3, 2, {"204": 1, "500": 1, "503": 1}, {}),
}  # fmt: skip


def test_every_sample_is_expected() -> None:
    assert sorted(p.name for p in SAMPLES.iterdir() if p.is_file()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_exact_counts(name: str) -> None:
    fmt, lines, parsed, unparsed, counts, targets = EXPECTED[name]
    summary = summarise_bytes((SAMPLES / name).read_bytes())
    assert (summary.format, summary.lines, summary.parsed, summary.unparsed) == (fmt, lines, parsed, unparsed)
    assert summary.counts == counts
    assert summary.targets == targets
    assert summary.total == sum(counts.values())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_same_counts_line_by_line_and_gzipped(name: str) -> None:
    data = (SAMPLES / name).read_bytes()
    by_line = summarise(data.decode().splitlines())
    packed = summarise_bytes(gzip.compress(data))
    assert by_line.counts == packed.counts == EXPECTED[name][4]
    assert (by_line.parsed, packed.parsed) == (EXPECTED[name][2], EXPECTED[name][2])


def test_a_forced_format_reads_only_that_format() -> None:
    data = (SAMPLES / "combined.log").read_bytes() + (SAMPLES / "haproxy.log").read_bytes()
    assert summarise_bytes(data, "haproxy").counts == {"200": 1, "404": 1, "503": 1, "504": 1}
    assert summarise_bytes(data, "combined").parsed == 7
    with pytest.raises(ValueError, match="unknown format"):
        LogReader("apache")
    assert "iis" in FORMATS and "alb" in FORMATS


def test_paths_dates_and_timeline() -> None:
    summary = summarise_bytes((SAMPLES / "combined.log").read_bytes())
    assert summary.top_paths["502"] == [("/checkout/cart", 2)]  # the query string is dropped
    assert summary.top_paths["400"] == [("-", 1)]
    assert (summary.first and summary.first.isoformat(), summary.last and summary.last.isoformat()) == (
        "2025-10-10T13:55:00+00:00",
        "2025-10-10T13:58:00+00:00",
    )
    assert summary.resolution == "minute"
    assert [(b.start.minute, b.total, b.errors) for b in summary.timeline] == [
        (55, 2, 1), (56, 3, 3), (57, 1, 1), (58, 1, 1),
    ]  # fmt: skip
    iis = summarise_bytes((SAMPLES / "iis.log").read_bytes())
    assert iis.top_paths["404.13"] == [("/upload/file.ashx", 1)]
    assert iis.classes == {"2xx": 2, "4xx": 3, "5xx": 1}


def _combined(i: int, code: int, minute: int, path: str = "/api") -> str:
    return (
        f"203.0.113.{i % 250} - - [10/Oct/2025:13:{minute:02d}:{i % 60:02d} +0200] "
        f'"GET {path}?i={i} HTTP/1.1" {code} {i} "-" '
        '"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"\n'
    )


def test_fast_path_counts_like_the_line_reader_and_finds_the_jump() -> None:
    lines = [_combined(i, 200 if i % 10 else 404, i // 100) for i in range(1000)]
    lines += [_combined(i, 502, 10 + i // 100, "/pay") for i in range(300)]
    lines.insert(700, "garbage line\n")
    lines.insert(701, "\n")
    data = "".join(lines).encode()
    fast = Summariser()
    for start in range(0, len(data), 4096):  # chunks cut in the middle of lines
        fast.feed_chunk(data[start : start + 4096])
    result = fast.result()
    slow = summarise(data.decode().splitlines())
    assert fast._fast_lines > 0
    for summary in (result, slow):
        assert (summary.lines, summary.parsed, summary.unparsed, summary.blank) == (1302, 1300, 1, 1)
        assert summary.counts == {"200": 900, "502": 300, "404": 100}
        assert summary.top_paths["502"] == [("/pay", 300)]
        assert summary.jump is not None and summary.jump.start.minute == 10
        assert summary.first is not None and summary.first.utcoffset() is not None
        assert summary.first.isoformat() == "2025-10-10T13:00:00+02:00"
    assert result.timeline == slow.timeline


def test_topk_is_exact_then_bounded() -> None:
    top = TopK(capacity=4)
    for i in range(3):
        top.add(f"/p{i}", 10 - i)
    assert top.exact and top.top(2) == [("/p0", 10), ("/p1", 9)]
    for i in range(1000):
        top.add(f"/noise{i}")
    top.merge({"/p0": 5})
    assert len(top.counts) <= 8 and not top.exact
    assert top.top(1)[0][0] == "/p0" and top.top(1)[0][1] >= 15


def test_senders() -> None:
    assert sender(522) == "cdn" and sender(460) == "load_balancer" and sender(502) == "proxy"
    assert sender(499) == "server_software" and not seen_by_client(499) and not seen_by_client(444)
    assert sender(404) == "origin" and seen_by_client(404)
    assert sender(502, None, "alb", {"-": 3, "502": 1}) == "load_balancer"
    assert sender(502, None, "alb", {"-": 1, "502": 3}) == "origin"

    class Declared:
        sent_by = "cdn"
        seen_by_client = False

    assert sender(404, Declared()) == "cdn" and not seen_by_client(404, Declared())


@pytest.fixture(scope="module")
def handler() -> Handler:
    return Handler(load())


def test_the_report_in_every_language(handler: Handler) -> None:
    summary = summarise_bytes((SAMPLES / "alb.log").read_bytes())
    english = render_text(summary, handler, "en")
    assert "502: 1 from the load balancer itself, 1 passed on from the servers behind it." in english
    assert "Sent by the load balancer." in english
    for lang in LANGUAGES:
        text = render_text(summary, handler, lang)
        assert "alb" in text and "502" in text
        if lang != "en":
            assert text != english
    nginx = render_text(summarise_bytes((SAMPLES / "combined.log").read_bytes()), handler, "en")
    assert "this line is not a log line at all" in nginx
    json_status = summarise(['{"status": "502 Bad Gateway"}', '{"status": "502x"}', '{"status": true}'])
    assert json_status.counts == {"502": 1}
    data = summary_json(summary, english, "en")
    assert (
        data["kind"] == "summary"
        and data["counts"]["502"] == 2
        and data["targets"]["502"] == {"-": 1, "502": 1}
    )
    assert data["top_paths"]["502"] == [{"path": "/api/orders", "count": 2}]


def test_a_long_timeline_is_printed_in_round_steps(handler: Handler) -> None:
    lines = [_combined(i, 502 if 150 <= i // 60 < 160 else 200, 0) for i in range(300 * 60)]
    for i, line in enumerate(lines):  # one request a second for five hours
        hour, minute, second = 10 + i // 3600, i // 60 % 60, i % 60
        lines[i] = line.replace("13:00:", f"{hour:02d}:{minute:02d}:", 1).replace(
            f":{i % 60:02d} +", f":{second:02d} +"
        )
    summary = summarise(lines)
    assert summary.resolution == "minute" and len(summary.timeline) == 300
    assert summary.jump is not None and summary.jump.start.strftime("%H:%M") == "12:30"
    text = render_text(summary, handler, "en")
    assert "Requests per 10 minutes (errors in brackets)" in text
    assert "  2025-10-10 12:30  ████████████████████ 600 (600)" in text
    assert "Errors jumped at 2025-10-10 12:30: 60, against 0 just before." in text
    assert "Запросы за каждые 10 мин" in render_text(summary, handler, "ru")


def test_log_only_codes_are_said_as_such(handler: Handler) -> None:
    text = render_text(summarise([_combined(i, 499, 1) for i in range(5)]), handler, "en")
    assert "499 Client Closed Request" in text
    assert "Written only in logs: no client ever receives this code." in text


def test_uploads_are_checked(handler: Handler) -> None:
    good = report_upload(gzip.compress((SAMPLES / "iis.log").read_bytes()), handler, "fr")
    assert good.kind == "summary" and good.summary is not None and good.summary.counts["404.13"] == 1
    assert good.title == "Résumé du journal (iis)"
    refusals = {
        "too_big": report_upload(b"x" * 2048, handler, "de", limit=1024),
        "binary": report_upload(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10, handler, "en"),
        "encoding": report_upload(bytes(range(128, 256)) * 20, handler, "en"),
        "empty": report_upload(b"  \n", handler, "ja"),
    }
    for error, report in refusals.items():
        assert (report.kind, report.error, report.summary) == ("error", error, None)
    assert refusals["too_big"].body == "Diese Datei ist zu groß: Das Limit liegt bei 0 MiB."
    assert report_upload(b"\x1f\x8bnot gzip at all", handler, "en").error == "binary"
    utf16 = report_upload((SAMPLES / "common.log").read_text().encode("utf-16"), handler, "en")
    assert utf16.summary is not None and utf16.summary.counts == {"200": 2, "404": 1, "500": 1}


def test_the_chart_is_a_png() -> None:
    png = timeline_png(summarise_bytes((SAMPLES / "combined.log").read_bytes()))
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert timeline_png(summarise_bytes((SAMPLES / "nginx_error.log").read_bytes())) is None


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
    return subprocess.run(
        [sys.executable, "-m", "bot", "logs", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )


def test_logs_command_json(tmp_path: Path) -> None:
    packed = tmp_path / "alb.log.gz"
    packed.write_bytes(gzip.compress((SAMPLES / "alb.log").read_bytes()))
    result = run(str(packed), "--json", "--lang", "ko", "--chart", str(tmp_path / "t.png"))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {
        "kind",
        "format",
        "lines",
        "parsed",
        "unparsed",
        "counts",
        "classes",
        "top_paths",
        "timeline",
    } <= set(data)
    assert (data["kind"], data["format"], data["lines"], data["parsed"], data["lang"]) == (
        "summary",
        "alb",
        5,
        5,
        "ko",
    )
    assert data["counts"] == {"502": 2, "101": 1, "200": 1, "460": 1}
    assert data["classes"] == {"1xx": 1, "2xx": 1, "4xx": 1, "5xx": 2}
    assert data["text"].startswith("로그 요약 (alb)")
    assert (tmp_path / "t.png").read_bytes().startswith(b"\x89PNG")


def test_logs_command_text_stdin_and_errors() -> None:
    result = run("-", stdin=(SAMPLES / "iis.log").read_bytes())
    assert result.returncode == 0
    assert result.stdout.decode().startswith(
        "Log summary (iis)\n12 lines read: 12 understood, 0 not understood."
    )
    assert "404.13" in result.stdout.decode()
    assert run("/nonexistent/file.log").returncode == 1
    assert run("-", stdin=b"\x00\x01\x02" * 100).returncode == 1
    assert run("-", "--format", "nope").returncode == 2
    assert run("-", "--lang", "xx").returncode == 2


def test_logs_works_without_the_chart_library(tmp_path: Path) -> None:
    blocker = tmp_path / "PIL"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('no Pillow here')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "LANG": "C.UTF-8"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "logs",
            str(SAMPLES / "common.log"),
            "--chart",
            str(tmp_path / "x.png"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert "No chart: the chart library is not installed" in result.stdout
    assert not (tmp_path / "x.png").exists()
