"""``logs`` benchmark: throughput and memory on a generated combined-format log, beside GoAccess.

Run: ``.venv/bin/python bench/logs.py [--lines 1000000] [--keep DIR]``. The log is generated into
a temporary directory (never committed); both programs read the same file pinned to one core
(``taskset``, where it exists), and their wall time and peak resident memory are printed with
the ratios. Targets shown beside them: at least 250,000 lines/s and under 100 MiB.
GoAccess is Debian's ``goaccess`` package; without it only ``logs`` is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATE = 250_000
TARGET_RSS_MIB = 100
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
    "Safari/537.36 Edg/124.0.2478.51",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
    "Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1",
    "curl/8.5.0",
    "kube-probe/1.29",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
]
PATHS = ["/", "/api/orders", "/api/users/{n}", "/static/app.{n}.js", "/login", "/search?q={n}", "/health"]
NORMAL = [(200, 80), (304, 6), (301, 3), (404, 6), (401, 1), (403, 1), (500, 1), (502, 1), (503, 1)]
SPIKE = [(200, 40), (502, 30), (504, 20), (499, 10)]


def generate(path: Path, lines: int, seed: int = 10) -> None:
    """A combined-format log of ``lines`` lines over about five hours, with an error spike."""
    rng = random.Random(seed)
    start = 1_760_000_000
    per_second = max(lines // (5 * 3600), 1)
    normal = [c for c, w in NORMAL for _ in range(w)]
    spike = [c for c, w in SPIKE for _ in range(w)]
    with path.open("w", encoding="ascii") as out:
        batch = []
        for i in range(lines):
            t = start + i // per_second
            stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))
            minute = (i // per_second // 60) % 300
            code = rng.choice(spike if 180 <= minute < 190 else normal)
            ip = (
                f"2001:db8::{rng.randrange(65536):x}"
                if rng.random() < 0.1
                else ".".join(str(rng.randrange(1, 224)) for _ in range(4))
            )
            target = rng.choice(PATHS).format(n=rng.randrange(2000))
            size = 0 if code in (304, 499) else rng.randrange(100, 90_000)
            batch.append(
                f'{ip} - - [{stamp}] "GET {target} HTTP/1.1" {code} {size} '
                f'"https://www.example.com/" "{rng.choice(AGENTS)}"\n'
            )
            if len(batch) >= 10_000:
                out.write("".join(batch))
                batch = []
        out.write("".join(batch))


def measure(command: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds, peak resident MiB and standard output of ``command``."""
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    started = time.perf_counter()
    process = subprocess.Popen([*pin, *command], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    assert process.stdout is not None
    output = process.stdout.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{command[0]} exited with {process.returncode}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep the files")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="logs-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        log = folder / "access.log"
        started = time.perf_counter()
        generate(log, args.lines)
        size = log.stat().st_size
        print(
            f"generated {args.lines:,} combined lines ({size / 2**20:.0f} MiB) "
            f"in {time.perf_counter() - started:.1f} s"
        )

        seconds, cpu, rss, output = measure([sys.executable, "-m", "bot", "logs", str(log), "--json"])
        data = json.loads(output)
        assert data["lines"] == args.lines and data["parsed"] == args.lines, (data["lines"], data["parsed"])
        rate = args.lines / seconds
        print(
            f"logs      {seconds:6.2f} s wall, {cpu:6.2f} s CPU  {rate:>9,.0f} lines/s wall, "
            f"{args.lines / cpu:>9,.0f} per CPU second (target ≥ {TARGET_RATE:,})  "
            f"peak RSS {rss:6.1f} MiB (target < {TARGET_RSS_MIB})"
        )
        print(
            f"          counts {dict(list(data['counts'].items())[:6])}  jump at {data['timeline']['jump']}"
        )

        goaccess = shutil.which("goaccess")
        if goaccess is None:
            print("goaccess: not installed (apt-get install -y goaccess); no comparison")
            return
        report = folder / "goaccess.json"
        g_seconds, g_cpu, g_rss, _ = measure(
            [goaccess, str(log), "--log-format=COMBINED", "--no-global-config", "-o", str(report)]
        )
        g_rate = args.lines / g_seconds
        print(
            f"goaccess  {g_seconds:6.2f} s wall, {g_cpu:6.2f} s CPU  {g_rate:>9,.0f} lines/s wall, "
            f"{args.lines / g_cpu:>9,.0f} per CPU second  peak RSS {g_rss:6.1f} MiB"
        )
        print(
            f"ratio logs/goaccess: throughput {rate / g_rate:.2f}× (wall), {g_cpu / cpu:.2f}× (CPU); "
            f"peak memory {rss / g_rss:.2f}×"
        )
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
