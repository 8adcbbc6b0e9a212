"""The status-code catalogue: facts from ``data/codes.json`` and text from ``data/<lang>.json``.

Loaded once at start-up into immutable objects; :func:`validate` lists every problem so tests and
``check-config`` can report them all at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

DATA_DIR = Path(__file__).with_name("data")
LANGUAGES: tuple[str, ...] = ("en", "zh", "ru", "es", "pt", "hi", "ta", "de", "fr", "ar", "ja", "ko")
STANDINGS = ("registered", "deprecated", "temporary", "unused", "obsolete", "unofficial")
# Who produces a code: the origin server, an intermediary (proxy or gateway, a CDN, a load balancer),
# the client library itself (000), or a named server's own non-standard code (nginx 499, IIS 440).
SENT_BY = ("origin", "proxy", "cdn", "load_balancer", "client", "server_software")
# Whether repeating the request can help: no; yes (as it is); after a delay (Retry-After); after
# fixing the request.
RETRY = ("no", "yes", "after_delay", "after_change")
# The intermediaries and server software that a card names (the entry's origin says which).
NAMED_SENDERS = ("cdn", "load_balancer", "server_software")
SUMMARY_MAX = 100
DESCRIPTION_MAX = 900
# "What to check": two to four first checks per entry, each one short line.
CHECKS_MIN = 2
CHECKS_MAX = 4
CHECK_MAX = 240
MDN_PREFIX = "https://developer.mozilla.org/en-US/docs/"
# MDN's locales other than en-US (https://developer.mozilla.org/<locale>/docs/...).
MDN_LOCALES = ("de", "es", "fr", "ja", "ko", "pt-BR", "ru", "zh-CN", "zh-TW")
_FACTS = ("sent_by", "seen_by_client", "retry", "links")
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
class DocLink:
    """A vendor's own page about an entry: the ui key that names it, and its URL."""

    label: str
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
    sent_by: str
    """Who produces it: one of :data:`SENT_BY`."""
    seen_by_client: bool
    """False for codes that only appear in logs (nginx 444 and 499, AWS ALB 460)."""
    retry: str
    """Whether repeating the request helps: one of :data:`RETRY`."""
    links: tuple[DocLink, ...]
    """Vendor pages beyond the specification and MDN (labels are ui keys)."""

    @property
    def cls(self) -> str:
        """The class as people write it: ``4xx``."""
        return f"{self.code // 100}xx"

    @property
    def phrase(self) -> str | None:
        """The name to show after the code: the common name where the registry has none."""
        return self.common_name or self.reason

    @property
    def mdn_slug(self) -> str | None:
        """The MDN page's slug (``Web/HTTP/Reference/Status/404``), or ``None`` without one."""
        if self.mdn is None or not self.mdn.startswith(MDN_PREFIX):
            return None
        return self.mdn.removeprefix(MDN_PREFIX)


@dataclass(frozen=True, slots=True)
class EntryText:
    """One entry's text in one language."""

    name: str | None
    summary: str
    description: str
    keywords: tuple[str, ...]
    checks: tuple[str, ...] = ()
    """What to check first, two to four lines; empty for entries without a "what to check"."""


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
    mdn_locales: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Reply language → MDN locale (``pt`` → ``pt-BR``), from ``data/mdn_locales.json``."""
    mdn_pages: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    """MDN slug → the locales other than en-US in which MDN publishes that page."""
    origin_concepts: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    """Origin of unofficial codes → the lexicon concepts that name it (``esri`` → ``gis``): a
    vendor's own code answers a description that names the vendor, or leads by far."""

    def text(self, entry: Entry, lang: str) -> EntryText:
        """The entry's text in ``lang``, falling back to English."""
        language = self.languages.get(lang)
        if language is not None and entry.id in language.entries:
            return language.entries[entry.id]
        return self.languages["en"].entries[entry.id]

    def mdn_url(self, entry: Entry, lang: str) -> str | None:
        """The entry's MDN page in ``lang`` where MDN publishes one, else the en-US page."""
        slug = entry.mdn_slug
        locale = self.mdn_locales.get(lang)
        if entry.mdn is None or slug is None or locale is None or locale not in self.mdn_pages.get(slug, ()):
            return entry.mdn
        return f"https://developer.mozilla.org/{locale}/docs/{slug}"


def _entry(raw: Mapping[str, Any]) -> Entry:
    missing = [key for key in _FACTS if key not in raw]
    if missing:
        raise CatalogueError(f"entry {raw.get('id')!r} lacks {', '.join(missing)}")
    if not isinstance(raw["seen_by_client"], bool):
        raise CatalogueError(f"entry {raw.get('id')!r}: seen_by_client must be true or false")
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
        sent_by=str(raw["sent_by"]),
        seen_by_client=raw["seen_by_client"],
        retry=str(raw["retry"]),
        links=tuple(DocLink(str(link["label"]), str(link["url"])) for link in raw["links"]),
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
                k: EntryText(
                    v.get("name"),
                    v["summary"],
                    v["description"],
                    tuple(v.get("keywords", ())),
                    tuple(str(c) for c in v.get("checks", ())),
                )
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
    mdn_locales, mdn_pages = _mdn(folder / "mdn_locales.json")
    return Catalogue(
        entries=entries,
        by_id=MappingProxyType({e.id: e for e in entries}),
        by_code=MappingProxyType({c: tuple(v) for c, v in sorted(by_code.items())}),
        languages=_LanguageTable(folder, present),
        popular=tuple(int(c) for c in facts.get("popular", ())),
        codes=tuple(sorted(by_code)),
        mdn_locales=mdn_locales,
        mdn_pages=mdn_pages,
        origin_concepts=MappingProxyType(
            {str(k): tuple(str(c) for c in v) for k, v in facts.get("origin_concepts", {}).items()}
        ),
    )


