"""Word search over the catalogue in every language: names, keywords and situations.

People describe what happened ("my api key was rejected", "ce nom d'utilisateur est déjà pris")
far more often than they type a reason phrase, so every entry is indexed with the everyday
situations in which people meet it (``data/situations/<lang>.json``) beside its names and
keywords. The index is one inverted index over every language:

- **Terms** are Snowball stems (PyStemmer) for the languages Snowball knows, character bigrams and
  whole runs for Chinese, Japanese and Korean, and English stems for Latin-script loanwords inside
  other languages ("API", "token", "nginx"). A query word is stemmed by every stemmer of its script,
  so the query's language need not be known to match; it is guessed only to drop its stopwords.
- **Concepts** (``data/lexicon/<lang>.json``) map synonyms of every language onto one term
  (token / jeton / トークン / டோக்கன் → ``@credentials``), so a description finds situations
  written with other words, or in another language.
- **Weights**: BM25's inverse document frequency, so "server" or "error" (in most entries) count
  for little and "token" or "cookie" for a lot; weak words listed per language count less again.
- **Scores** combine how much of the query an entry explains over all its texts with the best
  single text that explains the query's words together (a situation that says the same thing).
  Both are fractions of the query's weight, so a score near 1 means "this entry says exactly
  that" and the handler can tell a clear answer from a guess.

A scan of every phrase with a fuzzy scorer would cost tens of milliseconds per query; typos are
instead matched (rapidfuzz) only against the vocabulary of distinct words of a similar length.
"""

from __future__ import annotations

import hashlib
import marshal
import math
import os
import sys
import tempfile
from array import array
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Mapping, Sized
from dataclasses import dataclass
from heapq import nlargest
from operator import itemgetter
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from handlers import lexicon as lexicon_module
from handlers import normalise as normalise_module
from handlers.catalogue import DATA_DIR, Catalogue
from handlers.lexicon import CONCEPT_PREFIX, SCRIPTS, Lexicon, lexicon, situations, stemmer
from handlers.normalise import fold, ngrams, script, words

# Field weights: the names people know beat keywords, which beat situations, then summaries.
W_NAME = 1.0
W_KEYWORD = 0.9
W_SITUATION = 0.85
W_SUMMARY = 0.35
WEIGHTS = (W_NAME, W_KEYWORD, W_SITUATION, W_SUMMARY)
_CONCEPT_QUALITY = 0.75
_PREFIX_QUALITY = 0.8
_FUZZY_CUTOFF = 80.0
_GRAM_QUALITY = 0.85
_WEAK = 0.35
_UNSEEN_WORD = 2.0
# Bumped when the index's structure changes in a way the source digest would not show.
_CACHE_VERSION = 12
_CLASS_PRIOR = 1.05
_TOPIC_PRIOR = 1.1
_VENDOR_UNNAMED = 0.85
_TOPIC_TITLES = {"topic:no_response": "no_response_title", "topic:redirect_loop": "topic_redirect_loop_title"}
_STANDING_PRIOR = {"unofficial": 0.93, "deprecated": 0.9, "unused": 0.9, "obsolete": 0.9, "temporary": 0.92}
_UNSEEN_GRAM = 0.6
_MAX_PREFIX = 24
_MAX_PHRASE_PREFIX = 64
# Share of the score that comes from the single best text (the rest: all texts of the entry).
_PASSAGE_SHARE = 0.55
# Below this inverse document frequency a term is too common to look for in single texts.
_PASSAGE_MIN_IDF = 0.9
# Decoded postings kept at once (each a small dict; cleared whole when full).
_DECODED_MAX = 8192
CLASS_PREFIX = "class:"
TOPIC_PREFIX = "topic:"
# Languages also written in Latin letters in chats, besides their own script.
_ROMANISED = ("hi",)
_LATIN_LANGS = tuple(lang for lang, s in SCRIPTS.items() if s == "latin")


@dataclass(frozen=True, slots=True)
class Hit:
    """A scored search result: an entry id, ``class:N`` or ``topic:<name>``.

    ``score`` is in (0, 1] before the standing prior: the share of the query the key explains.
    ``fuzzy`` tells that the best match needed a typo correction.
    """

    key: str
    score: float
    fuzzy: bool = False
    matched: float = 1.0
    """Share of the query's meaningful words (or CJK bigrams) the key matched at all."""

    @property
    def is_class(self) -> bool:
        """Whether this hit is a status class rather than an entry."""
        return self.key.startswith(CLASS_PREFIX)

    @property
    def is_topic(self) -> bool:
        """Whether this hit is a topic (redirect loops, no response) rather than an entry."""
        return self.key.startswith(TOPIC_PREFIX)


@dataclass(frozen=True, slots=True)
class Found:
    """A search's hits, best first; the language the query seems written in; and whether it held
    any meaningful word at all (``http`` alone does not).
    """

    hits: list[Hit]
    lang: str
    meaningful: bool = True


