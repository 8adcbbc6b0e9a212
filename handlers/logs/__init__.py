"""Reading logs: every line's format, the status codes in it, and a summary of a whole log.

Platform-neutral and free of I/O of its own: callers hand it lines or bytes. What a chat
adapter needs for an uploaded log is :func:`report_upload` (checks, summary, localised text or
refusal, as a :class:`LogReport`) and :func:`timeline_png` (the chart, or ``None``).
``python -m bot logs`` streams a file through :class:`Summariser` and prints
:func:`render_text` or :func:`summary_json`.
"""

from handlers.logs.chart import timeline_png
from handlers.logs.explain import MAX_EXPLAIN_BYTES, codes_in_log_text, explainable, looks_like_log
from handlers.logs.reader import FORMATS, LogReader, read_text
from handlers.logs.records import Record
from handlers.logs.report import LogReport, render_text, summary_json
from handlers.logs.summary import Bucket, LogSummary, Summariser, summarise
from handlers.logs.upload import MAX_UPLOAD, report_upload, summarise_bytes

__all__ = [
    "FORMATS",
    "MAX_EXPLAIN_BYTES",
    "MAX_UPLOAD",
    "Bucket",
    "LogReader",
    "LogReport",
    "LogSummary",
    "Record",
    "Summariser",
    "codes_in_log_text",
    "explainable",
    "looks_like_log",
    "read_text",
    "render_text",
    "report_upload",
    "summarise",
    "summarise_bytes",
    "summary_json",
    "timeline_png",
]
