"""Shared helpers: a clean environment, ``python -m bot`` as a subprocess, waiting for health, and
a PostgreSQL server for the session (``postgres``) with a fresh database per test (``pg_url``)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.config import secret_env

from support.postgres import PostgresServer, PostgresUnavailable, running_server

ROOT = Path(__file__).resolve().parent.parent
SECRET_VARIABLES = tuple(secret_env())

BotRunner = Callable[..., subprocess.CompletedProcess[str]]


def free_port() -> int:
    """A TCP port nothing listens on right now (on 127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def bot_env(tmp_path: Path) -> dict[str, str]:
    """The environment for a bot subprocess: none of the caller's secrets or BOT_* overrides."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BOT_") and k.removesuffix("_FILE") not in SECRET_VARIABLES
    }
    env["PYTHONPATH"] = str(ROOT)
    env["BOT_STORAGE_PATH"] = str(tmp_path / "prefs.sqlite3")
    return env


@pytest.fixture
def run_bot(bot_env: dict[str, str], tmp_path: Path) -> BotRunner:
    """Run ``python -m bot ARGS`` to completion: ``run_bot("check-config", env={...}, input="")``."""

    def run(
        *args: str, env: dict[str, str] | None = None, input: str = "", timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            env={**bot_env, **(env or {})},
            cwd=tmp_path,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


async def spawn_bot(env: dict[str, str], cwd: Path, log: Path, *args: str) -> asyncio.subprocess.Process:
    """Start ``python -m bot run ARGS`` without blocking the test's loop (emulators live there).

    Its standard error goes to ``log`` (a pipe nobody reads would fill up at DEBUG).
    """
    with log.open("w", encoding="utf-8") as err:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            *args,
            env=env,
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=err,
        )


async def wait_healthy(
    process: asyncio.subprocess.Process, port: int, limit: float = 30.0, interval: float = 0.05
) -> float:
    """Poll ``/healthz`` until 200; the seconds it took. Fails if the process exits first."""
    began = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while True:
            assert process.returncode is None, f"the bot exited with {process.returncode}"
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return time.monotonic() - began
            except aiohttp.ClientError:
                pass
            assert time.monotonic() - began < limit, "the bot did not become healthy"
            await asyncio.sleep(interval)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session, started on first use.

    Without the server programs the PostgreSQL tests are skipped on a developer's machine, with
    the command that installs them, and fail in CI (``CI`` set), where they must run.
    """
    try:
        with running_server() as server:
            yield server
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture
def pg_url(postgres: PostgresServer) -> str:
    """The URL (password included) of a fresh, empty database on the session's server."""
    if not postgres.running:  # a test that stopped it failed before starting it again
        postgres.start()
    return postgres.url(postgres.create_database())