@dataclass(slots=True)
class _Slot:
    """One meaningful query word and the index terms it may stand for (term → quality)."""

    word: str
    forms: dict[str, float]
    weight: float = 0.0
    fuzzy: bool = False


def _kept(token: str, stem: str) -> str:
    """The stem of ``token``, or its first two characters where the stemmer left fewer.

    The light Hindi and Tamil stemmers strip every suffix they know: "पाया" (found) and "पे" (on)
    both come out as "प", "தப்பான" (wrong) and "தந்தா" (gave) as "த", and the French one turns
    "js" into "j". One letter is no word: it would join unrelated words in the index.
    """
    return stem if len(stem) >= 2 or len(token) < 2 else token[:2]


class _Analyser:
    """Turns text of one language into index terms; shared by indexing and queries.

    Every distinct word is analysed once (script, stem, stopword) and remembered: the index holds
    tens of thousands of texts but only a few thousand distinct words per language.
    """

    def __init__(self, lang: str, lex: Lexicon, english: Lexicon) -> None:
        self.lang = lang
        self.script = SCRIPTS.get(lang, "latin")
        self.lex = lex
        self._stem = stemmer(lang)
        self._stem_en = stemmer("en")
        # Latin loanwords inside a non-Latin language are English words.
        latin_stopwords = lex.stopwords if self.script == "latin" else english.stopwords
        self._stopwords = lex.stopwords | latin_stopwords
        self.weak = lex.weak | (english.weak if self.script != "latin" else frozenset())
        # word → (primary term, stopword, CJK)
        self._words: dict[str, tuple[str, bool, bool]] = {}
        heads: set[str] = set()
        cjk_heads: dict[str, list[tuple[str, str]]] = defaultdict(list)
        longest = 1
        phrases: dict[tuple[str, ...], set[str]] = defaultdict(set)
        listed = [
            (concept, words(fold(phrase)))
            for concept, entries in lex.concepts.items()
            for phrase in (*entries, *(english.concepts.get(concept, ()) if lang != "en" else ()))
        ]
        self.prepare({t for _, tokens in listed for t in tokens})
        for concept, tokens in listed:
            if not tokens:
                continue
            if len(tokens) == 1 and script(tokens[0]) == "cjk":
                if len(tokens[0]) >= 2:
                    cjk_heads[tokens[0][:2]].append((tokens[0], concept))
                continue
            key = tuple(self.info(t)[0] for t in tokens)
            phrases[key].add(concept)
            heads.add(key[0])
            longest = max(longest, len(key))
        self._phrases = {k: tuple(sorted(v)) for k, v in phrases.items()}
        self._heads = frozenset(heads)
        # One-word concepts as ready-made index terms; longer phrases need a look at the text.
        self._single = {k[0]: tuple(CONCEPT_PREFIX + c for c in v) for k, v in phrases.items() if len(k) == 1}
        seconds: dict[str, set[str]] = defaultdict(set)
        for k in phrases:
            if len(k) > 1:
                seconds[k[0]].add(k[1])
        self._seconds: dict[str, set[str]] = seconds
        self._cjk_heads = dict(cjk_heads)
        self._longest = longest

    def info(self, token: str) -> tuple[str, bool, bool]:
        """(primary term, is a stopword, is CJK) of a folded word."""
        found = self._words.get(token)
        if found is None:
            kind = script(token)
            if kind == "cjk":
                primary = token
            elif kind == self.script:
                primary = _kept(token, self._stem([token])[0])
            elif kind == "latin":
                primary = _kept(token, self._stem_en([token])[0])
            else:
                primary = token
            found = (primary, token in self._stopwords, kind == "cjk")
            self._words[token] = found
        return found

    def primary(self, token: str) -> str:
        """The main index term of a word: its stem in this language, English stem for loanwords."""
        return self.info(token)[0]

    def is_stopword(self, token: str) -> bool:
        """Whether the word carries no meaning in a query in this language."""
        return self.info(token)[1]

    def concepts(self, tokens: list[str], primaries: list[str]) -> list[tuple[int, int, str, int, int]]:
        """Concepts found in a text: (first token, last token + 1, concept id, and for a word
        inside a run of CJK characters its first and last character + 1, else 0, 0).
        """
        found: list[tuple[int, int, str, int, int]] = []
        phrases = self._phrases
        count = len(tokens)
        heads = self._heads
        for i, head in enumerate(primaries):
            if head in heads:
                for n in range(1, min(self._longest, count - i) + 1):
                    if n == 2 and primaries[i + 1] not in self._seconds[head]:
                        break
                    for concept in phrases.get(tuple(primaries[i : i + n]), ()):
                        found.append((i, i + n, concept, 0, 0))
            if self._cjk_heads and self.info(tokens[i])[2]:
                token = tokens[i]
                for j in range(len(token) - 1):
                    for word, concept in self._cjk_heads.get(token[j : j + 2], ()):
                        if token.startswith(word, j):
                            found.append((i, i + 1, concept, j, j + len(word)))
        return found

    def prepare(self, unique: set[str]) -> dict[str, tuple[str, bool, bool]]:
        """Analyse many distinct words at once (one stemmer call per script); the word table."""
        known = self._words
        fresh = [t for t in unique if t not in known]
        own: list[str] = []
        latin: list[str] = []
        for token in fresh:
            kind = script(token)
            if kind == "cjk":
                known[token] = (token, token in self._stopwords, True)
            elif kind == self.script:
                own.append(token)
            elif kind == "latin":
                latin.append(token)
            else:
                known[token] = (token, token in self._stopwords, False)
        for batch, stem in ((own, self._stem), (latin, self._stem_en)):
            for token, primary in zip(batch, stem(batch), strict=True):
                known[token] = (_kept(token, primary), token in self._stopwords, False)
        return known

    def terms(self, tokens: list[str]) -> tuple[frozenset[str], list[str]]:
        """Terms a text is found by (words prepared before), and its primary terms in order."""
        known = self._words
        infos = [known[t] for t in tokens]
        primaries = [i[0] for i in infos]
        terms = {i[0] for i in infos if not i[1]}
        cjk = any(i[2] for i in infos)
        if cjk:
            for token, (_, stop, is_cjk) in zip(tokens, infos, strict=True):
                if is_cjk and len(token) > 1 and not stop:
                    terms.update(ngrams(token))
        single = self._single
        for primary in primaries:
            concepts = single.get(primary)
            if concepts:
                terms.update(concepts)
        seconds = self._seconds
        if seconds:
            phrases = self._phrases
            for i in range(len(primaries) - 1):
                following = seconds.get(primaries[i])
                if following is None or primaries[i + 1] not in following:
                    continue
                for n in range(2, self._longest + 1):
                    for concept in phrases.get(tuple(primaries[i : i + n]), ()):
                        terms.add(CONCEPT_PREFIX + concept)
        if cjk and self._cjk_heads:
            cjk_heads = self._cjk_heads
            for token, info in zip(tokens, infos, strict=True):
                if not info[2]:
                    continue
                for j in range(len(token) - 1):
                    for word, concept in cjk_heads.get(token[j : j + 2], ()):
                        if token.startswith(word, j):
                            terms.add(CONCEPT_PREFIX + concept)
        return frozenset(terms), primaries


