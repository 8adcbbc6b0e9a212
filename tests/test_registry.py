"""A platform is a plug-in: one registered here, in the test, reaches every part of the process.

The fake platform below is everything a platform package provides (a section with its checks,
secrets and listener, an adapter factory, a help line, check-config notes, an operator command).
Registering it edits nothing but the registry's list, and configuration, check-config, the
command line, the runtime, /healthz and /metrics all pick it up.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TextIO

import aiohttp
import pytest

from bot import cli, commands
from bot.config import Config, ConfigError, effective, enabled_platforms, parse, secret_env, secrets
from bot.exit_codes import EXIT_OK
from bot.ops import OpsServer
from bot.platforms import registry
from bot.platforms.base import (
    AdapterContext,
    AdapterFactory,
    Listener,
    OperatorCommand,
    Platform,
    Secret,
    missing,
)
from bot.runtime import Runtime, serve
from bot.service import Service
from handlers import Handler, Request, load

TOKEN = "fake-secret-token"


@dataclass(frozen=True, slots=True)
class FakeConfig:
    """``[fake]``: a platform that only exists in this test."""

    SECRETS: ClassVar[tuple[Secret, ...]] = (Secret("token", "FAKE_PLATFORM_TOKEN"),)

    enabled: bool = False
    token: str = ""
    port: int = 7070
    greeting: str = "hello"

    def check(self) -> None:
        if self.enabled and not self.token:
            raise missing("fake", "token", "when [fake] is enabled", self.SECRETS)
        if not self.greeting:
            raise ConfigError("[fake] greeting must not be empty")

    def listeners(self) -> tuple[Listener, ...]:
        return (Listener("port", self.port, self.enabled),)


class FakeAdapter:
    """Answers one query when it starts, so that the metrics have something to count."""

    platform = "fake"

    def __init__(self, config: FakeConfig, service: Service) -> None:
        self.config = config
        self.service = service
        self.up = False

    async def start(self) -> None:
        self.service.answer(Request("404", ("en",), platform=self.platform))
        self.up = True

    async def stop(self) -> None:
        self.up = False

    def connected(self) -> bool:
        return self.up


def _adapter(config: FakeConfig, context: AdapterContext) -> AdapterFactory:
    return lambda: FakeAdapter(config, context.service)


def _ping_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--times", type=int, default=1)


def _ping(args: argparse.Namespace, config: Config, out: TextIO, err: TextIO) -> int:
    out.write(f"{config.fake.greeting} {args.times}\n")
    return EXIT_OK


FAKE = Platform(
    name="fake",
    section=FakeConfig,
    adapter=_adapter,
    enable_hint=("with the token in FAKE_PLATFORM_TOKEN",),
    notes=lambda config: [f"greets with {config.greeting!r}"],
    commands=(
        OperatorCommand(
            name="fake-ping",
            help="say hello",
            run=_ping,
            add_arguments=_ping_arguments,
        ),
    ),
)


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The registry with the fake platform last, and an environment free of other settings."""
    monkeypatch.setattr(registry, "PLATFORMS", (*registry.PLATFORMS, FAKE))
    for variable in [*secret_env(), *(v for v in os.environ if v.startswith("BOT_"))]:
        monkeypatch.delenv(variable, raising=False)
        monkeypatch.delenv(f"{variable}_FILE", raising=False)
    yield


def test_the_registry_lists_the_platforms_in_start_order() -> None:
    # Network platforms first, the console (which may end the process) last among the real
    # ones; a platform added to the registry needs no change here.
    names = [p.name for p in registry.platforms()]
    assert names[:2] == ["telegram", "discord"]
    assert names[-2:] == ["console", "fake"]
    assert len(set(names)) == len(names)
    assert registry.get("fake") is FAKE
    with pytest.raises(KeyError):
        registry.get("nowhere")


