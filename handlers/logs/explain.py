"""Status codes in a pasted text (explain mode): from the status field of every log line the
reader understands, then from known positions in the other lines, then, in a chat message that
holds no log line at all, from numbers that stand alone as codes.
"""

from __future__ import annotations

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
    if not found and reader.parsed == 0 and not foreign_log(text):
        found = bare_codes(text, known)
    return list(dict.fromkeys(c for c in found if 100 <= c <= 599))


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
