"""A whole log in one streaming pass and bounded memory: counts per code and class, top paths
of each error code, balancer versus target codes, a timeline and where errors jumped.

:class:`Summariser` is fed text lines or raw byte chunks (a file read 1 MiB at a time); the
common and combined formats take a fast path over whole chunks (one precompiled regular
expression over bytes, counted with :class:`collections.Counter`), every other line goes
through :class:`~handlers.logs.reader.LogReader`.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from operator import itemgetter
from typing import Literal

from handlers.logs.reader import LogReader
from handlers.logs.records import MONTHS, Record
from handlers.logs.topk import TopK

Resolution = Literal["minute", "hour", "day"]
_SNIFF_LINES = 50
_FAST_FORMATS = frozenset({"combined", "common", "vhost_combined", "vhost_common"})
# The fast path, over bytes: the time, the request's path and the status of a common or combined
# line. Anchored to each line; what comes before the time (client, identity, user, a virtual
# host) and after the size (referrer, user agent, extra fields) is only skipped, which halves the
# cost of the expression. The reader has already recognised the log's first lines, and a chunk
# whose every line does not match goes to the reader line by line.
FAST = re.compile(
    rb"^[^\n\[]*\[(\d\d/\w{3}/\d{4}:\d\d:\d\d):\d\d(?:\.\d+)? ([+-]\d{4})\] "
    rb'"(?:[A-Z]+ ([^\s"]*)[^"\n]*|[^"\n]*)" (\d{3}) (?:\d+|-)[^\n]*$',
    re.MULTILINE,
)
_TIMELINE_KEY = itemgetter(0, 1, 3)
_TOP_PATHS = 3
# Distinct time buckets kept before the timeline coarsens (minute → hour → day).
MAX_BUCKETS = 20_000


@dataclass(frozen=True, slots=True)
class Bucket:
    """One step of the timeline: requests per class in ``[start, start + resolution)``."""

    start: datetime
    total: int
    classes: dict[str, int]

    @property
    def errors(self) -> int:
        """4xx and 5xx responses."""
        return self.classes.get("4xx", 0) + self.classes.get("5xx", 0)


@dataclass(frozen=True, slots=True)
class LogSummary:
    """Everything ``logs`` reports about one log; see :func:`summary_json` for its JSON."""

    format: str
    formats: dict[str, int]
    lines: int
    parsed: int
    unparsed: int
    blank: int
    examples: tuple[str, ...]
    counts: dict[str, int]
    classes: dict[str, int]
    top_paths: dict[str, list[tuple[str, int]]]
    paths_exact: bool
    targets: dict[str, dict[str, int]]
    resolution: Resolution
    timeline: tuple[Bucket, ...]
    first: datetime | None
    last: datetime | None
    jump: Bucket | None = None
    jump_before: int = 0
    total: int = field(default=0)

    @property
    def errors(self) -> int:
        """Responses with a 4xx or 5xx code."""
        return self.classes.get("4xx", 0) + self.classes.get("5xx", 0)

    @property
    def error_rate(self) -> float:
        """Share of 4xx and 5xx among the responses (0 when there are none)."""
        return self.errors / self.total if self.total else 0.0

    def error_codes(self) -> list[str]:
        """Codes of 4xx and 5xx, most frequent first."""
        keys = [k for k in self.counts if k[:1] in ("4", "5")]
        return sorted(keys, key=lambda k: (-self.counts[k], k))


def class_of(key: str) -> str:
    """``404.13`` → ``4xx``; ``000`` and anything outside 100–599 → ``other``."""
    return f"{key[0]}xx" if len(key) >= 3 and key[0] in "12345" and key[:3].isdigit() else "other"


def _truncate(moment: datetime, resolution: Resolution) -> datetime:
    if resolution == "minute":
        return moment
    if resolution == "hour":
        return moment.replace(minute=0)
    return moment.replace(hour=0, minute=0)


class Summariser:
    """Streaming counts of one log. Feed it with :meth:`feed_chunk` (bytes) or
    :meth:`feed_line` (text), then call :meth:`result`.
    """

    def __init__(self, fmt: str = "auto", paths_capacity: int = 256) -> None:
        self.reader = LogReader(fmt)
        self.fmt = fmt
        self._fast = fmt in _FAST_FORMATS
        self._sniffed = fmt != "auto"
        self._fast_lines = 0
        self._timeline: Counter[tuple[datetime, str]] = Counter()
        self._resolution: Resolution = "minute"
        self._paths: dict[str, TopK] = {}
        self._capacity = paths_capacity
        self._targets: Counter[tuple[str, str]] = Counter()
        self._no_time: Counter[str] = Counter()
        self._coded: Counter[str] = Counter()  # records with a status code, per format
        self._minute_cache: dict[tuple[bytes, bytes], datetime | None] = {}
        self._pending = b""

    # ---- feeding -------------------------------------------------------------------------

    def feed_line(self, line: str) -> None:
        """One line of text."""
        for record in self.reader.feed(line):
            self._add(record)
        self._sniff()

    def feed_chunk(self, chunk: bytes) -> None:
        """Raw bytes of the log, cut anywhere: lines are put together across chunks."""
        data = self._pending + chunk
        end = data.rfind(b"\n")
        if end < 0:
            self._pending = data
            return
        self._pending = data[end + 1 :]
        self._complete(data[: end + 1])

    def _complete(self, data: bytes) -> None:
        if not self._sniffed:
            start = 0
            while not self._sniffed and start < len(data):
                stop = data.find(b"\n", start)
                stop = len(data) if stop < 0 else stop + 1
                self.feed_line(data[start:stop].decode("utf-8", "replace"))
                start = stop
            data = data[start:]
        if not data:
            return
        if self._fast and self._fast_chunk(data):
            return
        for raw in data.splitlines():
            self.feed_line(raw.decode("utf-8", "replace"))

    def _sniff(self) -> None:
        if self._sniffed or self.reader.lines < _SNIFF_LINES:
            return
        self._sniffed = True
        top = self.reader.formats.most_common(1)
        self._fast = bool(top) and top[0][0] in _FAST_FORMATS and not self.reader._document

    def _fast_chunk(self, data: bytes) -> bool:
        """Count a chunk of whole lines in the fast path; ``False`` (nothing counted) when one
        of its lines does not fit, so that the reader reads the chunk line by line.
        """
        rows = FAST.findall(data)
        count = data.count(b"\n")
        if len(rows) != count:
            return False
        reader = self.reader
        reader.lines += count
        reader.parsed += count
        fmt = self.fmt if self.fmt in _FAST_FORMATS else self._dominant()
        reader.formats[fmt] += count
        self._coded[fmt] += count
        self._fast_lines += count
        cache = self._minute_cache
        timeline = self._timeline
        for (minute, zone, status), n in Counter(map(_TIMELINE_KEY, rows)).items():
            key = (minute, zone)
            moment = cache.get(key)
            if moment is None and key not in cache:
                moment = cache[key] = _clf_minute(minute, zone)
            if moment is None:
                self._no_time[status.decode()] += n
            else:
                timeline[(_truncate(moment, self._resolution), status.decode())] += n
        errors = Counter((row[3], row[2]) for row in rows if row[3] >= b"4")
        if errors:
            per_code: dict[bytes, dict[str, int]] = {}
            for (status, target), n in errors.items():
                path = target.split(b"?", 1)[0].decode("utf-8", "replace") if target else "-"
                paths = per_code.get(status)
                if paths is None:
                    paths = per_code[status] = {}
                paths[path] = paths.get(path, 0) + n
            for status, paths in per_code.items():
                self._topk(status.decode()).merge(paths)
        if len(timeline) > MAX_BUCKETS:
            self._coarsen()
        return True

    def _dominant(self) -> str:
        top = (self._coded or self.reader.formats).most_common(1)
        return top[0][0] if top else "combined"

    def _topk(self, code: str) -> TopK:
        top = self._paths.get(code)
        if top is None:
            top = self._paths[code] = TopK(self._capacity)
        return top

    def _add(self, record: Record) -> None:
        key = record.key
        if key is None:
            return
        self._coded[record.fmt] += 1
        if record.minute is None:
            self._no_time[key] += 1
        else:
            self._timeline[(_truncate(record.minute, self._resolution), key)] += 1
            if len(self._timeline) > MAX_BUCKETS:
                self._coarsen()
        if key[:1] in ("4", "5"):
            self._topk(key).add(record.path or "-")
        if record.target is not None:
            self._targets[(key, record.target)] += 1

    def _coarsen(self) -> None:
        while len(self._timeline) > MAX_BUCKETS and self._resolution != "day":
            self._resolution = "hour" if self._resolution == "minute" else "day"
            coarse: Counter[tuple[datetime, str]] = Counter()
            for (moment, key), n in self._timeline.items():
                coarse[(_truncate(moment, self._resolution), key)] += n
            self._timeline = coarse

    # ---- result --------------------------------------------------------------------------

    def result(self) -> LogSummary:
        """The summary of everything fed so far (the end of the input)."""
        if self._pending:
            pending, self._pending = self._pending, b""
            self._complete(pending + b"\n")
        for record in self.reader.close():
            self._add(record)
        reader = self.reader
        counts: Counter[str] = Counter(self._no_time)
        for (_, key), n in self._timeline.items():
            counts[key] += n
        classes: Counter[str] = Counter()
        for key, n in counts.items():
            classes[class_of(key)] += n
        moments = sorted({moment for moment, _ in self._timeline})
        zone = moments[0].tzinfo if moments else UTC
        resolution = self._resolution
        span = (moments[-1] - moments[0]) if moments else timedelta(0)
        if resolution == "minute" and span > timedelta(hours=6):
            resolution = "hour"
        if resolution in ("minute", "hour") and span > timedelta(days=3):
            resolution = "day"
        per_bucket: dict[datetime, Counter[str]] = {}
        for (moment, key), n in self._timeline.items():
            local = moment.astimezone(zone)
            start = _truncate(local.replace(second=0, microsecond=0), resolution)
            per_bucket.setdefault(start, Counter())[class_of(key)] += n
        timeline = tuple(
            Bucket(start, sum(c.values()), dict(sorted(c.items()))) for start, c in sorted(per_bucket.items())
        )
        timeline = _fill(timeline, resolution)
        jump, before = _jump(timeline)
        targets: dict[str, dict[str, int]] = {}
        for (key, target), n in sorted(self._targets.items()):
            targets.setdefault(key, {})[target] = n
        ordered = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        formats = dict(reader.formats.most_common())
        return LogSummary(
            format=self._dominant() if formats else "unknown",
            formats=formats,
            lines=reader.lines,
            parsed=reader.parsed,
            unparsed=reader.unparsed,
            blank=reader.blank,
            examples=tuple(reader.examples),
            counts=ordered,
            classes=dict(sorted(classes.items())),
            top_paths={code: top.top(_TOP_PATHS) for code, top in sorted(self._paths.items())},
            paths_exact=all(top.exact for top in self._paths.values()),
            targets={k: v for k, v in targets.items() if k[:1] in ("4", "5")},
            resolution=resolution,
            timeline=timeline,
            first=moments[0].astimezone(zone) if moments else None,
            last=moments[-1].astimezone(zone) if moments else None,
            jump=jump,
            jump_before=before,
            total=sum(counts.values()),
        )


def _clf_minute(minute: bytes, zone: bytes) -> datetime | None:
    # b"10/Oct/2025:13:55", b"+0200"
    try:
        day, month, rest = minute.split(b"/")
        year, hh, mm = rest.split(b":")
        offset = int(zone[1:3]) * 60 + int(zone[3:5])
        tz = timezone(timedelta(minutes=-offset if zone[:1] == b"-" else offset))
        return datetime(int(year), MONTHS[month.decode().lower()], int(day), int(hh), int(mm), tzinfo=tz)
    except (ValueError, KeyError):
        return None


_STEP = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
_MAX_FILLED = 5000


def _fill(timeline: tuple[Bucket, ...], resolution: Resolution) -> tuple[Bucket, ...]:
    """The timeline with its empty buckets (no request at all) put in, when that stays small."""
    if len(timeline) < 2:
        return timeline
    step = _STEP[resolution]
    if (timeline[-1].start - timeline[0].start) / step > _MAX_FILLED:
        return timeline
    filled: list[Bucket] = []
    for bucket in timeline:
        while filled and bucket.start - filled[-1].start > step:
            moment = filled[-1].start + step
            if resolution == "day":  # across a change of offset, keep midnights
                moment = moment.replace(hour=0, minute=0)
            filled.append(Bucket(moment, 0, {}))
        filled.append(bucket)
    return tuple(filled)


def _jump(timeline: tuple[Bucket, ...]) -> tuple[Bucket | None, int]:
    """The bucket whose errors rose the most over the one before (at least doubling, by 5 or
    more), with the errors of the bucket before it.
    """
    best: Bucket | None = None
    best_rise = 0
    before = 0
    for previous, bucket in itertools.pairwise(timeline):
        rise = bucket.errors - previous.errors
        if rise >= 5 and bucket.errors >= 2 * previous.errors and rise > best_rise:
            best, best_rise, before = bucket, rise, previous.errors
    return best, before


def summarise(lines: Iterable[bytes | str], fmt: str = "auto") -> LogSummary:
    """Summarise a log given as lines (text or bytes, with or without their line ends)."""
    summariser = Summariser(fmt)
    for line in lines:
        if isinstance(line, bytes):
            summariser.feed_chunk(line if line.endswith(b"\n") else line + b"\n")
        else:
            summariser.feed_line(line)
    return summariser.result()