def test_its_section_is_parsed_checked_and_masked_like_the_others() -> None:
    assert Config().fake == FakeConfig()
    assert "fake" in effective(Config())
    config = parse({"fake": {"enabled": True, "port": 7071}}, {"FAKE_PLATFORM_TOKEN": f" {TOKEN}\n"})
    assert config.fake == FakeConfig(enabled=True, token=TOKEN, port=7071)
    assert config.platforms["fake"] is config.fake
    assert enabled_platforms(config) == ["fake"]
    assert secret_env()["FAKE_PLATFORM_TOKEN"] == ("fake", "token")
    assert TOKEN in secrets(config)
    assert effective(config)["fake"]["token"] == f"<set, {len(TOKEN)} characters>"
    assert parse({}, {"BOT_FAKE_GREETING": "hi", "BOT_FAKE_PORT": "1"}).fake.greeting == "hi"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"fake": {"enabled": True}},
            "[fake] token is required when [fake] is enabled (or set FAKE_PLATFORM_TOKEN)",
        ),
        ({"fake": {"greting": "x"}}, "unknown key [fake] greting (did you mean greeting?"),
        ({"fake": {"port": "x"}}, "[fake] port must be an integer, not 'x'"),
        ({"fake": {"greeting": ""}}, "[fake] greeting must not be empty"),
        ({"fak": {}}, "unknown section [fak] (did you mean [fake]?"),
        (
            {"fake": {"enabled": True, "token": "t", "port": 9090}, "ops": {"enabled": True}},
            "[ops] port 9090 is already used by [fake] port",
        ),
    ],
)
def test_its_errors_name_its_keys(raw: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(raw, {})
    assert str(caught.value).startswith(expected), caught.value


def _config_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_check_config_shows_it_with_its_notes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PLATFORM_TOKEN", TOKEN)
    path = _config_file(tmp_path, '[fake]\nenabled = true\ngreeting = "salut"\n')
    out, err = io.StringIO(), io.StringIO()
    assert commands.check_config(argparse.Namespace(config=path), out, err) == EXIT_OK, err.getvalue()
    text = out.getvalue()
    assert "# secrets from the environment: FAKE_PLATFORM_TOKEN" in text
    assert f'[fake]\nenabled = true\ntoken = "<set, {len(TOKEN)} characters>"\nport = 7070\n' in text
    assert text.index("[console]") < text.index("[fake]") < text.index("[ops]")
    assert "# valid: run starts fake\n# fake: greets with 'salut'\n" in text
    assert TOKEN not in text


def test_run_with_nothing_enabled_tells_how_to_enable_it() -> None:
    lines = commands.nothing_enabled("no file").splitlines()
    # The columns stay aligned whatever the names: the new line lines up with Telegram's.
    fake = "  [fake]     enabled = true   (BOT_FAKE_ENABLED=true)     with the token in FAKE_PLATFORM_TOKEN"
    telegram = (
        "  [telegram] enabled = true   (BOT_TELEGRAM_ENABLED=true) with the token in TELEGRAM_BOT_TOKEN"
    )
    assert fake in lines and telegram in lines


def test_its_operator_command_joins_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config_file(tmp_path, '[fake]\ngreeting = "bonjour"\n')
    assert cli.main(["fake-ping", "--config", path, "--times", "3"]) == EXIT_OK
    assert capsys.readouterr().out == "bonjour 3\n"


async def test_the_runtime_health_and_metrics_serve_it(tmp_path: Path) -> None:
    raw = {
        "fake": {"enabled": True, "token": TOKEN},
        "ops": {"enabled": True, "port": 0},
        "storage": {"path": str(tmp_path / "prefs.sqlite3")},
    }
    config = parse(raw, {})
    seen: dict[str, object] = {}

    async def probe(runtime: Runtime, ops: OpsServer) -> None:
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{ops.url}/healthz") as response:
                    seen["health"] = (response.status, json.loads(await response.text()))
                async with session.get(f"{ops.url}/metrics") as response:
                    seen["metrics"] = await response.text()
        finally:
            runtime.request_stop()

    tasks: list[asyncio.Task[None]] = []

    def ready(runtime: Runtime, ops: OpsServer | None) -> None:
        assert ops is not None
        seen["platforms"] = runtime.platforms
        tasks.append(asyncio.get_running_loop().create_task(probe(runtime, ops)))

    assert await asyncio.wait_for(serve(config, Handler(load()), on_ready=ready), 10) == EXIT_OK
    await asyncio.gather(*tasks)
    assert seen["platforms"] == ["fake"]
    assert seen["health"] == (
        200,
        {"status": "ok", "adapters": {"fake": {"connected": True}}, "storage": "ok"},
    )
    metrics = str(seen["metrics"])
    assert 'http_status_bot_adapter_connected{platform="fake"} 1.0' in metrics
    assert 'http_status_bot_requests_total{kind="entry",platform="fake"} 1.0' in metrics
