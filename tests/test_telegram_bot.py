"""The Telegram adapter end to end: the real python-telegram-bot application against the emulator.

Every test runs PTB over real sockets on 127.0.0.1; the emulator checks each payload against
Telegram's limits (and the published Bot API description when ``../shared/specs`` exists), and
every test ends with no recorded violation.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from telegram.error import BadRequest

from bot.platforms.base import AdapterStartError
from bot.platforms.telegram.adapter import TelegramAdapter
from bot.platforms.telegram.config import TelegramConfig
from bot.platforms.telegram.delivery import RetryPolicy
from bot.service import Service
from handlers import Handler, Request, load

from support.telegram_emulator import BOT_USERNAME, Faults, SpecChecker, TelegramEmulator, free_port

# PTB itself warns (inside RetryAfter.__init__) about the future type of retry_after.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

ROOT = Path(__file__).resolve().parent.parent
FAST_RETRY = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.05, max_retry_after=5.0)
SECRET = "s3cret_webhook-token"


@cache
def _handler() -> Handler:
    handler = Handler(load())
    handler.warm()
    return handler


@pytest.fixture
def handler() -> Handler:
    """The real catalogue, loaded once for the module."""
    return _handler()


@pytest.fixture
def service(handler: Handler) -> Service:
    """A fresh service (metrics and in-memory preferences) per test."""
    return Service(handler)


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    """The Bot API emulator; a test ends with no payload breaking Telegram's rules."""
    emu = TelegramEmulator()
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()
    assert emu.violations == []


def config_for(emu: TelegramEmulator, **changes: Any) -> TelegramConfig:
    """A polling configuration pointed at ``emu``."""
    base = TelegramConfig(enabled=True, token=emu.token, api_base_url=emu.base_url, poll_timeout=2)
    return replace(base, **changes)


@pytest.fixture
async def bot(emulator: TelegramEmulator, service: Service) -> AsyncIterator[TelegramAdapter]:
    """A started adapter in polling mode."""
    adapter = TelegramAdapter(config_for(emulator), service, retry=FAST_RETRY)
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()


async def answered(emu: TelegramEmulator, *updates: dict[str, Any], within: float = 10.0) -> None:
    """Wait until every message update has a reply and every inline query an answer."""

    def done() -> bool:
        return all(emu.replies_to(u) if "message" in u else emu.answers_to(u) for u in updates)

    await emu.wait_for(done, within)


async def settle(emu: TelegramEmulator) -> None:
    """Let the bot consume everything queued so far: updates are handled in order, so once a
    later sentinel is answered, every earlier update has been dealt with."""
    sentinel = emu.message("/http 200", user=emu.user(99_999))
    await answered(emu, sentinel)


# ---- commands -------------------------------------------------------------------------------


async def test_private_command_answers_with_a_card(bot: TelegramAdapter, emulator: TelegramEmulator) -> None:
    update = emulator.message("/http 404")
    await answered(emulator, update)
    (sent,) = emulator.replies_to(update)
    assert sent.text.startswith("404 Not Found")
    assert sent.reply_to is None  # private chats are not quoted
    assert {"type": "bold", "offset": 0, "length": len("404 Not Found")} in sent.entities
    urls = [str(b["url"]) for b in sent.buttons if "url" in b]
    assert urls[0].startswith("https://www.rfc-editor.org/")
    assert any("developer.mozilla.org" in u for u in urls)
    assert sent.params["link_preview_options"] == {"is_disabled": True}
    assert sent.params["parse_mode"] == "HTML"


async def test_group_command_addressed_to_this_bot(bot: TelegramAdapter, emulator: TelegramEmulator) -> None:
    group = emulator.group()
    update = emulator.message(f"/http@{BOT_USERNAME} 503", chat=group)
    await answered(emulator, update)
    (sent,) = emulator.replies_to(update)
    assert sent.text.startswith("503 Service Unavailable")
    assert sent.reply_to == update["message"]["message_id"]


