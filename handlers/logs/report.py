"""A log summary as people read it (plain text in the reply's language) and as scripts read it
(one JSON object), plus the neutral result a chat adapter renders: :class:`LogReport`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from handlers.logs.senders import INTERMEDIARY, seen_by_client, sender
from handlers.logs.summary import Bucket, LogSummary

if TYPE_CHECKING:
    from handlers.answer import Handler

ReportError = Literal["too_big", "binary", "encoding", "empty"]
_TIMELINE_ROWS = 48
_SENDER_CODES = 3
_BAR = 20
_GROUPING = {"de": ".", "es": ".", "pt": ".", "ru": "\u202f", "fr": "\u202f"}
_DECIMAL_COMMA = frozenset({"de", "es", "pt", "ru", "fr"})


@dataclass(frozen=True, slots=True)
class LogReport:
    """What a chat adapter shows for an uploaded log: a summary, or a refusal.

    ``body`` is plain text in ``lang`` (renderers escape it and may put it in a code block);
    ``error`` says why a file was refused (``too_big``, ``binary``, ``encoding``, ``empty``);
    ``summary`` holds the numbers (``None`` for a refusal); draw its chart with
    :func:`handlers.logs.chart.timeline_png`.
    """

    kind: Literal["summary", "error"]
    lang: str
    title: str
    body: str
    summary: LogSummary | None = None
    error: ReportError | None = None
    rtl: bool = False


def number(n: int, lang: str) -> str:
    """``1,234,567`` with the language's digit grouping."""
    text = f"{n:,}"
    return text.replace(",", _GROUPING[lang]) if lang in _GROUPING else text


def percent(share: float, lang: str) -> str:
    """``12.3%`` (``12,3 %`` where a comma is the decimal separator)."""
    text = f"{share * 100:.1f}"
    if lang in _DECIMAL_COMMA:
        return text.replace(".", ",") + "\u00a0%"
    return text + "%"


def _when(moment: Any, resolution: str) -> str:
    if resolution == "day":
        return str(moment.strftime("%Y-%m-%d"))
    return str(moment.strftime("%Y-%m-%d %H:%M"))


def _zone(summary: LogSummary) -> str:
    if summary.first is None:
        return ""
    offset = summary.first.strftime("%z")
    return " UTC" if offset in ("+0000", "") else f" UTC{offset[:3]}:{offset[3:]}"


_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)  # minutes
_RESOLUTION_MINUTES = {"minute": 1, "hour": 60, "day": 1440}


