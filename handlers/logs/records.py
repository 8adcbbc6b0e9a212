"""What the log reader takes from one log record, and the time stamps it understands."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}


@dataclass(frozen=True, slots=True)
class Record:
    """One request (or one understood line without a status) read from a log.

    ``code`` is the status the client received, taken from the format's status field only
    (``None`` for lines that carry none: error-log lines, comments, curl request lines).
    ``sub`` is IIS's sub-status (``404.13``). ``target`` is the status of the server behind a
    balancer or proxy where the format logs it (ALB ``target_status_code``, ingress-nginx
    ``$upstream_status``, Cloudflare ``OriginResponseStatus``, Traefik ``OriginStatus``), as
    written (``"-"`` when no target answered). ``minute`` is the record's time, truncated to the
    minute, when the line has one.
    """

    fmt: str
    code: int | None = None
    sub: int | None = None
    path: str | None = None
    minute: datetime | None = None
    target: str | None = None

    @property
    def key(self) -> str | None:
        """The code as counted: ``404``, ``404.13`` with an IIS sub-status, ``000`` for none."""
        if self.code is None:
            return None
        base = f"{self.code:03d}" if 0 <= self.code < 1000 else str(self.code)
        return f"{base}.{self.sub}" if self.sub else base


def status_value(value: object) -> int | None:
    """A status code from a JSON value (``503``, ``"503"``, ``"503 Service Unavailable"``);
    booleans and other text are not.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= 999 else None
    if isinstance(value, str) and value[:3].isascii() and value[:3].isdigit():
        # "503", and Go's resp.Status style "503 Service Unavailable"
        if len(value) == 3 or value[3] == " ":
            return int(value[:3])
        return None
    if isinstance(value, float) and value.is_integer() and 0 <= value <= 999:
        return int(value)
    return None


def _tz(text: str) -> timezone:
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0)))


_CLF = re.compile(r"(\d\d)/(\w{3})/(\d{4}):(\d\d):(\d\d)(?::\d\d(?:[.,]\d+)?)?(?:\s*([+-]\d\d:?\d\d))?")
_ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::\d\d(?:[.,]\d+)?)?\s*(Z|[+-]\d\d:?\d\d)?")
_SLASHED = re.compile(r"(\d{4})/(\d\d)/(\d\d) (\d\d):(\d\d)")
_CTIME = re.compile(r"\w{3} (\w{3}) +(\d\d?) (\d\d):(\d\d):\d\d(?:\.\d+)? (\d{4})")
_cache: dict[str, datetime | None] = {}


def minute_of(text: str) -> datetime | None:
    """The minute a time stamp names (aware; UTC where the text gives no offset), or ``None``.

    Understands CLF (``10/Oct/2000:13:55:36 -0700``), ISO 8601, nginx error logs
    (``2025/10/10 13:56:02``) and Apache error logs (``Fri Sep 09 10:42:29.902022 2011``).
    """
    cached = _cache.get(text)
    if cached is not None or text in _cache:
        return cached
    found = _parse(text)
    if len(_cache) > 4096:
        _cache.clear()
    _cache[text] = found
    return found


def _parse(text: str) -> datetime | None:
    try:
        match = _ISO.match(text)
        if match:
            y, mo, d, h, mi, tz = match.groups()
            zone = UTC if tz in (None, "Z") else _tz(tz)
            return datetime(int(y), int(mo), int(d), int(h), int(mi), tzinfo=zone)
        match = _CLF.match(text)
        if match:
            d, mon, y, h, mi, tz = match.groups()
            month = MONTHS.get(mon.lower())
            if month is None:
                return None
            zone = _tz(tz) if tz else UTC
            return datetime(int(y), month, int(d), int(h), int(mi), tzinfo=zone)
        match = _SLASHED.match(text)
        if match:
            y, mo, d, h, mi = match.groups()
            return datetime(int(y), int(mo), int(d), int(h), int(mi), tzinfo=UTC)
        match = _CTIME.match(text)
        if match:
            mon, d, h, mi, y = match.groups()
            month = MONTHS.get(mon.lower())
            if month is None:
                return None
            return datetime(int(y), month, int(d), int(h), int(mi), tzinfo=UTC)
    except ValueError:
        return None
    return None


def minute_of_epoch(value: float) -> datetime | None:
    """The minute of a Unix time in seconds, milliseconds, microseconds or nanoseconds."""
    seconds = float(value)
    while seconds > 1e11:  # ms, µs, ns: no log is dated after the year 5138
        seconds /= 1000
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.replace(second=0, microsecond=0)


def minute_of_value(value: object) -> datetime | None:
    """The minute of a JSON time value: a number (epoch) or a string in a known format."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return minute_of_epoch(value)
    if isinstance(value, str) and value:
        if value.isdigit():
            return minute_of_epoch(int(value))
        return minute_of(value)
    return None
