"""Status codes in messages from clients and browsers, and in free text where a code stands in
a known position; never a bare number next to a unit, inside an address, a date or a version.
"""

from __future__ import annotations

import re
from http import HTTPStatus

_C = r"([1-5]\d\d)"
# What HTTP clients, browsers and frameworks print, each with its code in one place.
CLIENT_MESSAGES = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"the server responded with a status of {_C}\b",  # Chrome, Edge console
        rf"\bRequest failed with status code {_C}\b",  # axios
        rf"\b{_C} (?:Client|Server) Error\b",  # Python requests
        rf"\bHTTP Error {_C}\b",  # Python urllib
        rf"\b(?:Client|Server|Redirect|Informational) (?:error|response) '{_C} ",  # httpx
        rf"\bClientResponseError: {_C},",  # aiohttp
        rf"\bServer returned HTTP response code: {_C}\b",  # java.net
        rf"\bHttp(?:Client|Server)ErrorException(?:\$\w+)?: {_C}\b",  # Spring RestTemplate
        rf"\bWebClientResponseException(?:\$\w+)?: {_C}\b",  # Spring WebClient
        rf"\bFeignException(?:\$\w+)?: \[{_C}\b",  # OpenFeign
        rf"\bHttpException: HTTP {_C}\b",  # Retrofit
        rf"\bResponse status code does not indicate success: {_C}\b",  # .NET HttpClient
        rf"\bThe remote server returned an error: \({_C}\)",  # .NET WebClient
        rf"\bunexpected (?:HTTP )?status(?: code)?:? {_C}\b",  # Go and many CLIs
        rf"\bbad (?:HTTP )?status(?: code)?:? {_C}\b",  # Go
        rf"\bgoogleapi: Error {_C}\b",  # Google APIs Go client
        rf"\bThe requested URL returned error: {_C}\b",  # curl --fail
        rf"\bresulted in a `{_C} ",  # Guzzle (PHP)
        rf"\bawaiting response\.\.\. {_C}\b",  # wget
        rf"\bResponse code {_C}\b",  # got (Node.js)
        rf"\bstatus(?: code)? of {_C}\b",
        rf"\b(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) https?://\S+ {_C} \(",  # Chrome network
        rf"\[HTTP/\d(?:\.\d)? {_C}\b",  # Firefox network: [HTTP/2 404 Not Found 35ms]
    )
)

