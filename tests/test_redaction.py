"""The one redactor: every spelling of a secret, one mask, in formatted lines and in records."""

from __future__ import annotations

import io
import json
import logging
import urllib.parse
from collections.abc import Iterator

import pytest

from bot.logging_setup import setup_logging
from bot.redaction import REDACTED, RedactingFilter, RedactingFormatter, Redactor, spellings

TOKEN = "123456:ABC-def_ghi"


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level, filters = list(root.handlers), root.level, list(root.filters)
    yield
    root.handlers[:] = handlers
    root.filters[:] = filters
    root.setLevel(level)


def test_every_spelling_is_masked_the_same_way() -> None:
    secret = 'a/b:c"d'
    assert spellings(secret) == {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote(secret),
        json.dumps(secret)[1:-1],
    }
    redact = Redactor([secret, ""])
    for form in spellings(secret):
        assert redact(f"<{form}>") == f"<{REDACTED}>"
    assert redact.leaks(f"x{secret}y") and not redact.leaks("nothing here")
    assert not Redactor([""]) and Redactor([secret])


def test_a_secret_containing_another_is_replaced_whole() -> None:
    redact = Redactor(["abc", "abcdef"])
    assert redact("xabcdefx abc") == f"x{REDACTED}x {REDACTED}"


def test_the_formatter_and_the_filter_share_one_redactor() -> None:
    shared = Redactor([TOKEN])
    formatter = RedactingFormatter(logging.Formatter("%(message)s"), shared)
    record_filter = RedactingFilter(shared)
    shared.add(["later-secret"])  # a secret added once reaches both paths
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s %s", (TOKEN, "later-secret"), None)
    assert formatter.format(record) == f"{REDACTED} {REDACTED}"
    assert record_filter.filter(record)
    assert record.getMessage() == f"{REDACTED} {REDACTED}"


def test_the_filter_redacts_message_arguments_and_tracebacks() -> None:
    logger = logging.getLogger("telegram.test_redaction")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    secret_filter = RedactingFilter([TOKEN, "webhook-secret"])
    secret_filter.attach(["telegram"])
    try:
        logger.debug("POST https://api.telegram.org/bot%s/getMe", TOKEN)
        logger.info("quoted form %s", TOKEN.replace(":", "%3A"))
        try:
            raise ValueError(f"The token `{TOKEN}` was rejected; secret webhook-secret")
        except ValueError:
            logger.exception("failed")
    finally:
        secret_filter.detach()
        logger.removeHandler(handler)
    assert logger not in secret_filter._attached
    formatter = logging.Formatter()
    lines = [formatter.format(r) for r in records]
    assert "bot***/getMe" in lines[0]
    assert "quoted form ***" in lines[1]
    assert "The token `***` was rejected; secret ***" in lines[2]
    for line in lines:
        assert TOKEN not in line and "webhook-secret" not in line and "%3A" not in line


def test_the_filter_covers_loggers_created_later_through_the_root_handlers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "MTIz.secret-token.XYZ"
    guard = RedactingFilter([secret])
    guard.attach(["discord"])
    try:
        with caplog.at_level(logging.DEBUG):
            logging.getLogger("discord.http").debug("sending %s", {"Authorization": f"Bot {secret}"})
            logging.getLogger("discord.gateway").debug(f"payload {secret}")
            try:
                raise ValueError(f"bad token {secret}")
            except ValueError:
                logging.getLogger("discord.client").exception("failed")
    finally:
        guard.detach()
    assert secret not in caplog.text
    assert caplog.text.count(REDACTED) >= 3
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("discord.http").debug("after %s", secret)
    assert caplog.records[-1].getMessage() == f"after {secret}"


def test_setup_logging_and_an_adapter_filter_print_the_same_mask() -> None:
    stream = io.StringIO()
    setup_logging("DEBUG", "text", [TOKEN], stream=stream)
    guard = RedactingFilter([TOKEN])
    guard.attach(["bot"])
    try:
        logging.getLogger("bot.test_redaction").info("filtered %s", TOKEN)
    finally:
        guard.detach()
    logging.getLogger("tests.test_redaction").info("formatted %s", TOKEN)
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith(f"filtered {REDACTED}")
    assert lines[1].endswith(f"formatted {REDACTED}")
    assert TOKEN not in stream.getvalue()
