"""The status-code catalogue: facts from ``data/codes.json`` and text from ``data/<lang>.json``.

Loaded once at start-up into immutable objects; :func:`validate` lists every problem so tests and
``check-config`` can report them all at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

DATA_DIR = Path(__file__).with_name("data")
LANGUAGES: tuple[str, ...] = ("en", "zh", "ru", "es", "pt", "hi", "ta", "de", "fr", "ar", "ja", "ko")
STANDINGS = ("registered", "deprecated", "temporary", "unused", "obsolete", "unofficial")
SUMMARY_MAX = 100
DESCRIPTION_MAX = 900
_URL = re.compile(r"^https://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?:/[^\s<>\"]*)?$")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class CatalogueError(ValueError):
    """The data files are missing, malformed or incomplete."""


@dataclass(frozen=True, slots=True)
class Spec:
    """Where a status code is defined."""

    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Entry:
    """Language-neutral facts about one meaning of a status code."""

    id: str
    code: int
    reason: str | None
    common_name: str | None
    standing: str
    origin: str | None
    spec: Spec
    mdn: str | None
    related: tuple[int, ...]
    headers: tuple[str, ...]
    former_names: tuple[str, ...]

    @property
    def cls(self) -> str:
        """The class as people write it: ``4xx``."""
        return f"{self.code // 100}xx"

    @property
    def phrase(self) -> str | None:
        """The name to show after the code: the common name where the registry has none."""
        return self.common_name or self.reason


@dataclass(frozen=True, slots=True)
class EntryText:
    """One entry's text in one language."""

    name: str | None
    summary: str
    description: str
    keywords: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ClassText:
    """One class's text in one language."""

    name: str
    summary: str
    keywords: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Language:
    """Every text of one language."""

    code: str
    name: str
    native_name: str
    rtl: bool
    locales: tuple[str, ...]
    ui: Mapping[str, str]
    standing: Mapping[str, str]
    origins: Mapping[str, str]
    classes: Mapping[str, ClassText]
    random_words: tuple[str, ...]
    entries: Mapping[str, EntryText]
    help_words: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Every entry and every language, indexed for lookups."""

    entries: tuple[Entry, ...]
    by_id: Mapping[str, Entry]
    by_code: Mapping[int, tuple[Entry, ...]]
    languages: Mapping[str, Language]
    popular: tuple[int, ...]
    codes: tuple[int, ...]
    """Every code in the catalogue, ascending (class lists and suggestions walk it)."""

    def text(self, entry: Entry, lang: str) -> EntryText:
        """The entry's text in ``lang``, falling back to English."""
        language = self.languages.get(lang)
        if language is not None and entry.id in language.entries:
            return language.entries[entry.id]
        return self.languages["en"].entries[entry.id]


def _entry(raw: Mapping[str, Any]) -> Entry:
    spec = raw["spec"]
    return Entry(
        id=str(raw["id"]),
        code=int(raw["code"]),
        reason=raw.get("reason"),
        common_name=raw.get("common_name"),
        standing=str(raw["standing"]),
        origin=raw.get("origin"),
        spec=Spec(title=str(spec["title"]), url=str(spec["url"])),
        mdn=raw.get("mdn"),
        related=tuple(int(c) for c in raw.get("related", ())),
        headers=tuple(str(h) for h in raw.get("headers", ())),
        former_names=tuple(str(n) for n in raw.get("former_names", ())),
    )


def _language(raw: Mapping[str, Any]) -> Language:
    return Language(
        code=str(raw["lang"]),
        name=str(raw["name"]),
        native_name=str(raw["native_name"]),
        rtl=raw.get("dir") == "rtl",
        locales=tuple(str(x) for x in raw.get("locales", ())),
        ui=MappingProxyType(dict(raw["ui"])),
        standing=MappingProxyType(dict(raw["standing"])),
        origins=MappingProxyType(dict(raw["origins"])),
        classes=MappingProxyType(
            {
                str(k): ClassText(str(v["name"]), str(v["summary"]), tuple(v["keywords"]))
                for k, v in raw["classes"].items()
            }
        ),
        random_words=tuple(raw.get("random_words", ())),
        help_words=tuple(raw.get("help_words", ())),
        entries=MappingProxyType(
            {
                k: EntryText(v.get("name"), v["summary"], v["description"], tuple(v.get("keywords", ())))
                for k, v in raw["entries"].items()
            }
        ),
    )


class _LanguageTable(Mapping[str, Language]):
    """Language files, each read and parsed on first use.

    ``ask 404`` needs one language; building all twelve would triple its start-up time.
    """

    def __init__(self, folder: Path, codes: Iterable[str]) -> None:
        self._folder = folder
        self._codes = tuple(codes)
        self._built: dict[str, Language] = {}

    def __getitem__(self, code: str) -> Language:
        language = self._built.get(code)
        if language is None:
            if code not in self._codes:
                raise KeyError(code)
            path = self._folder / f"{code}.json"
            try:
                language = _language(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise CatalogueError(f"{path}: {exc!r}") from exc
            self._built[code] = language
        return language

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes)

    def __len__(self) -> int:
        return len(self._codes)

    def __contains__(self, code: object) -> bool:
        return code in self._codes

    def get(self, code: str, default: Any = None) -> Any:
        """The language, or ``default`` (a fast path: this sits under every reply)."""
        language = self._built.get(code)
        if language is not None:
            return language
        return self[code] if code in self._codes else default


