"""Slack's text both ways: what people typed made plain, and plain text made inert mrkdwn.

Slack sends message and command text with ``&``, ``<`` and ``>`` escaped and with mentions,
channels and links written as ``<@U123>``, ``<#C123|name>`` or ``<https://...|label>``. The
handler wants what a person sees, so :func:`plain` turns those back into text. The other way,
everything we send is escaped by :func:`escape` so that no text, the user's least of all, becomes
a link, a mention or a broadcast.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.render.text import ELLIPSIS, word_cut

# Right-to-left mark: Slack lays a paragraph out by its first strong character, and an Arabic card
# often starts with "404 Not Found"; a leading RLM makes each line read right to left.
RLM = "\u200f"
# Word joiner: invisible, but "@\u2060here" is no longer the word Slack would parse as @here.
WORD_JOINER = "\u2060"

_ANGLE = re.compile(r"<([^<>]*)>")
_BROADCAST = re.compile(r"@(?=(?:here|channel|everyone)\b)", re.IGNORECASE)


def _spelled(inner: str) -> str:
    """What a person sees for one ``<...>`` sequence; mentions of people are dropped (their ids
    are letters and digits that could pass for a status code)."""
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return ""
    if target.startswith("#"):
        return f"#{label}" if label else ""
    if target.startswith("!"):
        # <!here>, <!channel>, <!subteam^S1|@team>, <!date^...|fallback>: only a date's text counts.
        return label if target.startswith("!date") else ""
    return label or target


def plain(text: str) -> str:
    """Slack's encoded text as a person reads it: mentions removed, links as their label,
    ``&amp;``, ``&lt;`` and ``&gt;`` decoded (in that order of safety: ``&amp;lt;`` stays ``&lt;``)."""
    if "<" in text:
        text = _ANGLE.sub(lambda m: _spelled(m.group(1)), text)
    if "&" in text:
        text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return text.strip()


# Most text is the catalogue's own, escaped again for every answer: remember the results.
@lru_cache(maxsize=8192)
def escape(text: str) -> str:
    """Plain text made literal in mrkdwn: no link, mention or ``@here`` can come out of it."""
    if "&" in text or "<" in text or ">" in text:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if "@" in text:
        text = _BROADCAST.sub("@" + WORD_JOINER, text)
    return text


def quiet(text: str) -> str:
    """Plain text (a header, a button) with ``@here``, ``@channel`` and ``@everyone`` broken
    invisibly: plain text is shown as it is, but it also lands in notifications and copies."""
    return _BROADCAST.sub("@" + WORD_JOINER, text) if "@" in text else text


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary when one is near, never in
    the middle of an escape such as ``&amp;``."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    cut = word_cut(text, limit)
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + ELLIPSIS


def directed(text: str, rtl: bool) -> str:
    """Each line of ``text`` marked right to left when ``rtl``."""
    if not rtl or not text:
        return text
    return "\n".join(RLM + line if line else line for line in text.split("\n"))
