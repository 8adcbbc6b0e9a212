"""Discord API failures in one short line for the operator: no repr, no HTML page."""

from __future__ import annotations

import json
import re

import aiohttp

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def describe_response(status: int, text: str) -> str:
    """``status`` and what Discord (or whatever answered instead) said, in at most ~200 characters.

    Discord's errors are JSON (``{"code": 50035, "message": "Invalid Form Body", "errors": ...}``);
    a proxy or an outage page is HTML, of which only the title is worth showing.
    """
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and "message" in data:
        code = f" (code {data['code']})" if "code" in data else ""
        detail = f": {json.dumps(data['errors'], ensure_ascii=False)[:300]}" if data.get("errors") else ""
        return f"{status} {data['message']}{code}{detail}"
    stripped = text.strip()
    if stripped[:1] == "<":
        title = _TITLE.search(stripped)
        page = " ".join(title.group(1).split()) if title else "an HTML page"
        return f"{status}, not from the Discord API ({page[:120]}; a proxy or an outage?)"
    first = stripped.splitlines()[0] if stripped else ""
    return f"{status} {first[:200]}".rstrip()


def describe_failure(exc: BaseException, limits: str) -> str:
    """Why a request got no answer at all: a name that does not resolve, a refused connection,
    a timeout (``limits`` says which apply, as in ``"5 s to connect, 30 s in all"``)."""
    if isinstance(exc, TimeoutError):
        return f"no answer in time ({limits})"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"cannot resolve {exc.host}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or str(exc.os_error) or type(exc.os_error).__name__
        return f"cannot connect to {exc.host}:{exc.port}: {reason}"
    return str(exc) or type(exc).__name__
