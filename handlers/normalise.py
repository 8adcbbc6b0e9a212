"""Text normalisation and tokenisation shared by the parser and the search index."""

from __future__ import annotations

import re
import unicodedata

# Accents are folded only on Latin letters: in Devanagari, Tamil, Arabic or kana the combining
# marks are part of the spelling, and dropping them would merge unrelated words.
_TOKEN = re.compile(
    r"[^\s!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~«»“”„‘’‚·…、。，！？：；「」『』（）【】《》〈〉–—¿¡،؛؟]+"
)
_SCRIPT_FOLD: dict[int, str | None] = dict.fromkeys(range(1611, 1619))
_SCRIPT_FOLD.update({0x0640: None, ord("أ"): "ا", ord("إ"): "ا", ord("آ"): "ا", ord("ى"): "ي"})
# Hindi writers drop the nukta as often as they type it (खराब / ख़राब).
_SCRIPT_FOLD[0x093C] = None
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
# After NFKC an accent on a Latin letter is nearly always precomposed (U+00C0–U+024F,
# U+1E00–U+1EFF): one translation table strips them all at C speed. The rare marks left
# uncomposed after a Latin letter are removed by a regular expression.
for _code in (*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00)):
    _base = "".join(c for c in unicodedata.normalize("NFD", chr(_code)) if not unicodedata.combining(c))
    if _base != chr(_code) and _base:
        _SCRIPT_FOLD[_code] = _base
# Russian users write е for ё.
_SCRIPT_FOLD[ord("ё")] = "е"
_SCRIPT = str.maketrans(_SCRIPT_FOLD)
_LOOSE_MARKS = re.compile(r"(?<=[\x00-\u024f])[\u0300-\u036f]+")


def fold(text: str) -> str:
    """NFKC, case folding, and accent folding on Latin letters (``Élément`` → ``element``)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if folded.isascii():
        return folded
    # Arabic users rarely type vowel marks or the hamza forms of alef, Hindi users often leave
    # out the nukta: both sides are folded the same way, in the same table as Latin accents.
    folded = folded.translate(_SCRIPT)
    # (a text of vowel marks alone folds to nothing)
    return _LOOSE_MARKS.sub("", folded) if folded and max(folded) >= "\u0300" else folded


def tokens(folded: str) -> list[str]:
    """Words of an already folded text, split on spaces and punctuation of any script."""
    return _TOKEN.findall(folded)


def ngrams(token: str) -> list[str]:
    """Character bigrams of a token (a single character stays whole), for unspaced scripts."""
    if len(token) < 2:
        return [token]
    return [token[i : i + 2] for i in range(len(token) - 1)]


_CJK_RUN = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+|[^\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+"
)
_KANA = re.compile(r"[\u3040-\u30ff]")
# Katakana words; kanji with the hiragana that follows them; hiragana alone; anything else.
_JAPANESE_RUN = re.compile(
    r"[\u30a0-\u30ff]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+[\u3040-\u309f]*|[\u3040-\u309f]+|[^\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"
)
_SCRIPT_BOUNDS = (
    (0x250, "latin"), (0x370, "other"), (0x530, "cyrillic"), (0x600, "other"), (0x700, "arabic"),
    (0x900, "other"), (0x980, "devanagari"), (0xB80, "other"), (0xC00, "tamil"),
)  # fmt: skip


def words(folded: str) -> list[str]:
    """Tokens of a folded text, with runs of CJK characters cut from Latin letters and digits
    beside them (``cloudflare源站`` → ``cloudflare``, ``源站``), as people write them unspaced.

    Japanese runs are also cut where the script changes, a cheap stand-in for a word segmenter:
    katakana words (``アップロード``) stand apart, and a run of hiragana before kanji is a
    particle or an ending (``ファイルが大きい`` → ``ファイル``, ``が``, ``大きい``); kanji keep the
    hiragana that follows them (``大きい``), which inflects them.
    """
    out: list[str] = []
    for token in _TOKEN.findall(folded):
        if token.isascii() or not _CJK.search(token):
            out.append(token)
            continue
        for run in _CJK_RUN.findall(token):
            if _KANA.search(run):
                out.extend(_JAPANESE_RUN.findall(run))
            else:
                out.append(run)
    return out


def script(word: str) -> str:
    """The writing system of a word, by its first letter: ``latin`` (digits too), ``cyrillic``,
    ``arabic``, ``devanagari``, ``tamil``, ``cjk`` or ``other``.
    """
    first = ord(word[0])
    if _CJK.match(word):
        return "cjk"
    for bound, name in _SCRIPT_BOUNDS:
        if first < bound:
            return name
    return "other"
