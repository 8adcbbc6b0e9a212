"""Choosing the reply language from platform locales and preferences."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from handlers.catalogue import Language


def locale_map(languages: Mapping[str, Language]) -> dict[str, str]:
    """Every folded locale spelling a language file claims, mapped to its language code."""
    table: dict[str, str] = {}
    for code, language in languages.items():
        table[code] = code
        for locale in language.locales:
            table[locale.casefold().replace("_", "-")] = code
    return table


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
