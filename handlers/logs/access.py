"""Line formats of web servers, proxies and balancers: one anchored regular expression each.

Every parser takes one line (without its end of line) and returns a :class:`Record` or ``None``.
Codes come only from each format's status field: addresses, ports, sizes, durations, dates,
process ids and connection numbers are matched as what they are and never read as codes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from handlers.logs.records import Record, minute_of


def _q(name: str) -> str:
    """A double-quoted field in which ``\\"`` escapes a quote."""
    return rf'"(?P<{name}>(?:[^"\\]|\\.)*)"'


# nginx/Apache common and combined, with or without a virtual host in front ("%v:%p %h ..." or
# "$host $remote_addr ..."); anything after the user agent is kept in "rest" (ingress-nginx and
# Traefik append their own fields there, nginx's "main" adds X-Forwarded-For).
ACCESS = re.compile(
    r"(?:(?P<vhost>\S+) )?(?P<ip>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] "
    rf"{_q('request')} (?P<status>\d{{3}}) (?P<size>\d+|-)(?: {_q('referer')} {_q('agent')})?(?P<rest>.*)"
)
_INGRESS = re.compile(
    r" \d+ [\d.]+ \[[^\]]*\] \[[^\]]*\] .* (?P<ustatus>(?:\d{3}|-)(?:(?:, | : )(?:\d{3}|-))*) [0-9a-f]{32}"
)
_TRAEFIK = re.compile(r' \d+ "[^"]*" "[^"]*" \d+ms')

# AWS Application Load Balancer (type first) and Classic Load Balancer (time first).
ALB = re.compile(
    r"(?:https?|h2|grpcs?|wss?) (?P<time>\d{4}-\d\d-\d\dT\S+) \S+ \S+ \S+ \S+ \S+ \S+ "
    rf"(?P<elb>\d{{3}}|-) (?P<target>\d{{3}}|-) (?:\d+|-) (?:\d+|-) {_q('request')}"
)
ELB = re.compile(
    r"(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) \S+ \S+:\d+ \S+ \S+ \S+ \S+ "
    # a backend that never answered is logged as 0 (Classic) where ALB writes "-"
    rf"(?P<elb>\d{{3}}|-) (?P<target>\d{{3}}|0|-) (?:\d+|-) (?:\d+|-) {_q('request')}"
)

# HAProxy "option httplog": client:port [accept date] frontend backend/server timers status ...
HAPROXY = re.compile(
    r"(?P<client>\S+):\d+ \[(?P<time>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d(?:\.\d+)?)\] \S+ \S+/\S+ "
    r"(?P<timers>-?\d+/-?\d+/-?\d+/-?\d+/\+?-?\d+) (?P<status>-?\d+) \+?\d+ \S+ \S+ \S{4} "
    r"[^\"]*(?:\"(?P<request>[^\"]*)\")?"
)

NGINX_ERROR = re.compile(
    r"(?P<time>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(?:debug|info|notice|warn|error|crit|alert|emerg)\]"
)
APACHE_ERROR = re.compile(
    r"\[(?P<time>(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \w{3} +\d\d? \d\d:\d\d:\d\d(?:\.\d+)? \d{4})\] "
    r"\[(?:[\w-]+:)?(?:emerg|alert|crit|error|warn|notice|info|debug|trace\d)\]"
)

# Prefixes that collectors put in front of a line: the CRI (containerd, CRI-O) log format and
# syslog (RFC 3164 and ISO time stamps, as journald and rsyslog write them).
PREFIX = re.compile(
    r"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d) (?:stdout|stderr) [FP] "
    r"|(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+) \S+ [\w./-]+(?:\[\d+\])?: )"
)

IIS_DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")


def path_of(target: str) -> str | None:
    """The path of a request target, without its query (``/api?id=1`` → ``/api``)."""
    if not target or target == "-":
        return None
    if "://" in target[:10]:
        try:
            return urlsplit(target).path or "/"
        except ValueError:
            return None
    return target.split("?", 1)[0]


def request_path(request: str) -> str | None:
    """The path in a request line (``GET /api?x HTTP/1.1`` → ``/api``)."""
    parts = request.split(" ")
    return path_of(parts[1]) if len(parts) >= 2 and parts[0].isupper() else None


