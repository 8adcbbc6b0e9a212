"""The guarded HTTP listener every endpoint uses, and ``python -m bot run`` under a slow-connection
flood: bounded, on 127.0.0.1, cleaned up within seconds."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from nacl.signing import SigningKey

from bot.http_listener import HttpListener, ListenerLimits, RefusalLog, new_app

from conftest import free_port, wait_healthy

FAST = ListenerLimits(
    header_timeout=0.5, body_timeout=0.5, max_connections=20, max_body=1024, log_interval=60
)


async def _echo(request: web.Request) -> web.Response:
    return web.Response(text=f"{len(await request.read())}")


@pytest.fixture
async def listener() -> AsyncIterator[HttpListener]:
    app = new_app("test listener", FAST)
    app.router.add_route("*", "/echo", _echo)
    server = HttpListener(app, "127.0.0.1", 0)
    await server.start()
    yield server
    await server.stop()


async def _closed_within(port: int, sent: bytes, within: float) -> tuple[bytes, float]:
    """Send ``sent`` and wait for the server to answer and close; what it said and when."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    began = time.monotonic()
    writer.write(sent)
    await writer.drain()
    try:
        data = await asyncio.wait_for(reader.read(), within)
    finally:
        writer.close()
    return data, time.monotonic() - began


async def test_headers_that_never_finish_are_cut_off(listener: HttpListener) -> None:
    data, took = await _closed_within(listener.port, b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: ", 3)
    assert data == b""
    assert 0.4 < took < 2


async def test_a_silent_connection_is_cut_off(listener: HttpListener) -> None:
    data, took = await _closed_within(listener.port, b"", 3)
    assert data == b""
    assert took < 2


async def test_a_body_that_never_finishes_is_a_408(listener: HttpListener) -> None:
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial"
    data, took = await _closed_within(listener.port, head, 4)
    assert data.startswith(b"HTTP/1.1 408")
    assert took < 3
    assert listener.refusals == {"body not received in time": 1}


async def test_bodies_over_the_limit_are_a_413(listener: HttpListener) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{listener.port}/echo"
        async with session.post(url, data=b"x" * 2048) as response:
            assert response.status == 413

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                yield b"y" * 512

        async with session.post(url, data=chunks()) as response:
            assert response.status == 413
        async with session.post(url, data=b"z" * 1000) as response:
            assert await response.text() == "1000"


async def test_malformed_requests_are_400_with_one_line_and_no_traceback(
    listener: HttpListener, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for request in (
        b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
        b"GET /echo HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(100)) + b"\r\n",
        b"NOT HTTP AT ALL\r\n\r\n",
    ):
        data, _ = await _closed_within(listener.port, request, 3)
        assert data.startswith((b"HTTP/1.0 400", b"HTTP/1.1 400")), data[:80]
    assert not [r for r in caplog.records if r.exc_info or r.exc_text or r.levelno >= logging.ERROR]
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # Three refusals of one kind in a minute: one line.
    assert len(lines) == 1 and "malformed request" in lines[0], lines


async def test_at_the_bound_idle_connections_make_room_for_new_ones(listener: HttpListener) -> None:
    idle = []
    for _ in range(40):
        sock = socket.create_connection(("127.0.0.1", listener.port))
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
        idle.append(sock)
    try:
        await asyncio.sleep(0.1)
        assert listener.connections <= FAST.max_connections
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{listener.port}/echo") as response,
        ):
            assert response.status == 200
    finally:
        for sock in idle:
            sock.close()


def test_refusals_are_logged_at_most_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    refusals = RefusalLog("somewhere", interval=0.2)
    assert refusals.note("refused") is True
    assert [refusals.note("refused") for _ in range(50)] == [False] * 50
    assert refusals.note("other kind") is True
    time.sleep(0.25)
    assert refusals.note("refused") is True
    messages = [r.getMessage() for r in caplog.records]
    assert messages[-1] == "somewhere: refused (50 more in the last 0 s)"
    assert refusals.counts == {"refused": 52, "other kind": 1}


async def test_running_out_of_descriptors_is_one_line_per_interval_not_one_per_attempt(
    listener: HttpListener, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="asyncio")
    asyncio_log = logging.getLogger("asyncio")
    for _ in range(100):
        # What asyncio logs each time accept() fails with EMFILE, traceback included.
        try:
            raise OSError(24, "Too many open files")
        except OSError as exc:
            asyncio_log.error(
                "socket.accept() out of system resource",
                exc_info=exc,
                extra={"socket": None},
            )
    lines = [r for r in caplog.records if r.name == "asyncio"]
    assert len(lines) == 1
    assert lines[0].levelno == logging.WARNING and lines[0].exc_info is None
    assert "out of file descriptors" in lines[0].getMessage()


# ---- the whole process under a flood -----------------------------------------------------------

FLOOD = 300
FD_LIMIT = 256


def _descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def _slow_sockets(port: int, count: int) -> list[socket.socket]:
    """Connections that send the start of a request and then nothing (no secret, no signature)."""
    out = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
            sock.send(b"POST /interactions HTTP/1.1\r\nHost: bot\r\nX-Slow: ")
        except OSError:
            sock.close()
            continue
        out.append(sock)
    return out


def _limit_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


async def test_health_and_signed_interactions_answer_during_a_slow_connection_flood(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    key = SigningKey.generate()
    ops_port, port = free_port(), free_port()
    config = tmp_path / "bot.toml"
    config.write_text(
        f"""
[discord]
enabled = true
mode = "interactions"
interactions_listen = "127.0.0.1"
interactions_port = {port}
[ops]
enabled = true
port = {ops_port}
""",
        encoding="utf-8",
    )
    env = {**bot_env, "DISCORD_PUBLIC_KEY": key.verify_key.encode().hex()}
    log = tmp_path / "bot.log"
    with log.open("w", encoding="utf-8") as err:
        # A low descriptor limit, so that the flood would exhaust it without the bound.
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--config",
            str(config),
            env=env,
            cwd=tmp_path,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=err,
            preexec_fn=_limit_descriptors,
        )
    flood: list[socket.socket] = []
    try:
        await wait_healthy(process, ops_port)
        idle_fds = _descriptors(process.pid)
        flood = await _slow_sockets(port, FLOOD // 2) + await _slow_sockets(ops_port, FLOOD // 2)
        await asyncio.sleep(0.3)
        flooded_fds = _descriptors(process.pid)
        body = json.dumps({"type": 1}).encode()
        stamp = str(int(time.time()))
        headers = {
            "X-Signature-Ed25519": key.sign(stamp.encode() + body).signature.hex(),
            "X-Signature-Timestamp": stamp,
            "Content-Type": "application/json",
        }
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            began = time.monotonic()
            async with session.get(f"http://127.0.0.1:{ops_port}/healthz") as response:
                assert response.status == 200
            health_took = time.monotonic() - began
            url = f"http://127.0.0.1:{port}/interactions"
            async with session.post(url, data=body, headers=headers) as response:
                assert response.status == 200
                assert await response.json() == {"type": 1}
        print(
            f"\n{len(flood)} slow connections, descriptor limit {FD_LIMIT}: {idle_fds} descriptors before,"
            f" {flooded_fds} during the flood; /healthz answered in {health_took * 1000:.0f} ms"
        )
        assert flooded_fds < FD_LIMIT * 3 // 4
    finally:
        for sock in flood:
            sock.close()
        process.terminate()
        await asyncio.wait_for(process.wait(), 15)
    text = log.read_text(encoding="utf-8")
    assert "Traceback" not in text
    assert "out of system resource" not in text
    # Refusals are logged, but not once per connection.
    assert 0 < text.count("connection limit reached") <= 2