# Known positions in other free text (``status=503``, ``HTTP/1.1 502``, ``returned 404``).
KNOWN_POSITIONS = (
    re.compile(r"\bHTTP/\d(?:\.\d)?\"?\s+([1-5]\d\d)\b", re.IGNORECASE),
    re.compile(r"\bHTTP[ _-](?:status[ _-])?([1-5]\d\d)\b(?![.:/-]\d)"),
    re.compile(
        r"\b(?:status(?:[ _-]?code)?|http[ _-]?(?:status|code)|response[ _-]?(?:code|status))\"?\s*[=:]\s*\"?"
        # not a process's exit status ("status=203/EXEC" from systemd)
        r"([1-5]\d\d)\b(?!/)",
        re.IGNORECASE,
    ),
    # OkHttp's Response.toString(): "Response{protocol=h2, code=401, message=, url=...}"
    re.compile(r"\bResponse\{[^}]*?\bcode=([1-5]\d\d)\b"),
    # ASP.NET Core: "Request finished HTTP/1.1 GET http://host/path - 200 503 application/json"
    re.compile(r"\bRequest finished (?:in \S+ )?HTTP/\d(?:\.\d)? [A-Z]+ \S+ - ([1-5]\d\d)\b"),
    re.compile(
        r"(?<!exit )\b(?:status(?: code)?|error|erreur|fehler|returned|returns|got|getting|answered"
        r"|responded with)"
        # not Spring Boot's "ERROR 500 --- [thread]" (the level, then the process id)
        r"\s+([1-5]\d\d)\b(?![.:/-]\d)(?! ---)",
        re.IGNORECASE,
    ),
    # .NET HttpClient logging: "Received HTTP response headers after 120.8ms - 200"
    re.compile(r"\bReceived HTTP response headers? after [\d.]+ms - ([1-5]\d\d)\b"),
    # gRPC clients: "unexpected HTTP status code received from server: 404 (Not Found)"
    re.compile(r"\bHTTP status code received from server: ([1-5]\d\d)\b"),
    # German and French clients: "antwortete mit Statuscode 503", "a répondu avec le code 503"
    re.compile(
        r"\b(?:Statuscode|Status-Code|code d'état|code de statut|código de estado) ([1-5]\d\d)\b",
        re.IGNORECASE,
    ),
    # HAProxy health checks: "Layer7 wrong status, code: 503".
    re.compile(r"\bwrong status, code: ([1-5]\d\d)\b"),
    # A request line, then the status after an optional client address (Go's chi, Rails...).
    re.compile(
        r"\"(?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|CONNECT|TRACE) \S+ HTTP/\d(?:\.\d)?\""
        r"(?: from \S+)?(?: -)? ([1-5]\d\d)\b(?![.:/]\d)"
    ),
    # ModSecurity and WAFs: "Access denied with code 403", "... with status 406".
    re.compile(
        r"\b(?:denied|rejected|blocked|refused|answered|responded)\b[^.;\n]{0,20}?\bwith "
        r"(?:code|status|status code|http code) ([1-5]\d\d)\b",
        re.IGNORECASE,
    ),
)
_NUMBER_AND_PHRASE = re.compile(r"(?<![\w.:/-])([1-5]\d\d)\s+([A-Z][A-Za-z'-]*(?: [A-Z][A-Za-z'-]*)*)")
_PHRASES = {status.value: status.phrase.casefold() for status in HTTPStatus}

# Chat messages ("first 404 then 503", "we get 502s"): a bare number counts, unless it is part of
# an address, a date, a time, a version or a quantity.
_BARE = re.compile(r"(?<![\w.:/,+=-])([1-5]\d\d)(s?)(?![\w.:/]\w|[.,:]\d|-\d|%|\w)")
_UNITS = frozenset(
    [
        "ms",
        "msec",
        "msecs",
        "millisecond",
        "milliseconds",
        "s",
        "sec",
        "secs",
        "second",
        "seconds",
        "min",
        "mins",
        "minute",
        "minutes",
        "h",
        "hr",
        "hrs",
        "hour",
        "hours",
        "day",
        "days",
        "week",
        "weeks",
        "month",
        "months",
        "year",
        "years",
        "b",
        "byte",
        "bytes",
        "kb",
        "kib",
        "mb",
        "mib",
        "gb",
        "gib",
        "tb",
        "items",
        "item",
        "records",
        "record",
        "rows",
        "row",
        "users",
        "user",
        "times",
        "retries",
        "attempts",
        "lines",
        "line",
        "requests",
        "request",
        "connections",
        "workers",
        "threads",
        "files",
        "entries",
        "points",
        "pixels",
        "px",
        "euros",
        "dollars",
        "usd",
        "eur",
        "km",
        "m",
        # outcomes counted in job and test reports: "200 skipped, 3 failed"
        "skipped",
        "failed",
        "passed",
        "succeeded",
        "processed",
        "errors",
        "warnings",
        "tests",
        "keys",
        "objects",
        "messages",
        "events",
        "jobs",
        "tasks",
        "packages",
        "dependencies",
        "modules",
        "changes",
    ]
)
_BEFORE = frozenset(
    [
        "pid",
        "port",
        "line",
        "lines",
        "id",
        "worker",
        "thread",
        "tid",
        "in",
        "after",
        "every",
        "for",
        "wait",
        "waited",
        "took",
        "take",
        "size",
        "length",
        "len",
        "count",
        "total",
        "of",
        "than",
        "over",
        "under",
        "about",
        "approximately",
        "around",
        "last",
        "next",
        "top",
        "page",
        "pages",
        # identifiers: "build 404", "commit 500", "ticket 301", "v 200"
        "build",
        "commit",
        "ticket",
        "issue",
        "pr",
        "version",
        "release",
        "v",
        "no",
        "number",
        "step",
        "errno",
        "expected",
    ]
)


