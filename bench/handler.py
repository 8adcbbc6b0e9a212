"""Handler benchmark: latency of code lookups, class lists and word searches, cold start, quality.

Run: ``.venv/bin/python bench/handler.py [--n 10000]``. Figures are printed, not asserted: the
targets (code lookup p99 ≤ 50 µs, word search p99 ≤ 1 ms, cold ``ask`` ≤ 0.3 s) are shown beside
them.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from handlers import Handler, Request, load  # noqa: E402

from search_quality import BLIND, OWN, evaluate, load_cases  # noqa: E402

CODE_QUERIES = ["404", "HTTP/1.1 503", "#418", "500", "http/2 502 Bad Gateway", "301", "429.", "２００"]
CLASS_QUERIES = ["4xx", "5XX", "50x", "2xx", "41x", "3xx"]
EN_WORDS = [
    "not found", "forbiden", "too many requets", "unauthorized vs forbidden", "payload too large",
    "bad gatway", "gateway timeout", "service unavailble", "file too big", "teapot", "rate limited",
    "moved permanently", "internal server eror", "precondition failed", "unprocessable entity",
]  # fmt: skip
# Descriptions of problems, as people type them, one language after another (latency only).
DESCRIPTIONS = [
    ("en", "my api key was rejected"), ("fr", "ce nom d'utilisateur est déjà pris"),
    ("zh", "cloudflare 源站连不上"), ("ta", "தேர்வு முடிவு நாளில் சைட் டவுன்"),
    ("de", "der Upload bricht ab, die Datei ist zu groß"), ("ru", "слишком много запросов, API нас режет"),
    ("es", "el token expiró y ahora me pide iniciar sesión"),
    ("pt", "o servidor demorou demais e o proxy desistiu"),
    ("hi", "API key गलत है, access नहीं मिल रहा"), ("ar", "الصفحة غير موجودة بعد تغيير الرابط"),
    ("ja", "アップロードしたファイルが大きすぎる"), ("ko", "토큰이 만료됐어요"),
]  # fmt: skip
FR_WORDS = [
    "introuvable", "trop de requetes", "passerelle", "acces refuse", "non autorise", "fichier trop gros",
    "erreur interne du serveur", "service indisponnible", "redirection permanente", "délai de passerelle",
    "non authentifie", "théière", "contenu trop volumineux", "méthode non autorisée", "conflit",
]  # fmt: skip


def typo(text: str, rng: random.Random) -> str:
    """The text with one random slip of the keyboard (dropped, doubled or swapped letter)."""
    if len(text) < 5:
        return text
    i = rng.randrange(1, len(text) - 2)
    match rng.randrange(3):
        case 0:
            return text[:i] + text[i + 1 :]
        case 1:
            return text[:i] + text[i] + text[i:]
        case _:
            return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def measure(call: Callable[[str], object], queries: Sequence[str], n: int) -> tuple[float, float]:
    """p50 and p99 in microseconds over ``n`` calls cycling through ``queries``."""
    for q in queries:  # warm caches and branch predictors, as a running bot would have
        call(q)
    samples = []
    clock = time.perf_counter_ns
    gc.disable()
    try:
        for i in range(n):
            query = queries[i % len(queries)]
            start = clock()
            call(query)
            samples.append(clock() - start)
    finally:
        gc.enable()
    samples.sort()
    return samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99)] / 1000


def cold_start(runs: int) -> list[float]:
    """Wall time of ``python -m bot ask 404`` from a fresh interpreter, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot", "ask", "404"], cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def index_build(runs: int) -> tuple[list[float], list[float]]:
    """Seconds to build the search index from the data files, and to load it from the cache,
    each in a fresh interpreter (the catalogue read before the clock starts).
    """
    probe = (
        "import time; from handlers import Handler, load; h = Handler(load());"
        "[h.catalogue.languages[l] for l in h.catalogue.languages];"
        "t = time.perf_counter(); h.warm(); print(time.perf_counter() - t)"
    )
    built: list[float] = []
    cached: list[float] = []
    for _ in range(runs):
        for env_value, out in (("off", built), ("", cached)):
            env = {**os.environ, "HTTP_STATUS_BOT_CACHE": env_value} if env_value else dict(os.environ)
            done = subprocess.run(
                [sys.executable, "-c", probe], cwd=ROOT, env=env, check=True, capture_output=True, text=True
            )
            out.append(float(done.stdout.strip()))
    return built, cached