def _rows(timeline: tuple[Bucket, ...], resolution: str) -> tuple[int, list[tuple[Any, int, int]]]:
    """The step in minutes and at most ``_TIMELINE_ROWS`` rows (start, requests, errors):
    neighbouring buckets are merged into steps of 2, 5, 10, 15, 30 minutes... when there are more.
    """
    base = _RESOLUTION_MINUTES[resolution]
    span = (timeline[-1].start - timeline[0].start).total_seconds() / 60 + base
    step = next((s for s in _STEPS if s >= base and span / s <= _TIMELINE_ROWS), _STEPS[-1])
    origin = timeline[0].start.replace(hour=0, minute=0)
    rows: dict[int, list[Any]] = {}
    for bucket in timeline:
        index = int((bucket.start - origin).total_seconds() // 60 // step)
        row = rows.get(index)
        if row is None:
            rows[index] = [origin + timedelta(minutes=index * step), bucket.total, bucket.errors]
        else:
            row[1] += bucket.total
            row[2] += bucket.errors
    return step, [(r[0], r[1], r[2]) for r in rows.values()]


def _timeline_title(step: int, handler: Handler, lang: str) -> str:
    if step in (1, 60, 1440):
        unit = {1: "minute", 60: "hour", 1440: "day"}[step]
        return handler.ui(lang, f"logs_timeline_{unit}")
    if step < 60:
        return handler.ui(lang, "logs_timeline_minutes", n=step)
    if step < 1440:
        return handler.ui(lang, "logs_timeline_hours", n=step // 60)
    return handler.ui(lang, "logs_timeline_days", n=step // 1440)


def render_text(summary: LogSummary, handler: Handler, lang: str) -> str:
    """The summary as plain text in ``lang``."""
    ui = handler.ui
    out = [ui(lang, "logs_title", format=summary.format)]
    out.append(
        ui(
            lang,
            "logs_lines",
            lines=number(summary.lines, lang),
            parsed=number(summary.parsed, lang),
            unparsed=number(summary.unparsed, lang),
        )
    )
    if summary.examples:
        out.append(ui(lang, "logs_examples"))
        out += [f"  {line[:160]}" for line in summary.examples]
    if summary.first and summary.last:
        first = _when(summary.first, "minute")
        last = _when(summary.last, "minute") + _zone(summary)
        out.append(ui(lang, "logs_range", first=first, last=last))
    if not summary.total:
        out += ["", ui(lang, "logs_none")]
        return "\n".join(out)

    out += ["", ui(lang, "logs_codes_title")]
    out.append(
        ui(lang, "logs_codes", total=number(summary.total, lang), rate=percent(summary.error_rate, lang))
    )
    width = max(len(number(n, lang)) for n in summary.counts.values())
    for key, n in summary.counts.items():
        out.append(f"  {key:<7}{number(n, lang):>{width}}  {percent(n / summary.total, lang):>7}")
    classes = " · ".join(
        f"{cls} {percent(n / summary.total, lang)}" for cls, n in summary.classes.items() if n
    )
    out.append(f"{ui(lang, 'logs_classes')}: {classes}")

    errors = summary.error_codes()
    if errors:
        out += ["", ui(lang, "logs_paths")]
        for key in errors[:10]:
            paths = " · ".join(f"{path} ({number(n, lang)})" for path, n in summary.top_paths.get(key, []))
            out.append(f"  {key}: {paths}")
            split = summary.targets.get(key)
            if split and summary.format in INTERMEDIARY:
                passed = sum(n for target, n in split.items() if target == key.split(".")[0])
                own = sum(split.values()) - passed
                who = ui(lang, f"logs_who_{INTERMEDIARY[summary.format]}")
                out.append(
                    "    "
                    + ui(
                        lang,
                        "logs_split",
                        code=key,
                        own=number(own, lang),
                        passed=number(passed, lang),
                        who=who,
                    )
                )
        if not summary.paths_exact:
            out.append(ui(lang, "logs_paths_estimated"))

    if summary.timeline:
        step, rows = _rows(summary.timeline, summary.resolution)
        out += ["", _timeline_title(step, handler, lang)]
        top = max(r[1] for r in rows) or 1
        for start, total, errs in rows:
            bar = "█" * round(_BAR * errs / top) + "░" * (
                round(_BAR * total / top) - round(_BAR * errs / top)
            )
            when = _when(start, "day" if step >= 1440 else "minute")
            out.append(f"  {when}  {bar:<{_BAR}} {number(total, lang)} ({number(errs, lang)})")
        if summary.jump is not None:
            out.append(
                ui(
                    lang,
                    "logs_jump",
                    time=_when(summary.jump.start, "day" if summary.resolution == "day" else "minute"),
                    after=number(summary.jump.errors, lang),
                    before=number(summary.jump_before, lang),
                )
            )

    if errors:
        out += ["", ui(lang, "logs_senders")]
        for key in errors[:_SENDER_CODES]:
            out += _sender_lines(summary, handler, lang, key)
    return "\n".join(out)


def _sender_lines(summary: LogSummary, handler: Handler, lang: str, key: str) -> list[str]:
    code = int(key.split(".", maxsplit=1)[0])
    entries = handler.catalogue.by_code.get(code)
    entry = entries[0] if entries else None
    if entry is not None:
        name = handler.title(code, lang).split(" ", 1)[1]
        head = f"{key} {name} — {handler.catalogue.text(entry, lang).summary}"
    else:
        head = key
    who = sender(code, entry, summary.format, summary.targets.get(key))
    lines = [
        f"  {head}",
        "    " + handler.ui(lang, "logs_sent_by", who=handler.ui(lang, f"logs_sender_{who}")),
    ]
    if not seen_by_client(code, entry):
        lines.append("    " + handler.ui(lang, "logs_log_only"))
    return lines


def summary_json(summary: LogSummary, text: str, lang: str) -> dict[str, Any]:
    """The ``--json`` object of ``logs``; its keys are a contract with scripts."""
    return {
        "kind": "summary",
        "format": summary.format,
        "formats": summary.formats,
        "lines": summary.lines,
        "parsed": summary.parsed,
        "unparsed": summary.unparsed,
        "blank": summary.blank,
        "unparsed_examples": list(summary.examples),
        "first": summary.first.isoformat() if summary.first else None,
        "last": summary.last.isoformat() if summary.last else None,
        "responses": summary.total,
        "counts": summary.counts,
        "classes": summary.classes,
        "error_rate": round(summary.error_rate, 6),
        "top_paths": {
            code: [{"path": path, "count": n} for path, n in paths]
            for code, paths in summary.top_paths.items()
        },
        "paths_exact": summary.paths_exact,
        "targets": summary.targets,
        "timeline": {
            "bucket": summary.resolution,
            "rows": [{"start": b.start.isoformat(), "total": b.total, **b.classes} for b in summary.timeline],
            "jump": summary.jump.start.isoformat() if summary.jump else None,
        },
        "lang": lang,
        "text": text,
    }
