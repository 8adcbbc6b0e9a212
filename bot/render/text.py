"""Text shortening every renderer shares; each platform adds what its own markup needs."""

from __future__ import annotations

ELLIPSIS = "…"


def word_cut(text: str, limit: int) -> str:
    """The start of ``text`` that leaves room for an ellipsis within ``limit`` characters, ending
    at a word boundary when one is near.

    Only backs up to a space when that keeps most of the text: a long run without spaces (a URL,
    Chinese or Japanese text) is cut where it is.
    """
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 0.8:
        cut = cut[:space]
    return cut.rstrip()
