"""Word search over the catalogue in every language.

A scan of every phrase with a fuzzy scorer costs tens of milliseconds per query, so the search
works on an inverted index instead: exact token hits first, prefixes and fuzzy matches
(rapidfuzz) only against the vocabulary of distinct words of a similar length, and character
bigrams for scripts written without spaces. Documents are catalogue entries plus the five classes
(``class:4``), so ``client error`` finds the 4xx class.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from heapq import nlargest
from itertools import pairwise
from operator import itemgetter

from rapidfuzz import fuzz, process

from handlers.catalogue import Catalogue
from handlers.normalise import fold, has_cjk, ngrams, stem, tokens

# Field weights: the names people know beat keywords, which beat words of the summary.
_W_NAME = 1.0
_W_KEYWORD = 0.9
_W_SUMMARY = 0.3
_PREFIX_QUALITY = 0.8
_FUZZY_CUTOFF = 78.0
_MAX_PREFIX = 24
_GRAM_QUALITY = 0.9
_PAIR_WEIGHT = 0.5
_MAX_PHRASE_PREFIX = 64
_CLASS_PREFIX = "class:"

# Words that carry no meaning in a question; they are never fuzzy-matched and do not count against
# coverage. Negations ("not", "no", "не", "nicht") are deliberately absent: they carry meaning.
_STOPWORD_TEXT = """
    a an the is are was of to for in on at by with what whats which does do mean means meaning
    my me i it its this that http https status code codes error response reponse le la les l un
    une des du de d est c ce qu que quoi veut dire signifie erreur statut en au aux el los las
    lo un una es que del al por con estado codigo significa o os as um uma e do da dos das em
    para com codigo der die das ein eine ist was bedeutet fehler mit von zu im в на с что это
    код ошибка означает статус je j me m mon ma mes il elle on nous vous se s sur dans par pour
    avec है हैं का की के में क्या को से यह वह एक என்ன ஒரு இது அது
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_SEPARATORS = re.compile(
    r"\s+(?:vs\.?|versus|contre|gegen|против|or|ou|oder|o|или|and|et|und|y|e|и|或|还是|和|と|또는|या|और|बनाम|அல்லது|او)\s+"
    r"|\s*(?:[,/|،、]|\bvs\.?\b)\s*"
)


def _script(word: str) -> str:
    """A coarse script of a word (by its first letter): typos stay within one script."""
    first = ord(word[0])
    for bound, name in _SCRIPTS:
        if first < bound:
            return name
    return "other"


