"""JSON logs: one object per line, pretty-printed objects, arrays of them, HAR and OTLP files.

Each known shape has its status field; nothing else in the object is ever read as a code.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from handlers.logs.access import path_of, request_path
from handlers.logs.messages import client_message
from handlers.logs.records import Record, minute_of_value, status_value

# Generic keys, most specific first.
_STATUS_KEYS = (
    "status",
    "status_code",
    "statusCode",
    "http_status",
    "httpStatus",
    "response_status",
    # Loggers that flatten nested fields into dotted keys ({"response.status": 410}).
    "response.status",
    "res.statusCode",
    "http.status",
)
_PATH_KEYS = (
    "path", "uri", "request_uri", "requestUri", "request_path", "requestPath", "url", "request_url",
    "requestUrl", "RequestPath", "ClientRequestURI", "ClientRequestPath", "route", "request",
)  # fmt: skip
_TIME_KEYS = (
    "time", "timestamp", "@timestamp", "ts", "time_iso8601", "time_local", "datetime", "date",
    "StartUTC", "EdgeStartTimestamp", "startedDateTime", "timeUnixNano", "time_unix_nano",
)  # fmt: skip


def _get(obj: Mapping[str, Any], dotted: str) -> Any:
    """``obj["a"]["b"]`` for ``a.b``, or the flat key ``"a.b"`` itself (OpenTelemetry, ECS)."""
    if dotted in obj:
        return obj[dotted]
    value: Any = obj
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _first(obj: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = obj.get(key)
        if value not in (None, ""):
            return value
    return None


def _path(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    if " " in value and value.split(" ", 1)[0].isupper():  # "GET /x HTTP/1.1"
        return request_path(value)
    return path_of(value)


def _attributes(obj: Mapping[str, Any]) -> dict[str, Any]:
    """OpenTelemetry attributes, either a plain object or OTLP's ``[{key, value: {intValue}}]``."""
    raw = obj.get("attributes")
    if isinstance(raw, Mapping):
        return dict(raw)
    found: dict[str, Any] = {}
    if isinstance(raw, list):
        for item in raw:
            if isinstance(item, Mapping) and isinstance(item.get("key"), str):
                value = item.get("value")
                if isinstance(value, Mapping) and value:
                    found[item["key"]] = next(iter(value.values()))
    return found


def record(obj: Any) -> Record | None:
    """The record in one JSON value, or ``None`` when it is not an object.

    An object without any status field is understood (``code`` ``None``): a JSON application
    log says nothing about HTTP on most lines.
    """
    if not isinstance(obj, Mapping):
        return None
    when = minute_of_value(_first(obj, _TIME_KEYS))
    # Cloudflare Logpush (http_requests): the edge's status, the origin's beside it.
    if "EdgeResponseStatus" in obj:
        origin = status_value(obj.get("OriginResponseStatus"))
        return Record(
            "cloudflare",
            status_value(obj["EdgeResponseStatus"]),
            path=_path(_first(obj, ("ClientRequestPath", "ClientRequestURI"))),
            minute=when,
            target=str(origin) if origin else "-",
        )
    # Traefik's JSON access log.
    if "DownstreamStatus" in obj:
        origin = status_value(obj.get("OriginStatus"))
        return Record(
            "traefik",
            status_value(obj["DownstreamStatus"]),
            path=_path(obj.get("RequestPath")),
            minute=when,
            target=str(origin) if origin else "-",
        )
    # Google Cloud Logging's LogEntry.httpRequest.
    http_request = obj.get("httpRequest")
    if isinstance(http_request, Mapping) and "status" in http_request:
        return Record(
            "gcp",
            status_value(http_request["status"]),
            path=_path(http_request.get("requestUrl")),
            minute=minute_of_value(_first(obj, ("timestamp", "receiveTimestamp", "time"))),
        )
    # Caddy's access log: {"logger": "http.log.access...", "request": {"uri": ...}, "status": ...}.
    request = obj.get("request")
    logger = obj.get("logger")
    if (
        isinstance(request, Mapping)
        and "status" in obj
        and ((isinstance(logger, str) and logger.startswith("http.log.access")) or "uri" in request)
    ):
        return Record("caddy", status_value(obj["status"]), path=_path(request.get("uri")), minute=when)
    # OpenTelemetry semantic conventions (flat, nested as in ECS, or OTLP attributes).
    attributes = _attributes(obj)
    for source in (attributes, obj):
        for key in ("http.response.status_code", "http.status_code"):
            value = _get(source, key)
            if value is not None:
                fmt = "ecs" if source is obj and key not in obj else "otel"
                path = _first(attributes, ("url.path", "http.target", "http.route")) or _get(obj, "url.path")
                return Record(
                    fmt,
                    status_value(value),
                    path=_path(path),
                    minute=when
                    or minute_of_value(_first(obj, ("observedTimeUnixNano", "startTimeUnixNano"))),
                )
    # HAR entries, and any {"response": {"status": ...}}.
    response = obj.get("response")
    if isinstance(response, Mapping) and "status" in response:
        fmt = "har" if "startedDateTime" in obj else "json"
        url = request.get("url") if isinstance(request, Mapping) else _first(obj, _PATH_KEYS)
        return Record(fmt, status_value(response["status"]), path=_path(url), minute=when)
    status = _first(obj, _STATUS_KEYS)
    if status is not None:
        return Record("json", status_value(status), path=_path(_first(obj, _PATH_KEYS)), minute=when)
    # pino-http and friends: {"req": {"url": ...}, "res": {"statusCode": ...}}.
    for container in ("res", "response", "http", "httpResponse"):
        inner = obj.get(container)
        if isinstance(inner, Mapping):
            status = _first(inner, _STATUS_KEYS)
            if status is not None:
                req = obj.get("req") or obj.get("request")
                url = _first(req, _PATH_KEYS) if isinstance(req, Mapping) else _first(obj, _PATH_KEYS)
                return Record("json", status_value(status), path=_path(url), minute=when)
    # An application log whose message is a client's error ("Request failed with status code 502").
    for key in ("message", "msg", "error", "err"):
        text = obj.get(key)
        if isinstance(text, str):
            codes = client_message(text)
            if codes:
                return Record("message", codes[0], minute=when)
    return Record("json", minute=when)


def records(document: Any) -> Iterator[Record]:
    """Every record of a whole JSON document: a HAR file (``log.entries``), an OTLP export
    (``resourceLogs``/``resourceSpans``), an array of objects, or one object.
    """
    if isinstance(document, list):
        for item in document:
            found = record(item)
            if found is not None:
                yield found
        return
    if not isinstance(document, Mapping):
        return
    log = document.get("log")
    if isinstance(log, Mapping) and isinstance(log.get("entries"), list):
        for entry in log["entries"]:
            found = record(entry)
            if found is not None:
                yield found if found.fmt == "har" else Record("har", found.code, path=found.path)
        return
    for outer, middle, inner in (
        ("resourceLogs", "scopeLogs", "logRecords"),
        ("resourceSpans", "scopeSpans", "spans"),
    ):
        if isinstance(document.get(outer), list):
            for resource in document[outer]:
                for scope in resource.get(middle, ()) if isinstance(resource, Mapping) else ():
                    for item in scope.get(inner, ()) if isinstance(scope, Mapping) else ():
                        found = record(item)
                        if found is not None:
                            yield found
            return
    found = record(document)
    if found is not None:
        yield found
