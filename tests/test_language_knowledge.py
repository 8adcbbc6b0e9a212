"""The language knowledge the search reads: situations, lexicons and comparisons, per language."""

from __future__ import annotations

from collections import Counter

import pytest

from handlers import Handler, load
from handlers.catalogue import LANGUAGES, Catalogue
from handlers.compare import validate as validate_compare
from handlers.compare import written
from handlers.lexicon import lexicon, situations
from handlers.lexicon import validate as validate_lexicon

# Codes people meet every day: at least 8 situations each, in every language (issue 9).
COMMON = {
    200,
    201,
    202,
    204,
    206,
    *range(301, 309),
    *range(400, 432),
    451,
    499,
    *range(500, 505),
    *range(520, 525),
}
REQUIRED_PAIRS = [
    (401, 403), (400, 422), (403, 404), (404, 410), (301, 302), (301, 308), (302, 303), (302, 307),
    (307, 308), (200, 201), (200, 204), (201, 202), (500, 502), (502, 503), (502, 504), (503, 504),
    (429, 503), (408, 504), (499, 504), (409, 412), (405, 501), (406, 415), (413, 414), (521, 522),
    (520, 502),
]  # fmt: skip
# Negations carry meaning ("not found", "kein Zugriff"): no language may drop them as stopwords.
NEGATIONS = {
    "en": {"not", "no", "never", "cannot", "without"},
    "fr": {"pas", "ne", "non", "jamais", "sans", "aucun"},
    "de": {"nicht", "kein", "keine", "nie", "ohne"},
    "es": {"no", "nunca", "sin", "ningún"},
    "pt": {"não", "nao", "nunca", "sem", "nenhum"},
    "ru": {"не", "нет", "без", "никогда"},
    "zh": {"不", "没", "没有", "无", "未"},
    "ja": {"ない", "ません", "無い", "未"},
    "ko": {"안", "못", "없", "없음", "않"},
    "hi": {"नहीं", "न", "मत", "बिना"},
    "ta": {"இல்லை", "இல்ல", "முடியாது"},
    "ar": {"لا", "لم", "لن", "ليس", "بدون", "غير"},
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load()


def test_every_file_validates(catalogue: Catalogue) -> None:
    assert validate_lexicon(catalogue.languages, catalogue.by_id) == []
    assert validate_compare(catalogue.languages, catalogue.by_code) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_situations_cover_every_code_enough(catalogue: Catalogue, lang: str) -> None:
    found = situations(lang).by_key
    for entry in catalogue.entries:
        texts = found.get(entry.id, ())
        floor = 8 if entry.code in COMMON and "-" not in entry.id else 3
        assert len(texts) >= floor, (lang, entry.id, len(texts))
    for topic in ("topic:redirect_loop", "topic:no_response"):
        assert len(found.get(topic, ())) >= 8, (lang, topic)
    # One situation describes one code: the same words under two codes would blur both.
    counts = Counter(text.casefold() for texts in found.values() for text in texts)
    assert [text for text, n in counts.items() if n > 1] == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_lexicons_keep_negations_and_share_every_concept(lang: str) -> None:
    lex = lexicon(lang)
    assert len(lex.stopwords) >= 40
    assert not (lex.stopwords & NEGATIONS[lang]), lex.stopwords & NEGATIONS[lang]
    assert set(lex.concepts) == set(lexicon("en").concepts)
    assert lex.units, "numbers followed by these words are quantities, not codes"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_required_pair_has_a_written_comparison(lang: str) -> None:
    pairs = written(lang)
    for pair in REQUIRED_PAIRS:
        assert frozenset(pair) in pairs, (lang, pair)
    assert len(pairs) >= 25


@pytest.mark.parametrize("lang", LANGUAGES)
def test_situations_find_their_own_code(catalogue: Catalogue, lang: str) -> None:
    # A check on the data, not on the search's accuracy (that is measured on sets written
    # without seeing these texts): two codes described with the same words would fail here.
    handler = Handler(catalogue)
    total = found = 0
    for key, texts in situations(lang).by_key.items():
        if key.startswith("topic:"):
            continue
        code = str(catalogue.by_id[key].code)
        for text in texts:
            total += 1
            found += code in handler.ranked(text, 3, lang=lang)
    assert found / total >= 0.98, (lang, found, total)


def test_every_vendor_is_named_by_concepts_of_the_lexicon(catalogue: Catalogue) -> None:
    origins = {entry.origin for entry in catalogue.entries if entry.origin}
    assert origins <= set(catalogue.origin_concepts)
    concepts = set(lexicon("en").concepts)
    for origin, named in catalogue.origin_concepts.items():
        assert set(named) <= concepts, origin


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_word_of_the_situations_is_stemmed_to_one_letter(lang: str) -> None:
    """The light Hindi and Tamil stemmers strip "पाया" and "पे" alike to "प": a one-letter term
    would join unrelated words, so the analyser keeps two characters at least."""
    from handlers.normalise import fold, words
    from handlers.search import _Analyser

    analyser = _Analyser(lang, lexicon(lang), lexicon("en"))
    vocabulary = {w for texts in situations(lang).by_key.values() for t in texts for w in words(fold(t))}
    table = analyser.prepare(vocabulary)
    short = sorted(w for w in vocabulary if len(w) >= 2 and len(table[w][0]) < 2)
    assert not short, short[:10]