_SCRIPTS = ((0x250, "latin"), (0x370, "other"), (0x530, "cyrillic"), (0x600, "other"), (0x700, "arabic"),
            (0x900, "other"), (0x980, "devanagari"), (0xB80, "other"), (0xC00, "tamil"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Hit:
    """A scored search result: an entry id or ``class:N``."""

    key: str
    score: float

    @property
    def is_class(self) -> bool:
        """Whether this hit is a status class rather than an entry."""
        return self.key.startswith(_CLASS_PREFIX)


class SearchIndex:
    """An inverted index over names, keywords and summaries in every language."""

    def __init__(self, catalogue: Catalogue) -> None:
        postings: dict[str, dict[str, float]] = defaultdict(dict)
        phrases: dict[str, dict[str, float]] = defaultdict(dict)
        prior: dict[str, float] = {}

        stems: dict[str, str] = {}

        def post(term: str, key: str, weight: float) -> None:
            entry = postings[term]
            if entry.get(key, 0.0) < weight:
                entry[key] = weight

        def add(key: str, text: str, weight: float, phrase: bool = True) -> None:
            folded = fold(text)
            raw = tokens(folded)
            words = [stems.get(w) or stems.setdefault(w, stem(w)) for w in raw]
            if phrase:
                post_phrase = phrases[" ".join(words)]
                if post_phrase.get(key, 0.0) < weight:
                    post_phrase[key] = weight
            # Word pairs keep the order and the small words in context ("not found", "नहीं है").
            for first, second in pairwise(words):
                post(f"{first} {second}", key, weight)
            # Stopwords never score on the query side, so they stay out of the postings and out
            # of the fuzzy vocabulary (where "dois" could otherwise land on "dos").
            cjk = has_cjk(folded)
            for word, original in zip(words, raw, strict=True):
                if original in STOPWORDS:
                    continue
                post(word, key, weight)
                if cjk and has_cjk(word):
                    for gram in ngrams(word):
                        post(gram, key, weight)

        popular = set(catalogue.popular)
        for entry in catalogue.entries:
            key = entry.id
            # A registered, primary meaning wins a tie against an unofficial or secondary one.
            prior[key] = (1.0 if entry.standing != "unofficial" else 0.93) * (
                1.0 if "-" not in key else 0.97
            ) + (0.02 if entry.code in popular else 0.0)
            for name in (entry.reason, entry.common_name, *entry.former_names):
                if name and not name.startswith("("):
                    add(key, name, _W_NAME)
            if entry.origin:
                add(key, entry.origin.replace("_", " "), _W_SUMMARY, phrase=False)
            for lang in catalogue.languages.values():
                text = lang.entries.get(entry.id)
                if text is None:
                    continue
                if text.name:
                    add(key, text.name, _W_NAME)
                for keyword in text.keywords:
                    add(key, keyword, _W_KEYWORD)
                add(key, text.summary, _W_SUMMARY, phrase=False)
                if entry.origin:
                    add(key, lang.origins.get(entry.origin, ""), _W_SUMMARY, phrase=False)
        for digit in "12345":
            key = _CLASS_PREFIX + digit
            prior[key] = 1.0
            for lang in catalogue.languages.values():
                cls = lang.classes.get(digit)
                if cls is None:
                    continue
                add(key, cls.name, _W_NAME)
                for keyword in cls.keywords:
                    add(key, keyword, _W_KEYWORD)

        n_docs = len(prior)
        self._postings = {t: dict(d) for t, d in postings.items()}
        self._phrases = {p: dict(d) for p, d in phrases.items() if p}
        self._phrase_list = sorted(self._phrases)
        self._idf = {t: math.log(1.0 + n_docs / len(d)) for t, d in postings.items()}
        self._prior = prior
        vocab = sorted(t for t in postings if not has_cjk(t) and len(t) >= 3 and " " not in t)
        self._vocab = vocab
        by_length: dict[tuple[str, int], list[str]] = defaultdict(list)
        for term in vocab:
            by_length[(_script(term), len(term))].append(term)
        self._by_length = dict(by_length)
        self._pools: dict[tuple[str, int], list[str]] = {}

    def _pool(self, word: str) -> list[str]:
        """Vocabulary worth a fuzzy comparison: same script, a similar length."""
        key = (_script(word), len(word))
        pool = self._pools.get(key)
        if pool is None:
            spread = 1 if len(word) <= 5 else 2
            pool = []
            for size in range(len(word) - spread, len(word) + spread + 1):
                pool.extend(self._by_length.get((key[0], size), ()))
            self._pools[key] = pool
        return pool

    def _term_matches(self, word: str, last: bool) -> list[tuple[str, float]]:
        """Index terms a query word stands for, with a match quality in (0, 1]."""
        if has_cjk(word):
            # Korean attaches particles and Chinese/Japanese run words together: the bigrams
            # count even when the whole word is known ("페이지가" also matches "페이지").
            terms = [(g, _GRAM_QUALITY) for g in ngrams(word) if g in self._postings and g != word]
            if word in self._postings:
                terms.insert(0, (word, 1.0))
            return terms
        matches: dict[str, float] = {}
        if word in self._postings:
            matches[word] = 1.0
            if not last:
                return [(word, 1.0)]
        if word in STOPWORDS:
            return list(matches.items())
        if len(word) >= 3 or (last and len(word) >= 1):
            start = bisect_left(self._vocab, word)
            for term in self._vocab[start : start + _MAX_PREFIX]:
                if not term.startswith(word):
                    break
                if term != word:
                    matches.setdefault(term, _PREFIX_QUALITY)
        if word in self._postings or len(word) < 4:
            return list(matches.items())
        for term, score, _ in process.extract(
            word, self._pool(word), scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF, limit=4
        ):
            quality = (score / 100.0) ** 2
            if matches.get(term, 0.0) < quality:
                matches[term] = quality
        return list(matches.items())

    def search(self, folded: str, limit: int = 10, prefix_last: bool = False) -> list[Hit]:
        """Entries and classes that match an already folded query, best first."""
        raw = tokens(folded)
        if not raw:
            return []
        words = [stem(w) for w in raw]
        scores: dict[str, float] = defaultdict(float)
        matched: dict[str, int] = defaultdict(int)
        counted = 0
        for i, (word, original) in enumerate(zip(words, raw, strict=True)):
            if original in STOPWORDS:
                continue
            counted += 1
            best: dict[str, float] = {}
            gram_sums: dict[str, float] = defaultdict(float)
            grams = len(ngrams(word)) if has_cjk(word) else 1
            for term, quality in self._term_matches(word, prefix_last and i == len(words) - 1):
                idf = self._idf[term]
                is_gram = grams > 1 and term != word
                for key, weight in self._postings[term].items():
                    value = quality * weight * idf
                    if is_gram:
                        gram_sums[key] += value / grams
                    elif best.get(key, 0.0) < value:
                        best[key] = value
            for key, value in gram_sums.items():
                best[key] = max(best.get(key, 0.0), value)
            for key, value in best.items():
                scores[key] += value
                matched[key] += 1
        if not scores:
            return []
        for pair in pairwise(words):
            term = " ".join(pair)
            for key, weight in self._postings.get(term, {}).items():
                if key in scores:
                    scores[key] += _PAIR_WEIGHT * weight * self._idf[term]
        joined = " ".join(words)
        for key, weight in self._phrases.get(joined, {}).items():
            scores[key] += 4.0 * weight
        if prefix_last:
            # While typing, a phrase that starts with what was typed so far is the best signal.
            bonus: dict[str, float] = {}
            start = bisect_left(self._phrase_list, joined)
            for phrase in self._phrase_list[start : start + _MAX_PHRASE_PREFIX]:
                if not phrase.startswith(joined):
                    break
                for key, weight in self._phrases[phrase].items():
                    bonus[key] = max(bonus.get(key, 0.0), 3.0 * weight)
            for key, value in bonus.items():
                scores[key] += value
                matched[key] = max(matched[key], counted)
        denominator = max(counted, 1)
        prior = self._prior
        # Coverage: a key that matched every meaningful word keeps its score, one that matched
        # half of them keeps three quarters. Hits are built only for the few that are returned.
        scored = [
            (score * prior[key] * (0.5 + 0.5 * min(matched[key], denominator) / denominator), key)
            for key, score in scores.items()
        ]
        return [Hit(key, score) for score, key in nlargest(limit, scored, key=itemgetter(0))]

    def split(self, folded: str) -> list[str]:
        """Parts of a comparison (``unauthorized vs forbidden``); one part when there is none."""
        parts = [p.strip() for p in _SEPARATORS.split(folded)]
        return [p for p in parts if p]
