"""Comparisons: recognising "A vs B" in any language, and the written texts that compare pairs.

``401 vs 403``, ``unauthorized or forbidden``, "difference between 301 and 308", ``401 oder 403``,
``401 和 403 的区别``, ``401と403の違い``: the words that separate the two things compared and the
words that ask for a comparison live in each language's ``data/compare/<lang>.json``
(``separators``, a leading ``+`` marking those that join rather than oppose, and ``markers``),
beside the written comparisons of confusable pairs:
``{"pairs": {"401+403": "when to use which, what a client does differently"}}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from handlers.catalogue import DATA_DIR
from handlers.normalise import fold, script, words

# Separators that join rather than oppose ("and", "et", "und"): they mean a comparison only when
# a marker ("difference", "entre", "区别") asks for one; "username and password" is no comparison.
_PUNCTUATION = re.compile(r"\s*[|,/、،]\s*")
_VERSUS = frozenset({"vs", "vs.", "versus", "v/s"})
_CUT = "\x00"
_ARABIC_AND = re.compile(r"(?:(?<=\s)|^)و(?=\d)")


@dataclass(frozen=True, slots=True)
class Grammar:
    """The comparison words of every language, folded, in one place."""

    opposing: frozenset[str]
    joining: frozenset[str]
    markers: frozenset[str]
    cjk_opposing: tuple[str, ...]
    cjk_joining: tuple[str, ...]
    cjk_markers: tuple[str, ...]


@cache
def grammar(languages: tuple[str, ...]) -> Grammar:
    """Separators and markers of ``languages``, split by script and kind."""
    opposing: set[str] = set()
    joining: set[str] = set()
    markers: set[str] = set()
    cjk: dict[str, set[str]] = {"opposing": set(), "joining": set(), "markers": set()}
    for lang in languages:
        data = _data(lang)
        for raw in data.get("separators", ()):
            joins = raw.startswith("+")
            word = fold(raw.lstrip("+")).strip()
            if not word:
                continue
            if script(word) == "cjk":
                cjk["joining" if joins else "opposing"].add(word)
            else:
                (joining if joins else opposing).add(word)
        for raw in data.get("markers", ()):
            word = fold(raw).strip()
            if word:
                (cjk["markers"] if script(word) == "cjk" else markers).add(word)

    def longest_first(items: set[str]) -> tuple[str, ...]:
        return tuple(sorted(items, key=len, reverse=True))

    return Grammar(
        frozenset(opposing),
        frozenset(joining),
        frozenset(markers),
        longest_first(cjk["opposing"]),
        longest_first(cjk["joining"]),
        longest_first(cjk["markers"]),
    )


def arabic_and(folded: str) -> str:
    """Arabic writes "and" against the next word ("401 و403"): set it apart before a number."""
    return _ARABIC_AND.sub("و ", folded) if "و" in folded else folded


@dataclass(frozen=True, slots=True)
class Split:
    """The parts of a query that may compare things, and how sure the wording is."""

    parts: tuple[str, ...]
    marked: bool
    """Whether words ask for a comparison ("difference", "vs") rather than only "or"."""


def split(folded: str, gram: Grammar) -> Split | None:
    """The two or more things a query compares, or ``None`` when it compares nothing."""
    text = arabic_and(folded)
    marked = False
    for marker in gram.cjk_markers:
        if marker in text:
            text = text.replace(marker, " ")
            marked = True
    tokens: list[str] = []
    for token in text.split():
        bare = token.strip("?!.:;¿¡？！。")
        if bare in gram.markers:
            marked = True
        elif bare in _VERSUS:
            marked = True
            tokens.append(_CUT)
        elif bare in gram.opposing:
            tokens.append(_CUT)
        elif bare:
            tokens.append(bare)
    if marked:
        tokens = [_CUT if t in gram.joining else t for t in tokens]
    chunks = " ".join(tokens).split(_CUT)
    # A comma or a slash separates two things compared only in a short query ("401/403",
    # "unauthorized, forbidden") or one that asks for a comparison: in a sentence it is punctuation.
    if marked or len(tokens) <= 5:
        chunks = [p for chunk in chunks for p in _PUNCTUATION.split(chunk)]
    parts = chunks
    cjk_separators = gram.cjk_opposing + (gram.cjk_joining if marked else ())
    if cjk_separators:
        parts = [piece for part in parts for piece in _split_cjk(part, cjk_separators)]
    parts = [p.strip() for p in parts if words(p)]
    if len(parts) < 2:
        return None
    return Split(tuple(parts), marked)


def asks_comparison(folded: str, gram: Grammar) -> bool:
    """Whether words ask for a comparison ("401 403 차이", "difference 301 308")."""
    if any(marker in folded for marker in gram.cjk_markers):
        return True
    return any(token.strip("?!.:;¿¡？！。") in gram.markers for token in folded.split())


def _split_cjk(part: str, separators: tuple[str, ...]) -> list[str]:
    """``未授权和禁止`` → ``未授权``, ``禁止`` (a separator inside a run of CJK characters)."""
    for separator in separators:
        if separator in part:
            left, _, right = part.partition(separator)
            if left.strip() and right.strip():
                return [left, *_split_cjk(right, separators)]
    return [part]


@cache
def _data(lang: str, folder: Path = DATA_DIR) -> dict[str, Any]:
    path = folder / "compare" / f"{lang}.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold an object")
    return data


@cache
def written(lang: str, folder: Path = DATA_DIR) -> Mapping[frozenset[int], str]:
    """The written comparisons of ``lang``: ``{401, 403}`` → text."""
    pairs = _data(lang, folder).get("pairs", {})
    out: dict[frozenset[int], str] = {}
    for key, text in pairs.items():
        codes = frozenset(int(c) for c in str(key).split("+"))
        out[codes] = str(text)
    return MappingProxyType(out)


def validate(languages: Iterable[str], known: Iterable[int], folder: Path = DATA_DIR) -> list[str]:
    """Every problem in the comparison files, one line each."""
    problems: list[str] = []
    codes = set(known)
    english: set[frozenset[int]] | None = None
    for lang in languages:
        path = folder / "compare" / f"{lang}.json"
        if not path.exists():
            problems.append(f"compare/{lang}.json is missing")
            continue
        try:
            pairs = written(lang, folder)
        except (OSError, ValueError) as exc:
            problems.append(f"compare/{lang}.json: {exc}")
            continue
        for pair, text in pairs.items():
            if len(pair) != 2 or not pair <= codes:
                problems.append(f"compare/{lang}.json: {sorted(pair)} is not a pair of catalogued codes")
            if not text.strip():
                problems.append(f"compare/{lang}.json: {sorted(pair)} is empty")
        if lang == "en":
            english = set(pairs)
        elif english is not None and set(pairs) != english:
            missing = sorted("+".join(map(str, sorted(p))) for p in english - set(pairs))
            problems.append(f"compare/{lang}.json: pairs missing: {', '.join(missing)}")
    return problems
