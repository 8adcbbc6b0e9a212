"""How the handler understands people: confidence, no match, help, ranges, topics, comparisons.

These are behaviours of issue 9, each with queries the search was not tuned on one by one.
"""

from __future__ import annotations

import pytest

from handlers import Handler, Request, load
from handlers.models import Reply

LANGS = ("en", "zh", "ru", "es", "pt", "hi", "ta", "de", "fr", "ar", "ja", "ko")


@pytest.fixture(scope="module")
def handler() -> Handler:
    return Handler(load())


def ask(handler: Handler, text: str, lang: str = "en") -> Reply:
    return handler.answer(Request(text, (lang,)))


@pytest.mark.parametrize(
    "text", ["lorem", "foo", "asdf", "lorem ipsum dolor sit amet", "qwertyuiop", "xyzzy"]
)
def test_meaningless_words_get_no_match_and_the_help_hint(handler: Handler, text: str) -> None:
    reply = ask(handler, text)
    assert (reply.kind, reply.error) == ("error", "no_match")
    assert handler.ui("en", "err_no_match_help") in reply.body


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("what time does the bakery close on sunday", "en"),
        ("je vais chercher du pain ce soir", "fr"),
        ("wir gehen morgen schwimmen", "de"),
        ("今天晚上吃火锅吧", "zh"),
    ],
)
def test_off_topic_sentences_never_get_a_card(handler: Handler, text: str, lang: str) -> None:
    # A word or two may match ("close", "time"): at most a short list of guesses, never a card.
    reply = ask(handler, text, lang)
    assert reply.kind in ("error", "list")
    assert len(reply.codes) <= 5


@pytest.mark.parametrize("text", ["help", "/help", "?", "HELP", "aide", "hilfe", "帮助", "помощь"])
def test_help_words_give_the_help_text(handler: Handler, text: str) -> None:
    assert ask(handler, text).kind == "help"


@pytest.mark.parametrize("text", ["6xx", "7xx", "0xx", "9XX", "-1", "- 5", "1" * 30, "60x"])
def test_shapes_outside_the_range_are_explained(handler: Handler, text: str) -> None:
    reply = ask(handler, text)
    assert (reply.kind, reply.error) == ("error", "out_of_range")
    assert "100" in reply.body and "599" in reply.body


@pytest.mark.parametrize(
    ("text", "lang"),
    [("too many redirects", "en"), ("ERR_TOO_MANY_REDIRECTS", "en"), ("trop de redirections", "fr")],
)
def test_redirect_loops_are_explained_with_the_redirect_list(handler: Handler, text: str, lang: str) -> None:
    reply = ask(handler, text, lang)
    assert (reply.kind, reply.code_class) == ("list", "3xx")
    assert reply.body == handler.ui(lang, "topic_redirect_loop_body")
    assert {301, 302, 307, 308} <= set(reply.codes)


@pytest.mark.parametrize(
    "text", ["connection refused", "no response", "ECONNREFUSED", "curl says status 000"]
)
def test_no_response_at_all_is_explained(handler: Handler, text: str) -> None:
    reply = ask(handler, text)
    assert reply.codes == (0,)
    assert reply.title == handler.ui("en", "no_response_title")


@pytest.mark.parametrize(
    ("text", "lang", "codes"),
    [
        ("401 vs 403", "en", (401, 403)),
        ("403 or 401?", "en", (403, 401)),
        ("difference between 301 and 308", "en", (301, 308)),
        ("unauthorized vs forbidden", "en", (401, 403)),
        ("not found or gone", "en", (404, 410)),
        ("401 oder 403", "de", (401, 403)),
        ("Unterschied zwischen 502 und 504", "de", (502, 504)),
        ("différence entre 301 et 302", "fr", (301, 302)),
        ("401 ou 403 ?", "fr", (401, 403)),
        ("diferencia entre 500 y 502", "es", (500, 502)),
        ("diferença entre 404 e 410", "pt", (404, 410)),
        ("разница между 401 и 403", "ru", (401, 403)),
        ("401 和 403 的区别", "zh", (401, 403)),
        ("401と403の違い", "ja", (401, 403)),
        ("401과 403 차이", "ko", (401, 403)),
        ("401 और 403 में अंतर", "hi", (401, 403)),
        ("401 மற்றும் 403 வேறுபாடு", "ta", (401, 403)),
        ("الفرق بين 401 و 403", "ar", (401, 403)),
    ],
)
def test_comparisons_in_every_language(
    handler: Handler, text: str, lang: str, codes: tuple[int, int]
) -> None:
    reply = ask(handler, text, lang)
    assert (reply.kind, reply.codes) == ("compare", codes)
    assert reply.lang == lang


def test_written_comparisons_say_when_to_use_which(handler: Handler) -> None:
    from handlers.compare import written

    for lang in LANGS:
        pairs = written(lang)
        assert len(pairs) >= 25, lang
        reply = ask(handler, "403 vs 401", lang)
        assert reply.body == pairs[frozenset((401, 403))]
        assert reply.codes == (403, 401)


def test_a_pair_without_a_written_text_is_put_side_by_side(handler: Handler) -> None:
    reply = ask(handler, "418 vs 503")
    assert reply.kind == "compare"
    assert reply.body == handler.ui("en", "compare_generic")
    names = [f.name for f in reply.fields]
    assert handler.title(418, "en") in names and handler.title(503, "en") in names
    differs = next(f.value for f in reply.fields if f.name == handler.ui("en", "compare_differs"))
    assert "4xx" in differs and "5xx" in differs


def test_joining_words_without_a_comparison_word_compare_nothing(handler: Handler) -> None:
    reply = ask(handler, "username and password are wrong")
    assert reply.kind != "compare"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("nginx 499", 499),
        ("getting 502 from cloudflare when uploading", 502),
        ("my 404 page has no styles", 404),
    ],
)
def test_a_code_named_in_a_description_is_the_answer(handler: Handler, text: str, code: int) -> None:
    reply = ask(handler, text)
    assert (reply.kind, reply.codes) == ("entry", (code,))


@pytest.mark.parametrize(
    "text",
    [
        "cloudflare gives up after 100 seconds while the origin is still working",
        "sending plain http to port 443 of nginx",
        "upload of 200 MB fails at the proxy",
        "cloudflare error 1016 origin dns",
    ],
)
def test_quantities_and_ports_are_not_status_codes(handler: Handler, text: str) -> None:
    reply = ask(handler, text)
    assert reply.kind != "unassigned"
    assert not {100, 443, 200, 1016} & set(reply.codes[:1])


def test_a_vague_description_gets_a_short_list_not_a_card(handler: Handler) -> None:
    reply = ask(handler, "the server is slow")
    assert reply.kind in ("list", "error")
    assert len(reply.codes) <= 5


@pytest.mark.parametrize("lang", LANGS)
def test_every_language_understands_a_typical_symptom(handler: Handler, lang: str) -> None:
    from handlers.lexicon import situations

    # The first situation written for 429 in each language finds 429 first (not a one-off:
    # every common code's situations are checked in test_language_knowledge).
    text = situations(lang).by_key["429"][0]
    assert ask(handler, text, lang).codes[0] == 429
