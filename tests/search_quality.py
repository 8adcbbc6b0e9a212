"""The search evaluation: reads ``search_eval*.tsv`` and scores the handler against it.

Shared by ``tests/test_search_quality.py`` and ``bench/handler.py``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from handlers import Handler, Request

EVAL_DIR = Path(__file__).parent


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
    def comparison(self) -> bool:
        """Whether the query compares several codes."""
        return "+" in self.expected


def load_cases(pattern: str = "search_eval*.tsv") -> list[Case]:
    """Every case of every evaluation file."""
    cases = []
    for path in sorted(EVAL_DIR.glob(pattern)):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            lang, query, expected = line.split("\t")
            cases.append(Case(lang, query, expected))
    return cases


def _key(code: str) -> str:
    return f"{code}xx" if len(code) == 1 else code


def answer_keys(handler: Handler, case: Case) -> list[str]:
    """What a user sees first: the reply's codes, or its class for a class list."""
    reply = handler.answer(Request(case.query, (case.lang,)))
    if reply.kind == "list" and reply.code_class and not reply.query[:1].isdigit():
        return [reply.code_class]
    return [str(c) for c in reply.codes]


def judge(handler: Handler, case: Case) -> tuple[bool, bool]:
    """(top-1 right, right within the top 3)."""
    wanted = [_key(c) for c in case.alternatives()]
    shown = answer_keys(handler, case)
    ranked = handler.ranked(case.query, limit=3)
    if case.comparison:
        top1 = set(shown[: len(wanted)]) == set(wanted)
        top3 = set(wanted) <= set(ranked[:3]) or top1
        return top1, top3
    top1 = bool(shown) and shown[0] in wanted
    top3 = top1 or any(k in wanted for k in ranked[:3])
    return top1, top3


@dataclass(frozen=True)
class Score:
    """Accuracy over a set of cases."""

    total: int
    top1: int
    top3: int
    misses: tuple[tuple[Case, list[str]], ...]

    @property
    def top1_rate(self) -> float:
        """Share of cases whose best answer is right."""
        return self.top1 / self.total if self.total else 0.0

    @property
    def top3_rate(self) -> float:
        """Share of cases answered right within the first three."""
        return self.top3 / self.total if self.total else 0.0


def evaluate(handler: Handler, cases: list[Case]) -> dict[str, Score]:
    """Scores per language and overall (key ``all``)."""
    groups: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        groups[case.lang].append(case)
        groups["all"].append(case)
    scores = {}
    for lang, group in groups.items():
        top1 = top3 = 0
        misses = []
        for case in group:
            one, three = judge(handler, case)
            top1 += one
            top3 += three
            if not one:
                misses.append((case, [*answer_keys(handler, case), "|", *handler.ranked(case.query, 3)]))
        scores[lang] = Score(len(group), top1, top3, tuple(misses))
    return scores
