"""The command set, its localisations and its registration through the REST API."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.config import parse
from bot.platforms.discord.commands import DISCORD_LOCALES, command_payloads, discord_locales
from bot.platforms.discord.config import DiscordConfig
from bot.platforms.discord.interactions import DiscordInteractionsAdapter
from bot.platforms.discord.responder import Invocation, Prepared, Responder
from bot.platforms.discord.sync import CommandSyncError, api_root, sync_commands, sync_on_start
from bot.runtime import adapter_factories
from bot.service import Service
from handlers import Handler, load

from support.discord_emulator import LOCALES, DiscordEmulator, SpecValidator, command_problems

ROOT = Path(__file__).resolve().parent.parent
VALIDATOR = SpecValidator.load()


def many_languages(tmp_path: Path) -> Handler:
    """The real catalogue plus stand-ins for languages that are still being written.

    Each stand-in is the English file with every interface string marked with its language, so the
    test sees which text lands in which Discord locale.
    """
    data = ROOT / "handlers" / "data"
    for name in ("codes.json", "en.json"):
        (tmp_path / name).write_text((data / name).read_text(encoding="utf-8"), encoding="utf-8")
    english = json.loads((data / "en.json").read_text(encoding="utf-8"))
    natives = {"es": "Español", "pt": "Português", "zh": "中文", "ar": "العربية", "ta": "தமிழ்", "hi": "हिन्दी"}
    for lang, native in natives.items():
        text = {
            **english,
            "lang": lang,
            "native_name": native,
            "dir": "rtl" if lang == "ar" else "ltr",
            "locales": [lang],
            "ui": {k: f"[{lang}] {v}" for k, v in english["ui"].items()},
        }
        (tmp_path / f"{lang}.json").write_text(json.dumps(text, ensure_ascii=False), encoding="utf-8")
    return Handler(load(tmp_path))


def test_our_locale_list_is_discords() -> None:
    assert set(DISCORD_LOCALES) == LOCALES
    assert discord_locales("es") == ("es-ES", "es-419")
    assert discord_locales("zh") == ("zh-CN", "zh-TW")
    assert discord_locales("pt") == ("pt-BR",)
    assert discord_locales("ar") == discord_locales("ta") == ()


def test_the_command_set_is_valid_and_keeps_its_names_in_every_locale(tmp_path: Path) -> None:
    handler = many_languages(tmp_path)
    commands = command_payloads(handler)
    assert command_problems(commands) == []
    if VALIDATOR is not None:
        assert VALIDATOR.commands_errors(commands) == []
    http, _, lang, explain = commands
    assert (http["name"], [o["name"] for o in http["options"]]) == ("http", ["query", "private", "lang"])
    assert "name_localizations" not in http
    assert all("name_localizations" not in o for o in http["options"])
    query = http["options"][0]
    assert query["required"] and query["autocomplete"]
    assert lang["name"] == "lang" and lang["options"][0]["name"] == "language"
    assert explain == {**explain, "type": 3, "name": "Explain HTTP status", "description": ""}


def test_descriptions_are_localised_for_every_language_discord_supports(tmp_path: Path) -> None:
    handler = many_languages(tmp_path)
    http, _, _, explain = command_payloads(handler)
    expected = {loc for lang in handler.languages if lang != "en" for loc in discord_locales(lang)}
    assert {"es-ES", "es-419", "pt-BR", "zh-CN", "zh-TW", "hi"} <= expected
    assert set(http["description_localizations"]) == expected
    assert http["description_localizations"]["es-419"] == handler.ui("es", "cmd_http")
    assert http["options"][0]["description_localizations"]["zh-TW"] == handler.ui("zh", "cmd_http_query")
    assert explain["name_localizations"]["pt-BR"] == handler.ui("pt", "cmd_explain_message")[:32]
    for command in (http, explain):
        assert not {"ar", "ta"} & set(command.get("description_localizations", {}))
    # Discord has no Arabic or Tamil locale, but the languages are still offered.
    choices = {c["value"]: c["name"] for c in http["options"][2]["choices"]}
    assert choices["ar"] == "العربية" and choices["ta"] == "தமிழ்"
    assert list(choices) == list(handler.languages)


def test_real_catalogue_localisations() -> None:
    handler = Handler(load())
    http, _, _, explain = command_payloads(handler)
    for lang in handler.languages:
        for locale in discord_locales(lang) if lang != "en" else ():
            assert http["description_localizations"][locale] == handler.ui(lang, "cmd_http")
            assert explain["name_localizations"][locale]


async def test_sync_commands_registers_in_a_guild_or_globally() -> None:
    handler = Handler(load())
    async with DiscordEmulator(validator=VALIDATOR) as emu:
        config = DiscordConfig(enabled=True, token=emu.token, api_base_url=emu.api_base_url)
        assert await sync_commands(config, 42, handler=handler) == 4
        assert [c["name"] for c in emu.commands["42"]] == ["http", "http-logs", "lang", "Explain HTTP status"]
        # The application id is asked for when the configuration does not give it.
        assert ("GET", "/oauth2/applications/@me") in emu.requests
        configured = DiscordConfig(
            enabled=True,
            token=emu.token,
            api_base_url=emu.api_base_url,
            application_id=int(emu.application_id),
        )
        assert await sync_commands(configured, None, handler=handler) == 4
        assert len(emu.commands[None]) == 4
        assert emu.problems == []


async def test_sync_commands_explains_failures() -> None:
    async with DiscordEmulator() as emu:
        bad = DiscordConfig(enabled=True, token="nope", api_base_url=emu.api_base_url)
        with pytest.raises(CommandSyncError, match="rejected the bot token"):
            await sync_commands(bad, None)
        address = emu.api_base_url
    with pytest.raises(CommandSyncError, match="cannot reach the Discord API"):
        await sync_commands(DiscordConfig(enabled=True, token="t", api_base_url=address), 1)
    with pytest.raises(CommandSyncError, match="token is required"):
        await sync_commands(DiscordConfig(enabled=True), None)


def test_api_root_accepts_a_host_or_a_versioned_root() -> None:
    assert api_root("") == "https://discord.com/api/v10"
    assert api_root("http://127.0.0.1:9/") == "http://127.0.0.1:9/api/v10"
    assert api_root("http://127.0.0.1:9/api/v10/") == "http://127.0.0.1:9/api/v10"


def test_start_time_registration_is_for_development_guilds_only() -> None:
    assert sync_on_start(DiscordConfig(dev_guild_id=5))
    assert not sync_on_start(DiscordConfig())


def test_the_interactions_mode_does_not_need_discord_py() -> None:
    config = parse({"discord": {"enabled": True, "mode": "interactions", "public_key": "00" * 32}}, {})
    factories = adapter_factories(config, Service(Handler(load())), lambda: None)
    assert isinstance(factories["discord"](), DiscordInteractionsAdapter)


async def test_answers_are_cached_by_text_language_and_privacy_but_random_is_not() -> None:
    handler = Handler(load())
    service = Service(handler)
    responder = Responder(service)
    payloads = DiscordEmulator()

    async def prepare(options: dict[str, object], **kwargs: Any) -> Prepared:
        return await responder.prepare(Invocation.from_payload(payloads.slash("http", options, **kwargs)))

    first = await prepare({"query": "404"})
    assert await prepare({"query": "404"}) is first
    assert await prepare({"query": "404", "private": True}) is not first
    if "fr" in handler.languages:
        assert await prepare({"query": "404"}, locale="fr") is not first
    assert await prepare({"query": "random"}) is not await prepare({"query": "random"})
    assert first.json == json.dumps(first.body, ensure_ascii=False, separators=(",", ":")).encode()

    # Cached answers are still counted.
    def answered() -> float:
        line = 'http_status_bot_requests_total{kind="entry",platform="discord"} '
        text = service.metrics.render().decode()
        return float(text.split(line, 1)[1].split()[0])

    before = answered()
    assert await prepare({"query": "404"}) is first
    assert answered() == before + 1
    typing = Invocation.from_payload(payloads.autocomplete("http", "query", "50"))
    assert await responder.prepare(typing) is await responder.prepare(typing)
    uncached = Responder(service, cache_size=0)
    assert (
        await uncached.prepare(Invocation.from_payload(payloads.slash("http", {"query": "404"}))) is not first
    )


async def test_python_m_bot_sync_commands_registers_through_the_emulator(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    async with DiscordEmulator(validator=VALIDATOR) as emu:
        config = tmp_path / "bot.toml"
        config.write_text(f'[discord]\napi_base_url = "{emu.api_base_url}"\n', encoding="utf-8")
        env = {**bot_env, "DISCORD_BOT_TOKEN": emu.token}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "sync-commands", "--config", str(config), "--guild", "42",
            env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()
        assert "registered 4 command(s) in guild 42" in out.decode()
        assert [c["name"] for c in emu.commands["42"]] == ["http", "http-logs", "lang", "Explain HTTP status"]
        assert emu.token not in out.decode() + err.decode()
