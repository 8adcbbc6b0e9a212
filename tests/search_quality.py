"""The search evaluation: reads ``search_eval*.tsv`` and scores the handler against it.

Shared by ``tests/test_search_quality.py`` and ``bench/handler.py``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from handlers import Handler, Reply, Request

EVAL_DIR = Path(__file__).parent / "search_eval"
# Our own sets, written by the team beside the vocabulary; and the blind sets, written by people
# who saw only the list of codes (never the situations, the lexicon or the search).
OWN = "own/*.tsv"
BLIND = "blind/*.tsv"


@dataclass(frozen=True)
class Case:
    """One query with what it should find."""

    lang: str
    query: str
    expected: str

    def alternatives(self) -> list[str]:
        """Acceptable best answers (``a|b``) or the codes a comparison names (``a+b``)."""
        return self.expected.replace("+", "|").split("|")

    @property
    def nothing(self) -> bool:
        """Whether the query should match nothing (``-``): no card, a "no match" reply."""
        return self.expected == "-"

    @property
    def comparison(self) -> bool:
        """Whether the query compares several codes."""
        return "+" in self.expected


def load_cases(pattern: str = OWN, folder: Path = EVAL_DIR) -> list[Case]:
    """Every case of every evaluation file matching ``pattern``."""
    cases = []
    for path in sorted(folder.glob(pattern)):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            lang, query, expected = line.split("\t")
            cases.append(Case(lang, query, expected))
    return cases


def _key(code: str) -> str:
    # "4" is the 4xx class, "000" the reply for no response at all (code 0).
    if code == "000":
        return "0"
    return f"{code}xx" if len(code) == 1 else code


def _reply(handler: Handler, case: Case) -> Reply:
    return handler.answer(Request(case.query, (case.lang,)))


def answer_keys(handler: Handler, case: Case) -> list[str]:
    """What a user sees first: the reply's codes, or its class for a class list."""
    reply = _reply(handler, case)
    if reply.kind == "error":
        return []
    if reply.kind == "list" and reply.code_class and not reply.query[:1].isdigit():
        return [reply.code_class]
    return [str(c) for c in reply.codes]


@dataclass(frozen=True)
class Verdict:
    """How one case went: right first, right within three, or a single card for a wrong code."""

    top1: bool
    top3: bool
    wrong_card: bool


def judge(handler: Handler, case: Case) -> Verdict:
    """Score one case the way a user would see it."""
    reply = _reply(handler, case)
    shown = answer_keys(handler, case)
    if case.nothing:
        right = reply.kind in ("error", "help")
        return Verdict(right, right, reply.kind == "entry")
    wanted = [_key(c) for c in case.alternatives()]
    wrong_card = reply.kind == "entry" and not (shown and shown[0] in wanted)
    ranked = handler.ranked(case.query, limit=3, lang=case.lang) if reply.kind != "error" else []
    if reply.kind == "error" and reply.items:
        ranked = [str(i.code) for i in reply.items]
    if case.comparison:
        top1 = set(shown[: len(wanted)]) == set(wanted)
        top3 = set(wanted) <= set(ranked[:3]) or top1
        return Verdict(top1, top3, wrong_card)
    top1 = bool(shown) and shown[0] in wanted
    top3 = top1 or any(k in wanted for k in [*shown[:3], *ranked[:3]])
    return Verdict(top1, top3, wrong_card)


@dataclass(frozen=True)
class Score:
    """Accuracy over a set of cases."""

    total: int
    top1: int
    top3: int
    misses: tuple[tuple[Case, list[str]], ...]
    wrong_cards: int = 0

    @property
    def top1_rate(self) -> float:
        """Share of cases whose best answer is right."""
        return self.top1 / self.total if self.total else 0.0

    @property
    def top3_rate(self) -> float:
        """Share of cases answered right within the first three."""
        return self.top3 / self.total if self.total else 0.0

    @property
    def wrong_card_rate(self) -> float:
        """Share of cases answered with a single card for a wrong code."""
        return self.wrong_cards / self.total if self.total else 0.0


def evaluate(handler: Handler, cases: list[Case]) -> dict[str, Score]:
    """Scores per language and overall (key ``all``)."""
    groups: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        groups[case.lang].append(case)
        groups["all"].append(case)
    scores = {}
    for lang, group in groups.items():
        top1 = top3 = wrong = 0
        misses = []
        for case in group:
            verdict = judge(handler, case)
            top1 += verdict.top1
            top3 += verdict.top3
            wrong += verdict.wrong_card
            if not verdict.top1:
                shown = answer_keys(handler, case)
                misses.append((case, [*shown, "|", *handler.ranked(case.query, 3, lang=case.lang)]))
        scores[lang] = Score(len(group), top1, top3, tuple(misses), wrong)
    return scores
