"""The shared handler: a :class:`Request` in, a platform-neutral :class:`Reply` out."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from handlers.catalogue import Catalogue, Entry, Language
from handlers.compare import arabic_and
from handlers.languages import lookup, resolve
from handlers.logs.explain import MAX_EXPLAIN_BYTES
from handlers.models import ErrorKind, Facts, Field, Item, Link, Reply, Request
from handlers.normalise import fold, script, words
from handlers.query_parser import MAX_QUERY, Parsed, codes_in_text, parse
from handlers.typography import labelled, listing

if TYPE_CHECKING:
    from handlers.compare import Grammar
    from handlers.search import Hit, SearchIndex

CLASS_COLOURS = {1: 0x95A5A6, 2: 0x2ECC71, 3: 0x3498DB, 4: 0xE67E22, 5: 0xE74C3C}
NEUTRAL_COLOUR = 0x5865F2
# Confidence of a word search (scores are the share of the query an entry explains, 0 to 1):
# one card only when the best code explains most of the query and clearly leads the next code;
# a short list when several are close; "no match" when nothing explains enough of it.
_NO_MATCH = 0.25
_WEAK_MATCH = 0.45
_MIN_MATCHED = 0.34
_CARD_MIN = 0.6
# The lead a card needs over the next code shrinks as the best match gets closer to exact:
# "unauthorized" names 401 exactly, and 561 (the balancer's "Unauthorized") only as a variant.
_CARD_LEADS = ((0.9, 1.06), (0.7, 1.17), (0.0, 1.35))
_FUZZY_CARD_MIN = 0.7
# A card also needs most of the query's words to have matched the code at all.
_CARD_MATCHED = 0.6
_LIST_SHARE = 0.6
_MAX_CANDIDATES = 5
# Below this, a near miss is not worth offering as a suggestion either.
_SUGGEST_MIN = 0.15
# A part of a comparison names a code when a search for it is this sure.
_PART_MIN = 0.6
_PART_MIN_UNMARKED = 0.75
# 000 in a log: no server answered; the client library wrote it. Worth another try.
NO_RESPONSE_FACTS = Facts(sent_by="client", seen_by_client=True, retry="yes")
# Each "what to check" line starts with this, one check per line.
CHECK_BULLET = "• "
# Words that clear a chat's language preference in /lang.
RESET_WORDS = frozenset({"reset", "auto", "default", "clear", "off", "none"})


def _lead(score: float) -> float:
    """How far ahead of the next code a best match of ``score`` must be to stand alone."""
    return next(lead for floor, lead in _CARD_LEADS if score >= floor)


class Handler:
    """Answers queries from one catalogue; pure and synchronous, safe to share between adapters."""

    def __init__(self, catalogue: Catalogue, rng: random.Random | None = None) -> None:
        self.catalogue = catalogue
        self._rng = rng or random.Random()
        self._locales = {code: code for code in catalogue.languages}
        self._random_words_cache: frozenset[str] | None = None
        self._help_words_cache: frozenset[str] | None = None
        self._units_cache: tuple[frozenset[str], frozenset[str], frozenset[str]] | None = None
        self._known = frozenset(catalogue.by_code)
        self._index: SearchIndex | None = None
        self._item_cache: dict[tuple[int, str], Item] = {}
        self._card_cache: dict[tuple[int, str], Reply] = {}
        self._reason_phrases = {
            e.id: e.phrase for e in catalogue.entries if e.phrase and not e.phrase.startswith("(")
        }

    @property
    def _random_words(self) -> frozenset[str]:
        # Read from every language file, so only when a query needs it (not for "404").
        if self._random_words_cache is None:
            languages = self.catalogue.languages.values()
            words = (" ".join(fold(w).split()) for lang in languages for w in lang.random_words)
            self._random_words_cache = frozenset(words)
        return self._random_words_cache

    @property
    def _help_words(self) -> frozenset[str]:
        if self._help_words_cache is None:
            languages = self.catalogue.languages.values()
            words = (" ".join(fold(w).split()) for lang in languages for w in lang.help_words)
            self._help_words_cache = frozenset(words)
        return self._help_words_cache

    def asks_random(self, text: str) -> bool:
        """Whether ``text`` asks for a random code (``random``, ``aléatoire``...), in any language."""
        return " ".join(fold(text).split()) in self._random_words

    @property
    def index(self) -> SearchIndex:
        """The word-search index, built on first use so that code lookups start fast."""
        if self._index is None:
            # Imported here: rapidfuzz and the index are not needed to look up "404".
            from handlers.search import SearchIndex

            self._index = SearchIndex(self.catalogue)
        return self._index

    def warm(self) -> None:
        """Build the search index now (long-running adapters call this at start-up)."""
        _ = self.index

    @property
    def languages(self) -> tuple[str, ...]:
        """Codes of the languages the catalogue speaks."""
        return tuple(self.catalogue.languages)

    def language(self, candidates: Iterable[str | None]) -> str:
        """The reply language for preferences listed strongest first (English as fallback)."""
        return resolve(candidates, self._locales)

    def supported(self, candidate: str | None) -> str | None:
        """The language a locale or language name maps to, or ``None`` when none fits."""
        return lookup(candidate, self._locales)

    def language_choice(self, value: str) -> str | None:
        """What ``/lang VALUE`` asks for: a language code, ``""`` to clear the chat's preference
        (``reset``, ``auto``...), or ``None`` when nothing fits. Codes, locales, native and English
        names are understood (``de``, ``pt-BR``, ``Deutsch``, ``German``).
        """
        folded = value.strip().casefold()
        if folded in RESET_WORDS:
            return ""
        found = self.supported(folded)
        if found:
            return found
        for code, language in self.catalogue.languages.items():
            if folded in (language.native_name.casefold(), language.name.casefold()):
                return code
        return None

    def available_languages(self) -> str:
        """Every language as people recognise it: ``English (en), 中文 (zh), ...``."""
        languages = self.catalogue.languages
        return ", ".join(f"{languages[code].native_name} ({code})" for code in languages)

    def ui(self, lang: str, key: str, **values: object) -> str:
        """A localised interface string with its placeholders filled."""
        text = self._lang(lang).ui.get(key) or self.catalogue.languages["en"].ui[key]
        return text.format(**values) if values else text

    def _lang(self, lang: str) -> Language:
        return self.catalogue.languages.get(lang) or self.catalogue.languages["en"]

    # ---- entry points -------------------------------------------------------------------

    def answer(self, request: Request) -> Reply:
        """Answer one request. Nothing a user types makes this raise."""
        lang = self.language(request.langs)
        if request.mode == "explain":
            return self._explain(request.text, lang)
        parsed = parse(request.text)
        if parsed.kind == "words":
            if parsed.folded in self._random_words:
                parsed = Parsed("random", parsed.folded)
            elif parsed.folded.lstrip("/") in self._help_words:
                parsed = Parsed("help", parsed.folded)
        elif parsed.kind in ("code", "codes"):
            parsed = self._numbers_in_words(parsed)
        query = request.text
        match parsed.kind:
            case "empty" | "help":
                return self.help(lang, query)
            case "out_of_range":
                return self._error(
                    query, lang, "out_of_range", self.ui(lang, "err_out_of_range", code=parsed.prefix)
                )
            case "too_long":
                return self._error(query, lang, "too_long", self.ui(lang, "err_too_long", limit=MAX_QUERY))
            case "random":
                code = self._rng.choice(self.catalogue.codes)
                return self.card(code, lang, query)
            case "code":
                return self._code(parsed.codes[0], lang, query)
            case "codes":
                compared = self._compare_codes(parsed.codes, parsed.folded, lang, query)
                return compared or self._codes(parsed.codes, lang, query)
            case "class" | "pattern":
                return self._class(parsed, lang, query)
            case _:
                return self._words(parsed.folded, lang, query)

    def suggest(self, text: str, langs: Sequence[str | None] = (), limit: int = 25) -> list[Item]:
        """Choices for autocomplete and inline queries, best first (popular codes when empty)."""
        lang = self.language(langs)
        stripped = text.strip()
        if not stripped:
            return self._items(self._dedupe_codes(self.catalogue.popular), lang, limit)
        digits = fold(stripped).lstrip("#")
        if digits.isdecimal() and len(digits) <= 3:
            # "50" lists 500-509 first, then the rest of the class (510, 511...).
            codes = [c for c in self.catalogue.codes if str(c).startswith(digits)]
            codes += [c for c in self._members(digits[0]) if c not in codes]
            if len(digits) == 3 and int(digits) in self._known:
                first = self.catalogue.by_code[int(digits)][0]
                codes = [first.code, *(c for c in first.related if c != first.code)]
            return self._items(codes, lang, limit)
        parsed = parse(stripped)
        if parsed.kind in ("class", "pattern"):
            return self._items(self._members(parsed.prefix), lang, limit)
        compared = self.answer(Request(stripped, (lang,))) if self._may_compare(parsed) else None
        if compared is not None and compared.kind == "compare":
            # The comparison itself first, then each code's card.
            row = Item(compared.codes[0], "+".join(map(str, compared.codes)), compared.title, "", stripped)
            return [row, *self._items(compared.codes, lang, limit - 1)]
        if parsed.kind in ("code", "codes"):
            return self._items([c for c in parsed.codes if c in self._known], lang, limit)
        if parsed.kind != "words":
            return []
        hits = self.index.search(parsed.folded, limit=limit * 2, prefix_last=True, preferred=(lang,))
        found: list[int] = []
        for hit in hits:
            if hit.is_topic:
                continue
            if hit.is_class:
                found.extend(self._members(hit.key[-1]))
            else:
                found.append(self.catalogue.by_id[hit.key].code)
        return self._items(self._dedupe_codes(found), lang, limit)

    def _may_compare(self, parsed: Parsed) -> bool:
        """Whether a query has the words of a comparison at all (a cheap test before asking)."""
        from handlers.compare import asks_comparison, split

        if parsed.kind not in ("codes", "words"):
            return False
        grammar = self._grammar()
        return split(parsed.folded, grammar) is not None or asks_comparison(parsed.folded, grammar)

    def card(self, code: int, lang: str, query: str = "") -> Reply:
        """The full card for a catalogued code (every meaning it has)."""
        # Cards are immutable and few (codes × languages): build each once.
        card = self._card_cache.get((code, lang))
        if card is None:
            card = self._card_cache[(code, lang)] = self._build_card(code, lang)
        return card if card.query == query else replace(card, query=query)

    def _build_card(self, code: int, lang: str) -> Reply:
        entries = self.catalogue.by_code[code]
        primary = entries[0]
        language = self._lang(lang)
        text = self.catalogue.text(primary, lang)
        fields = [
            Field(self.ui(lang, "field_class"), self._class_label(primary.code // 100, language)),
            Field(self.ui(lang, "field_standing"), self._standing_and_spec(primary, language)),
            Field(self.ui(lang, "field_sent_by"), self._sent_by(primary, language)),
        ]
        # Nobody retries a 1xx or a 2xx: the question arises from redirects on.
        if primary.code >= 300:
            fields.append(Field(self.ui(lang, "field_retry"), self.ui(lang, f"retry_{primary.retry}")))
        if not primary.seen_by_client:
            fields.append(
                Field(self.ui(lang, "field_seen_by_client"), self.ui(lang, "seen_by_client_no"), inline=False)
            )
        if text.checks:
            checks = "\n".join(f"{CHECK_BULLET}{check}" for check in text.checks)
            fields.append(Field(self.ui(lang, "field_checks"), checks, inline=False))
        if primary.related:
            related = listing((self.title(c, lang) for c in primary.related if c in self._known), lang)
            fields.append(Field(self.ui(lang, "field_related"), related, inline=False))
        if primary.headers:
            fields.append(Field(self.ui(lang, "field_headers"), listing(primary.headers, lang)))
        if primary.former_names:
            fields.append(Field(self.ui(lang, "field_former_names"), listing(primary.former_names, lang)))
        for other in entries[1:]:
            other_text = self.catalogue.text(other, lang)
            label = self.ui(
                lang,
                "field_also",
                title=self._entry_title(other, lang),
                origin=language.origins.get(other.origin or "", other.origin or ""),
            )
            fields.append(Field(label, f"{other_text.summary}\n{other_text.description}", inline=False))
        return Reply(
            kind="entry",
            query="",
            lang=language.code,
            title=self._entry_title(primary, lang),
            summary=text.summary,
            body=text.description,
            fields=tuple(fields),
            links=self._links(primary, language.code),
            codes=(code,),
            code_class=primary.cls,
            colour=CLASS_COLOURS[code // 100],
            rtl=language.rtl,
            facts=Facts(primary.sent_by, primary.seen_by_client, primary.retry),
        )

    def _links(self, entry: Entry, lang: str) -> tuple[Link, ...]:
        """Specification, MDN in the reader's language, then the vendor's pages; each URL once."""
        candidates = [(self.ui(lang, "button_spec"), entry.spec.url)]
        mdn = self.catalogue.mdn_url(entry, lang)
        if mdn is not None:
            candidates.append((self.ui(lang, "button_mdn"), mdn))
        candidates += [(self.ui(lang, link.label), link.url) for link in entry.links]
        links: list[Link] = []
        seen: set[str] = set()
        for label, url in candidates:
            if url not in seen and label not in {link.label for link in links}:
                seen.add(url)
                links.append(Link(label, url))
        return tuple(links)

    def help(self, lang: str, query: str = "") -> Reply:
        """The help text."""
        language = self._lang(lang)
        body = f"{self.ui(lang, 'help_body')}\n\n{self.ui(lang, 'help_examples')}"
        return Reply(
            kind="help",
            query=query,
            lang=language.code,
            title=self.ui(lang, "help_title"),
            body=body,
            colour=NEUTRAL_COLOUR,
            rtl=language.rtl,
        )

    def title(self, code: int, lang: str) -> str:
        """``404 Not Found`` (with the language's own name beside it where it has one)."""
        return self._entry_title(self.catalogue.by_code[code][0], lang)

    # ---- pieces -------------------------------------------------------------------------

    def _entry_title(self, entry: Entry, lang: str) -> str:
        text = self.catalogue.text(entry, lang)
        phrase = entry.phrase
        if phrase is None:
            return f"{entry.code} {text.name}"
        if lang != "en" and text.name and fold(text.name) != fold(phrase):
            return f"{entry.code} {phrase} · {text.name}"
        return f"{entry.code} {phrase}"

    def _class_label(self, digit: int, language: Language) -> str:
        cls = language.classes.get(str(digit))
        return f"{digit}xx · {cls.name}" if cls else f"{digit}xx"

    def _standing(self, entry: Entry, language: Language) -> str:
        label = language.standing.get(entry.standing, entry.standing)
        if entry.origin:
            return f"{label} · {language.origins.get(entry.origin, entry.origin)}"
        return label

    def _standing_and_spec(self, entry: Entry, language: Language) -> str:
        """The standing and, for registered values, where they are defined: the Specification
        button opens it (an unofficial code's vendor page is named by the button alone)."""
        standing = self._standing(entry, language)
        return standing if entry.origin else f"{standing} · {entry.spec.title}"

    def _sent_by(self, entry: Entry, language: Language) -> str:
        origin = language.origins.get(entry.origin or "", entry.origin or "")
        return self.ui(language.code, f"sent_by_{entry.sent_by}", origin=origin)

    def _items(self, codes: Iterable[int], lang: str, limit: int | None = None) -> list[Item]:
        items: list[Item] = []
        for code in codes:
            if limit is not None and len(items) >= limit:
                break
            # Rows are immutable and few (codes × languages): autocomplete builds 25 per keystroke.
            item = self._item_cache.get((code, lang))
            if item is None:
                entry = self.catalogue.by_code[code][0]
                text = self.catalogue.text(entry, lang)
                item = Item(code, entry.id, self._entry_title(entry, lang), text.summary)
                self._item_cache[(code, lang)] = item
            items.append(item)
        return items

    @staticmethod
    def _dedupe_codes(codes: Iterable[int]) -> list[int]:
        return list(dict.fromkeys(codes))

    def _members(self, prefix: str) -> list[int]:
        return [c for c in self.catalogue.codes if str(c).startswith(prefix)]

    def _error(
        self,
        query: str,
        lang: str,
        error: ErrorKind,
        body: str,
        items: Sequence[Item] = (),
    ) -> Reply:
        language = self._lang(lang)
        return Reply(
            kind="error",
            query=query,
            lang=language.code,
            title=self.ui(lang, "error_title"),
            body=body,
            items=tuple(items),
            codes=tuple(i.code for i in items),
            error=error,
            colour=NEUTRAL_COLOUR,
            rtl=language.rtl,
        )

    def _code(self, code: int, lang: str, query: str) -> Reply:
        if code in self._known:
            return self.card(code, lang, query)
        language = self._lang(lang)
        if code == 0:
            facts = NO_RESPONSE_FACTS
            return Reply(
                kind="entry",
                query=query,
                lang=language.code,
                title=self.ui(lang, "no_response_title"),
                body=self.ui(lang, "no_response_body"),
                fields=(
                    Field(self.ui(lang, "field_sent_by"), self.ui(lang, f"sent_by_{facts.sent_by}")),
                    Field(self.ui(lang, "field_retry"), self.ui(lang, f"retry_{facts.retry}")),
                ),
                codes=(0,),
                colour=NEUTRAL_COLOUR,
                rtl=language.rtl,
                facts=facts,
            )
        if not 100 <= code <= 599:
            shown = str(code) if code < 10**12 else "…"
            return self._error(query, lang, "out_of_range", self.ui(lang, "err_out_of_range", code=shown))
        digit = code // 100
        base = digit * 100
        cls = f"{digit}xx"
        return Reply(
            kind="unassigned",
            query=query,
            lang=language.code,
            title=self.ui(lang, "unassigned_title", code=code),
            body=self.ui(
                lang,
                "unassigned_body",
                code=code,
                cls=cls,
                class_name=language.classes[str(digit)].name,
                base=base,
                base_name=self.title(base, lang).split(" ", 1)[1],
            ),
            codes=(code,),
            code_class=cls,
            colour=CLASS_COLOURS[digit],
            rtl=language.rtl,
        )

    def _codes(self, codes: Sequence[int], lang: str, query: str) -> Reply:
        known = [c for c in codes if c in self._known]
        if not known:
            return self._code(codes[0], lang, query)
        if len(known) == 1:
            return self.card(known[0], lang, query)
        return self._list(query, lang, self.ui(lang, "list_title_search", query=query.strip()), known)

    def _list(
        self,
        query: str,
        lang: str,
        title: str,
        codes: Sequence[int],
        body: str = "",
        code_class: str | None = None,
    ) -> Reply:
        language = self._lang(lang)
        digits = {c // 100 for c in codes}
        colour = CLASS_COLOURS[digits.pop()] if len(digits) == 1 else NEUTRAL_COLOUR
        return Reply(
            kind="list",
            query=query,
            lang=language.code,
            title=title,
            body=body,
            items=tuple(self._items(codes, lang)),
            codes=tuple(codes),
            code_class=code_class,
            colour=colour,
            rtl=language.rtl,
        )

    def _class(self, parsed: Parsed, lang: str, query: str) -> Reply:
        members = self._members(parsed.prefix)
        digit = int(parsed.prefix[0])
        language = self._lang(lang)
        cls = language.classes[str(digit)]
        if parsed.kind == "class":
            title = self.ui(lang, "list_title_class", cls=f"{digit}xx", class_name=cls.name)
            return self._list(query, lang, title, members, cls.summary, f"{digit}xx")
        title = self.ui(lang, "list_title_pattern", pattern=f"{parsed.prefix}x")
        if not members:
            return self._code(int(parsed.prefix) * 10, lang, query)
        return self._list(query, lang, title, members, code_class=f"{digit}xx")

    def ranked(self, text: str, limit: int = 10, lang: str = "en") -> list[str]:
        """What a word query finds, best first: codes as strings, classes as ``4xx``.

        The codes named by a comparison (``unauthorized vs forbidden``) come first, in order.
        """
        folded = " ".join(fold(text).split())
        out = [str(c) for c in self._compared(folded, lang)]
        for hit in self.index.search(folded, limit=limit, preferred=(lang,)):
            if hit.is_topic:
                key = hit.key
            elif hit.is_class:
                key = f"{hit.key[-1]}xx"
            else:
                key = str(self.catalogue.by_id[hit.key].code)
            if key not in out:
                out.append(key)
        return out[:limit]

    def _numbers_in_words(self, parsed: Parsed) -> Parsed:
        """A description that mentions numbers: which of them are status codes.

        ``nginx 499`` and ``getting 502 from cloudflare`` name a code; in "cloudflare times out
        after 100 seconds" or "plain HTTP to port 443", the number is a quantity or a port, and
        the words are what to search. Only catalogued codes not next to a unit count.
        """
        tokens = words(arabic_and(parsed.folded))
        if sum(1 for t in tokens if not t.isdecimal()) < 2:
            return parsed
        units, before, stopwords = self._units()
        if sum(1 for t in tokens if not t.isdecimal() and t not in stopwords) < 2:
            return parsed
        kept: list[int] = []
        for i, token in enumerate(tokens):
            if not token.isdecimal() or len(token) > 3:
                continue
            # "000" is how curl and browsers' tools show that no response came at all.
            if int(token) not in self._known and token != "000":
                continue
            after_word = tokens[i + 1] if i + 1 < len(tokens) else ""
            before_word = tokens[i - 1] if i else ""
            if after_word in units or before_word in before:
                continue
            # "100秒", "30초": a CJK unit is written against the number, inside a longer run.
            if after_word and script(after_word) == "cjk" and any(map(after_word.startswith, units)):
                continue
            kept.append(int(token))
        kept = self._dedupe_codes(kept)
        if not kept:
            return Parsed("words", parsed.folded)
        return Parsed("code" if len(kept) == 1 else "codes", parsed.folded, codes=tuple(kept))

    def _units(self) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        """Units after and before quantities, and stopwords, of every language (read once)."""
        if self._units_cache is None:
            from handlers.lexicon import lexicon

            lexicons = [lexicon(lang) for lang in self.catalogue.languages]
            self._units_cache = (
                frozenset().union(*(lex.units for lex in lexicons)),
                frozenset().union(*(lex.before_units for lex in lexicons)),
                frozenset().union(*(lex.stopwords for lex in lexicons)),
            )
        return self._units_cache

    # ---- comparisons ------------------------------------------------------------------

    def _grammar(self, languages: tuple[str, ...] | None = None) -> Grammar:
        from handlers.compare import grammar

        return grammar(languages or tuple(self.catalogue.languages))

    def _compared(self, folded: str, lang: str, written: str | None = None) -> list[int]:
        """The two or more codes a query compares, in the order asked; empty when it compares none.

        Words are split with the separators of the language the query is written in (and the
        reply language's, and English): Spanish "o" is "or", but Portuguese "o" is "the".
        """
        from handlers.compare import split

        if written is None:
            written = self.index.query_language(words(folded), (lang,))
        found = split(folded, self._grammar(tuple(dict.fromkeys((written, lang, "en")))))
        if found is None:
            return []
        codes: list[int] = []
        for part in found.parts:
            code = self._part_code(part, lang, found.marked)
            if code is None:
                return []
            codes.append(code)
        codes = self._dedupe_codes(codes)
        return codes if len(codes) >= 2 else []

    def _part_code(self, part: str, lang: str, marked: bool) -> int | None:
        """The code one side of a comparison names: a number, or words a search is sure of."""
        parsed = parse(part)
        if parsed.kind == "code":
            return parsed.codes[0] if parsed.codes[0] in self._known else None
        if parsed.kind != "words":
            return None
        hits = [h for h in self.index.search(parsed.folded, limit=6, preferred=(lang,)) if not h.is_topic]
        if not hits or hits[0].is_class:
            return None
        top = hits[0]
        code = self.catalogue.by_id[top.key].code
        others = [h.score for h in hits[1:] if h.is_class or self.catalogue.by_id[h.key].code != code]
        floor = _PART_MIN if marked else _PART_MIN_UNMARKED
        if top.score < floor or (others and top.score < _lead(top.score) * others[0]):
            return None
        return code

    def _compare_codes(self, codes: Sequence[int], folded: str, lang: str, query: str) -> Reply | None:
        """``401 vs 403``: a comparison when the words around two codes ask for one."""
        from handlers.compare import asks_comparison, split

        known = [c for c in codes if c in self._known]
        if len(known) != 2:
            return None
        grammar = self._grammar()
        if split(folded, grammar) is None and not asks_comparison(folded, grammar):
            return None
        return self.compare(known[0], known[1], lang, query)

    def compare(self, first: int, second: int, lang: str, query: str = "") -> Reply:
        """Two codes side by side: the written comparison where there is one, else what differs."""
        from handlers.compare import written

        language = self._lang(lang)
        a, b = self.catalogue.by_code[first][0], self.catalogue.by_code[second][0]
        text = written(language.code).get(frozenset((first, second)))
        if text is None and language.code != "en":
            text = None
        fields = [
            Field(self._entry_title(a, lang), self.catalogue.text(a, lang).summary, inline=False),
            Field(self._entry_title(b, lang), self.catalogue.text(b, lang).summary, inline=False),
        ]
        differences: list[tuple[str, str, str]] = []
        if a.code // 100 != b.code // 100:
            classes = (self._class_label(a.code // 100, language), self._class_label(b.code // 100, language))
            differences.append(("field_class", *classes))
        if (a.standing, a.origin) != (b.standing, b.origin):
            differences.append(("field_standing", self._standing(a, language), self._standing(b, language)))
        if a.retry != b.retry:
            differences.append(
                ("field_retry", self.ui(lang, f"retry_{a.retry}"), self.ui(lang, f"retry_{b.retry}"))
            )
        if differences:
            lines = (
                labelled(self.ui(lang, key), f"{one} ≠ {other}", lang) for key, one, other in differences
            )
            fields.append(Field(self.ui(lang, "compare_differs"), "\n".join(lines), inline=False))
        body = text if text is not None else self.ui(lang, "compare_generic")
        return Reply(
            kind="compare",
            query=query,
            lang=language.code,
            title=self.ui(lang, "compare_title", a=self._entry_title(a, lang), b=self._entry_title(b, lang)),
            body=body,
            fields=tuple(fields),
            items=tuple(self._items((first, second), lang)),
            codes=(first, second),
            colour=CLASS_COLOURS[first // 100] if first // 100 == second // 100 else NEUTRAL_COLOUR,
            rtl=language.rtl,
        )

    # ---- words --------------------------------------------------------------------------

    def _words(self, folded: str, lang: str, query: str) -> Reply:
        found = self.index.query(folded, limit=12, preferred=(lang,))
        if not found.meaningful:
            return self._error(query, lang, "empty_input", self.ui(lang, "err_empty"))
        compared = self._compared(folded, lang, found.lang)
        if len(compared) == 2:
            return self.compare(compared[0], compared[1], lang, query)
        title = self.ui(lang, "list_title_search", query=query.strip())
        if compared:
            return self._list(query, lang, title, compared)
        hits = found.hits
        if (
            not hits
            or hits[0].score < _NO_MATCH
            or (hits[0].score < _WEAK_MATCH and hits[0].matched < _MIN_MATCHED)
        ):
            # Nothing explains enough of it, or only a word or two of a longer sentence match:
            # an off-topic sentence ("what time does the bakery close") is no question for us.
            return self._no_match(query, lang, hits)
        top = hits[0]
        if top.is_class:
            return self._class(Parsed("class", folded, prefix=top.key[-1]), lang, query)
        if top.is_topic:
            # A topic answers like a card: only when it clearly leads what comes next.
            runner_up = next((h.score for h in hits[1:] if not h.is_topic), 0.0)
            if (
                top.score >= _CARD_MIN
                and top.score >= _lead(top.score) * runner_up
                and top.matched >= _CARD_MATCHED
            ):
                return self._topic(top.key, lang, query)
            hits = [h for h in hits if not h.is_topic]
            if not hits:
                return self._no_match(query, lang, hits)
            top = hits[0]
            if top.is_class:
                return self._class(Parsed("class", folded, prefix=top.key[-1]), lang, query)
        codes: list[int] = []
        scores: list[float] = []
        for hit in hits:
            if hit.is_class or hit.is_topic:
                continue
            code = self.catalogue.by_id[hit.key].code
            if code not in codes:
                codes.append(code)
                scores.append(hit.score)
        second = scores[1] if len(scores) > 1 else 0.0
        card_min = _FUZZY_CARD_MIN if top.fuzzy else _CARD_MIN
        if top.score >= card_min and top.score >= _lead(top.score) * second and top.matched >= _CARD_MATCHED:
            return self.card(codes[0], lang, query)
        shortlist = [c for c, v in zip(codes, scores, strict=True) if v >= top.score * _LIST_SHARE]
        return self._list(query, lang, title, shortlist[:_MAX_CANDIDATES])

    def _topic(self, key: str, lang: str, query: str) -> Reply:
        """Problems that are no single status code: redirect loops, no response at all."""
        name = key.split(":", 1)[1]
        if name == "no_response":
            return self._code(0, lang, query)
        self._lang(lang)
        members = self._members("3")
        return self._list(
            query,
            lang,
            self.ui(lang, "topic_redirect_loop_title"),
            members,
            self.ui(lang, "topic_redirect_loop_body"),
            "3xx",
        )

    def _no_match(self, query: str, lang: str, hits: Sequence[Hit]) -> Reply:
        codes = self._dedupe_codes(
            self.catalogue.by_id[h.key].code
            for h in hits
            if not (h.is_class or h.is_topic) and h.score >= _SUGGEST_MIN
        )
        items = self._items(codes[:3], lang)
        body = f"{self.ui(lang, 'err_no_match', query=query.strip())} {self.ui(lang, 'err_no_match_help')}"
        if items:
            body = f"{body} {self.ui(lang, 'err_no_match_suggest')}"
        return self._error(query, lang, "no_match", body, items)

    def _explain(self, text: str, lang: str) -> Reply:
        # A pasted log line or block may be long (a combined-log line with a browser's user
        # agent is over 256 characters); 8 KiB is the limit, in UTF-8 bytes.
        if len(text.encode("utf-8", "surrogatepass")) > MAX_EXPLAIN_BYTES:
            body = self.ui(lang, "err_explain_too_long", limit=MAX_EXPLAIN_BYTES // 1024)
            return self._error(text, lang, "too_long", body)
        codes = codes_in_text(unicodedata.normalize("NFKC", text), self._known)
        if not codes:
            return self._error(text, lang, "no_match", self.ui(lang, "explain_none"))
        known = [c for c in codes if c in self._known]
        if len(codes) == 1:
            return self._code(codes[0], lang, text)
        if not known:
            return self._code(codes[0], lang, text)
        return self._list(text, lang, self.ui(lang, "list_title_explain"), known)
