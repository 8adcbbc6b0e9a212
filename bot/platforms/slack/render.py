"""Slack rendering: a :class:`handlers.Reply` in, a Block Kit message out, as plain dicts.

The card is built from whatever the reply holds (title, summary, body, fields, items, links,
footer), so a section the handler adds later shows up here without a change. Every message stays
within Block Kit's limits, which are facts of the API checked again by the tests: a header of at
most 150 characters, section texts of at most 3,000, at most 10 fields of 2,000 per section, at
most 50 blocks. Long text is cut at a word with an ellipsis, a list that runs out of room ends with
"…and N more". Every text is escaped (:func:`bot.platforms.slack.text.escape`) and every mrkdwn
object is ``verbatim``, so nothing in a reply becomes a link, a mention or a broadcast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.platforms.slack.text import directed, escape, quiet, truncate
from handlers import Field, Handler, Item, Reply

# ---- Block Kit's limits ---------------------------------------------------------------------------
BLOCKS_MAX = 50
HEADER_MAX = 150
TEXT_MAX = 3000
FIELDS_MAX = 10
FIELD_MAX = 2000
CONTEXT_ELEMENTS_MAX = 10
ACTIONS_ELEMENTS_MAX = 25
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
BUTTON_URL_MAX = 3000
ACTION_ID_MAX = 255
# The notification text of a message (shown where blocks are not: notifications, old clients).
FALLBACK_MAX = 3000

SHARE_ACTION = "share_http_status"
LINK_ACTION_PREFIX = "link_"

Mode = Literal["answer", "explain"]


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(quiet(text), limit), "emoji": False}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(truncate(text, TEXT_MAX))}


# ---- the Share button -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShareKey:
    """What a Share button replays: a query in one language, answered or explained."""

    lang: str
    mode: Mode
    text: str

    def value(self) -> str:
        """``<lang>:<a|e>:<text>``; the text is last so that it may contain colons."""
        return f"{self.lang}:{self.mode[0]}:{self.text}"

    @classmethod
    def parse(cls, value: str) -> ShareKey | None:
        """The key a button carries, or ``None`` when the value is not one of ours."""
        parts = value.split(":", 2)
        if len(parts) != 3 or parts[1] not in ("a", "e") or not parts[0] or not parts[2]:
            return None
        mode: Mode = "answer" if parts[1] == "a" else "explain"
        return cls(parts[0], mode, parts[2])


def share_key(reply: Reply, mode: Mode = "answer") -> ShareKey | None:
    """How to rebuild ``reply`` for the channel, or ``None`` when it is not worth sharing.

    A card replays as its code (so "random" shares the code that was drawn), an explained message
    as the codes found in it, anything else with codes (a list, a comparison) as its query. Help
    and errors are not shared.
    """
    if reply.kind in ("help", "error"):
        return None
    if reply.kind in ("entry", "unassigned") and len(reply.codes) == 1:
        key = ShareKey(reply.lang, "answer", f"{reply.codes[0]:03d}")
    elif mode == "explain" and reply.codes:
        key = ShareKey(reply.lang, "explain", " ".join(str(c) for c in reply.codes))
    elif reply.query.strip():
        key = ShareKey(reply.lang, "answer", " ".join(reply.query.split()))
    else:
        return None
    return key if len(key.value()) <= BUTTON_VALUE_MAX else None


# ---- blocks ---------------------------------------------------------------------------------------


def _paragraph_sections(paragraphs: Iterable[str]) -> list[dict[str, Any]]:
    """Paragraphs (already escaped and directed) in as few sections as they need, each within
    3,000 characters."""
    sections: list[str] = []
    for shown in paragraphs:
        if not shown:
            continue
        if sections and len(sections[-1]) + 2 + len(shown) <= TEXT_MAX:
            sections[-1] += "\n\n" + shown
        else:
            sections.append(shown)
    return [_section(text) for text in sections]


def _lead(reply: Reply) -> list[str]:
    """The summary (bold: the line people read first) and the body's paragraphs."""
    rtl = reply.rtl
    paragraphs = []
    if reply.summary.strip():
        paragraphs.append(f"*{directed(escape(reply.summary.strip()), rtl)}*")
    paragraphs += [directed(escape(p.strip()), rtl) for p in reply.body.split("\n\n") if p.strip()]
    return paragraphs


def _field_text(field: Field, rtl: bool, limit: int) -> str:
    # The RLM goes inside the asterisks, which must open the line for Slack to see bold.
    name = f"*{directed(escape(field.name.strip()), rtl)}*" if field.name.strip() else ""
    value = directed(escape(field.value), rtl)
    text = "\n".join(part for part in (name, value) if part) or "\u200b"
    return truncate(text, limit)


def _field_blocks(fields: Sequence[Field], rtl: bool) -> list[dict[str, Any]]:
    """Consecutive inline fields side by side (10 to a section), the others full width."""
    blocks: list[dict[str, Any]] = []
    run: list[dict[str, Any]] = []

    def flush() -> None:
        if run:
            blocks.append({"type": "section", "fields": list(run)})
            run.clear()

    for field in fields:
        if field.inline:
            run.append(_mrkdwn(_field_text(field, rtl, FIELD_MAX)))
            if len(run) == FIELDS_MAX:
                flush()
        else:
            flush()
            blocks.append({"type": "section", "text": _mrkdwn(_field_text(field, rtl, TEXT_MAX))})
    flush()
    return blocks


