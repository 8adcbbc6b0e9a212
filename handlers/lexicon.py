"""Language knowledge for the search: stemmers, stopwords, weak words, concepts and situations.

Each language has two data files beside its catalogue text: ``data/lexicon/<lang>.json`` (stopwords,
weak words and the cross-language concept lexicon) and
``data/situations/<lang>.json`` (the everyday situations in which people meet each code). Only the
search reads them, so ``ask 404`` never does.

Morphology comes from the Snowball stemmers of PyStemmer where Snowball has the language; Chinese,
Japanese and Korean are matched by character bigrams instead (see :mod:`handlers.normalise`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from handlers.catalogue import DATA_DIR
from handlers.normalise import fold

# Snowball algorithm names by language code; languages absent here have no stemmer.
SNOWBALL: Mapping[str, str] = MappingProxyType(
    {
        "en": "english",
        "ru": "russian",
        "es": "spanish",
        "pt": "portuguese",
        "hi": "hindi",
        "ta": "tamil",
        "de": "german",
        "fr": "french",
        "ar": "arabic",
    }
)
# Writing systems of each language, to know which query words a language could have written.
SCRIPTS: Mapping[str, str] = MappingProxyType(
    {
        "en": "latin",
        "es": "latin",
        "pt": "latin",
        "de": "latin",
        "fr": "latin",
        "ru": "cyrillic",
        "hi": "devanagari",
        "ta": "tamil",
        "ar": "arabic",
        "zh": "cjk",
        "ja": "cjk",
        "ko": "cjk",
    }
)
CONCEPT_PREFIX = "@"
_CONCEPT_ID = re.compile(r"^[a-z][a-z_]*$")

Stem = Callable[[list[str]], list[str]]


@cache
def stemmer(lang: str) -> Stem:
    """A function stemming a list of folded words in ``lang`` (identity where Snowball has none)."""
    algorithm = SNOWBALL.get(lang)
    if algorithm is None:
        return _identity
    import Stemmer  # PyStemmer: imported with the search index only

    return Stemmer.Stemmer(algorithm).stemWords  # type: ignore[no-any-return]


def _identity(words: list[str]) -> list[str]:
    return words


@dataclass(frozen=True, slots=True)
class Lexicon:
    """What the search knows of one language's words."""

    lang: str
    stopwords: frozenset[str] = frozenset()
    weak: frozenset[str] = frozenset()
    concepts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Concept id → words and short phrases of this language that express it."""
    units: frozenset[str] = frozenset()
    """Words after a number that make it a quantity, not a status code (seconds, MB, users)."""
    before_units: frozenset[str] = frozenset()
    """Words before a number that make it a quantity (port, after, every)."""


@dataclass(frozen=True, slots=True)
class Situations:
    """One language's situations: entry id (or ``topic:<name>``) → descriptions."""

    lang: str
    by_key: Mapping[str, tuple[str, ...]]


def _strings(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise ValueError(f"{where} must be a list of strings")
    return tuple(raw)


def _folded(data: Mapping[str, Any], key: str, path: Path) -> frozenset[str]:
    return frozenset(fold(w) for w in _strings(data.get(key, []), f"{path} {key}"))


def _read(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold an object")
    return data


@cache
def lexicon(lang: str, folder: Path = DATA_DIR) -> Lexicon:
    """The lexicon of ``lang`` (an empty one when the language has no file)."""
    path = folder / "lexicon" / f"{lang}.json"
    if not path.exists():
        return Lexicon(lang)
    data = _read(path)
    concepts = data.get("concepts", {})
    if not isinstance(concepts, dict):
        raise ValueError(f"{path}: concepts must be an object")
    return Lexicon(
        lang=lang,
        stopwords=_folded(data, "stopwords", path),
        weak=_folded(data, "weak", path),
        units=_folded(data, "units", path),
        before_units=_folded(data, "before_units", path),
        concepts=MappingProxyType({str(k): _strings(v, f"{path} concepts.{k}") for k, v in concepts.items()}),
    )


@cache
def situations(lang: str, folder: Path = DATA_DIR) -> Situations:
    """The situations of ``lang`` (none when the language has no file)."""
    path = folder / "situations" / f"{lang}.json"
    if not path.exists():
        return Situations(lang, MappingProxyType({}))
    data = _read(path)
    raw = data.get("situations", {})
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: situations must be an object")
    return Situations(
        lang, MappingProxyType({str(k): _strings(v, f"{path} situations.{k}") for k, v in raw.items()})
    )


def validate(languages: Iterable[str], entry_ids: Iterable[str], folder: Path = DATA_DIR) -> list[str]:
    """Every problem in the lexicon and situation files, one line each."""
    problems: list[str] = []
    ids = list(entry_ids)
    concept_sets: dict[str, set[str]] = {}
    for lang in languages:
        where = f"lexicon/{lang}.json"
        try:
            lex = lexicon(lang, folder)
            sit = situations(lang, folder)
        except (OSError, ValueError) as exc:
            problems.append(f"{lang}: {exc}")
            continue
        if not (folder / "lexicon" / f"{lang}.json").exists():
            problems.append(f"{where} is missing")
        if not (folder / "situations" / f"{lang}.json").exists():
            problems.append(f"situations/{lang}.json is missing")
        concept_sets[lang] = set(lex.concepts)
        for concept, words in lex.concepts.items():
            if not _CONCEPT_ID.match(concept):
                problems.append(f"{where}: concept id {concept!r} is malformed")
            if not words or any(not w.strip() for w in words):
                problems.append(f"{where}: concept {concept} has an empty word list or word")
        for key, texts in sit.by_key.items():
            if key not in ids and not key.startswith("topic:"):
                problems.append(f"situations/{lang}.json: {key} is not an entry id")
            if len(set(texts)) != len(texts):
                problems.append(f"situations/{lang}.json: {key} repeats a situation")
            if any(not t.strip() for t in texts):
                problems.append(f"situations/{lang}.json: {key} has an empty situation")
        problems.extend(
            f"situations/{lang}.json: {entry_id} has no situation"
            for entry_id in ids
            if not sit.by_key.get(entry_id)
        )
    if concept_sets:
        every = set().union(*concept_sets.values())
        for lang, present in concept_sets.items():
            missing = sorted(every - present)
            if missing:
                problems.append(f"lexicon/{lang}.json: concepts missing: {', '.join(missing)}")
    return problems
