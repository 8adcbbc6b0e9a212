"""Choosing the reply language from platform locales and preferences.

Every locale falls back on its primary subtag (``pt-BR`` → ``pt``, ``zh-TW`` → ``zh``,
``es-419`` → ``es``), which the data's ``locales`` lists are checked against, so no language file
has to be read to choose a language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def lookup(candidate: str | None, table: Mapping[str, str]) -> str | None:
    """The language a single locale (``pt-BR``, ``zh_TW``, ``es-419``) maps to, or ``None``.

    An exact locale wins, then its primary subtag.
    """
    if not candidate:
        return None
    key = candidate.strip().casefold().replace("_", "-")
    if key in table:
        return table[key]
    return table.get(key.split("-", 1)[0])


def resolve(candidates: Iterable[str | None], table: Mapping[str, str], default: str = "en") -> str:
    """The first supported language among ``candidates``, strongest first.

    Unknown or empty candidates are skipped.
    """
    for candidate in candidates:
        found = lookup(candidate, table)
        if found:
            return found
    return default
