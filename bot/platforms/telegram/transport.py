"""How the Telegram adapter talks HTTP to the Bot API: two python-telegram-bot request classes.

:class:`JsonRequest` sends answers as JSON bodies, through aiohttp, and trims the echo of sent
messages (all for CPU: see its docstring and bench/telegram_bench.py); :class:`PollingRequest`
carries ``getUpdates`` for the adapter's own polling loop.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import httpx
from telegram.error import NetworkError, TimedOut
from telegram.request import HTTPXRequest, RequestData

# Parts of a sent message that Telegram echoes back and PTB would parse for nothing.
_ECHO_DETAILS = ("entities", "reply_markup", "reply_to_message", "link_preview_options", "quote")
_JSON_HEADERS = {"User-Agent": HTTPXRequest.USER_AGENT, "Content-Type": "application/json"}


class PollingRequest(HTTPXRequest):
    """The getUpdates connection, used by :class:`~bot.platforms.telegram.intake.Poller`.

    Given to PTB as its ``get_updates_request`` only so that the bot opens and closes it with the
    other one; the poller calls :meth:`fetch` and reads the raw reply itself, so that a reply PTB
    would choke on is a failed poll rather than the end of polling.
    """

    async def fetch(self, url: str, params: dict[str, Any], read_timeout: float) -> tuple[int, bytes]:
        """POST ``params`` as JSON; the status and the raw body. Transport errors raise ``httpx``'s."""
        timeout = httpx.Timeout(read_timeout, connect=5.0)
        body = json.dumps(params).encode()
        response = await self._client.post(url, content=body, headers=_JSON_HEADERS, timeout=timeout)
        return response.status_code, response.content


def _seconds(given: object, default: float | None) -> float | None:
    """A timeout PTB passed (a number, or None for "wait forever"), else the client's default."""
    if given is None or (isinstance(given, int | float) and not isinstance(given, bool)):
        return given
    return default


def _lean(payload: bytes) -> bytes:
    """A sendMessage response without the parts of the echoed message nobody reads here."""
    try:
        data = json.loads(payload)
    except ValueError:
        return payload
    result = data.get("result") if isinstance(data, dict) and data.get("ok") else None
    if not isinstance(result, dict):
        return payload
    for key in _ECHO_DETAILS:
        result.pop(key, None)
    return json.dumps(data, ensure_ascii=False).encode()


class JsonRequest(HTTPXRequest):
    """Sends parameters as one JSON body rather than a form, and trims what Telegram echoes.

    The Bot API takes either body. PTB builds forms with ``urllib.parse.urlencode``, which quotes
    byte by byte in Python: for a card (and even more for a page of inline results, each carrying
    a whole card) that costs more CPU than everything else the bot does with an update. Uploads
    (multipart) still go through PTB's own path.

    ``sendMessage`` answers with the whole message sent, which PTB turns into a ``Message``: one
    object per entity, per button, plus the quoted message. The adapter never reads that echo, so
    for the methods in ``lean`` the response keeps only the identity of the message (id, date,
    chat, sender, text): about a tenth of the CPU an answer costs, measured by bench/telegram_bench.py.

    The methods in ``fast`` (the answers) go through an aiohttp session rather than PTB's httpx
    client; everything else (``getMe``, ``setMyCommands``, uploads...) keeps PTB's client.
    """

    def __init__(
        self,
        *,
        lean: frozenset[str] = frozenset(),
        fast: frozenset[str] = frozenset(),
        connection_pool_size: int = 1,
    ) -> None:
        super().__init__(connection_pool_size=connection_pool_size)
        self._lean = lean
        self._fast = fast
        self._pool_size = connection_pool_size
        self._session: aiohttp.ClientSession | None = None

    async def initialize(self) -> None:
        """Open PTB's client and the connection pool of the answers."""
        await super().initialize()
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=self._pool_size)
            self._session = aiohttp.ClientSession(connector=connector, headers=_JSON_HEADERS)

    async def shutdown(self) -> None:
        """Close both."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
        await super().shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        write_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        connect_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        pool_timeout: Any = HTTPXRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """POST ``request_data`` as ``application/json``; PTB's exceptions on failure."""
        if request_data is None or request_data.contains_files:
            return await super().do_request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
            )
        name = url.rpartition("/")[2]
        if name in self._fast and self._session is not None:
            return await self._send_fast(name, url, request_data, read_timeout, connect_timeout)
        client = self._client  # PTB's own httpx client: same pool, limits and proxy settings
        defaults = client.timeout
        timeout = httpx.Timeout(
            connect=_seconds(connect_timeout, defaults.connect),
            read=_seconds(read_timeout, defaults.read),
            write=_seconds(write_timeout, defaults.write),
            pool=_seconds(pool_timeout, defaults.pool),
        )
        body = json.dumps(request_data.parameters, ensure_ascii=False).encode()
        try:
            response = await client.request(method, url, content=body, headers=_JSON_HEADERS, timeout=timeout)
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.PoolTimeout):
                raise TimedOut("Pool timeout: the request was not sent") from exc
            raise TimedOut from exc
        except httpx.HTTPError as exc:
            # Same wording as PTB, so retry_reason() sees the same NetworkError shape.
            raise NetworkError(f"httpx.{exc.__class__.__name__}: {exc}") from exc
        if response.status_code == 200 and name in self._lean:
            return 200, _lean(response.content)
        return response.status_code, response.content

    async def _send_fast(
        self, name: str, url: str, request_data: RequestData, read_timeout: Any, connect_timeout: Any
    ) -> tuple[int, bytes]:
        """The answers, through aiohttp: with updates answered concurrently, httpcore's pool
        costs CPU in proportion to its connections for every request (it scans them all, with a
        poll() of each), more than answering costs; aiohttp's pool is a queue per host."""
        assert self._session is not None
        defaults = self._client.timeout
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=_seconds(connect_timeout, defaults.connect),
            sock_read=_seconds(read_timeout, defaults.read),
        )
        body = json.dumps(request_data.parameters, ensure_ascii=False).encode()
        try:
            async with self._session.post(url, data=body, timeout=timeout) as response:
                status, content = response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            # Worded like PTB's own network errors, so retry_reason() sees the same shape.
            raise NetworkError(f"aiohttp.{exc.__class__.__name__}: {exc}") from exc
        if status == 200 and name in self._lean:
            return 200, _lean(content)
        return status, content
