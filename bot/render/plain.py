"""Plain-text rendering, for the console, ``ask`` and logs."""

from __future__ import annotations

from typing import Any

from handlers.models import Reply
from handlers.typography import labelled


def render_plain(reply: Reply) -> str:
    """The reply exactly as a person reads it in a terminal."""
    lines = [reply.title]
    if reply.summary:
        lines.append(reply.summary)
    if reply.body:
        lines += ["", reply.body]
    if reply.items:
        lines.append("")
        lines += [f"  {item.title} — {item.summary}" for item in reply.items]
    if reply.fields:
        lines.append("")
        lines += [labelled(f.name, f.value, reply.lang) for f in reply.fields]
    if reply.links:
        lines.append("")
        lines += [labelled(link.label, link.url, reply.lang) for link in reply.links]
    return "\n".join(lines)


def reply_json(reply: Reply) -> dict[str, Any]:
    """The ``--json`` object of ``ask``: its keys are a contract with scripts and checks.

    An entry (a card, or 000) also carries its facts: ``sent_by``, ``seen_by_client``, ``retry``
    as language-neutral values, and ``links`` as ``{"label", "url"}`` objects in the reply's language.
    """
    out: dict[str, Any] = {
        "kind": reply.kind,
        "query": reply.query,
        "lang": reply.lang,
        "codes": list(reply.codes),
        "class": reply.code_class,
        "error": reply.error,
        "title": reply.title,
        "text": render_plain(reply),
    }
    if reply.kind == "entry":
        facts = reply.facts
        out["sent_by"] = facts.sent_by if facts else None
        out["seen_by_client"] = facts.seen_by_client if facts else None
        out["retry"] = facts.retry if facts else None
        out["links"] = [{"label": link.label, "url": link.url} for link in reply.links]
    return out
