"""The shared handler: replies for every kind of query, and robustness against any input."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers import Handler, Request, load
from handlers.models import Mode, Reply


@pytest.fixture(scope="module")
def handler() -> Handler:
    return Handler(load())


def ask(handler: Handler, text: str, lang: str = "en") -> Reply:
    return handler.answer(Request(text, (lang,)))


def test_code_lookup_builds_a_full_card(handler: Handler) -> None:
    reply = ask(handler, "HTTP/2 503 Service Unavailable")
    assert (reply.kind, reply.codes, reply.code_class) == ("entry", (503,), "5xx")
    assert reply.title == "503 Service Unavailable"
    assert reply.summary and reply.body
    names = {f.name for f in reply.fields}
    assert {"Class", "Standing", "Sent by", "Retry", "Related codes", "Headers"} <= names
    assert "Retry-After" in next(f.value for f in reply.fields if f.name == "Headers")
    # The specification's title goes with the standing; the Specification button opens it.
    assert "RFC 9110, Section 15.6.4" in next(f.value for f in reply.fields if f.name == "Standing")
    assert [link.label for link in reply.links] == ["Specification", "MDN", "AWS ALB troubleshooting"]
    assert reply.links[0].url == "https://www.rfc-editor.org/rfc/rfc9110#section-15.6.4"


def test_a_code_with_several_meanings_shows_them_all(handler: Handler) -> None:
    reply = ask(handler, "420")
    assert reply.title == "420 Enhance Your Calm"
    also = [f for f in reply.fields if f.name.startswith("Also used")]
    assert len(also) == 1
    assert "Method Failure" in also[0].name
    assert "Spring" in also[0].name
    registered = ask(handler, "451")
    assert registered.title == "451 Unavailable For Legal Reasons"
    assert any("Redirect" in f.name for f in registered.fields)


def test_titles_keep_the_registry_phrase_and_add_the_local_name(handler: Handler) -> None:
    assert ask(handler, "404", "fr").title.startswith("404 Not Found · ")
    assert ask(handler, "418").title == "418 I'm a teapot"
    assert ask(handler, "460").title.startswith("460 ")


@pytest.mark.parametrize("text", ["99", "600", "1000", "-5", "99999999999999999999999"])
def test_out_of_range(handler: Handler, text: str) -> None:
    reply = ask(handler, text)
    assert (reply.kind, reply.error) == ("error", "out_of_range")
    assert "100 to 599" in reply.body


def test_unassigned_codes_name_their_class(handler: Handler) -> None:
    reply = ask(handler, "123")
    assert (reply.kind, reply.codes, reply.code_class) == ("unassigned", (123,), "1xx")
    assert "unassigned" in reply.title.casefold()
    assert "1xx" in reply.body
    assert ["100", "Continue"][1] in reply.body
    assert ask(handler, "299").code_class == "2xx"


def test_zero_means_no_response(handler: Handler) -> None:
    reply = ask(handler, "000")
    assert reply.kind == "entry"
    assert "no response" in reply.title.casefold()


def test_classes_and_patterns_list_their_members(handler: Handler) -> None:
    reply = ask(handler, "4xx")
    assert (reply.kind, reply.code_class) == ("list", "4xx")
    assert reply.codes[:3] == (400, 401, 402)
    assert 499 in reply.codes
    assert all(400 <= c <= 499 for c in reply.codes)
    pattern = ask(handler, "50x")
    assert pattern.codes == tuple(c for c in handler.catalogue.codes if 500 <= c <= 509)
    words = ask(handler, "erreur serveur", "fr")
    assert (words.kind, words.code_class) == ("list", "5xx")
    assert ask(handler, "client error").code_class == "4xx"


@pytest.mark.parametrize(
    ("text", "code"),
    [("not found", 404), ("too many requests", 429), ("teapot", 418), ("forbiden", 403),
     ("trop de requêtes", 429), ("passerelle incorrecte", 502), ("payload too large", 413),
     ("Request Entity Too Large", 413), ("unprocessable entity", 422)],
)  # fmt: skip
def test_words_find_the_code(handler: Handler, text: str, code: int) -> None:
    reply = ask(handler, text)
    assert reply.codes[0] == code


def test_comparisons_compare_every_code_named(handler: Handler) -> None:
    reply = ask(handler, "unauthorized vs forbidden")
    assert (reply.kind, reply.codes) == ("compare", (401, 403))
    assert ask(handler, "401 vs 403").codes == (401, 403)
    assert ask(handler, "bad gateway or gateway timeout").codes == (502, 504)


def test_random_gives_a_card(handler: Handler) -> None:
    for word in ("random", "aléatoire", "RANDOM"):
        reply = ask(handler, word)
        assert reply.kind == "entry"
        assert reply.codes[0] in handler.catalogue.by_code


def test_empty_help_and_errors(handler: Handler) -> None:
    assert ask(handler, "").kind == "help"
    assert ask(handler, "   ").kind == "help"
    long = ask(handler, "a" * 257)
    assert (long.kind, long.error) == ("error", "too_long")
    assert "256" in long.body
    nothing = ask(handler, "http")
    assert (nothing.kind, nothing.error) == ("error", "empty_input")
    miss = ask(handler, "zzqxv wvvkj")
    assert (miss.kind, miss.error) == ("error", "no_match")
    close = ask(handler, "gatewayz timeoutt plz")
    assert close.codes[0] in (504, 502)


def test_errors_are_localised(handler: Handler) -> None:
    en = ask(handler, "600", "en")
    fr = ask(handler, "600", "fr")
    assert en.body != fr.body
    assert fr.lang == "fr"
    assert "600" in fr.body


def test_language_resolution(handler: Handler) -> None:
    assert handler.language(["fr-CA"]) == "fr"
    assert handler.language([None, "", "xx", "fr"]) == "fr"
    assert handler.language(["xx-YY"]) == "en"
    assert handler.answer(Request("404", (None, "fr-FR"))).lang == "fr"


def test_explain_finds_codes_in_a_log_line(handler: Handler) -> None:
    line = '10.0.0.1 - - [27/Nov/2026:10:00:00 +0000] "GET /api HTTP/1.1" 502 173 "-" "curl/8"'
    reply = handler.answer(Request(line, mode="explain"))
    assert (reply.kind, reply.codes) == ("entry", (502,))
    many = handler.answer(Request("HTTP/1.1 404 Not Found\nthen HTTP/1.1 503 ...", mode="explain"))
    assert (many.kind, many.codes) == ("list", (404, 503))
    none = handler.answer(Request("all good here", mode="explain"))
    assert (none.kind, none.error) == ("error", "no_match")


def test_suggestions(handler: Handler) -> None:
    fifty = [i.code for i in handler.suggest("50")]
    assert fifty[:3] == [500, 501, 502]
    assert set(fifty) >= set(range(500, 509)) | {510, 511}
    assert handler.suggest("not f")[0].code == 404
    assert [i.code for i in handler.suggest("")][:3] == list(handler.catalogue.popular[:3])
    assert len(handler.suggest("4", limit=25)) == 25
    assert handler.suggest("404")[0].code == 404
    assert handler.suggest("5xx")[0].code == 500


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_nothing_a_user_types_raises(text: str) -> None:
    handler = _shared_handler()
    modes: tuple[Mode, ...] = ("answer", "explain")
    for mode in modes:
        reply = handler.answer(Request(text, ("fr",), mode=mode))
        assert reply.title
    handler.suggest(text)


_HANDLER: list[Handler] = []


def _shared_handler() -> Handler:
    if not _HANDLER:
        _HANDLER.append(Handler(load()))
    return _HANDLER[0]


@pytest.mark.parametrize(
    "text",
    ["\x00", "\u202e404", "4\u200b04", "🦖", "<b>404</b>", "@everyone", "' OR 1=1 --", "%s%n", "\ud800"[:0],
     "𝟒𝟎𝟒", "#" * 256, "4xx" * 80, "vs vs vs", ", , ,", "o o o o"],
)  # fmt: skip
def test_hostile_inputs_get_a_normal_reply(handler: Handler, text: str) -> None:
    reply = ask(handler, text)
    assert reply.kind in ("entry", "list", "unassigned", "help", "error")


def test_handlers_import_no_platform_library() -> None:
    code = (
        "import sys, handlers; from handlers import Handler, load; Handler(load()).warm();"
        "bad = [m for m in ('discord', 'telegram', 'aiohttp', 'bot') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
