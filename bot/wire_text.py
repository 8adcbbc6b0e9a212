"""Text from the network that Python can hold but not encode: lone UTF-16 surrogates.

JSON may spell any code unit as ``\\udXXX``, and ``json.loads`` turns an unpaired one into a lone
surrogate; encoding such a string to UTF-8 (a stemmer, a reply, a log line) then fails. Such text
is repaired where it enters: each lone surrogate becomes U+FFFD.
"""

from __future__ import annotations

from typing import Any


def scrub(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (the same object when it has none)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def may_hold_surrogates(raw: bytes) -> bool:
    """Whether a JSON document might decode to a lone surrogate (it escapes one): a cheap test
    that spares :func:`scrub_json` on almost every request."""
    return b"\\ud" in raw or b"\\uD" in raw


def scrub_json(value: Any) -> Any:
    """A decoded JSON value with :func:`scrub` applied to every string, keys included."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [scrub_json(item) for item in value]
    if isinstance(value, dict):
        return {scrub(str(key)): scrub_json(item) for key, item in value.items()}
    return value
