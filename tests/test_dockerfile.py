"""The Dockerfile, read as text (no engine here), and its health check run for real."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.metrics import Metrics
from bot.ops import OpsServer

ROOT = Path(__file__).resolve().parent.parent


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _all(name: str) -> list[str]:
    return [rest for word, rest in _instructions() if word == name]


def test_base_is_a_pinned_slim_python_that_the_project_supports() -> None:
    (base,) = _all("FROM")
    # An exact release and a digest: two builds of one commit get the same base.
    match = re.fullmatch(r"python:3\.(\d+)\.\d+-slim-\w+@sha256:[0-9a-f]{64}", base)
    assert match, base
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requires = project["requires-python"]
    assert int(match.group(1)) >= int(requires.removeprefix(">=3."))


def test_the_image_runs_the_python_ci_tests_with() -> None:
    # CI runs the suite with the machine's python3 (.ci/run), that is the interpreter running
    # this test: the image must use the same minor version.
    (base,) = _all("FROM")
    minor = re.match(r"python:3\.(\d+)", base)
    assert minor, base
    assert int(minor.group(1)) == sys.version_info.minor
    assert "python3 -m venv" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_dependencies_are_installed_in_a_layer_of_their_own() -> None:
    steps = _instructions()
    code = next(i for i, (word, rest) in enumerate(steps) if word == "COPY" and rest.startswith("bot "))
    installs = [i for i, (word, rest) in enumerate(steps) if word == "RUN" and "pip install" in rest]
    assert installs and installs[0] < code, "dependencies must be installed before the code is copied"
    before = [rest for word, rest in steps[:code] if word == "COPY"]
    assert all(c.split()[0] == "pyproject.toml" for c in before[:1]), before
    assert not any(c.split()[0] in ("bot", "handlers", ".") for c in before), before
    # Installing the code afterwards must not reinstall (or upgrade) the dependencies.
    after = [
        rest for i, (word, rest) in enumerate(steps) if word == "RUN" and i > code and "pip install" in rest
    ]
    assert after and all("--no-deps" in rest for rest in after)


def test_it_runs_as_a_non_root_user() -> None:
    order = [word for word, _ in _instructions()]
    users = _all("USER")
    assert users, "no USER instruction"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert order.index("USER") < order.index("CMD")
    assert "useradd" in " ".join(_all("RUN"))


def test_it_installs_runtime_dependencies_only() -> None:
    runs = " ".join(_all("RUN"))
    assert "pip install --no-cache-dir" in runs
    assert "[test]" not in runs
    assert ".[" not in runs
    copied = " ".join(_all("COPY"))
    assert "tests" not in copied.split()
    assert not re.search(r"(^|\s)\.\s", copied + " "), "COPY . would bring the whole work tree"


def test_command_is_python_m_bot_run() -> None:
    (cmd,) = _all("CMD")
    assert json.loads(cmd) == ["python", "-m", "bot", "run"]


def test_configuration_comes_from_a_mounted_file_or_the_environment() -> None:
    env = " ".join(_all("ENV"))
    assert "BOT_CONFIG=/config/config.toml" in env
    assert any("config.example.toml /config/config.toml" in c for c in _all("COPY"))


def test_the_default_ports_are_exposed() -> None:
    exposed = {int(p.split("/")[0]) for rest in _all("EXPOSE") for p in rest.split()}
    from bot.config import Config

    defaults = Config()
    assert {defaults.telegram.webhook_port, defaults.discord.interactions_port, defaults.ops.port} <= exposed
    assert defaults.platforms["slack"].port in exposed  # type: ignore[attr-defined]


def test_the_search_index_is_built_into_the_image() -> None:
    env = " ".join(_all("ENV"))
    assert "HTTP_STATUS_BOT_CACHE=" in env
    runs = _all("RUN")
    build = next(i for i, rest in enumerate(runs) if "python -m handlers.search" in rest)
    code = next(i for i, rest in enumerate(runs) if "--no-deps" in rest)
    assert build > code, "the index is built from the installed code"


def _healthcheck_code() -> str:
    (check,) = _all("HEALTHCHECK")
    assert "curl" not in check
    assert "wget" not in check
    command = json.loads(check[check.index("CMD") + 3 :].strip())
    assert command[:2] == ["python", "-c"]
    assert "/healthz" in command[2]
    assert "urllib" in command[2]
    return str(command[2])


async def test_the_health_check_command_follows_healthz() -> None:
    code = _healthcheck_code()
    state = {"telegram": True}
    server = OpsServer("127.0.0.1", 0, Metrics(), lambda: state)
    await server.start()
    try:
        env = {**os.environ, "BOT_OPS_PORT": str(server.port)}

        async def check() -> int:
            import asyncio

            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                code,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            return await process.wait()

        assert await check() == 0
        state["telegram"] = False
        assert await check() == 1
    finally:
        await server.stop()


@pytest.mark.parametrize(
    "pattern", [".venv", ".git", "tests", "**/__pycache__", ".pytest_cache", "config.toml"]
)
def test_dockerignore_keeps_the_context_small_and_secret_free(pattern: str) -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert pattern in lines


def test_every_docker_run_in_the_readme_has_a_restart_policy() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    runs = [line for line in readme.splitlines() if line.lstrip().startswith("docker run")]
    assert runs
    assert all("--restart unless-stopped" in line for line in runs), runs
    dockerfile_runs = [
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if "docker run" in line
    ]
    assert all("--restart unless-stopped" in line for line in dockerfile_runs), dockerfile_runs