def _cache_dir() -> Path | None:
    """Where the built index is kept between runs: ``HTTP_STATUS_BOT_CACHE``, else the user's
    cache directory; ``None`` when caching is off (``HTTP_STATUS_BOT_CACHE=off``).
    """
    chosen = os.environ.get("HTTP_STATUS_BOT_CACHE", "")
    if chosen.lower() in ("off", "0", "no", "false"):
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "http-status-bot"


def _fingerprint(catalogue: Catalogue) -> str:
    """A digest of everything the index is built from: data files, this code, the stemmers."""
    digest = hashlib.sha256()
    digest.update(f"{_CACHE_VERSION}|{sys.version}|{_stemmer_version()}".encode())
    for module in (__file__, lexicon_module.__file__, normalise_module.__file__):
        digest.update(Path(module).read_bytes())
    folder = DATA_DIR
    names = ["codes.json"]
    for lang in catalogue.languages:
        names += [f"{lang}.json", f"lexicon/{lang}.json", f"situations/{lang}.json"]
    for name in names:
        path = folder / name
        digest.update(name.encode())
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def _stemmer_version() -> str:
    try:
        from importlib.metadata import version

        return version("PyStemmer")
    except Exception:  # a missing distribution record only costs the cache
        return "?"


def _load_cache(catalogue: Catalogue) -> dict[str, Any] | None:
    """The index state saved by an earlier run with the same data and code, if any."""
    folder = _cache_dir()
    if folder is None:
        return None
    try:
        path = folder / f"search-{_fingerprint(catalogue)}.marshal"
        state = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return state if isinstance(state, dict) else None


def _save_cache(catalogue: Catalogue, state: dict[str, Any]) -> None:
    """Keep the built index for the next run; a cache that cannot be written is no error."""
    folder = _cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"search-{_fingerprint(catalogue)}.marshal"
        for stale in folder.glob("search-*.marshal"):
            if stale != path:
                stale.unlink(missing_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".tmp") as tmp:
            tmp.write(marshal.dumps(state))
        os.replace(tmp.name, path)
    except (OSError, ValueError):
        return


class _IdfTable:
    """BM25's inverse document frequency of a term, from the number of entries that have it.

    A term in half of the entries is worth almost nothing. The value depends only on that count,
    so one small table serves every term instead of a float per term.
    """

    def __init__(self, documents: int, postings: Mapping[str, Sized | int]) -> None:
        self._postings = postings
        self._by_count = [
            math.log(1.0 + (documents - n + 0.5) / (n + 0.5)) if n else 0.0 for n in range(documents + 1)
        ]

    def __getitem__(self, term: str) -> float:
        found = self._postings[term]
        # A packed posting holds two bytes per entry; at build time the count is given.
        count = found if isinstance(found, int) else len(found) // 2
        return self._by_count[count]

    def __contains__(self, term: str) -> bool:
        return term in self._postings


