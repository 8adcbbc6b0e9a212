"""Discord rendering: a :class:`handlers.Reply` in, a message payload out, as plain dicts.

The same dicts serve both ways of running: the HTTP interactions endpoint sends them as the
``data`` of an interaction callback, and the gateway adapter turns them into ``discord.Embed`` and
``discord.ui.View`` objects. Nothing here imports discord.py, so the HTTP mode never pays for it.

Every payload built here respects Discord's limits (they are facts of the API, checked again by the
tests): text is cut at a word boundary with an ellipsis, lists end with "…and N more" when they do
not fit, and an embed never exceeds 6,000 characters in total.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from bot.log_uploads import CHART_NAME, Block, Section, fit, report_sections
from bot.render.text import ELLIPSIS, word_cut
from handlers import Handler, Item, Reply

if TYPE_CHECKING:
    from bot.flows import LanguageChoice
    from handlers.logs import LogReport, LogSummary

# ---- Discord's limits ----------------------------------------------------------------------------
CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_NAME_MAX = 256
EMBED_TOTAL_MAX = 6000
CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
CHOICE_VALUE_MAX = 100
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
BUTTON_URL_MAX = 512
BUTTONS_PER_ROW = 5

# Message flag and component constants of the API.
EPHEMERAL = 1 << 6
ACTION_ROW = 1
BUTTON = 2
STYLE_SECONDARY = 2
STYLE_LINK = 5

NO_MENTIONS: dict[str, list[str]] = {"parse": []}
# Right-to-left mark: Discord picks a paragraph's direction from its first strong character, and
# our Arabic cards often start with "404 Not Found" (Latin), which would lay the line out
# left-to-right. A leading RLM makes every paragraph of an RTL reply read right-to-left.
RLM = "\u200f"
SHARE_PREFIX = "share"

_MARKDOWN = re.compile(r"([\\*_~`|\[\]<>])")
_LINE_START = re.compile(r"(?m)^(\s*)([#>\-+]|\d+\.)")
_LINE_MARKERS = frozenset("#>-+0123456789 \t")


# Most text is the catalogue's own, escaped again for every answer: remember the results.
@lru_cache(maxsize=8192)
def escape_markdown(text: str) -> str:
    """Plain text made literal in Discord: no bold, links, mentions, headings or quotes.

    Replies are plain text, and some of it comes from users (the query shown in "Nothing matched
    “…”"), so a ``[link](https://…)`` typed by someone must not become a disguised link in our embed.
    """
    # Searching first is several times cheaper than substituting on text with nothing to escape,
    # which is most of it.
    if _MARKDOWN.search(text):
        text = _MARKDOWN.sub(r"\\\1", text)
    if text[:1] in _LINE_MARKERS or "\n" in text:
        text = _LINE_START.sub(r"\1\\\2", text)
    return text


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary when one is near."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    cut = word_cut(text, limit)
    # An odd run of backslashes at the end would escape the ellipsis: drop the lone one.
    if (len(cut) - len(cut.rstrip("\\"))) % 2 == 1:
        cut = cut[:-1]
    return cut + ELLIPSIS


def _directed(text: str, rtl: bool) -> str:
    if not rtl or not text:
        return text
    return "\n".join(RLM + line if line else line for line in text.split("\n"))


# ---- the Share button ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShareKey:
    """What a Share button replays: a query in one language, answered or explained."""

    lang: str
    mode: Literal["answer", "explain"]
    text: str

    def custom_id(self) -> str:
        """``share:<lang>:<a|e>:<text>``; the text is last so that it may contain colons."""
        return f"{SHARE_PREFIX}:{self.lang}:{self.mode[0]}:{self.text}"

    @classmethod
    def parse(cls, custom_id: str) -> ShareKey | None:
        """The key a button carries, or ``None`` when the id is not one of ours."""
        parts = custom_id.split(":", 3)
        if len(parts) != 4 or parts[0] != SHARE_PREFIX or parts[2] not in ("a", "e") or not parts[3]:
            return None
        mode: Literal["answer", "explain"] = "answer" if parts[2] == "a" else "explain"
        return cls(parts[1], mode, parts[3])


def share_key(reply: Reply, mode: Literal["answer", "explain"] = "answer") -> ShareKey | None:
    """How to rebuild ``reply`` for the channel, or ``None`` when it cannot be replayed compactly.

    A card replays as its code (so "random" shares the code that was drawn), a list as its query,
    an explained message as the codes found in it. Help and errors are not worth sharing.
    """
    if reply.kind in ("entry", "unassigned") and len(reply.codes) == 1:
        key = ShareKey(reply.lang, "answer", f"{reply.codes[0]:03d}")
    elif reply.kind == "list" and mode == "explain":
        key = ShareKey(reply.lang, "explain", " ".join(str(c) for c in reply.codes))
    elif reply.kind == "list" and reply.query.strip():
        key = ShareKey(reply.lang, "answer", " ".join(reply.query.split()))
    else:
        return None
    return key if len(key.custom_id()) <= CUSTOM_ID_MAX else None


# ---- embeds --------------------------------------------------------------------------------------


def embed_length(embed: dict[str, Any]) -> int:
    """The characters Discord counts towards its 6,000 limit for one embed."""
    total = len(embed.get("title", "")) + len(embed.get("description", ""))
    total += len(embed.get("footer", {}).get("text", "")) + len(embed.get("author", {}).get("name", ""))
    for field in embed.get("fields", ()):
        total += len(field["name"]) + len(field["value"])
    return total


def fit_embed(embed: dict[str, Any]) -> dict[str, Any]:
    """The embed cut to every one of Discord's limits (each piece, then the 6,000 total).

    When the total is too long the description is shortened first, then fields are dropped
    from the end: the title, the first fields and the footer (who shared it) matter most.
    """
    if "title" in embed:
        embed["title"] = truncate(embed["title"], EMBED_TITLE_MAX)
    if "description" in embed:
        embed["description"] = truncate(embed["description"], EMBED_DESCRIPTION_MAX)
    if "footer" in embed:
        embed["footer"]["text"] = truncate(embed["footer"]["text"], FOOTER_MAX)
    if "author" in embed:
        embed["author"]["name"] = truncate(embed["author"]["name"], AUTHOR_NAME_MAX)
    fields = [
        {
            "name": truncate(f["name"], FIELD_NAME_MAX) or "\u200b",
            "value": truncate(f["value"], FIELD_VALUE_MAX) or "\u200b",
            "inline": f.get("inline", True),
        }
        for f in embed.get("fields", ())[:EMBED_FIELDS_MAX]
    ]
    if fields:
        embed["fields"] = fields
    excess = embed_length(embed) - EMBED_TOTAL_MAX
    if excess > 0 and embed.get("description"):
        keep = max(len(embed["description"]) - excess, 0)
        embed["description"] = truncate(embed["description"], keep) if keep > 1 else ""
        if not embed["description"]:
            del embed["description"]
        excess = embed_length(embed) - EMBED_TOTAL_MAX
    while excess > 0 and embed.get("fields"):
        embed["fields"].pop()
        excess = embed_length(embed) - EMBED_TOTAL_MAX
    if "fields" in embed and not embed["fields"]:
        del embed["fields"]
    if excess > 0 and "footer" in embed:
        embed["footer"]["text"] = truncate(
            embed["footer"]["text"], max(len(embed["footer"]["text"]) - excess, 1)
        )
        excess = embed_length(embed) - EMBED_TOTAL_MAX
    if excess > 0 and "title" in embed:
        embed["title"] = truncate(embed["title"], max(len(embed["title"]) - excess, 1))
    return embed


def _item_line(item: Item, rtl: bool) -> str:
    line = f"**{escape_markdown(item.title)}** — {escape_markdown(item.summary)}"
    return RLM + line if rtl else line


def _list_description(
    lead: str, items: Sequence[Item], rtl: bool, more: Callable[[int], str], budget: int
) -> str:
    """The lead paragraph then one line per item, ending with "…and N more" when space runs out."""
    lines = [lead] if lead else []
    used = len(lead)
    for index, item in enumerate(items):
        line = _item_line(item, rtl)
        remaining = len(items) - index - 1
        # Room for this line, and for the "and more" line should a later one not fit.
        tail = len(more(remaining)) + 1 if remaining else 0
        if used + len(line) + 1 + tail > budget:
            lines.append(_directed(more(len(items) - index), rtl))
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)


def render_embed(reply: Reply, handler: Handler, footer: str = "") -> dict[str, Any]:
    """The one embed that shows ``reply``: a card, or a compact list for classes and searches."""
    rtl = reply.rtl
    embed: dict[str, Any] = {"title": _directed(escape_markdown(reply.title), rtl), "color": reply.colour}
    lead = "\n\n".join(escape_markdown(part) for part in (reply.summary, reply.body) if part)
    lead = _directed(lead, rtl)
    if reply.items:

        def more(count: int) -> str:
            return handler.ui(reply.lang, "list_more", count=count)

        # The total limit is shared with the title and footer; keep a margin for both.
        budget = min(EMBED_DESCRIPTION_MAX, EMBED_TOTAL_MAX - len(embed["title"]) - len(footer) - 8)
        description = _list_description(lead, reply.items, rtl, more, budget)
    else:
        description = lead
    if description:
        embed["description"] = description
    if reply.fields:
        embed["fields"] = [
            {
                "name": _directed(escape_markdown(f.name), rtl),
                "value": _directed(escape_markdown(f.value), rtl),
                "inline": f.inline,
            }
            for f in reply.fields
        ]
    footer_text = " · ".join(part for part in (reply.footer, footer) if part)
    if footer_text:
        embed["footer"] = {"text": _directed(footer_text, rtl)}
    return fit_embed(embed)


def _buttons(reply: Reply, share: ShareKey | None, share_label: str) -> list[dict[str, Any]]:
    buttons: list[dict[str, Any]] = [
        {
            "type": BUTTON,
            "style": STYLE_LINK,
            "label": truncate(link.label, BUTTON_LABEL_MAX),
            "url": link.url,
        }
        for link in reply.links
        if link.url.startswith(("https://", "http://")) and len(link.url) <= BUTTON_URL_MAX
    ]
    if share is not None:
        buttons.append(
            {
                "type": BUTTON,
                "style": STYLE_SECONDARY,
                "label": truncate(share_label, BUTTON_LABEL_MAX),
                "custom_id": share.custom_id(),
            }
        )
    return buttons


def _rows(buttons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"type": ACTION_ROW, "components": buttons[i : i + BUTTONS_PER_ROW]}
        for i in range(0, min(len(buttons), BUTTONS_PER_ROW * 5), BUTTONS_PER_ROW)
    ]


def render_message(
    reply: Reply,
    handler: Handler,
    *,
    ephemeral: bool = False,
    mode: Literal["answer", "explain"] = "answer",
    shared_by: str | None = None,
) -> dict[str, Any]:
    """The message for ``reply``: embed, link buttons, and for a private reply a Share button.

    ``shared_by`` is the display name of whoever pressed Share; it goes in the footer.
    Mentions never ping, whatever the text holds.
    """
    # Footers show no markdown, so the name goes in as it is.
    footer = handler.ui(reply.lang, "shared_by", user=shared_by) if shared_by else ""
    share = share_key(reply, mode) if ephemeral else None
    message: dict[str, Any] = {
        "embeds": [render_embed(reply, handler, footer)],
        "allowed_mentions": NO_MENTIONS,
    }
    buttons = _buttons(reply, share, handler.ui(reply.lang, "button_share"))
    if buttons:
        message["components"] = _rows(buttons)
    if ephemeral:
        message["flags"] = EPHEMERAL
    return message


def render_text(text: str, *, ephemeral: bool = False, rtl: bool = False) -> dict[str, Any]:
    """A short text message (language settings, the apology), escaped and within limits."""
    message: dict[str, Any] = {
        "content": truncate(_directed(text, rtl), CONTENT_MAX),
        "allowed_mentions": NO_MENTIONS,
    }
    if ephemeral:
        message["flags"] = EPHEMERAL
    return message


def render_languages(languages: Iterable[LanguageChoice]) -> list[dict[str, str]]:
    """Language choices (``lang`` options, ``/lang`` autocomplete): each named as its speakers
    write it, its code as the value."""
    return [
        {"name": truncate(language.native_name, CHOICE_NAME_MAX), "value": language.code}
        for language in languages
    ][:CHOICES_MAX]


def render_choices(items: Iterable[Item], rtl: bool = False) -> list[dict[str, str]]:
    """Autocomplete choices: ``404 Not Found · summary`` (1-100 characters), the code as value."""
    choices: list[dict[str, str]] = []
    seen: set[str] = set()
    for item in items:
        # A comparison row answers its whole query; any other row, its code.
        value = item.query or str(item.code)
        if value in seen:
            continue
        seen.add(value)
        label = f"{item.title} · {item.summary}" if item.summary else item.title
        name = truncate(RLM + label if rtl else label, CHOICE_NAME_MAX).strip() or value
        choices.append({"name": name, "value": value[:CHOICE_VALUE_MAX]})
        if len(choices) == CHOICES_MAX:
            break
    return choices


# ---- log summaries -------------------------------------------------------------------------------

LOG_SHARE_PREFIX = "sharelog"
# Colours of the chart's classes, so that the embed's stripe matches the picture.
COLOUR_5XX = 0xE74C3C
COLOUR_4XX = 0xE67E22
COLOUR_OK = 0x2ECC71


def log_share_id(lang: str) -> str:
    """The Share button of a private log summary: the language of the "Shared by" footer is all
    it carries, the summary itself is read back from the message the button is on."""
    return f"{LOG_SHARE_PREFIX}:{lang}"


def parse_log_share(custom_id: str) -> str | None:
    """The language a log summary's Share button carries, or ``None`` for any other button."""
    prefix, _, lang = custom_id.partition(":")
    return lang if prefix == LOG_SHARE_PREFIX and lang else None


def _code_block(lines: Sequence[str]) -> str:
    # A backtick in a path must not close the block: the look-alike modifier letter takes its place.
    return "```\n" + "\n".join(line.replace("`", "ˋ") for line in lines) + "\n```"


def _log_description(sections: Sequence[Section], rtl: bool) -> str:
    """Sections as embed markdown: sentences escaped (headings bold), rows in code blocks."""
    parts: list[str] = []
    for index, section in enumerate(sections):
        # A section's first line heads it, unless it is all there is (a note, the "…" line).
        headed = index > 0 and sum(len(block.lines) for block in section) > 1
        pieces: list[str] = []
        for b, block in enumerate(section):
            if block.kind != "text":
                pieces.append(_code_block(block.lines))
                continue
            lines = [escape_markdown(line) for line in block.lines]
            if headed and b == 0:
                lines[0] = f"**{lines[0]}**"
            pieces.append(_directed("\n".join(lines), rtl))
        parts.append("\n".join(pieces))
    return "\n\n".join(parts)


def log_colour(summary: LogSummary | None) -> int:
    """Red when the log holds server errors, orange for client errors only, else green."""
    classes = summary.classes if summary is not None else {}
    if classes.get("5xx"):
        return COLOUR_5XX
    return COLOUR_4XX if classes.get("4xx") else COLOUR_OK


def render_log_message(
    report: LogReport,
    handler: Handler,
    *,
    chart: bool = False,
    note: str | None = None,
    ephemeral: bool = False,
) -> dict[str, Any]:
    """A log summary as one embed (tables in code blocks, the chart as its image), or a refusal as
    one line. A private summary gets a Share button.

    With ``chart`` the embed shows ``attachment://timeline.png`` and the message declares that
    file: the caller uploads it as ``files[0]``.
    """
    if report.kind == "error":
        return render_text(report.body, ephemeral=ephemeral, rtl=report.rtl)
    title = _directed(escape_markdown(report.title), report.rtl)
    sections = report_sections(report.body)
    if note:
        sections.append((Block("text", (note,)),))
    limit = min(EMBED_DESCRIPTION_MAX, EMBED_TOTAL_MAX - len(title))

    def size(candidate: Sequence[Section]) -> int:
        return len(_log_description(candidate, report.rtl))

    description = _log_description(fit(sections, size, limit, chart=chart), report.rtl)
    embed: dict[str, Any] = {"title": title, "description": description, "color": log_colour(report.summary)}
    message: dict[str, Any] = {"embeds": [fit_embed(embed)], "allowed_mentions": NO_MENTIONS}
    if chart:
        embed["image"] = {"url": f"attachment://{CHART_NAME}"}
        message["attachments"] = [{"id": "0", "filename": CHART_NAME}]
    if ephemeral:
        share = {
            "type": BUTTON,
            "style": STYLE_SECONDARY,
            "label": truncate(handler.ui(report.lang, "button_share"), BUTTON_LABEL_MAX),
            "custom_id": log_share_id(report.lang),
        }
        message["components"] = _rows([share])
        message["flags"] = EPHEMERAL
    return message


def shared_log_message(embed: dict[str, Any], footer: str, *, chart: bool) -> dict[str, Any]:
    """The public copy of a private log summary: its embed as it was shown, "Shared by …" below."""
    copy: dict[str, Any] = {
        key: embed[key] for key in ("title", "description", "color") if embed.get(key) is not None
    }
    if footer:
        copy["footer"] = {"text": footer}
    if chart:
        copy["image"] = {"url": f"attachment://{CHART_NAME}"}
    message: dict[str, Any] = {"embeds": [fit_embed(copy)], "allowed_mentions": NO_MENTIONS}
    if chart:
        message["attachments"] = [{"id": "0", "filename": CHART_NAME}]
    return message