def _item_line(item: Item, rtl: bool) -> str:
    line = f"*{directed(escape(item.title), rtl)}*"
    if item.summary:
        line += f" — {escape(item.summary)}"
    return truncate(line, TEXT_MAX // 2)


def _item_blocks(
    items: Sequence[Item], rtl: bool, more: Callable[[int], str], budget: int
) -> list[dict[str, Any]]:
    """One line per item, packed into at most ``budget`` sections; when they are not enough the
    last section ends with "…and N more"."""
    sections: list[list[str]] = []

    def size(lines: list[str]) -> int:
        return sum(len(line) for line in lines) + len(lines) - 1

    for index, item in enumerate(items):
        line = _item_line(item, rtl)
        if sections and size(sections[-1]) + 1 + len(line) <= TEXT_MAX:
            sections[-1].append(line)
            continue
        if len(sections) < budget:
            sections.append([line])
            continue
        remaining, last = len(items) - index, sections[-1]
        while True:
            tail = directed(escape(more(remaining)), rtl)
            if size(last) + 1 + len(tail) <= TEXT_MAX or len(last) == 1:
                break
            last.pop()
            remaining += 1
        last.append(tail)
        break
    return [_section("\n".join(lines)) for lines in sections]


def _buttons(reply: Reply, share: ShareKey | None, share_label: str) -> list[dict[str, Any]]:
    buttons: list[dict[str, Any]] = []
    for index, link in enumerate(reply.links):
        if not link.url.startswith(("https://", "http://")) or len(link.url) > BUTTON_URL_MAX:
            continue
        buttons.append(
            {
                "type": "button",
                "action_id": f"{LINK_ACTION_PREFIX}{index}",
                "text": _plain(link.label.strip() or link.url, BUTTON_TEXT_MAX),
                "url": link.url,
            }
        )
    if share is not None:
        buttons.append(
            {
                "type": "button",
                "action_id": SHARE_ACTION,
                "text": _plain(share_label, BUTTON_TEXT_MAX),
                "value": share.value(),
                "style": "primary",
            }
        )
    return buttons[:ACTIONS_ELEMENTS_MAX]


def render_blocks(
    reply: Reply, handler: Handler, footer: str = "", share: ShareKey | None = None
) -> list[dict[str, Any]]:
    """The blocks that show ``reply``: header, text, fields, list, footer, buttons."""
    rtl = reply.rtl
    title = directed(reply.title.strip(), rtl) or "HTTP"
    head: list[dict[str, Any]] = [{"type": "header", "text": _plain(title, HEADER_MAX)}]
    tail: list[dict[str, Any]] = []
    footer_text = " · ".join(part for part in (reply.footer, footer) if part)
    if footer_text:
        text = truncate(directed(escape(footer_text), rtl), TEXT_MAX)
        tail.append({"type": "context", "elements": [_mrkdwn(text)]})
    buttons = _buttons(reply, share, handler.ui(reply.lang, "button_share"))
    if buttons:
        tail.append({"type": "actions", "elements": buttons})

    body = _paragraph_sections(_lead(reply))
    fields = _field_blocks(reply.fields, rtl)
    room = BLOCKS_MAX - len(head) - len(tail)
    content = [*body, *fields][: max(room - (1 if reply.items else 0), 0)]
    if reply.items:

        def more(count: int) -> str:
            return handler.ui(reply.lang, "list_more", count=count)

        content += _item_blocks(reply.items, rtl, more, max(room - len(content), 1))
    return [*head, *content, *tail]


def fallback_text(reply: Reply) -> str:
    """The message's notification text: the title and its summary."""
    text = " — ".join(part.strip() for part in (reply.title, reply.summary) if part.strip())
    return truncate(escape(text or "HTTP"), FALLBACK_MAX)


def render_message(
    reply: Reply,
    handler: Handler,
    *,
    shareable: bool = False,
    mode: Mode = "answer",
    shared_by: str | None = None,
) -> dict[str, Any]:
    """The message for ``reply`` (``text`` and ``blocks``), with a Share button when
    ``shareable`` (an answer only the asker sees) and "Shared by NAME" when shared."""
    footer = handler.ui(reply.lang, "shared_by", user=shared_by) if shared_by else ""
    share = share_key(reply, mode) if shareable else None
    return {"text": fallback_text(reply), "blocks": render_blocks(reply, handler, footer, share)}


def render_text(text: str, *, rtl: bool = False) -> dict[str, Any]:
    """A short notice (language settings, the apology) as one section, escaped, within limits."""
    shown = truncate(directed(escape(text), rtl), TEXT_MAX) or "…"
    return {"text": truncate(escape(text), FALLBACK_MAX) or "…", "blocks": [_section(shown)]}


def message_text(message: dict[str, Any]) -> str:
    """Every text a message shows, for "explain every code in this message": its text, its
    attachments (where bots put log excerpts) and the text of its sections."""
    parts = [str(message.get("text") or "")]
    for attachment in message.get("attachments") or ():
        if isinstance(attachment, dict):
            parts += [str(attachment.get(key) or "") for key in ("pretext", "title", "text")]
            for field in attachment.get("fields") or ():
                if isinstance(field, dict):
                    parts.append(f"{field.get('title', '')} {field.get('value', '')}")
    parts += _block_texts(message.get("blocks") or ())
    seen: set[str] = set()
    unique = []
    for part in parts:
        # A message's text usually repeats its blocks' text as the fallback: read it once.
        if part.strip() and part not in seen:
            seen.add(part)
            unique.append(part)
    return "\n".join(unique)


def _block_texts(blocks: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        text = block.get("text")
        if isinstance(text, dict) and isinstance(text.get("text"), str):
            out.append(text["text"])
        for field in block.get("fields") or ():
            if isinstance(field, dict) and isinstance(field.get("text"), str):
                out.append(field["text"])
    return out