def _post(postings: dict[str, dict[str, float]], terms: set[str], key: str, weight: float) -> None:
    """Record that ``key`` has each of ``terms`` in a field of ``weight`` (the best field wins)."""
    for term in terms:
        entry = postings[term]
        if entry.get(key, 0.0) < weight:
            entry[key] = weight


class SearchIndex:
    """An inverted index over names, keywords, situations and summaries in every language."""

    def __init__(self, catalogue: Catalogue, cache: bool = True) -> None:
        self._languages = tuple(catalogue.languages)
        self._analysers: dict[str, _Analyser] = {}
        state = _load_cache(catalogue) if cache else None
        if state is None:
            state = self._build(catalogue)
            if cache:
                _save_cache(catalogue, state)
        self._adopt(state)
        # What building needed and answering does not: the analysers (made again, lazily, for
        # the languages queries are written in) and the situation texts.
        self._analysers = {}
        situations.cache_clear()

    def _analyser(self, lang: str) -> _Analyser:
        """The analyser of ``lang`` (English for a language the catalogue lacks), made on first use."""
        if lang not in self._languages:
            lang = "en"
        analyser = self._analysers.get(lang)
        if analyser is None:
            analyser = self._analysers[lang] = _Analyser(lang, lexicon(lang), lexicon("en"))
        return analyser

    def _build(self, catalogue: Catalogue) -> dict[str, Any]:
        """Every index structure, from the catalogue and the language files."""
        prior: dict[str, float] = {}
        texts: dict[str, list[tuple[str, float, str, bool]]] = defaultdict(list)
        popular = set(catalogue.popular)
        for entry in catalogue.entries:
            # A registered, primary meaning wins a tie against an unofficial, retired or secondary
            # one, and the codes people meet every day against the rest.
            prior[entry.id] = _STANDING_PRIOR.get(entry.standing, 1.0) * (
                1.0 if "-" not in entry.id else 0.97
            ) + (0.03 if entry.code in popular else 0.0)
            for name in (entry.reason, entry.common_name, *entry.former_names):
                if name and not name.startswith("("):
                    texts["en"].append((entry.id, W_NAME, name, True))
            if entry.origin:
                texts["en"].append((entry.id, W_SUMMARY, entry.origin.replace("_", " "), False))
        for lang, language in catalogue.languages.items():
            found = situations(lang)
            bucket = texts[lang]
            for entry in catalogue.entries:
                text = language.entries.get(entry.id)
                if text is None:
                    continue
                if text.name:
                    bucket.append((entry.id, W_NAME, text.name, True))
                bucket.extend((entry.id, W_KEYWORD, keyword, True) for keyword in text.keywords)
                bucket.extend((entry.id, W_SITUATION, s, True) for s in found.by_key.get(entry.id, ()))
                bucket.append((entry.id, W_SUMMARY, text.summary, False))
                if entry.origin:
                    bucket.append((entry.id, W_SUMMARY, language.origins.get(entry.origin, ""), False))
            for digit in "12345":
                cls = language.classes.get(digit)
                if cls is None:
                    continue
                key = CLASS_PREFIX + digit
                # "server error" names the class as much as 500: the class, which lists 500
                # first, is the better answer to a tie.
                prior[key] = _CLASS_PRIOR
                bucket.append((key, W_NAME, cls.name, True))
                bucket.extend((key, W_KEYWORD, keyword, True) for keyword in cls.keywords)
            # The topics' own titles, in this language's words, are their names.
            for key, ui_key in _TOPIC_TITLES.items():
                title = language.ui.get(ui_key, "")
                for name in {title, title.split(":")[0], title.lstrip("0123456789 ")}:
                    if name.strip():
                        prior[key] = _TOPIC_PRIOR
                        bucket.append((key, W_NAME, name, True))
            for key, situation_texts in found.by_key.items():
                if key.startswith(TOPIC_PREFIX):
                    # A topic is what people mean by these words ("no response" is nginx's 444
                    # by name, but almost always a request that got no answer at all): it wins
                    # a near tie.
                    prior[key] = _TOPIC_PRIOR
                    bucket.extend((key, W_SITUATION, s, True) for s in situation_texts)

        postings: dict[str, dict[str, float]] = defaultdict(dict)
        by_term: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        passage_terms: list[frozenset[str]] = []
        passage_keys: list[str] = []
        passage_weights: list[float] = []
        phrases: dict[str, dict[str, float]] = defaultdict(dict)
        surface: dict[str, set[str]] = defaultdict(set)
        for lang, items in texts.items():
            analyser = self._analyser(lang)
            own_terms = by_term[lang]
            # One fold and one batch of stems per language: the texts are many, their words few.
            folded = fold("\n".join(text.replace("\n", " ") for _, _, text, _ in items)).split("\n")
            token_lists = [words(f) for f in folded]
            unique = set().union(*token_lists)
            info = analyser.prepare(unique)
            for token in unique:
                if len(token) >= 3:
                    surface[token].add(info[token][0])
            group: set[str] = set()
            group_key: tuple[str, float] | None = None
            for (key, weight, _, passage), tokens in zip(items, token_lists, strict=True):
                terms, primaries = analyser.terms(tokens)
                if not terms:
                    continue
                # Texts come grouped by entry and field: their terms are merged first, and the
                # postings are touched once per distinct term of the group.
                if group_key != (key, weight):
                    if group_key is not None:
                        _post(postings, group, *group_key)
                    group_key, group = (key, weight), set()
                group |= terms
                if passage:
                    number = len(passage_keys)
                    passage_keys.append(key)
                    passage_weights.append(weight)
                    passage_terms.append(terms)
                    for term in terms:
                        own_terms[term].append(number)
                # Whole names and keywords, and a topic's whole texts, also match as phrases.
                if weight >= W_KEYWORD or key.startswith(TOPIC_PREFIX):
                    phrase = phrases[" ".join(primaries)]
                    if phrase.get(key, 0.0) < weight:
                        phrase[key] = weight
            if group_key is not None:
                _post(postings, group, *group_key)

        idf = _IdfTable(len(prior), {t: len(d) for t, d in postings.items()})
        vocab = sorted(w for w in surface if script(w) != "cjk")
        by_length: dict[tuple[str, int], list[str]] = defaultdict(list)
        for word in vocab:
            by_length[(word[0], len(word))].append(word)
        names = sorted(prior)
        if len(names) > 255:
            raise ValueError("the search index numbers its keys in one byte")
        index_of = {key: i for i, key in enumerate(names)}
        code = {w: i for i, w in enumerate(WEIGHTS)}

        def pack(found: dict[str, float]) -> bytes:
            # Keys, then their field weights, one byte each: a dict per term would cost several
            # times the memory of the whole text it indexes.
            return bytes(index_of[k] for k in found) + bytes(code[w] for w in found.values())

        return {
            "keys": names,
            "prior": [prior[k] for k in names],
            "postings": {t: pack(d) for t, d in postings.items()},
            "passage_keys": bytes(index_of[k] for k in passage_keys),
            "passage_weights": bytes(code[w] for w in passage_weights),
            # What each text says in all: the sum of its terms' weights.
            "passage_totals": array("f", (sum(idf[t] for t in terms) for terms in passage_terms)).tobytes(),
            # Text numbers as packed 32-bit integers: a list of int objects per term would cost
            # several times the memory.
            # per language: a query is compared with the texts of its own language and English.
            "passage_postings": {
                lang: {t: array("I", n).tobytes() for t, n in terms.items()}
                for lang, terms in by_term.items()
            },
            "phrases": {p: pack(d) for p, d in phrases.items() if p},
            # Unofficial codes and the concepts that name their vendor.
            "vendors": {
                index_of[entry.id]: [
                    CONCEPT_PREFIX + c for c in catalogue.origin_concepts.get(entry.origin, ())
                ]
                for entry in catalogue.entries
                if entry.origin
            },
            "surface": {w: tuple(t) for w, t in surface.items()},
            "phrase_list": sorted(p for p in phrases if p),
            # The vocabulary for prefixes, and by script and length for typos.
            "vocab": vocab,
            "by_length": dict(by_length),
        }

    def _adopt(self, state: dict[str, Any]) -> None:
        """Take the index structures built now or read back from the cache."""
        self._keys: list[str] = state["keys"]
        self._key_numbers = {key: i for i, key in enumerate(self._keys)}
        self._prior: list[float] = state["prior"]
        self._postings: dict[str, bytes] = state["postings"]
        self._idf = _IdfTable(len(self._keys), self._postings)
        self._passage_keys: bytes = state["passage_keys"]
        self._passage_weights: bytes = state["passage_weights"]
        self._passage_totals = memoryview(state["passage_totals"]).cast("f")
        self._passage_postings: dict[str, dict[str, bytes]] = state["passage_postings"]
        self._phrases: dict[str, bytes] = state["phrases"]
        self._vendors: dict[int, list[str]] = state["vendors"]
        self._phrase_list: list[str] = state["phrase_list"]
        self._surface: dict[str, tuple[str, ...]] = state["surface"]
        self._vocab: list[str] = state["vocab"]
        self._by_length: dict[tuple[str, int], list[str]] = state["by_length"]
        self._pools: dict[tuple[str, int], list[str]] = {}
        self._decoded_cache: dict[str, dict[int, float]] = {}

    # ---- query analysis -------------------------------------------------------------------

    def _pool(self, word: str) -> list[str]:
        """Vocabulary worth a fuzzy comparison: same first letter, a similar length.

        People rarely mistype a word's first letter, and comparing with words that start with
        another would cost twenty times as much for the rare typo it could catch.
        """
        key = (word[0], len(word))
        pool = self._pools.get(key)
        if pool is None:
            spread = 1 if len(word) <= 5 else 2
            pool = []
            for size in range(len(word) - spread, len(word) + spread + 1):
                pool.extend(self._by_length.get((word[0], size), ()))
            self._pools[key] = pool
        return pool

    def query_language(self, tokens: list[str], preferred: tuple[str, ...] = ()) -> str:
        """The language a query is most likely written in (its stopwords are dropped).

        Non-Latin scripts name their language; among Latin languages the one whose stopwords
        and vocabulary the query shares most wins, ties going to the reply language, then English.
        """
        scripts = {script(t) for t in tokens}
        for lang, kind in SCRIPTS.items():
            if kind not in {"latin", "cjk"} and kind in scripts and lang in self._languages:
                return lang
        if "cjk" in scripts:
            text = "".join(tokens)
            if any("\u3040" <= ch <= "\u30ff" for ch in text):
                return "ja"
            if any("\uac00" <= ch <= "\ud7af" for ch in text):
                return "ko"
            for lang in preferred:
                if lang in ("zh", "ja"):
                    return lang
            return "zh"
        best, best_score = "en", -1.0
        order = [*(p for p in preferred if p in _LATIN_LANGS), *_LATIN_LANGS]
        for lang in dict.fromkeys(order):
            if lang not in self._languages:
                continue
            analyser = self._analyser(lang)
            score = sum(
                1.0 if t in analyser.lex.stopwords else 0.5 if analyser.primary(t) in self._postings else 0.0
                for t in tokens
            )
            if score > best_score:
                best, best_score = lang, score
        # Hindi is often typed in Latin letters ("token expire ho gaya"): its romanised fillers
        # are in its stopwords, and a query made of more of them than of the best Latin
        # language's is Hindi.
        for lang in _ROMANISED:
            if lang in self._languages:
                fillers = sum(t in self._analyser(lang).lex.stopwords for t in tokens)
                if fillers >= 2 and fillers > best_score:
                    return lang
        return best

    def _slots(
        self, folded: str, prefix_last: bool, preferred: tuple[str, ...]
    ) -> tuple[list[_Slot], str, list[str]]:
        """The query's meaningful units with the terms each may stand for.

        A word is one unit; a run of CJK characters is one unit per character bigram, so that a
        sentence written without spaces is covered piece by piece, not credited whole for one
        shared pair of characters.
        """
        tokens = words(folded)
        if not tokens:
            return [], "en", []
        lang = self.query_language(tokens, preferred)
        analyser = self._analyser(lang)
        primaries = [analyser.primary(t) for t in tokens]
        kept = [i for i, t in enumerate(tokens) if not analyser.is_stopword(t)]
        if not kept:
            return [], lang, primaries
        slots: dict[tuple[int, int], _Slot] = {}
        last = kept[-1]
        for i in kept:
            token = tokens[i]
            if script(token) == "cjk":
                for j, gram in enumerate(ngrams(token)):
                    slots[(i, j)] = _Slot(gram, {gram: 1.0})
                continue
            slot = _Slot(token, self._forms(token, analyser))
            if not any(f in self._postings for f in slot.forms) or (prefix_last and i == last):
                self._expand(slot, analyser, prefix=prefix_last and i == last)
            slots[(i, 0)] = slot
        for start, end, concept, first, after in analyser.concepts(tokens, primaries):
            term = CONCEPT_PREFIX + concept
            if term not in self._postings:
                continue
            if after:
                # A CJK word from character `first` to `after` ("アップロード"): its bigrams
                # become one unit that the word's concept or any of its bigrams can match, so
                # the word counts once, not once per pair of characters.
                inside = [(start, j) for j in range(first, max(first + 1, after - 1))]
                merged = [slots.pop(k) for k in inside if k in slots]
                if not merged:
                    continue
                word = _Slot(tokens[start][first:after], {})
                for part in merged:
                    for form, quality in part.forms.items():
                        if word.forms.get(form, 0.0) < quality:
                            word.forms[form] = quality
                slots[inside[0]] = word
                keys = [inside[0]]
            else:
                keys = [(i, 0) for i in range(start, end)]
            for key in keys:
                covered = slots.get(key)
                if covered is not None and covered.forms.get(term, 0.0) < _CONCEPT_QUALITY:
                    covered.forms[term] = _CONCEPT_QUALITY
        out: list[_Slot] = []
        for slot in slots.values():
            present = [self._idf[t] for t in slot.forms if t in self._postings]
            if present:
                weight = max(present)
            elif script(slot.word) == "cjk":
                # Bigrams across two words ("面不" in "页面不存在") are often unseen and mean
                # nothing: they weigh a little against coverage, not like an unknown word.
                weight = _UNSEEN_GRAM
            else:
                # A word the index has never seen still counts against coverage: "lorem ipsum"
                # explains nothing, and "my api key lorem" is not fully explained by "api key".
                weight = _UNSEEN_WORD
            if slot.word in analyser.weak:
                weight *= _WEAK
            slot.weight = weight
            out.append(slot)
        return out, lang, primaries

    def _forms(self, token: str, analyser: _Analyser) -> dict[str, float]:
        kind = script(token)
        if kind == "cjk":
            forms = {token: 1.0}
            if len(token) > 1:
                for gram in ngrams(token):
                    if gram in self._postings:
                        forms.setdefault(gram, _GRAM_QUALITY)
            return forms
        forms = {analyser.primary(token): 1.0}
        if kind == "latin":
            for lang in _LATIN_LANGS:
                if lang in self._languages:
                    forms.setdefault(self._analyser(lang).primary(token), 1.0)
        forms.setdefault(token, 1.0)
        return forms

    def _expand(self, slot: _Slot, analyser: _Analyser, prefix: bool) -> None:
        """Prefix (while typing) and typo matches of a word the index does not know."""
        word = slot.word
        if script(word) == "cjk":
            return
        known = word in self._surface
        if not known:
            # Stems of a word never seen ("lorem" → "lor") may collide with real words: only
            # those that keep most of the word are inflections worth trusting.
            floor = max(4, int(len(word) * 0.6 + 0.5))
            for form in [f for f in slot.forms if len(f) < floor and f != word]:
                del slot.forms[form]
        if prefix or len(word) >= 5:
            start = bisect_left(self._vocab, word)
            for term in self._vocab[start : start + _MAX_PREFIX]:
                if not term.startswith(word):
                    break
                if term != word:
                    for form in self._surface[term]:
                        slot.forms.setdefault(form, _PREFIX_QUALITY if prefix else _PREFIX_QUALITY * 0.8)
        if known or len(word) < 4:
            return
        for term, score, _ in process.extract(
            word, self._pool(word), scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF, limit=3
        ):
            quality = (score / 100.0) ** 2
            for form in self._surface[term]:
                if slot.forms.get(form, 0.0) < quality:
                    slot.forms[form] = quality
                    slot.fuzzy = True

    # ---- scoring ----------------------------------------------------------------------------

    def search(
        self,
        folded: str,
        limit: int = 10,
        prefix_last: bool = False,
        preferred: tuple[str, ...] = (),
    ) -> list[Hit]:
        """Entries, classes and topics that match an already folded query, best first."""
        return self.query(folded, limit, prefix_last, preferred).hits

    def query(
        self,
        folded: str,
        limit: int = 10,
        prefix_last: bool = False,
        preferred: tuple[str, ...] = (),
    ) -> Found:
        """What a query finds, with the language it seems written in and whether it said anything."""
        slots, lang, primaries = self._slots(folded, prefix_last, preferred)
        if not slots:
            return Found([], lang, meaningful=False)
        return Found(self._score(folded, slots, lang, primaries, limit, prefix_last, preferred), lang)

    def _score(
        self,
        folded: str,
        slots: list[_Slot],
        lang: str,
        primaries: list[str],
        limit: int,
        prefix_last: bool,
        preferred: tuple[str, ...],
    ) -> list[Hit]:
        total = sum(s.weight for s in slots)
        postings = self._postings
        idf = self._idf
        bag: dict[int, float] = defaultdict(float)
        matches: list[dict[int, float]] = []
        fuzzy_keys: set[int] = set()
        by_passage: dict[int, float] = defaultdict(float)
        # Texts are compared in the query's language and in English (names, loanwords): every
        # language at once would cost ten times as much for little.
        passage_tables = [
            self._passage_postings[g] for g in dict.fromkeys((lang, "en")) if g in self._passage_postings
        ]
        for slot in slots:
            best: dict[int, float] = {}
            present = [(t, q, idf[t]) for t, q in slot.forms.items() if t in postings]
            if not present:
                continue
            scale = slot.weight / max(w for _, _, w in present)
            with_passages: list[tuple[bytes, float]] = []
            for term, quality, term_idf in present:
                value_unit = quality * term_idf * scale
                weights = self._decoded(term)
                if not best:
                    best = {key: value_unit * weight for key, weight in weights.items()}
                else:
                    for key, weight in weights.items():
                        value = value_unit * weight
                        if best.get(key, 0.0) < value:
                            best[key] = value
                if term_idf < _PASSAGE_MIN_IDF:
                    continue
                for table in passage_tables:
                    packed = table.get(term)
                    if packed is not None:
                        with_passages.append((packed, value_unit))
            for key, value in best.items():
                bag[key] += value
            matches.append(best)
            if slot.fuzzy:
                fuzzy_keys.update(best)
            if len(with_passages) == 1:
                # The usual case: one form of the word is in this language's texts.
                packed, value_unit = with_passages[0]
                for number in memoryview(packed).cast("I"):
                    by_passage[number] += value_unit
            elif with_passages:
                # Several forms (stems of several languages, a concept): a text counts the
                # word once, at its best form.
                in_passage: dict[int, float] = {}
                for packed, value_unit in sorted(with_passages, key=itemgetter(1)):
                    in_passage.update(dict.fromkeys(memoryview(packed).cast("I"), value_unit))
                for number, value in in_passage.items():
                    by_passage[number] += value
        if not bag:
            return []
        passage_keys = self._passage_keys
        passage_fields = self._passage_weights
        totals = self._passage_totals
        best_passage: dict[int, float] = {}
        for number, value in by_passage.items():
            key, passage_total = passage_keys[number], totals[number]
            # How much of the query it explains, a little more when it says nothing else.
            own = value / passage_total if passage_total > value else 1.0
            score = WEIGHTS[passage_fields[number]] * value * (0.8 + 0.2 * own)
            if best_passage.get(key, 0.0) < score:
                best_passage[key] = score
        phrase_keys = dict(self._unpack(self._phrases.get(" ".join(primaries))))
        named = {t for slot in slots for t in slot.forms if t.startswith(CONCEPT_PREFIX)}
        vendors = self._vendors
        prior = self._prior
        scored: list[tuple[float, int]] = []
        for key, value in bag.items():
            combined = (1 - _PASSAGE_SHARE) * value + _PASSAGE_SHARE * best_passage.get(key, 0.0)
            if key in phrase_keys:
                combined = max(combined, phrase_keys[key] * total)
            score = combined / total * prior[key]
            # A vendor's own code (ArcGIS 498, an ALB's 460) answers descriptions that name the
            # vendor; "token expired" alone is about 401, not about ArcGIS.
            vendor = vendors.get(key)
            if vendor is not None and named.isdisjoint(vendor):
                score *= _VENDOR_UNNAMED
            scored.append((score, key))
        if prefix_last:
            self._phrase_prefix_bonus(folded, preferred, scored)
        count = len(slots)
        names = self._keys
        # How many of the query's words each returned key matched at all (a phrase bonus may
        # return a key no word matched: it counts as matching them all).
        return [
            Hit(names[key], score, key in fuzzy_keys, (sum(key in m for m in matches) or count) / count)
            for score, key in nlargest(limit, scored, key=itemgetter(0))
        ]

    def _decoded(self, term: str) -> dict[int, float]:
        """A term's posting as key number → field weight, kept for the terms queries use most.

        Postings are packed bytes to keep the index small; the few hundred terms people's
        queries keep hitting are worth holding decoded.
        """
        found = self._decoded_cache.get(term)
        if found is None:
            posting = self._postings[term]
            half = len(posting) // 2
            found = {key: WEIGHTS[field] for key, field in zip(posting[:half], posting[half:], strict=True)}
            if len(self._decoded_cache) >= _DECODED_MAX:
                self._decoded_cache.clear()
            self._decoded_cache[term] = found
        return found

    @staticmethod
    def _unpack(packed: bytes | None) -> list[tuple[int, float]]:
        """A packed posting as (key number, field weight) pairs."""
        if not packed:
            return []
        half = len(packed) // 2
        return [(key, WEIGHTS[field]) for key, field in zip(packed[:half], packed[half:], strict=True)]

    def _phrase_terms(self, folded: str, preferred: tuple[str, ...]) -> list[str]:
        tokens = words(folded)
        if not tokens:
            return []
        lang = self.query_language(tokens, preferred)
        analyser = self._analyser(lang)
        return [analyser.primary(t) for t in tokens]

    def _phrase_prefix_bonus(
        self, folded: str, preferred: tuple[str, ...], scored: list[tuple[float, int]]
    ) -> None:
        """While typing, a name that starts with what was typed so far is the best signal."""
        joined = " ".join(self._phrase_terms(folded, preferred))
        if not joined:
            return
        raw = folded.strip()
        bonus: dict[int, float] = {}
        for probe in dict.fromkeys((joined, raw)):
            start = bisect_left(self._phrase_list, probe)
            for phrase in self._phrase_list[start : start + _MAX_PHRASE_PREFIX]:
                if not phrase.startswith(probe):
                    break
                for key, weight in self._unpack(self._phrases[phrase]):
                    bonus[key] = max(bonus.get(key, 0.0), 0.5 * weight)
        if not bonus:
            return
        for i, (score, key) in enumerate(scored):
            if key in bonus:
                scored[i] = (score + bonus.pop(key), key)
        scored.extend((value * self._prior[key], key) for key, value in bonus.items())


def cache_ready(catalogue: Catalogue) -> bool:
    """Whether the cache holds this catalogue's index (or caching is off: nothing to prepare)."""
    folder = _cache_dir()
    if folder is None:
        return True
    return (folder / f"search-{_fingerprint(catalogue)}.marshal").exists()


def prepare_cache(timeout: float = 120.0) -> None:
    """Build the index and write the cache in a child process.

    A long-running process then only loads the packed index: building it in place would leave
    the building's garbage in its resident memory (Python keeps freed arenas) for its whole life.
    Any failure leaves the caller to build the index itself.
    """
    import subprocess

    try:
        subprocess.run(
            [sys.executable, "-m", "handlers.search"],
            check=False,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return


if __name__ == "__main__":
    from handlers.catalogue import load

    SearchIndex(load())