def load(data_dir: Path | None = None, languages: Iterable[str] | None = None) -> Catalogue:
    """Read the facts and find the language files (each is parsed when first used).

    Languages without a data file are skipped; English is required. A malformed file raises
    :class:`CatalogueError` naming it.
    """
    folder = data_dir or DATA_DIR
    try:
        facts = json.loads((folder / "codes.json").read_text(encoding="utf-8"))
        entries = tuple(_entry(e) for e in facts["entries"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CatalogueError(f"{folder / 'codes.json'}: {exc!r}") from exc
    present = [code for code in languages or LANGUAGES if (folder / f"{code}.json").exists()]
    if "en" not in present:
        raise CatalogueError(f"{folder / 'en.json'} is missing")
    by_code: dict[int, list[Entry]] = {}
    for entry in entries:
        by_code.setdefault(entry.code, []).append(entry)
    return Catalogue(
        entries=entries,
        by_id=MappingProxyType({e.id: e for e in entries}),
        by_code=MappingProxyType({c: tuple(v) for c, v in sorted(by_code.items())}),
        languages=_LanguageTable(folder, present),
        popular=tuple(int(c) for c in facts.get("popular", ())),
        codes=tuple(sorted(by_code)),
    )


def _placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def validate(catalogue: Catalogue) -> list[str]:
    """Every problem in the catalogue, one line each; an empty list means it is sound."""
    problems: list[str] = []
    ids = [e.id for e in catalogue.entries]
    if len(set(ids)) != len(ids):
        problems.append("codes.json: duplicate entry ids")
    for entry in catalogue.entries:
        where = f"codes.json {entry.id}"
        if not 100 <= entry.code <= 599:
            problems.append(f"{where}: code out of range")
        if entry.standing not in STANDINGS:
            problems.append(f"{where}: unknown standing {entry.standing!r}")
        if (entry.standing == "unofficial") != (entry.origin is not None):
            problems.append(f"{where}: an origin goes with unofficial standing, and only there")
        for url in (entry.spec.url, entry.mdn):
            if url is not None and not _URL.match(url):
                problems.append(f"{where}: malformed link {url!r}")
        if not entry.spec.title.strip():
            problems.append(f"{where}: empty spec title")
        for code in entry.related:
            if code not in catalogue.by_code:
                problems.append(f"{where}: related code {code} is not in the catalogue")
    for code in catalogue.popular:
        if code not in catalogue.by_code:
            problems.append(f"codes.json popular: {code} is not in the catalogue")
    english = catalogue.languages.get("en")
    if english is None:
        return [*problems, "en.json is missing"]
    for lang in catalogue.languages.values():
        problems.extend(_validate_language(catalogue, lang, english))
    return problems


def _validate_language(catalogue: Catalogue, lang: Language, english: Language) -> list[str]:
    problems: list[str] = []
    where = f"{lang.code}.json"
    for key, english_text in english.ui.items():
        own = lang.ui.get(key)
        if not own or not own.strip():
            problems.append(f"{where}: ui.{key} is missing or empty")
        elif _placeholders(own) != _placeholders(english_text):
            problems.append(f"{where}: ui.{key} placeholders differ from English")
    problems.extend(f"{where}: ui.{k} is not in en.json" for k in lang.ui if k not in english.ui)
    for key in STANDINGS:
        if not lang.standing.get(key, "").strip():
            problems.append(f"{where}: standing.{key} is missing or empty")
    for key in english.origins:
        if not lang.origins.get(key, "").strip():
            problems.append(f"{where}: origins.{key} is missing or empty")
    for key in "12345":
        cls = lang.classes.get(key)
        if cls is None or not cls.name.strip() or not cls.summary.strip() or not cls.keywords:
            problems.append(f"{where}: classes.{key} is missing or incomplete")
    for locale in lang.locales:
        if locale.casefold().replace("_", "-").split("-")[0] != lang.code:
            problems.append(f"{where}: locale {locale} does not fall back to {lang.code}")
    if not lang.random_words:
        problems.append(f"{where}: random_words is empty")
    for entry in catalogue.entries:
        text = lang.entries.get(entry.id)
        if text is None:
            problems.append(f"{where}: entry {entry.id} is missing")
            continue
        problems.extend(_validate_text(f"{where} {entry.id}", entry, text, lang.code))
    problems.extend(
        f"{where}: entry {i} is not in codes.json" for i in lang.entries if i not in catalogue.by_id
    )
    return problems


def _validate_text(where: str, entry: Entry, text: EntryText, lang: str) -> list[str]:
    problems: list[str] = []
    if not text.summary.strip():
        problems.append(f"{where}: empty summary")
    elif len(text.summary) > SUMMARY_MAX:
        problems.append(f"{where}: summary is {len(text.summary)} characters (max {SUMMARY_MAX})")
    if text.summary.rstrip().endswith("."):
        problems.append(f"{where}: summary ends with a full stop")
    if not text.description.strip():
        problems.append(f"{where}: empty description")
    elif len(text.description) > DESCRIPTION_MAX:
        problems.append(f"{where}: description is {len(text.description)} characters")
    if not text.keywords or any(not k.strip() for k in text.keywords):
        problems.append(f"{where}: keywords missing or empty")
    if text.name is not None and not text.name.strip():
        problems.append(f"{where}: empty name")
    if entry.phrase is None and not text.name:
        problems.append(f"{where}: a code without a reason phrase needs a name")
    if lang != "en" and not text.name:
        problems.append(f"{where}: name missing")
    return problems
