"""Text normalisation and tokenisation shared by the parser and the search index."""

from __future__ import annotations

import re
import unicodedata

# Accents are folded only on Latin letters: in Devanagari, Tamil, Arabic or kana the combining
# marks are part of the spelling, and dropping them would merge unrelated words.
_LATIN_END = "\u0250"
_TOKEN = re.compile(
    r"[^\s!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~«»“”„‘’‚·…、。，！？：；「」『』（）【】《》〈〉–—¿¡،؛؟]+"
)
_SCRIPT_FOLD: dict[int, str | None] = dict.fromkeys(range(1611, 1619))
_SCRIPT_FOLD.update({0x0640: None, ord("أ"): "ا", ord("إ"): "ا", ord("آ"): "ا", ord("ى"): "ي"})
# Hindi writers drop the nukta as often as they type it (खराब / ख़राब).
_SCRIPT_FOLD[0x093C] = None
_SCRIPT = str.maketrans(_SCRIPT_FOLD)
# After NFKC an accent on a Latin letter is always precomposed into one of these ranges.
_ACCENTED_LATIN = re.compile(r"[\u00c0-\u024f\u1e00-\u1eff]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def fold(text: str) -> str:
    """NFKC, case folding, and accent folding on Latin letters (``Élément`` → ``element``)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if folded.isascii():
        return folded
    if _ACCENTED_LATIN.search(folded):
        kept: list[str] = []
        latin_base = False
        for ch in unicodedata.normalize("NFD", folded):
            if unicodedata.combining(ch):
                if latin_base:
                    continue
            else:
                latin_base = ch < _LATIN_END
            kept.append(ch)
        folded = unicodedata.normalize("NFC", "".join(kept))
    # Russian users write е for ё, Arabic users rarely type vowel marks or the hamza forms of
    # alef, Hindi users often leave out the nukta: fold both sides the same way.
    return folded.replace("ё", "е").translate(_SCRIPT)


def tokens(folded: str) -> list[str]:
    """Words of an already folded text, split on spaces and punctuation of any script."""
    return _TOKEN.findall(folded)


def has_cjk(token: str) -> bool:
    """Whether a token holds Chinese, Japanese or Korean characters (written without spaces)."""
    return _CJK.search(token) is not None


def ngrams(token: str) -> list[str]:
    """Character bigrams of a token (a single character stays whole), for unspaced scripts."""
    if len(token) < 2:
        return [token]
    return [token[i : i + 2] for i in range(len(token) - 1)]


def stem(token: str) -> str:
    """A light inflection fold for Latin-script words: plural ``s`` and trailing ``e`` go.

    ``requêtes``/``requête``, ``déplacée``/``déplacé``, ``requests``/``request`` meet; a real
    stemmer would need to know the query's language, which a one-line query rarely tells.
    """
    if len(token) <= 4 or not token.isascii() or not token.isalpha():
        return token
    if token.endswith("s") and not token.endswith("ss"):
        token = token[:-1]
    while len(token) > 4 and token.endswith("e"):
        token = token[:-1]
    return token