def access(line: str) -> Record | None:
    """nginx/Apache common or combined, virtual-host variants, ingress-nginx and Traefik CLF."""
    match = ACCESS.fullmatch(line)
    if match is None:
        return None
    rest = match["rest"]
    target = None
    if match["referer"] is None:  # no referer and user agent
        fmt = "common"
        if rest:
            return None
    else:
        fmt = "combined"
        if rest:
            ingress = _INGRESS.fullmatch(rest)
            if ingress:
                fmt = "ingress_nginx"
                target = ingress["ustatus"].replace(" : ", ", ").split(", ")[-1]
            elif _TRAEFIK.fullmatch(rest):
                fmt = "traefik"
    if match["vhost"] is not None and fmt in ("common", "combined"):
        fmt = f"vhost_{fmt}"
    return Record(
        fmt, int(match["status"]), None, request_path(match["request"]), minute_of(match["time"]), target
    )


def alb(line: str) -> Record | None:
    """AWS Application (``alb``) and Classic (``elb``) Load Balancer access logs."""
    match = ALB.match(line)
    fmt = "alb"
    if match is None:
        match = ELB.match(line)
        fmt = "elb"
        if match is None:
            return None
    elb = match["elb"]
    code = None if elb == "-" else int(elb)
    target = "-" if match["target"] == "0" else match["target"]
    return Record(fmt, code, None, request_path(match["request"]), minute_of(match["time"]), target)


def haproxy(line: str) -> Record | None:
    """HAProxy's HTTP log format; ``target`` is ``-`` when no server answered (Tr = -1)."""
    match = HAPROXY.match(line)
    if match is None:
        return None
    status = int(match["status"])
    server_time = match["timers"].split("/")[3]
    target = "-" if server_time == "-1" else str(status)
    request = match["request"]
    return Record(
        "haproxy",
        status if status >= 0 else None,
        None,
        request_path(request) if request else None,
        minute_of(match["time"]),
        target,
    )


def nginx_error(line: str) -> Record | None:
    """An nginx error-log line: understood, but it carries no status code."""
    match = NGINX_ERROR.match(line)
    return Record("nginx_error", minute=minute_of(match["time"])) if match else None


def apache_error(line: str) -> Record | None:
    """An Apache error-log line (2.2 and 2.4): understood, no status code."""
    match = APACHE_ERROR.match(line)
    return Record("apache_error", minute=minute_of(match["time"])) if match else None


# IIS writes these fields by default (IIS 8.5 and later; IIS 7 has no cs(Referer)).
IIS_DEFAULT = [
    "date",
    "time",
    "s-ip",
    "cs-method",
    "cs-uri-stem",
    "cs-uri-query",
    "s-port",
    "cs-username",
    "c-ip",
    "cs(User-Agent)",
    "cs(Referer)",
    "sc-status",
    "sc-substatus",
    "sc-win32-status",
    "time-taken",
]
IIS_DEFAULT_7 = [f for f in IIS_DEFAULT if f != "cs(Referer)"]


def iis(line: str, fields: list[str] | None) -> Record | None:
    """A W3C extended log line, read through the fields of the last ``#Fields:`` directive
    (IIS's default fields when none was seen). The code keeps its sub-status: ``404.13``.
    """
    values = line.split(" ")
    if fields is None:
        if not IIS_DATE.match(line):
            return None
        fields = IIS_DEFAULT if len(values) == len(IIS_DEFAULT) else IIS_DEFAULT_7
    if len(values) != len(fields) or "sc-status" not in fields:
        return None
    row = dict(zip(fields, values, strict=True))
    status = row["sc-status"]
    if not (status.isdigit() and len(status) == 3):
        return None
    sub = row.get("sc-substatus", "0")
    method = row.get("cs-method", "GET")
    if not method.isupper() and method != "-":
        return None
    when = None
    if "date" in row and "time" in row:
        when = minute_of(f"{row['date']}T{row['time']}Z")
    elif "time" in row:
        when = minute_of(row["time"])
    return Record(
        "iis",
        int(status),
        int(sub) if sub.isdigit() and sub != "0" else None,
        path_of(row.get("cs-uri-stem", "-")),
        when,
    )


LINE_PARSERS: dict[str, Callable[[str], Record | None]] = {
    "access": access,
    "alb": alb,
    "haproxy": haproxy,
    "nginx_error": nginx_error,
    "apache_error": apache_error,
}