def client_message(line: str) -> list[int]:
    """Codes in a client or browser error message (empty when the line is none)."""
    found: dict[int, int] = {}
    for pattern in CLIENT_MESSAGES:
        found.update((m.start(1), int(m.group(1))) for m in pattern.finditer(line))
    return [found[position] for position in sorted(found)]


def known_positions(text: str) -> list[int]:
    """Codes where a status code is known to stand: client messages, ``HTTP/1.1 502``,
    ``status=503``, ``returned 404``, and a number followed by its own reason phrase.
    """
    found: dict[int, int] = {}
    for pattern in (*CLIENT_MESSAGES, *KNOWN_POSITIONS):
        found.update((m.start(1), int(m.group(1))) for m in pattern.finditer(text))
    for match in _NUMBER_AND_PHRASE.finditer(text):
        code = int(match.group(1))
        phrase = _PHRASES.get(code)
        if phrase and match.group(2).casefold().startswith(phrase.split(" ")[0]):
            found[match.start(1)] = code
    return [found[position] for position in sorted(found)]


# A line from some other program's log (syslog, a timestamped application log, curl's trace,
# a kernel message): its numbers are pids, counts and ids, never bare status codes.
_FOREIGN_LOG = re.compile(
    r"^\s*(?:"
    r"\[?\d{4}[-/]\d{2}[-/]\d{2}[ T]\d{2}:\d{2}"  # 2025-10-10 13:56, [2025-10-10T13:56 (gunicorn, JVM)
    r"|\d+:[A-Z] \d{1,2} [A-Z][a-z]{2} \d{4}"  # Redis: 1:M 14 Mar 2024
    r"|(?:level|lvl|ts|time)=\S"  # logfmt
    r"|(?:info|warn|fail|crit|dbug|trce): [A-Z]\w+"  # ASP.NET Core console: "info: Microsoft..."
    r"|Traceback \(most recent call last\)|File \"[^\"]+\", line \d+"  # Python tracebacks
    r"|panic: |goroutine \d+ \["  # Go panics
    r"|\$ "  # a shell prompt: the command's own output follows
    r"|[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}"  # syslog: Oct 10 13:56:02
    r"|\[?\d{1,2}/[A-Z][a-z]{2}/\d{4}"  # 10/Oct/2025
    r"|\[[A-Z][a-z]{2} [A-Z][a-z]{2} +\d"  # Apache: [Fri Oct 10
    r"|(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|FATAL|CRITICAL)\b"  # a level first
    r"|[*<>] "  # curl -v
    r"|curl: \(\d+\)"
    r")"
    r"|\b(?:kernel|systemd|CRON|sshd|dockerd|containerd)(?:\[\d+\])?:",
    re.MULTILINE,
)


def foreign_log(text: str) -> bool:
    """Whether ``text`` holds lines of another program's log, where no bare number is a code."""
    return _FOREIGN_LOG.search(text) is not None


def bare_codes(text: str, known: frozenset[int]) -> list[int]:
    """Catalogued codes standing alone in a chat message, skipping quantities and the like."""
    found: list[int] = []
    for match in _BARE.finditer(text):
        code = int(match.group(1))
        if code not in known:
            continue
        after = text[match.end() :].lstrip()
        next_word = re.match(r"[^\W\d_]+|%", after)
        if not match.group(2) and next_word and next_word.group(0).casefold() in _UNITS:
            continue
        before = re.search(r"([^\W\d_]+|#|~)\W*$", text[: match.start()])
        if before and before.group(1).casefold() in _BEFORE:
            continue
        found.append(code)
    return found
