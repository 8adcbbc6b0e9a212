"""The log reader: recognises each line's format and keeps count of what it understood.

Platform-neutral and without I/O: it is fed lines (``str``) by whoever reads the file, the
chat message or standard input, and returns the :class:`Record` each line holds.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Final

from handlers.logs import access as fmt_access
from handlers.logs import jsonlogs
from handlers.logs.messages import client_message, known_positions
from handlers.logs.records import Record

# What ``--format`` accepts and what a summary reports.
FORMATS: Final = (
    "combined", "common", "vhost_combined", "vhost_common", "ingress_nginx", "traefik",
    "nginx_error", "apache_error", "alb", "elb", "haproxy", "iis", "json", "caddy", "cloudflare",
    "gcp", "otel", "ecs", "har", "curl", "message", "text",
)  # fmt: skip
# ``--format`` names each parser family by one of its formats.
_FAMILY: Final = {
    **dict.fromkeys(("combined", "common", "vhost_combined", "vhost_common", "ingress_nginx"), "access"),
    "traefik": "access",
    **dict.fromkeys(("alb", "elb"), "alb"),
    **dict.fromkeys(("json", "caddy", "cloudflare", "gcp", "otel", "ecs", "har"), "json"),
}
MAX_DOCUMENT = 64 * 1024 * 1024  # a pretty-printed JSON document (a HAR file) is buffered whole
# W3C extended log directives (#Software:, #Fields: ...); other lines starting with "#" (CI
# annotations such as "##[error]") are ordinary lines.
_W3C_DIRECTIVE = re.compile(r"\s*#(?:Software|Version|Date|Fields|Remark|Start-Date|End-Date):")
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_CURL_STATUS = re.compile(r"(?:< )?HTTP/(?:\d(?:\.\d)?) ([1-5]\d\d)\b")
_CURL_REQUEST = re.compile(r"> ([A-Z]+) (\S+) HTTP/")
_CURL_OTHER = re.compile(r"(?:[<>] [\w-]+: |[<>]\s*$|\* |\{ \[\d+ bytes data\])")
_HEADER = re.compile(r"[\w-]+: ")
_EXAMPLES = 3


def _depth(line: str) -> int:
    bare = _STRINGS.sub("", line)
    return bare.count("{") + bare.count("[") - bare.count("}") - bare.count("]")


class LogReader:
    """Reads lines one by one, in any supported format (or only ``fmt``'s family).

    State carried between lines: IIS ``#Fields:`` directives, a JSON document spread over
    several lines, and curl's last request path. Counters: ``lines`` (every line fed),
    ``blank``, ``parsed`` (lines understood, records or not), ``unparsed`` with the first three
    as ``examples``, and ``formats`` (records per format). With ``keep_unparsed`` every line not
    understood is also kept in ``unparsed_lines`` (for short texts such as a chat message).
    """

    def __init__(self, fmt: str = "auto", keep_unparsed: bool = False) -> None:
        if fmt != "auto" and fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}")
        self.fmt = fmt
        self.lines = 0
        self.blank = 0
        self.parsed = 0
        self.unparsed = 0
        self.examples: list[str] = []
        self.formats: Counter[str] = Counter()
        self.keep_unparsed = keep_unparsed
        self.unparsed_lines: list[str] = []
        self._fields: list[str] | None = None
        self._document: list[str] = []
        self._document_size = 0
        self._document_depth = 0
        self._curl_path: str | None = None
        self._curl = False
        self._curl_headers = False  # after curl -I's status line, until a blank line
        self._last: Callable[[str], Record | None] | None = None
        family = _FAMILY.get(fmt, fmt)
        self._parsers: list[Callable[[str], Record | None]] = [
            parser for name, parser in fmt_access.LINE_PARSERS.items() if fmt == "auto" or name == family
        ]
        self._json = fmt == "auto" or family == "json"
        self._iis = fmt in ("auto", "iis")
        self._curl_allowed = fmt in ("auto", "curl")
        self._messages = fmt in ("auto", "message")

    # ---- accounting -----------------------------------------------------------------------

    def _understood(self, found: Iterable[Record], lines: int = 1) -> list[Record]:
        records = list(found)
        self.parsed += lines
        for record in records:
            self.formats[record.fmt] += 1
        return records

    def _not_understood(self, line: str) -> list[Record]:
        self.unparsed += 1
        if len(self.examples) < _EXAMPLES:
            self.examples.append(line[:300])
        if self.keep_unparsed:
            self.unparsed_lines.append(line)
        return []

    # ---- reading --------------------------------------------------------------------------

    def feed(self, line: str) -> list[Record]:
        """The records that ``line`` completes (none while a JSON document is still open)."""
        self.lines += 1
        line = line.rstrip("\r\n")
        if self._document:
            return self._continue_document(line)
        if not line.strip():
            self.blank += 1
            self._curl_headers = False
            return []
        found = self._read(line)
        if found is None:
            return self._not_understood(line)
        return found

    def feed_all(self, lines: Iterable[str]) -> list[Record]:
        """Every record of ``lines``, the end included."""
        out: list[Record] = []
        for line in lines:
            out.extend(self.feed(line))
        out.extend(self.close())
        return out

    def close(self) -> list[Record]:
        """The end of the input: a JSON document still open is counted as not understood."""
        if not self._document:
            return []
        lines, self._document = self._document, []
        for line in lines:
            self._not_understood(line)
        return []

    def _read(self, line: str) -> list[Record] | None:
        first = line.lstrip()[:1]
        if first == "#" and self._iis and _W3C_DIRECTIVE.match(line):
            return self._directive(line)
        if first in "{[" and self._json:
            found = self._json_line(line)
            if found is not None:
                return found
        if self._last is not None:
            record = self._last(line)
            if record is not None:
                return self._understood((record,))
        if self._curl_allowed and (first in "<>*H{" or self._curl_headers):
            found = self._curl_line(line)
            if found is not None:
                return found
        if self._iis:
            record = fmt_access.iis(line, self._fields)
            if record is not None:
                return self._understood((record,))
        for parser in self._parsers:
            record = parser(line)
            if record is not None:
                self._last = parser
                return self._understood((record,))
        prefix = fmt_access.PREFIX.match(line)
        if prefix and len(line) > prefix.end():
            self.lines -= 1  # the same line, read again without its collector prefix
            return self.feed(line[prefix.end() :]) if line[prefix.end() :].strip() else None
        if self._messages:
            codes = client_message(line)
            if codes:
                return self._understood(Record("message", code) for code in codes)
        if self.fmt in ("auto", "text"):
            # Free text, where a code stands in a known position ("HTTP/1.1 502", "status=503").
            codes = known_positions(line)
            if codes:
                return self._understood(Record("text", code) for code in codes)
        return None

    def _directive(self, line: str) -> list[Record]:
        # W3C extended log directives: #Software, #Version, #Date, #Fields.
        if line.startswith("#Fields:"):
            self._fields = line[len("#Fields:") :].split()
        return self._understood(())

    def _json_line(self, line: str) -> list[Record] | None:
        try:
            value = json.loads(line)
        except ValueError:
            depth = _depth(line)
            if depth <= 0 or (line.startswith("[") and fmt_access.APACHE_ERROR.match(line)):
                return None
            self._document = [line]
            self._document_size = len(line)
            self._document_depth = depth
            return []
        if isinstance(value, dict) and isinstance(value.get("log"), str) and "stream" in value:
            inner = value["log"].rstrip("\r\n")  # Docker's json-file driver wraps each line
            found = self._read(inner) if inner.strip() else []
            return found if found is not None else self._understood(())
        found = list(jsonlogs.records(value))
        if not found and not isinstance(value, dict | list):
            return None
        return self._understood(found)

    def _continue_document(self, line: str) -> list[Record]:
        self._document.append(line)
        self._document_size += len(line)
        self._document_depth += _depth(line)
        if self._document_size > MAX_DOCUMENT:
            return self.close()
        if self._document_depth > 0:
            return []
        lines, self._document = self._document, []
        try:
            value = json.loads("\n".join(lines))
        except ValueError:
            for each in lines:
                self._not_understood(each)
            return []
        return self._understood(jsonlogs.records(value), len(lines))

    def _curl_line(self, line: str) -> list[Record] | None:
        status = _CURL_STATUS.match(line)
        if status:
            self._curl = self._curl_headers = True
            path, self._curl_path = self._curl_path, None
            return self._understood((Record("curl", int(status.group(1)), path=path),))
        request = _CURL_REQUEST.match(line)
        if request:
            self._curl = True
            self._curl_path = fmt_access.path_of(request.group(2))
            return self._understood(())
        if _CURL_OTHER.match(line) and (self._curl or line.startswith(("* Trying", "* Connected", "* Host"))):
            self._curl = True
            return self._understood(())
        if self._curl_headers and _HEADER.match(line):  # curl -I: headers after the status line
            return self._understood(())
        return None


def read_text(text: str, fmt: str = "auto") -> tuple[list[Record], LogReader]:
    """Read a short text (a chat message, a pasted block): its records and the reader's counts."""
    reader = LogReader(fmt, keep_unparsed=True)
    return reader.feed_all(text.splitlines()), reader
