"""The seam between platform adapters and the shared handler.

Adapters turn a platform event into a :class:`Request` and render the :class:`Reply` they get back.
Both are plain frozen dataclasses: nothing here knows about Discord, Telegram or the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ReplyKind = Literal["entry", "list", "compare", "unassigned", "help", "error"]
ErrorKind = Literal["empty_input", "out_of_range", "too_long", "no_match"]
Mode = Literal["answer", "explain"]


@dataclass(frozen=True, slots=True)
class Request:
    """What a user asked, with everything the handler needs to choose a language.

    ``langs`` lists language preferences, strongest first: an explicit option, the chat's
    stored preference, the user's client locale, the server's locale. Each may be ``None`` or a
    platform locale such as ``pt-BR``; the handler takes the first one it supports, else English.
    ``mode`` is ``"answer"`` for a query and ``"explain"`` for free text (a pasted log line)
    in which every status code should be explained.
    """

    text: str
    langs: tuple[str | None, ...] = ()
    platform: str = ""
    """The adapter that asked (a plain name, for metrics and logs; the handler ignores it)."""
    mode: Mode = "answer"


@dataclass(frozen=True, slots=True)
class Field:
    """A named piece of a card (class, standing, related codes...)."""

    name: str
    value: str
    inline: bool = True


@dataclass(frozen=True, slots=True)
class Link:
    """A link a renderer shows as a button (specification, MDN)."""

    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Facts:
    """Where a code comes from and what to do with it, as language-neutral values.

    ``sent_by`` is ``origin``, ``proxy``, ``cdn``, ``load_balancer``, ``client`` or
    ``server_software``; ``seen_by_client`` is false for codes that only appear in logs; ``retry``
    is ``no``, ``yes``, ``after_delay`` or ``after_change``. ``ask --json`` prints them as they are.
    """

    sent_by: str
    seen_by_client: bool
    retry: str


@dataclass(frozen=True, slots=True)
class Item:
    """One row of a list reply, an autocomplete choice or an inline result."""

    code: int
    entry_id: str
    title: str
    summary: str
    query: str = ""
    """What choosing this row asks, when it is not its code alone: a comparison
    (``401 vs 403``) is offered as one row that answers with the comparison."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A platform-neutral answer.

    ``title``, ``summary`` (one line) and ``body`` are plain text (renderers escape them);
    ``fields`` and ``links`` enrich an entry card; ``items`` are the rows of a list (a class, a
    search, codes in a message) or the suggestions after a failed search. ``codes`` are the
    codes the reply is about, best first. ``facts`` are an entry card's structured facts (the
    same ones its fields show in words).
    """

    kind: ReplyKind
    query: str
    lang: str
    title: str
    body: str = ""
    summary: str = ""
    fields: tuple[Field, ...] = ()
    links: tuple[Link, ...] = ()
    items: tuple[Item, ...] = ()
    codes: tuple[int, ...] = ()
    code_class: str | None = None
    error: ErrorKind | None = None
    colour: int = 0x5865F2
    footer: str = ""
    rtl: bool = False
    facts: Facts | None = None
