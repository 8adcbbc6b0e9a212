"""Logs on Discord, both ways of running: the real discord.py over the emulator's gateway, and the
HTTP interactions endpoint over a real socket. Answers arrive as Discord would see them: a
deferral, then an edit of the original response with the chart as a multipart file part.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

import aiohttp
import pytest
from nacl.signing import SigningKey

from bot.metrics import Metrics
from bot.platforms.discord import logs as discord_logs
from bot.platforms.discord.commands import command_payloads
from bot.platforms.discord.config import DiscordConfig
from bot.platforms.discord.gateway import DiscordGatewayAdapter
from bot.platforms.discord.interactions import DiscordInteractionsAdapter
from bot.platforms.discord.logs import code_blocks
from bot.platforms.discord.render import EPHEMERAL, RLM, render_log_message
from bot.service import Service
from bot.storage import MemoryPreferences
from handlers import Handler, load
from handlers.logs import MAX_UPLOAD, report_upload

from support.discord_emulator import DiscordEmulator, SpecValidator, WebhookMessage, message_problems
from support.sample_logs import combined_log, gzipped, many_codes_log

GUILD = 900000000000000001
VALIDATOR = SpecValidator.load()
KEY = SigningKey.generate()
PNG = b"\x89PNG\r\n\x1a\n"
TOO_BIG = "That file is too big: the limit is 20 MiB."


@cache
def shared_handler() -> Handler:
    handler = Handler(load())
    handler.warm()
    return handler


def new_service() -> Service:
    return Service(shared_handler(), Metrics(), MemoryPreferences())


@pytest.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    async with DiscordEmulator(validator=VALIDATOR) as emu:
        yield emu
    assert emu.problems == []


@asynccontextmanager
async def gateway(emu: DiscordEmulator) -> AsyncIterator[DiscordGatewayAdapter]:
    config = DiscordConfig(
        enabled=True,
        mode="gateway",
        token=emu.token,
        api_base_url=emu.api_base_url,
        gateway_url=emu.gateway_url,
    )
    adapter = DiscordGatewayAdapter(config, new_service(), sync_commands=False, ready_timeout=10)
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()


@pytest.fixture
async def bot(emulator: DiscordEmulator) -> AsyncIterator[DiscordGatewayAdapter]:
    async with gateway(emulator) as adapter:
        yield adapter


async def answer_of(emu: DiscordEmulator, payload: dict[str, Any]) -> tuple[dict[str, Any], WebhookMessage]:
    """Dispatch ``payload`` over the gateway: the deferral, then the edit that answers it."""
    deferral = await emu.interact(payload)
    return deferral, await emu.webhook_message(payload)


def embed_of(sent: WebhookMessage) -> dict[str, Any]:
    (embed,) = sent.body["embeds"]
    return dict(embed)


def buttons_of(sent: WebhookMessage) -> list[dict[str, Any]]:
    return [b for row in sent.body.get("components", ()) for b in row["components"]]


def logs_command(emu: DiscordEmulator, attachment: dict[str, Any], **options: Any) -> dict[str, Any]:
    return emu.slash("http-logs", options, attachments={"file": attachment})


# ---- /http-logs over the gateway ----------------------------------------------------------------


async def test_http_logs_answers_privately_with_a_summary_embed_and_the_chart(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    attachment = emulator.attachment(combined_log().encode(), "access.log")
    deferral, sent = await answer_of(emulator, logs_command(emulator, attachment))
    assert deferral == {"type": 5, "data": {"flags": EPHEMERAL}}
    assert sent.original and sent.ephemeral
    embed = embed_of(sent)
    assert embed["title"] == "Log summary (combined)"
    assert embed["description"].startswith("120 lines read: 120 understood")
    assert "```\n200 " in embed["description"]  # the counts table, in a code block
    assert embed["color"] == 0xE74C3C  # the log holds 502s
    assert embed["image"] == {"url": "attachment://timeline.png"}
    assert sent.body["attachments"] == [{"id": "0", "filename": "timeline.png"}]
    chart = sent.file("timeline.png")
    assert chart is not None and chart.startswith(PNG)
    assert [u.field for u in sent.files] == ["files[0]"]
    assert buttons_of(sent)[0]["custom_id"] == "sharelog:en"
    assert "flags" not in sent.body
    assert sent.body["allowed_mentions"] == {"parse": []}
    assert emulator.downloads == [attachment["id"]]


async def test_http_logs_can_post_to_the_channel_and_reads_gzip(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    attachment = emulator.attachment(gzipped(combined_log()), "access.log.1.gz")
    deferral, sent = await answer_of(emulator, logs_command(emulator, attachment, private=False))
    assert deferral == {"type": 5}
    assert not sent.ephemeral
    assert embed_of(sent)["title"] == "Log summary (combined)"
    assert buttons_of(sent) == []


async def test_share_posts_the_summary_and_its_chart_for_everyone(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    attachment = emulator.attachment(combined_log().encode())
    _, private = await answer_of(emulator, logs_command(emulator, attachment))
    click = emulator.button(
        "sharelog:en",
        embeds=private.message["embeds"],
        attachments=private.message["attachments"],
        user_name="Grace",
    )
    deferral, shared = await answer_of(emulator, click)
    assert deferral["type"] == 5 and not deferral.get("data", {}).get("flags")
    assert not shared.ephemeral
    embed = embed_of(shared)
    assert embed["title"] == embed_of(private)["title"]
    assert embed["description"] == embed_of(private)["description"]
    assert embed["footer"]["text"] == "Shared by Grace"
    assert embed["image"] == {"url": "attachment://timeline.png"}
    assert shared.file("timeline.png") == private.file("timeline.png")
    assert buttons_of(shared) == []


async def test_arabic_summaries_read_right_to_left_outside_their_tables(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    attachment = emulator.attachment(combined_log().encode())
    _, sent = await answer_of(emulator, logs_command(emulator, attachment, lang="ar"))
    embed = embed_of(sent)
    assert embed["title"] == RLM + shared_handler().ui("ar", "logs_title", format="combined")
    description = embed["description"]
    blocks = code_blocks(description)
    assert blocks and all(RLM not in block for block in blocks)
    prose = description
    for block in blocks:
        prose = prose.replace(f"```\n{block}```", "")
    assert all(line.startswith(RLM) for line in prose.split("\n") if line.strip())
    assert buttons_of(sent)[0]["custom_id"] == "sharelog:ar"


# ---- Explain HTTP status on a message -----------------------------------------------------------


async def test_explaining_a_message_with_a_log_file_summarises_the_file(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    log_file = emulator.attachment(combined_log().encode(), "nginx-access.log.2")
    picture = emulator.attachment(PNG, "screenshot.png", content_type="image/png")
    payload = emulator.message_command("Explain HTTP status", "prod is down", attachments=[picture, log_file])
    deferral, sent = await answer_of(emulator, payload)
    assert deferral == {"type": 5, "data": {"flags": EPHEMERAL}}
    assert embed_of(sent)["title"] == "Log summary (combined)"
    assert emulator.downloads == [log_file["id"]]


async def test_explaining_a_code_block_of_log_lines_summarises_it(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    content = "prod since 10:00:\n```log\n" + combined_log(minutes=2) + "```\nany idea?"
    _, sent = await answer_of(emulator, emulator.message_command("Explain HTTP status", content))
    assert embed_of(sent)["description"].startswith("8 lines read: 8 understood")
    assert emulator.downloads == []


async def test_other_messages_are_still_explained_at_once(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    picture = emulator.attachment(PNG, "screenshot.png", content_type="image/png")
    one_line = "```\n" + combined_log(minutes=1).split("\n")[0] + "\n```"
    for content, attachments in (("we get 502 and 404", [picture]), (one_line, [])):
        callback = await emulator.interact(
            emulator.message_command("Explain HTTP status", content, attachments=attachments)
        )
        assert callback["type"] == 4
    assert emulator.webhook_messages == [] and emulator.downloads == []


# ---- refusals and failures ----------------------------------------------------------------------


async def test_a_file_announced_over_20_mib_is_refused_without_a_download(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    attachment = emulator.attachment(b"x", "huge.log", size=MAX_UPLOAD + 1)
    _, sent = await answer_of(emulator, logs_command(emulator, attachment))
    assert sent.body["content"] == TOO_BIG
    assert "embeds" not in sent.body and sent.files == []
    assert emulator.downloads == []


async def test_a_download_running_past_the_limit_is_cut_off_and_refused(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discord_logs, "MAX_UPLOAD", 1000)
    attachment = emulator.attachment(combined_log().encode(), "access.log", size=10)
    _, sent = await answer_of(emulator, logs_command(emulator, attachment))
    assert sent.body["content"] == TOO_BIG


@pytest.mark.parametrize(
    ("data", "reply"),
    [
        (PNG + bytes(range(256)) * 8, "That file is not a text log."),
        (
            "café crème 502\n".encode("latin-1") * 200,
            "That file's text encoding cannot be read: send it as UTF-8.",
        ),
        (b"  \n", "That file is empty."),
    ],
    ids=["binary", "encoding", "empty"],
)
async def test_unreadable_files_get_one_clear_line(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter, data: bytes, reply: str
) -> None:
    _, sent = await answer_of(emulator, logs_command(emulator, emulator.attachment(data, "upload.log")))
    assert sent.body["content"] == reply
    assert sent.files == []


async def test_a_file_the_cdn_no_longer_has_gets_the_apology(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    emulator.cdn_script = ["404"]
    _, sent = await answer_of(emulator, logs_command(emulator, emulator.attachment(combined_log().encode())))
    assert sent.body["content"] == shared_handler().ui("en", "apology")


async def test_a_download_that_times_out_gets_the_apology(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discord_logs, "DOWNLOAD_TIMEOUT", 0.2)
    emulator.cdn_delay = 1.0
    _, sent = await answer_of(emulator, logs_command(emulator, emulator.attachment(combined_log().encode())))
    assert sent.body["content"] == shared_handler().ui("en", "apology")


async def test_attachments_are_fetched_only_from_discord(
    emulator: DiscordEmulator, bot: DiscordGatewayAdapter
) -> None:
    attachment = {
        **emulator.attachment(combined_log().encode()),
        "url": "http://169.254.169.254/latest/meta-data",
    }
    _, sent = await answer_of(emulator, logs_command(emulator, attachment))
    assert sent.body["content"] == shared_handler().ui("en", "apology")
    assert emulator.downloads == []


# ---- the HTTP interactions endpoint -------------------------------------------------------------


def signed(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    signature = KEY.sign(stamp.encode() + body).signature.hex()
    return {
        "X-Signature-Ed25519": signature,
        "X-Signature-Timestamp": stamp,
        "Content-Type": "application/json",
    }


@pytest.fixture
async def endpoint(emulator: DiscordEmulator) -> AsyncIterator[DiscordInteractionsAdapter]:
    config = DiscordConfig(
        enabled=True,
        mode="interactions",
        public_key=KEY.verify_key.encode().hex(),
        interactions_listen="127.0.0.1",
        interactions_port=0,
        api_base_url=emulator.api_base_url,
    )
    adapter = DiscordInteractionsAdapter(config, new_service())
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()


async def post(
    emu: DiscordEmulator, adapter: DiscordInteractionsAdapter, payload: dict[str, Any]
) -> dict[str, Any]:
    """POST ``payload`` as Discord does; the endpoint's JSON answer, which Discord then acts on."""
    body = json.dumps(payload).encode()
    async with (
        aiohttp.ClientSession() as http,
        http.post(adapter.url, data=body, headers=signed(body)) as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        result: dict[str, Any] = await response.json()
    emu.acknowledge(payload, result)
    if VALIDATOR is not None:
        assert VALIDATOR.callback_errors(result) == []
    return result


async def test_the_endpoint_defers_then_edits_in_the_summary_with_its_chart(
    emulator: DiscordEmulator, endpoint: DiscordInteractionsAdapter
) -> None:
    payload = logs_command(emulator, emulator.attachment(combined_log().encode()))
    assert await post(emulator, endpoint, payload) == {"type": 5, "data": {"flags": EPHEMERAL}}
    sent = await emulator.webhook_message(payload)
    assert sent.ephemeral and embed_of(sent)["title"] == "Log summary (combined)"
    chart = sent.file("timeline.png")
    assert chart is not None and chart.startswith(PNG)
    click = emulator.button(
        "sharelog:en", embeds=sent.message["embeds"], attachments=sent.message["attachments"], guild_id=None
    )
    assert await post(emulator, endpoint, click) == {"type": 5}
    shared = await emulator.webhook_message(click)
    assert embed_of(shared)["footer"]["text"] == "Shared by Ada"
    assert shared.file("timeline.png") == chart


async def test_the_endpoint_summarises_code_blocks_and_refuses_big_files(
    emulator: DiscordEmulator, endpoint: DiscordInteractionsAdapter
) -> None:
    content = "```\n" + combined_log(minutes=2) + "```"
    explained = emulator.message_command("Explain HTTP status", content, guild_id=None)
    assert (await post(emulator, endpoint, explained))["type"] == 5
    assert embed_of(await emulator.webhook_message(explained))["title"] == "Log summary (combined)"
    huge = logs_command(emulator, emulator.attachment(b"x", size=MAX_UPLOAD + 1), private=False)
    assert await post(emulator, endpoint, huge) == {"type": 5}
    assert (await emulator.webhook_message(huge)).body["content"] == TOO_BIG
    assert emulator.downloads == []


async def test_stopping_the_endpoint_delivers_summaries_in_progress(
    emulator: DiscordEmulator, endpoint: DiscordInteractionsAdapter
) -> None:
    emulator.cdn_delay = 0.5
    payload = logs_command(emulator, emulator.attachment(combined_log().encode()))
    await post(emulator, endpoint, payload)
    await endpoint.stop()
    assert (
        emulator.webhook_messages
        and embed_of(emulator.webhook_messages[0])["title"] == "Log summary (combined)"
    )


# ---- rendering ----------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "ar", "ja"])
def test_long_summaries_fit_one_embed(lang: str) -> None:
    report = report_upload(many_codes_log().encode(), shared_handler(), lang)
    message = render_log_message(report, shared_handler(), chart=True, ephemeral=True)
    assert message_problems(message) == []
    (embed,) = message["embeds"]
    assert len(embed["description"]) <= 4096
    assert "█" not in embed["description"]  # the chart shows the timeline
    if VALIDATOR is not None:
        body = {k: v for k, v in message.items() if k != "flags"}
        assert VALIDATOR.webhook_errors(body, original=True) == []


def test_backticks_in_paths_cannot_close_a_code_block() -> None:
    log = combined_log(minutes=2).replace("/api/items/3", "/a```b")
    report = report_upload(log.encode(), shared_handler(), "en")
    description = render_log_message(report, shared_handler())["embeds"][0]["description"]
    assert description.count("```") % 2 == 0 and "/a```b" not in description


def test_the_command_set_declares_http_logs_with_an_attachment_option() -> None:
    _, logs, _, _ = command_payloads(shared_handler())
    assert logs["name"] == "http-logs"
    file, private, lang = logs["options"]
    assert (file["name"], file["type"], file["required"]) == ("file", 11, True)
    assert (private["name"], private["type"]) == ("private", 5)
    assert lang["name"] == "lang"
    assert logs["description_localizations"]["de"] == shared_handler().ui("de", "cmd_http_logs")
    assert file["description_localizations"]["ja"] == shared_handler().ui("ja", "cmd_http_logs_file")


# ---- the emulator's own checks ------------------------------------------------------------------


def _form(payload: dict[str, Any], *files: tuple[str, str, bytes]) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("payload_json", json.dumps(payload), content_type="application/json")
    for field, name, data in files:
        form.add_field(field, data, filename=name, content_type="application/octet-stream")
    return form


async def test_the_emulator_checks_files_as_discord_does() -> None:
    async with DiscordEmulator() as emu, aiohttp.ClientSession() as http:
        root = emu.api_base_url
        good = emu.slash("http", {"query": "1"})
        message = {
            "embeds": [{"title": "t", "image": {"url": "attachment://a.png"}}],
            "attachments": [{"id": "0", "filename": "a.png"}],
            "flags": EPHEMERAL,
        }
        callback = f"{root}/interactions/{good['id']}/{good['token']}/callback"
        body = _form({"type": 4, "data": message}, ("files[0]", "a.png", PNG))
        async with http.post(callback, data=body) as response:
            assert response.status == 200
        assert emu.callbacks[-1].files[0].data == PNG and emu.problems == []
        followup = f"{root}/webhooks/{emu.application_id}/{good['token']}"
        body = _form({"content": "more"}, ("files[0]", "b.txt", b"b"))
        async with http.post(followup, data=body) as response:
            assert response.status == 200
        assert emu.webhook_messages[-1].file("b.txt") == b"b" and not emu.webhook_messages[-1].original

        bad = emu.slash("http", {"query": "2"})
        bad_message = {
            "embeds": [{"title": "t", "image": {"url": "attachment://missing.png"}}],
            "attachments": [{"id": "1", "filename": "a.png"}],
        }
        too_big = b"x" * (10 * 1024 * 1024 + 1)
        body = _form({"type": 4, "data": bad_message}, ("files[0]", "a.png", too_big), ("file", "c.png", PNG))
        callback = f"{root}/interactions/{bad['id']}/{bad['token']}/callback"
        async with http.post(callback, data=body) as response:
            assert response.status == 400
        problems = " | ".join(emu.problems)
        assert "files[0] is 10485761 bytes" in problems
        assert "'file' is not named files[n]" in problems
        assert "id 1 names no uploaded file" in problems
        assert "attachment://missing.png" in problems

        unknown = f"{root}/webhooks/{emu.application_id}/not-a-token/messages/@original"
        async with http.patch(unknown, json={"content": "x"}) as response:
            assert response.status == 404
        early = emu.slash("http", {"query": "3"})
        edit = f"{root}/webhooks/{emu.application_id}/{early['token']}/messages/@original"
        async with http.patch(edit, json={"content": "x"}) as response:
            assert response.status == 404 and emu.early_webhooks == 1
