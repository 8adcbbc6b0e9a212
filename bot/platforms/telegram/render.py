"""Telegram HTML rendering: a :class:`handlers.Reply` in, one message's text and buttons out.

Telegram parses a small HTML subset (``parse_mode="HTML"``) and limits a message to 4096
characters *after* that parsing, so the renderer keeps two things side by side for every piece it
writes: the escaped HTML and the visible text. Lengths are counted in UTF-16 code units (what
Telegram measures entity offsets in), which is never less than the number of characters.

This module imports nothing from python-telegram-bot: buttons are plain :class:`Button` values
that the adapter turns into an ``InlineKeyboardMarkup``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from bot.log_uploads import Block, Section, fit, report_sections
from handlers.logs import LogReport
from handlers.models import Reply
from handlers.typography import labelled

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
# Right-to-left mark: starts each line of an RTL reply so that a line opening with a code number
# (``404 …``) is still laid out right to left. It is plain text between tags, so markup is untouched.
RLM = "\u200f"
# A word joiner after ``@`` stops Telegram from turning echoed user text into a mention that
# would notify somebody (``/http @someone`` must not ping @someone).
_MENTION = re.compile(r"@(\w+)")
_ELLIPSIS = "…"


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def neutralise(text: str, keep: frozenset[str] = frozenset()) -> str:
    """User-visible text made inert: no mention can come out of it except of ``keep``
    (casefolded usernames, such as the bot's own)."""
    if "@" not in text:
        return text

    def defuse(match: re.Match[str]) -> str:
        name = match.group(1)
        return match.group() if name.casefold() in keep else f"@\u2060{name}"

    return _MENTION.sub(defuse, text)


@dataclass(frozen=True, slots=True)
class Button:
    """One inline keyboard button: a URL to open, or a card to share through inline mode."""

    text: str
    url: str | None = None
    switch_inline_query: str | None = None


@dataclass(frozen=True, slots=True)
class TelegramMessage:
    """A rendered message: HTML for ``parse_mode="HTML"``, its visible length, button rows."""

    html: str
    length: int
    buttons: tuple[tuple[Button, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class _Line:
    """One line of a message: its HTML, its visible text and that text's length."""

    html: str
    text: str
    length: int

    @staticmethod
    def of(*spans: tuple[str, str], keep: frozenset[str] = frozenset()) -> _Line:
        """A line from ``(tag, text)`` spans; an empty tag means plain text."""
        parts: list[str] = []
        visible: list[str] = []
        for tag, text in spans:
            if not text:
                continue
            neutral = neutralise(text, keep)
            visible.append(neutral)
            body = html.escape(neutral, quote=False)
            parts.append(f"<{tag}>{body}</{tag}>" if tag else body)
        text = "".join(visible)
        return _Line("".join(parts), text, utf16_len(text))


_BLANK = _Line("", "", 0)


def _english_more(count: int) -> str:
    return f"…and {count} more"


def _size(sections: Sequence[Sequence[_Line]]) -> int:
    """Visible length of sections joined by blank lines, lines by newlines."""
    present = [s for s in sections if s]
    lines = sum(len(s) for s in present)
    breaks = max(lines - 1, 0) + max(len(present) - 1, 0)
    return sum(line.length for s in present for line in s) + breaks


def _cut(line_text: str, budget: int) -> str:
    """``line_text`` shortened to at most ``budget`` UTF-16 units, ending with an ellipsis."""
    if budget <= 0:
        return ""
    if utf16_len(line_text) <= budget:
        return line_text
    # Cutting by code points may leave a surrogate pair's worth too much: trim until it fits.
    cut = line_text[: max(budget - 1, 0)].rstrip()
    while cut and utf16_len(cut) + 1 > budget:
        cut = cut[:-1]
    return cut + _ELLIPSIS


def _body_lines(text: str, keep: frozenset[str] = frozenset()) -> list[_Line]:
    return [_Line.of(("", para), keep=keep) if para.strip() else _BLANK for para in text.split("\n")]


def render_html(
    reply: Reply,
    *,
    more: Callable[[int], str] = _english_more,
    extra: Sequence[str] = (),
    share_label: str | None = None,
    mentions: Collection[str] = (),
    limit: int = TEXT_LIMIT,
) -> TelegramMessage:
    """Render ``reply`` as Telegram HTML within ``limit`` visible characters.

    ``more(n)`` words the line that replaces ``n`` list rows cut for length (ui ``list_more``);
    ``extra`` paragraphs follow the reply (the Telegram help line); ``share_label`` adds a button
    that shares a catalogued card through inline mode. Every ``@name`` is defused so that it
    notifies nobody, except the usernames in ``mentions`` (the bot's own, in the help line).
    """
    keep = frozenset(name.casefold() for name in mentions)
    head = [_Line.of(("b", reply.title))]
    if reply.summary:
        head.append(_Line.of(("i", reply.summary)))
    body = _body_lines(reply.body) if reply.body.strip() else []
    # The facts go in one quote block: set apart at a glance, and one entity for Telegram (and
    # for PTB to parse back) instead of a bold label per line.
    fields = [_Line.of(("", labelled(f.name, f.value, reply.lang))) for f in reply.fields]
    items = [
        _Line.of(("b", item.title), ("", f" — {item.summary}" if item.summary else ""))
        for item in reply.items
    ]
    tail = [line for text in extra for line in _body_lines(text, keep)]
    if reply.footer:
        tail.append(_Line.of(("i", reply.footer)))

    def fits(candidate: Sequence[_Line]) -> bool:
        return _measure((head, body, fields, candidate, tail), reply.rtl) <= limit

    rows: Sequence[_Line] = items
    if items and not fits(items):
        rows = _fit_items(items, more, fits)
    sections: list[list[_Line]] = [head, body, fields, list(rows), tail]
    if _measure(sections, reply.rtl) > limit:
        sections = _squeeze(sections, limit, reply.rtl)
    html_text, length = _join(sections, reply.rtl, (None, None, "blockquote"))
    return TelegramMessage(html_text, length, _buttons(reply, share_label))


def _fit_items(
    items: Sequence[_Line], more: Callable[[int], str], fits: Callable[[Sequence[_Line]], bool]
) -> list[_Line]:
    """The longest prefix of ``items`` that fits, followed by a "…and N more" line."""
    low, high = 0, len(items)
    best: list[_Line] = [_Line.of(("i", more(len(items))))]
    while low <= high:
        keep = (low + high) // 2
        candidate = [*items[:keep], _Line.of(("i", more(len(items) - keep)))]
        if fits(candidate):
            best = candidate
            low = keep + 1
        else:
            high = keep - 1
    return best


def _rtl_marks(line: _Line) -> int:
    """How many RLM marks a line takes: one at its start and one after each newline inside it."""
    return 1 + line.text.count("\n") if line.length else 0


def _measure(sections: Sequence[Sequence[_Line]], rtl: bool) -> int:
    size = _size(sections)
    if rtl:
        size += sum(_rtl_marks(line) for section in sections for line in section)
    return size


def _squeeze(sections: list[list[_Line]], limit: int, rtl: bool) -> list[list[_Line]]:
    """Last resort for text that is long in itself: shorten lines from the end until it fits.

    A shortened line is rebuilt from its visible text (its tags dropped), so a cut never lands
    inside a tag or an entity. The title is shortened only if nothing else is left to cut.
    """
    for i in reversed(range(len(sections))):
        for j in reversed(range(len(sections[i]))):
            excess = _measure(sections, rtl) - limit
            if excess <= 0:
                return sections
            if i == 0 and j == 0:
                continue
            line = sections[i][j]
            shortened = _cut(line.text, line.length - excess)
            if shortened:
                sections[i][j] = _Line.of(("", shortened))
            else:
                del sections[i][j]
    excess = _measure(sections, rtl) - limit
    if excess > 0:
        title = sections[0][0]
        sections[0][0] = _Line.of(("b", _cut(title.text, title.length - excess)))
    return sections


def _join(
    sections: Sequence[Sequence[_Line]], rtl: bool, wrappers: Sequence[str | None] = ()
) -> tuple[str, int]:
    """The sections as one HTML text and its visible length; ``wrappers[i]`` names a tag that
    encloses the whole of section ``i``."""
    present = [
        (s, wrappers[i] if i < len(wrappers) else None)
        for i, s in enumerate(sections)
        if any(line.length for line in s)
    ]
    out: list[str] = []
    length = 0
    for number, (section, wrapper) in enumerate(present):
        if number:
            out.append("\n\n")
            length += 2
        if wrapper:
            out.append(f"<{wrapper}>")
        for index, line in enumerate(section):
            if index:
                out.append("\n")
                length += 1
            if rtl and line.length:
                # A field value may hold newlines: every visual line gets its mark.
                out.append(RLM + line.html.replace("\n", "\n" + RLM))
                length += line.length + _rtl_marks(line)
            else:
                out.append(line.html)
                length += line.length
        if wrapper:
            out.append(f"</{wrapper}>")
    return "".join(out), length


def _buttons(reply: Reply, share_label: str | None) -> tuple[tuple[Button, ...], ...]:
    links = tuple(Button(link.label, url=link.url) for link in reply.links if link.label.strip() and link.url)
    rows: list[tuple[Button, ...]] = [links] if links else []
    if share_label and share_label.strip() and reply.kind == "entry" and reply.links and reply.codes:
        rows.append((Button(share_label, switch_inline_query=str(reply.codes[0])),))
    return tuple(rows)


def render_text(text: str, *, rtl: bool = False) -> TelegramMessage:
    """A plain sentence (an apology, a /lang confirmation), escaped and within the limit."""
    sections = [_body_lines(text)]
    if _size(sections) > TEXT_LIMIT:
        sections = [[_Line.of(("", _cut(text, TEXT_LIMIT - 1)))]]
    html_text, length = _join(sections, rtl)
    return TelegramMessage(html_text, length)


# ---- log summaries ------------------------------------------------------------------------------


def _log_block(block: Block, heading: bool, rtl: bool) -> tuple[str, str]:
    """One block as (HTML, visible text): sentences as text, rows in a fixed-width ``<pre>``."""
    if block.kind != "text":
        visible = "\n".join(block.lines)
        return f"<pre>{html.escape(visible, quote=False)}</pre>", visible
    parts: list[str] = []
    shown: list[str] = []
    for index, text in enumerate(block.lines):
        line = _Line.of(("b" if heading and index == 0 else "", text))
        mark = RLM if rtl else ""
        parts.append(mark + line.html)
        shown.append(mark + line.text)
    return "\n".join(parts), "\n".join(shown)


def _log_html(title: str, sections: Sequence[Section], rtl: bool) -> tuple[str, str]:
    """The summary as (HTML, visible text): a bold title, then sections split by blank lines."""
    head = _Line.of(("b", title))
    mark = RLM if rtl else ""
    html_parts = [mark + head.html]
    visible_parts = [mark + head.text]
    for index, section in enumerate(sections):
        # A section's first line heads it, unless it is all there is (a note, the "…" line).
        headed = index > 0 and sum(len(block.lines) for block in section) > 1
        rendered = [_log_block(block, headed and b == 0, rtl) for b, block in enumerate(section)]
        html_parts.append("\n".join(h for h, _ in rendered))
        visible_parts.append("\n".join(v for _, v in rendered))
    # The title sits right above the first section; later sections are set apart by a blank line.
    return (
        html_parts[0] + "\n" + "\n\n".join(html_parts[1:]),
        visible_parts[0] + "\n" + "\n\n".join(visible_parts[1:]),
    )


def render_log_report(
    report: LogReport, *, note: str | None = None, chart: bool = False, limit: int = TEXT_LIMIT
) -> TelegramMessage:
    """A log summary as Telegram HTML within ``limit`` visible characters (a refusal as one line).

    Tables and the text timeline go in ``<pre>`` blocks so that their columns line up; with a
    ``chart`` sent beside the message the text timeline is the first thing left out when the
    summary is too long. ``note`` (why there is no chart) ends the message.
    """
    if report.kind == "error":
        return render_text(report.body, rtl=report.rtl)
    sections = report_sections(report.body)
    if note:
        sections.append((Block("text", (note,)),))

    def size(candidate: Sequence[Section]) -> int:
        return utf16_len(_log_html(report.title, candidate, report.rtl)[1].strip())

    fitted = fit(sections, size, limit, chart=chart)
    html_text, visible = _log_html(report.title, fitted, report.rtl)
    return TelegramMessage(html_text, utf16_len(visible))


def render_caption(text: str, *, rtl: bool = False, limit: int = CAPTION_LIMIT) -> TelegramMessage:
    """A photo caption: one escaped line within Telegram's 1024 characters."""
    line = _Line.of(("", _cut(text.replace("\n", " "), limit - (1 if rtl else 0))))
    mark = RLM if rtl else ""
    return TelegramMessage(mark + line.html, line.length + len(mark))