def quality(handler: Handler) -> None:
    """Top-1, top-3 and single wrong cards per language, for each evaluation set."""
    groups = [("own sets (tests/search_eval/own)", OWN)]
    for path in sorted((ROOT / "tests" / "search_eval" / "blind").glob("*.tsv")):
        name = path.stem.split("_")[0]
        entry = (f"blind {name} (tests/search_eval/blind/{name}_*.tsv)", f"blind/{name}_*.tsv")
        if entry not in groups:
            groups.append(entry)
    # Every blind round together: the figure the targets are about (each round alone is 40
    # cases per language, where one case moves a language by 2.5 points).
    groups.append(("every blind round together (tests/search_eval/blind)", BLIND))
    for title, pattern in groups:
        scores = evaluate(handler, load_cases(pattern))
        print(f"\nsearch quality, {title}: cases, top-1, top-3, single wrong card")
        for lang in sorted(scores, key=lambda k: (k == "all", k)):
            score = scores[lang]
            print(
                f"  {lang:4} {score.total:4d}  {100 * score.top1_rate:5.1f} %  {100 * score.top3_rate:5.1f} %"
                f"  {100 * score.wrong_card_rate:4.1f} %"
            )


def main() -> None:
    """Print every figure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000, help="queries per measurement")
    parser.add_argument("--cold-runs", type=int, default=10)
    args = parser.parse_args()

    start = time.perf_counter()
    catalogue = load()
    loaded = time.perf_counter()
    handler = Handler(catalogue)
    handler.warm()
    built = time.perf_counter()
    print(f"catalogue: {len(catalogue.entries)} entries, {len(catalogue.languages)} languages")
    print(f"load {1000 * (loaded - start):.1f} ms, search index {1000 * (built - loaded):.1f} ms (this run)")
    from_data, from_cache = index_build(3)
    print(
        "search index in a fresh process: from the data files median"
        f" {1000 * statistics.median(from_data):.0f} ms, from the cache median"
        f" {1000 * statistics.median(from_cache):.0f} ms (target ≤ 250 ms)"
    )

    def answer(lang: str) -> Callable[[str], object]:
        langs = (lang,)
        return lambda q: handler.answer(Request(q, langs))

    # The same code lookups through a plain dict of pre-rendered titles: the floor for Python.
    table = {c: handler.title(c, "en") for c in catalogue.codes}
    digits = str.maketrans("０１２３４５６７８９", "0123456789")

    def plain_dict(query: str) -> object:
        number = "".join(ch for ch in query.translate(digits) if ch.isdigit())[-3:]
        return table.get(int(number))

    langs_of = {q: lang for lang, q in DESCRIPTIONS}

    def described(query: str) -> object:
        return handler.answer(Request(query, (langs_of[query],)))

    rng = random.Random(7)
    en_typos = [typo(q, rng) for q in EN_WORDS * 20]
    fr_typos = [typo(q, rng) for q in FR_WORDS * 20]
    rows = [
        ("code lookup, reply built", answer("en"), CODE_QUERIES),
        ("code lookup, plain dict", plain_dict, CODE_QUERIES),
        ("class / pattern list", answer("en"), CLASS_QUERIES),
        ("word search, English", answer("en"), EN_WORDS),
        ("word search, English typos", answer("en"), en_typos),
        ("word search, French", answer("fr"), FR_WORDS),
        ("word search, French typos", answer("fr"), fr_typos),
        ("word search, descriptions (12 langs)", described, [q for _, q in DESCRIPTIONS]),
        (
            "autocomplete (suggest 25)",
            lambda q: handler.suggest(q, ("en",), 25),
            ["50", "not f", "gate", "4"],
        ),
    ]
    print(f"\nlatency over {args.n:,} queries each (µs)")
    print(f"{'':32}{'p50':>9}{'p99':>9}")
    results = {}
    for name, call, queries in rows:
        p50, p99 = measure(call, queries, args.n)
        results[name] = (p50, p99)
        print(f"{name:32}{p50:9.1f}{p99:9.1f}")
    ours, floor = results["code lookup, reply built"], results["code lookup, plain dict"]
    print(f"code lookup / plain dict: p50 ×{ours[0] / floor[0]:.1f}, p99 ×{ours[1] / floor[1]:.1f}")
    words_p99 = max(v[1] for k, v in results.items() if k.startswith("word search"))
    print(f"targets: code lookup p99 {ours[1]:.1f} µs (≤ 50), word search p99 {words_p99:.1f} µs (≤ 1000)")

    times = cold_start(args.cold_runs)
    print(
        f"\ncold `python -m bot ask 404`: median {statistics.median(times):.3f} s, "
        f"min {min(times):.3f} s over {len(times)} runs (target ≤ 0.3 s)"
    )

    quality(handler)


if __name__ == "__main__":
    main()