async def test_command_for_another_bot_is_ignored(bot: TelegramAdapter, emulator: TelegramEmulator) -> None:
    group = emulator.group()
    other = emulator.message("/http@SomeOtherBot 404", chat=group)
    mine = emulator.message("/http 418", chat=group)
    await answered(emulator, mine)
    assert emulator.replies_to(other) == []
    assert [s.text.split("\n")[0] for s in emulator.sent] == ["418 I'm a teapot"]


async def test_reply_to_a_log_line_explains_its_status_code(
    bot: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    group = emulator.group()
    log_line = emulator.message(
        '10.0.0.7 - - [12/Mar/2025:10:01:02 +0000] "GET /api HTTP/1.1" 502 173',
        chat=group,
        user=emulator.user(2002, first_name="Grace"),
        queue=False,
    )
    update = emulator.message("/http", chat=group, reply_to=log_line["message"])
    await answered(emulator, update)
    (sent,) = emulator.replies_to(update)
    assert sent.text.startswith("502 Bad Gateway")
    assert "173" not in sent.text.split("\n")[0]


async def test_reply_with_a_quote_explains_only_the_quote(
    bot: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    group = emulator.group()
    original = emulator.message("first 404 then 503", chat=group, user=emulator.user(2003), queue=False)
    update = emulator.message("/http", chat=group, reply_to=original["message"], quote="then 503")
    await answered(emulator, update)
    assert emulator.replies_to(update)[0].text.startswith("503 ")


async def test_bare_http_gives_help_and_a_topic_root_is_not_a_reply(
    bot: TelegramAdapter, emulator: TelegramEmulator, handler: Handler
) -> None:
    forum = emulator.group(-100777, forum=True)
    root = {
        "message_id": 10,
        "date": 0,
        "chat": forum,
        "forum_topic_created": {"name": "ops", "icon_color": 0},
    }
    update = emulator.message("/http", chat=forum, reply_to=root, thread_id=10)
    await answered(emulator, update)
    (sent,) = emulator.replies_to(update)
    assert sent.text.startswith(handler.ui("en", "help_title"))
    assert f"@{BOT_USERNAME}" in sent.text
    assert sent.params["message_thread_id"] == 10


async def test_private_plain_text_is_a_query_but_inline_posts_are_not(
    bot: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    user = emulator.user(3003)
    posted = emulator.message("404 Not Found …", user=user, via_bot=emulator.bot_user)
    update = emulator.message("not found", user=emulator.user(3004))
    await answered(emulator, update)
    assert emulator.replies_to(update)[0].text.startswith("404 Not Found")
    await settle(emulator)
    assert emulator.replies_to(posted) == []


async def test_start_deep_link_opens_the_card_and_a_bare_http_gives_help(
    bot: TelegramAdapter, emulator: TelegramEmulator, handler: Handler
) -> None:
    bare = emulator.message("/http", user=emulator.user(4000))
    deep = emulator.message("/start 404", user=emulator.user(4001))
    plain = emulator.message("/start", user=emulator.user(4002))
    forged = emulator.message("/start <b>x</b>", user=emulator.user(4003))
    await answered(emulator, bare, deep, plain, forged)
    assert emulator.replies_to(bare)[0].text.startswith(handler.ui("en", "help_title"))
    assert emulator.replies_to(deep)[0].text.startswith("404 Not Found")
    help_title = handler.ui("en", "help_title")
    assert emulator.replies_to(plain)[0].text.startswith(help_title)
    assert emulator.replies_to(forged)[0].text.startswith(help_title)


async def test_language_follows_the_user_then_english(
    bot: TelegramAdapter, emulator: TelegramEmulator, handler: Handler
) -> None:
    french = emulator.message("/http 404", user=emulator.user(5001, language_code="fr"))
    unknown = emulator.message("/http 404", user=emulator.user(5002, language_code="xx-YY"))
    await answered(emulator, french, unknown)
    fr_title = handler.card(404, "fr").title if "fr" in handler.languages else handler.card(404, "en").title
    assert emulator.replies_to(french)[0].text.startswith(fr_title)
    assert emulator.replies_to(unknown)[0].text.startswith(handler.card(404, "en").title)


async def test_lang_in_a_group_needs_an_administrator(
    bot: TelegramAdapter, emulator: TelegramEmulator, service: Service, handler: Handler
) -> None:
    group = emulator.group()
    admin, member = emulator.user(6001), emulator.user(6002)
    emulator.admins[group["id"]] = {admin["id"]}
    target = next((lang for lang in handler.languages if lang != "en"), "en")
    refused = emulator.message(f"/lang {target}", chat=group, user=member)
    await answered(emulator, refused)
    assert emulator.replies_to(refused)[0].text == handler.ui("en", "lang_forbidden")
    assert await service.prefs.get(f"telegram:{group['id']}") is None
    assert emulator.calls_of("getChatMember")[-1].params["user_id"] == member["id"]

    accepted = emulator.message(f"/lang {target}", chat=group, user=admin)
    await answered(emulator, accepted)
    native = handler.catalogue.languages[target].native_name
    assert emulator.replies_to(accepted)[0].text == handler.ui(target, "lang_set", language=native)
    assert await service.prefs.get(f"telegram:{group['id']}") == target

    # The chat's preference beats the user's own language.
    card = emulator.message("/http 404", chat=group, user=member)
    unknown = emulator.message("/lang klingon", chat=group, user=member)
    shown = emulator.message("/lang", chat=group, user=member)
    await answered(emulator, card, unknown, shown)
    assert emulator.replies_to(card)[0].text.startswith(handler.card(404, target).title)
    assert "klingon" in emulator.replies_to(unknown)[0].text
    assert native in emulator.replies_to(shown)[0].text

    reset = emulator.message("/lang reset", chat=group, sender_chat=group, user=emulator.user(1087968824))
    await answered(emulator, reset)  # an anonymous administrator writes as the group
    assert emulator.replies_to(reset)[0].text == handler.ui("en", "lang_reset")
    assert await service.prefs.get(f"telegram:{group['id']}") is None


async def test_private_lang_applies_to_inline_queries(
    bot: TelegramAdapter, emulator: TelegramEmulator, service: Service, handler: Handler
) -> None:
    target = next((lang for lang in handler.languages if lang != "en"), "en")
    user = emulator.user(6100, language_code="en")
    chosen = emulator.message(f"/lang {target}", user=user)
    await answered(emulator, chosen)
    query = emulator.inline_query("404", user=user)
    await answered(emulator, query)
    (answer,) = emulator.answers_to(query)
    assert answer.results[0]["title"] == handler.title(404, target)


async def test_commands_are_registered_in_every_language(
    bot: TelegramAdapter, emulator: TelegramEmulator, handler: Handler
) -> None:
    expected = {("default", "")} | {("default", lang) for lang in handler.languages}
    await emulator.wait_for(lambda: set(emulator.commands) >= expected)
    for (_, lang), commands in emulator.commands.items():
        ui_lang = lang or "en"
        assert [c["command"] for c in commands] == ["http", "start", "help", "lang"]
        assert commands[0]["description"] == handler.ui(ui_lang, "cmd_http")
        assert commands[3]["description"] == handler.ui(ui_lang, "cmd_lang")


async def test_the_echo_of_a_sent_message_is_trimmed_but_keeps_its_identity(
    bot: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    chat = emulator.private_chat(emulator.user(14_001))
    sent = await bot.application.bot.send_message(chat["id"], "<b>bold</b> text", parse_mode="HTML")
    assert sent.message_id == emulator.sent[-1].message_id
    assert sent.chat.id == chat["id"] and sent.text == "bold text"
    assert sent.entities == ()  # dropped from the echo: never read, costly to parse
    assert emulator.sent[-1].entities  # Telegram (the emulator) did send them
    with pytest.raises(BadRequest):
        await bot.application.bot.send_message(chat["id"], "<b>unclosed", parse_mode="HTML")
    emulator.violations.clear()  # the malformed message above was deliberate


# ---- inline mode ----------------------------------------------------------------------------


async def test_inline_query_pages_a_class(
    bot: TelegramAdapter, emulator: TelegramEmulator, handler: Handler
) -> None:
    members = [c for c in handler.catalogue.codes if c // 100 == 4]
    user = emulator.user(7001)
    seen: list[str] = []
    offset = ""
    pages = 0
    while True:
        query = emulator.inline_query("4xx", user=user, offset=offset)
        await answered(emulator, query)
        (answer,) = emulator.answers_to(query)
        pages += 1
        assert 0 < len(answer.results) <= min(50, bot.inline_page_size)
        assert answer.params["cache_time"] == bot.config.inline_cache_time
        assert answer.params["is_personal"] is (len(handler.languages) > 1)
        seen += [r["id"] for r in answer.results]
        offset = answer.next_offset
        if not offset:
            break
    assert pages == -(-len(members) // bot.inline_page_size)
    assert seen == [str(c) for c in members]
    first = emulator.inline_answers[0].results[0]
    assert first["title"] == handler.title(members[0], "en")
    assert first["description"]
    content = first["input_message_content"]
    assert content["parse_mode"] == "HTML"
    assert content["message_text"].startswith(f"<b>{handler.title(members[0], 'en')}</b>")
    assert first["reply_markup"]["inline_keyboard"][0][0]["url"].startswith("https://")


async def test_inline_empty_query_offers_popular_codes(
    bot: TelegramAdapter, emulator: TelegramEmulator, handler: Handler
) -> None:
    query = emulator.inline_query("")
    words = emulator.inline_query("not foun")
    await answered(emulator, query, words)
    (popular,) = emulator.answers_to(query)
    expected = list(dict.fromkeys(handler.catalogue.popular))[: bot.inline_page_size]
    assert [int(r["id"]) for r in popular.results] == expected
    assert popular.params["button"]["text"] == handler.ui("en", "inline_popular")
    (search,) = emulator.answers_to(words)
    assert search.results[0]["id"] == "404"


async def test_inline_comparison_is_offered_first_then_each_card(
    bot: TelegramAdapter, emulator: TelegramEmulator, handler: Handler
) -> None:
    query = emulator.inline_query("unauthorized vs forbidden")
    await answered(emulator, query)
    (answer,) = emulator.answers_to(query)
    assert [r["id"] for r in answer.results[:3]] == ["401+403", "401", "403"]
    comparison = answer.results[0]["input_message_content"]["message_text"]
    assert comparison.startswith("<b>401 Unauthorized vs 403 Forbidden</b>")


async def test_inline_query_without_suggestions_falls_back_to_the_answer(
    bot: TelegramAdapter, emulator: TelegramEmulator
) -> None:
    query = emulator.inline_query("random")
    await answered(emulator, query)
    (answer,) = emulator.answers_to(query)
    assert len(answer.results) == 1


# ---- webhook --------------------------------------------------------------------------------


async def test_webhook_checks_the_secret(emulator: TelegramEmulator, service: Service) -> None:
    port = free_port()
    config = config_for(
        emulator,
        mode="webhook",
        webhook_listen="127.0.0.1",
        webhook_port=port,
        webhook_path="/hook/telegram",
        webhook_url=f"http://127.0.0.1:{port}/hook/telegram",
        secret_token=SECRET,
    )
    adapter = TelegramAdapter(config, service, retry=FAST_RETRY)
    await adapter.start()
    try:
        assert adapter.connected()
        assert emulator.webhook["url"] == config.webhook_url
        assert emulator.webhook["secret_token"] == SECRET
        update = emulator.message("/http 404", queue=False)
        assert await emulator.deliver(update, secret="wrong") == 403
        assert await emulator.deliver(update, secret="") == 403
        assert emulator.replies_to(update) == []
        assert await emulator.deliver(update, content_type="application/json; charset=utf-8") == 200
        await answered(emulator, update)
        # A redelivery of the same update (its acknowledgement was lost) is not answered twice.
        assert await emulator.deliver(update) == 200
        second = emulator.message("/http 500", user=emulator.user(8002), queue=False)
        assert await emulator.deliver(second) == 200
        await answered(emulator, second)
        assert len(emulator.replies_to(update)) == 1
        assert await emulator.deliver({"no": "update"}) == 400
        assert emulator.calls_of("getUpdates") == []
    finally:
        await adapter.stop()
    assert not adapter.connected()


# ---- resilience -----------------------------------------------------------------------------


async def test_every_update_gets_exactly_one_answer_under_faults(
    emulator: TelegramEmulator, service: Service
) -> None:
    emulator.faults["sendMessage"] = Faults(
        reset=0.3, server_error=0.15, seed=7, script=["429", "reset", "502", "reset"], retry_after=1
    )
    emulator.faults["answerInlineQuery"] = Faults(reset=0.3, server_error=0.1, seed=3)
    adapter = TelegramAdapter(config_for(emulator), service, retry=FAST_RETRY)
    await adapter.start()
    try:
        group = emulator.group()
        updates = [
            emulator.message(f"/http {code}", chat=group, user=emulator.user(9000 + i))
            for i, code in enumerate((200, 201, 301, 302, 400, 401, 403, 404, 409, 410, 418, 429))
        ]
        updates += [emulator.message(f"/http {500 + i}", user=emulator.user(9100 + i)) for i in range(5)]
        updates += [emulator.inline_query(q, user=emulator.user(9200)) for q in ("teapot", "5xx", "")]
        updates += [emulator.message("not found", user=emulator.user(9300 + i)) for i in range(8)]
        await answered(emulator, *updates, within=30)
        await asyncio.sleep(0.2)  # a late duplicate would show up now
    finally:
        await adapter.stop()
    for update in updates:
        got = emulator.replies_to(update) if "message" in update else emulator.answers_to(update)
        assert len(got) == 1, update
    sends = emulator.calls_of("sendMessage")
    resets = [c for c in sends if c.outcome == "reset"]
    assert len(resets) >= 0.2 * len(sends)
    assert any(c.outcome == "429" for c in sends)
    assert any(c.outcome == "502" for c in sends)
    metrics = service.metrics.render().decode()
    for reason in ("rate_limit", "server_error", "network"):
        assert f'reason="{reason}"' in metrics


async def test_retry_after_is_honoured(emulator: TelegramEmulator, service: Service) -> None:
    emulator.faults["sendMessage"] = Faults(script=["429"], retry_after=1)
    adapter = TelegramAdapter(config_for(emulator), service, retry=FAST_RETRY)
    await adapter.start()
    try:
        update = emulator.message("/http 429")
        await answered(emulator, update)
    finally:
        await adapter.stop()
    first, second = emulator.calls_of("sendMessage")[:2]
    assert first.outcome == "429"
    assert second.at - first.at >= 0.95


async def test_a_lost_response_is_the_one_duplicate_we_accept(
    emulator: TelegramEmulator, service: Service
) -> None:
    """Documents the at-least-once limit: Telegram delivered, then the connection dropped.

    The Bot API offers no idempotency key, so the retry cannot know the first attempt landed.
    """
    emulator.faults["sendMessage"] = Faults(script=["reset_after"])
    adapter = TelegramAdapter(config_for(emulator), service, retry=FAST_RETRY)
    await adapter.start()
    try:
        update = emulator.message("/http 201")
        await answered(emulator, update)
        await emulator.wait_for(lambda: len(emulator.replies_to(update)) == 2)
    finally:
        await adapter.stop()


async def test_a_send_that_keeps_failing_is_logged_and_the_bot_goes_on(
    emulator: TelegramEmulator, service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.faults["sendMessage"] = Faults(script=["502"] * 5)
    adapter = TelegramAdapter(config_for(emulator), service, retry=FAST_RETRY)
    await adapter.start()
    try:
        lost = emulator.message("/http 404", user=emulator.user(10_001))
        # Chats are answered concurrently: let the failing one use up the script first.
        await emulator.wait_for(lambda: len(emulator.calls_of("sendMessage")) == 5)
        later = emulator.message("/http 200", user=emulator.user(10_002))
        await answered(emulator, later)
    finally:
        await adapter.stop()
    assert emulator.replies_to(lost) == []
    assert len(emulator.calls_of("sendMessage")) == 6
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("bot.adapters.telegram")]
    assert any(f"update {lost['update_id']}: answer not delivered" in line for line in lines)


async def test_handler_failure_apologises_and_logs_the_update_id(
    bot: TelegramAdapter,
    emulator: TelegramEmulator,
    service: Service,
    handler: Handler,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = service.answer

    def flaky(request: Request) -> Any:
        if request.text == "boom":
            raise RuntimeError("the handler broke")
        return original(request)

    monkeypatch.setattr(service, "answer", flaky)
    failing = emulator.message("/http boom", user=emulator.user(11_001))
    fine = emulator.message("/http 404", user=emulator.user(11_002))
    await answered(emulator, failing, fine)
    assert emulator.replies_to(failing)[0].text == handler.ui("en", "apology")
    assert emulator.replies_to(fine)[0].text.startswith("404 ")
    (record,) = [r for r in caplog.records if "handler failed" in r.getMessage()]
    assert f"update {failing['update_id']}" in record.getMessage()
    assert record.exc_info is not None and "the handler broke" in str(record.exc_info[1])


async def test_stop_finishes_replies_in_flight(emulator: TelegramEmulator, service: Service) -> None:
    emulator.faults["sendMessage"] = Faults(delay=0.05)
    adapter = TelegramAdapter(config_for(emulator), service, retry=FAST_RETRY)
    await adapter.start()
    updates = [emulator.message(f"/http {200 + i}", user=emulator.user(12_000 + i)) for i in range(6)]
    # Once fetched (and so confirmed to Telegram by the next poll), an update must be answered.
    await emulator.wait_for(lambda: emulator.pending == 0 and bool(emulator.calls_of("sendMessage")))
    await adapter.stop()
    assert all(len(emulator.replies_to(u)) == 1 for u in updates)
    assert not adapter.connected()


async def test_stop_is_bounded_when_replies_hang(emulator: TelegramEmulator, service: Service) -> None:
    emulator.faults["sendMessage"] = Faults(delay=0.4)
    adapter = TelegramAdapter(config_for(emulator), service, retry=FAST_RETRY, drain_timeout=0.3)
    await adapter.start()
    # One chat, so answered one after the other: most are still queued at the deadline.
    user = emulator.user(13_000)
    for i in range(20):
        emulator.message(f"/http {200 + i % 7}", user=user)
    await emulator.wait_for(lambda: bool(emulator.calls_of("sendMessage")))
    began = time.monotonic()
    await adapter.stop()
    assert time.monotonic() - began < 2.0
    assert len(emulator.sent) < 20


async def test_connected_follows_polling_health(emulator: TelegramEmulator, service: Service) -> None:
    adapter = TelegramAdapter(config_for(emulator, poll_timeout=0), service, retry=FAST_RETRY)
    await adapter.start()
    try:
        assert adapter.connected()
        emulator.faults["getUpdates"] = Faults(server_error=1.0, max_streak=10**9)
        await _until(lambda: not adapter.connected())
        del emulator.faults["getUpdates"]
        await _until(adapter.connected, within=5)
    finally:
        await adapter.stop()


async def _until(predicate: Callable[[], bool], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


# ---- start-up and secrets ---------------------------------------------------------------------


@pytest.mark.parametrize("token", ["999999:WrongTokenWrongTokenWrongToken", "not-a-token"])
async def test_a_bad_token_fails_start_without_showing_it(
    emulator: TelegramEmulator, service: Service, token: str
) -> None:
    adapter = TelegramAdapter(config_for(emulator, token=token), service)
    with pytest.raises(AdapterStartError, match="rejected the bot token") as raised:
        await adapter.start()
    assert token not in "".join(traceback.format_exception(raised.value))
    assert not adapter.connected()
    await adapter.stop()  # the runtime stops a failed adapter too


async def test_an_unreachable_api_fails_start(service: Service) -> None:
    config = TelegramConfig(
        enabled=True, token="1:abc", api_base_url=f"http://127.0.0.1:{free_port()}/bot", poll_timeout=1
    )
    adapter = TelegramAdapter(config, service)
    with pytest.raises(AdapterStartError, match=r"cannot reach the Bot API at http://127\.0\.0\.1"):
        await adapter.start()
    await adapter.stop()


async def test_start_errors_name_the_problem(emulator: TelegramEmulator, service: Service) -> None:
    with pytest.raises(AdapterStartError, match="token is required"):
        await TelegramAdapter(config_for(emulator, token=""), service).start()
    with pytest.raises(AdapterStartError, match="secret_token"):
        await TelegramAdapter(config_for(emulator, mode="webhook"), service).start()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = config_for(
            emulator,
            mode="webhook",
            webhook_listen="127.0.0.1",
            webhook_port=port,
            webhook_url=f"http://127.0.0.1:{port}/telegram",
            secret_token=SECRET,
        )
        adapter = TelegramAdapter(config, service)
        with pytest.raises(AdapterStartError, match=f"cannot listen on 127.0.0.1:{port}"):
            await adapter.start()
        await adapter.stop()
    assert emulator.webhook == {}


async def test_no_log_record_holds_the_token_at_debug(
    emulator: TelegramEmulator, service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("", "httpx", "httpcore", "telegram", "bot", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name or None)
    secret_config = config_for(emulator, secret_token=SECRET)
    emulator.faults["sendMessage"] = Faults(script=["reset", "502"])
    adapter = TelegramAdapter(secret_config, service, retry=FAST_RETRY)
    await adapter.start()
    try:
        updates = [emulator.message("/http 404"), emulator.inline_query("teapot")]
        await answered(emulator, *updates)
        try:
            raise ValueError(f"the token is {emulator.token}")
        except ValueError:
            logging.getLogger("telegram.ext.Updater").exception("%s in a message", emulator.token)
    finally:
        await adapter.stop()
    wrong = "999999:WrongTokenWrongTokenWrongToken"
    with pytest.raises(AdapterStartError):
        await TelegramAdapter(config_for(emulator, token=wrong), service).start()
    formatter = logging.Formatter("%(name)s %(message)s")
    lines = [formatter.format(r) for r in caplog.records]
    assert any("/bot***/getMe" in line for line in lines), "httpx request lines were not captured"
    assert any("the token is ***" in line for line in lines)
    for line in lines:
        assert emulator.token not in line
        assert wrong not in line
        assert SECRET not in line


async def test_python_m_bot_run_serves_telegram_and_keeps_the_token_out_of_debug_logs(
    emulator: TelegramEmulator, tmp_path: Path
) -> None:
    """The whole path an operator uses: config file, runtime, adapter, SIGTERM."""
    config = tmp_path / "bot.toml"
    config.write_text(
        f"""
[telegram]
enabled = true
api_base_url = "{emulator.base_url}"
poll_timeout = 1

[logging]
level = "DEBUG"

[storage]
path = "{tmp_path / "prefs.sqlite3"}"
""",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_", "DISCORD_"))}
    env.update(TELEGRAM_BOT_TOKEN=emulator.token, PYTHONPATH=str(ROOT))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--config",
        str(config),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        update = emulator.message("/http 404", user=emulator.user(15_001))
        await answered(emulator, update, within=30)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log_text = stderr.decode()
    assert process.returncode == 0, log_text[-2000:]
    assert emulator.replies_to(update)[0].text.startswith("404 Not Found")
    assert "/bot***/getMe" in log_text
    assert emulator.token not in log_text


# ---- the published Bot API description --------------------------------------------------------


@pytest.mark.skipif(SpecChecker.load() is None, reason="../shared/specs/telegram-bot-api.json is absent")
def test_the_spec_checker_catches_bad_payloads() -> None:
    spec = SpecChecker.load()
    assert spec is not None
    assert spec.check_method("sendMessage", {"chat_id": 1, "text": "x", "parse_mode": "HTML"}) == []
    assert any(
        "unknown field 'colour'" in p
        for p in spec.check_method("sendMessage", {"chat_id": 1, "text": "x", "colour": 1})
    )
    assert any("required field 'text'" in p for p in spec.check_method("sendMessage", {"chat_id": 1}))
    bad_result = {"inline_query_id": "1", "results": [{"type": "article", "id": "1", "title": "t"}]}
    assert spec.check_method("answerInlineQuery", bad_result)
