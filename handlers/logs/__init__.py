"""Reading logs: every line's format, the status codes in it, and a summary of a whole log.

Platform-neutral and free of I/O of its own: callers hand it lines or bytes. The chat adapters
and ``python -m bot logs`` use the same functions (see :mod:`handlers.logs.summary`).
"""

from handlers.logs.explain import MAX_EXPLAIN_BYTES, codes_in_log_text, explainable, looks_like_log
from handlers.logs.reader import FORMATS, LogReader, read_text
from handlers.logs.records import Record

__all__ = [
    "FORMATS",
    "MAX_EXPLAIN_BYTES",
    "LogReader",
    "Record",
    "codes_in_log_text",
    "explainable",
    "looks_like_log",
    "read_text",
]
