"""Punctuation that differs between languages, in one place for every renderer.

French sets a narrow no-break space before ``:`` (``Classe : 4xx``), Chinese and Japanese use
the full-width colon (``分类：4xx``), lists are joined with the Arabic comma in Arabic and the
enumeration comma in Chinese and Japanese. Renderers and the handler call these two functions
wherever they put a label before a value or join a list; texts written in a language already
follow its rules.
"""

from __future__ import annotations

from collections.abc import Iterable

_COLON = {"fr": "\u202f: ", "zh": "：", "ja": "："}
_LIST = {"ar": "، ", "zh": "、", "ja": "、"}


def labelled(label: str, value: str, lang: str) -> str:
    """``label: value`` punctuated for ``lang``; a value of several lines (a list of checks)
    starts on the line after its label.
    """
    colon = _COLON.get(lang, ": ")
    if "\n" in value:
        return f"{label}{colon.rstrip()}\n{value}"
    return f"{label}{colon}{value}"


def listing(items: Iterable[str], lang: str) -> str:
    """Items joined the way ``lang`` joins a list."""
    return _LIST.get(lang, ", ").join(items)
