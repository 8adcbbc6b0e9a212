"""Status codes in a pasted text (explain mode): from the status field of every log line the
reader understands, then from known positions in the other lines, then, in a chat message that
holds no log line at all, from numbers that stand alone as codes.
"""

from __future__ import annotations

import re

from handlers.logs.messages import bare_codes, foreign_log, known_positions
from handlers.logs.reader import LogReader

MAX_EXPLAIN_BYTES = 8 * 1024  # a pasted log line or block (typed queries keep MAX_QUERY)


def codes_in_log_text(text: str, known: frozenset[int]) -> list[int]:
    """Codes in ``text`` in order of appearance, each once (100–599 only)."""
    reader = LogReader(keep_unparsed=True)
    found: list[int] = []
    for line in text.splitlines():
        seen = len(reader.unparsed_lines)
        for record in reader.feed(line):
            if record.code is None:
                # An error-log line has no status field, but a firewall module may state one in
                # its message ("ModSecurity: Access denied with code 403").
                found.extend(known_positions(line))
                continue
            found.append(record.code)
            # The server behind a balancer or CDN answered something else (ALB target 200 under
            # a balancer's 502, origin 304 under an edge 200): both are in the status fields.
            target = record.target
            if target and target.isdigit() and len(target) == 3 and int(target) != record.code:
                found.append(int(target))
        for other in reader.unparsed_lines[seen:]:
            found.extend(known_positions(other))
    reader.close()
    if not found:
        found = write_out_codes(text)
    if not found and reader.parsed == 0 and not foreign_log(text):
        found = bare_codes(text, known)
    return list(dict.fromkeys(c for c in found if 100 <= c <= 599))


_WRITE_OUT = re.compile(r"(?:-w|--write-out)\s+(['\"])(.*?)\1")


def write_out_codes(text: str) -> list[int]:
    """``curl -w '%{http_code} %{time_total}'`` and the lines it printed: the field the format
    puts ``%{http_code}`` (or ``%{response_code}``) in, on each output line after the command.
    """
    lines = text.splitlines()
    for number, line in enumerate(lines):
        match = _WRITE_OUT.search(line)
        if match is None:
            continue
        fields = match.group(2).replace("\\n", " ").split()
        where = next((i for i, f in enumerate(fields) if "{http_code}" in f or "{response_code}" in f), None)
        if where is None:
            return []
        codes: list[int] = []
        for output in lines[number + 1 :]:
            parts = output.split()
            if len(parts) > where and parts[where].isdigit() and len(parts[where]) == 3:
                codes.append(int(parts[where]))
        return codes
    return []


def looks_like_log(text: str, free_text: bool = False) -> bool:
    """Whether every non-blank line of ``text`` is one the log reader understands in a log
    format (with ``free_text``, client messages and codes in known positions count too).
    """
    reader = LogReader()
    reader.feed_all(text.splitlines())
    if reader.parsed == 0 or reader.unparsed:
        return False
    return free_text or not set(reader.formats) <= {"text", "message"}


def explainable(text: str) -> bool:
    """Whether ``text`` is a log line or block worth explaining: read by the log reader, or
    holding a code in a known position, within :data:`MAX_EXPLAIN_BYTES`.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_EXPLAIN_BYTES:
        return False
    return looks_like_log(text, free_text=True) or bool(known_positions(text))