def _mdn(path: Path) -> tuple[Mapping[str, str], Mapping[str, tuple[str, ...]]]:
    """Which MDN locale each language reads and where each page exists (none: every link en-US)."""
    if not path.exists():
        return MappingProxyType({}), MappingProxyType({})
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        languages = {str(k): str(v) for k, v in raw["languages"].items()}
        pages = {str(k): tuple(str(x) for x in v) for k, v in raw["pages"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CatalogueError(f"{path}: {exc!r}") from exc
    return MappingProxyType(languages), MappingProxyType(pages)


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
        problems.extend(_validate_facts(where, entry))
    for code in catalogue.popular:
        if code not in catalogue.by_code:
            problems.append(f"codes.json popular: {code} is not in the catalogue")
    problems.extend(_validate_mdn(catalogue))
    english = catalogue.languages.get("en")
    if english is None:
        return [*problems, "en.json is missing"]
    for entry in catalogue.entries:
        problems.extend(
            f"codes.json {entry.id}: link label {link.label!r} is not a ui key of en.json"
            for link in entry.links
            if link.label not in english.ui
        )
    for lang in catalogue.languages.values():
        problems.extend(_validate_language(catalogue, lang, english))
    return problems


def _validate_facts(where: str, entry: Entry) -> list[str]:
    problems: list[str] = []
    if entry.sent_by not in SENT_BY:
        problems.append(f"{where}: unknown sent_by {entry.sent_by!r}")
    elif entry.sent_by in NAMED_SENDERS and entry.origin is None:
        problems.append(f"{where}: sent_by {entry.sent_by} needs an origin that names the sender")
    if entry.retry not in RETRY:
        problems.append(f"{where}: unknown retry {entry.retry!r}")
    labels = [link.label for link in entry.links]
    if len(set(labels)) != len(labels) or {"button_spec", "button_mdn"} & set(labels):
        problems.append(f"{where}: a card shows each link label once")
    seen = {entry.spec.url, entry.mdn}
    for link in entry.links:
        if not _URL.match(link.url):
            problems.append(f"{where}: malformed link {link.url!r}")
        if link.url in seen:
            problems.append(f"{where}: link {link.url} is there twice")
        seen.add(link.url)
    if entry.mdn is not None and entry.mdn_slug is None:
        problems.append(f"{where}: the MDN link is not an en-US page under {MDN_PREFIX}")
    return problems


def _validate_mdn(catalogue: Catalogue) -> list[str]:
    """The MDN locale list covers every entry with an MDN page, and names only MDN's locales."""
    if not catalogue.mdn_pages:
        return []
    where = "mdn_locales.json"
    problems: list[str] = []
    for lang, locale in catalogue.mdn_locales.items():
        if lang not in LANGUAGES:
            problems.append(f"{where}: {lang} is not a language of the catalogue")
        if locale != "en-US" and locale not in MDN_LOCALES:
            problems.append(f"{where}: {locale} is not an MDN locale")
    slugs = {e.mdn_slug for e in catalogue.entries if e.mdn_slug is not None}
    missing = sorted(slugs - set(catalogue.mdn_pages))
    problems.extend(f"{where}: no locale list for {slug}" for slug in missing)
    for slug, locales in catalogue.mdn_pages.items():
        if slug not in slugs:
            problems.append(f"{where}: {slug} is no entry's MDN page")
        problems.extend(f"{where}: {slug}: {x} is not an MDN locale" for x in locales if x not in MDN_LOCALES)
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
        problems.extend(_validate_checks(f"{where} {entry.id}", text, english.entries.get(entry.id)))
    problems.extend(
        f"{where}: entry {i} is not in codes.json" for i in lang.entries if i not in catalogue.by_id
    )
    return problems


def _validate_checks(where: str, text: EntryText, english: EntryText | None) -> list[str]:
    """Every language has as many checks as English, each one a non-empty line within limits."""
    wanted = len(english.checks) if english is not None else 0
    problems: list[str] = []
    if len(text.checks) != wanted:
        problems.append(f"{where}: {len(text.checks)} checks where English has {wanted}")
    if text.checks and not CHECKS_MIN <= len(text.checks) <= CHECKS_MAX:
        problems.append(f"{where}: {len(text.checks)} checks (from {CHECKS_MIN} to {CHECKS_MAX})")
    for check in text.checks:
        if not check.strip() or "\n" in check:
            problems.append(f"{where}: a check is empty or spans lines")
        elif len(check) > CHECK_MAX:
            problems.append(f"{where}: a check is {len(check)} characters (max {CHECK_MAX})")
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
