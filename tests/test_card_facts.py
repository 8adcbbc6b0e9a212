"""Issue 13: facts on every entry, links in the reader's language, "what to check", corrections.

The facts (who sends a code, whether the client sees it, whether to retry) are data in codes.json;
these tests hold them to what the vendors and RFCs say, check that every card shows them in every
language within the platforms' limits, and keep each content correction from coming back.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.platforms.discord.render import render_message
from bot.platforms.telegram.render import TEXT_LIMIT, render_html
from handlers import CatalogueError, Handler, Reply, Request, load, validate
from handlers.catalogue import (
    CHECK_MAX,
    DATA_DIR,
    LANGUAGES,
    MDN_LOCALES,
    RETRY,
    SENT_BY,
    Catalogue,
)

from support.discord_emulator import message_problems
from support.telegram_emulator import check_text

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load()


@pytest.fixture(scope="module")
def handler(catalogue: Catalogue) -> Handler:
    return Handler(catalogue)


def _text(catalogue: Catalogue, lang: str, entry_id: str, field: str = "description") -> str:
    value = getattr(catalogue.languages[lang].entries[entry_id], field)
    assert isinstance(value, str)
    return value


# ---- the facts ---------------------------------------------------------------------------------


def test_every_entry_carries_valid_facts(catalogue: Catalogue) -> None:
    assert len(catalogue.entries) == 99
    for entry in catalogue.entries:
        assert entry.sent_by in SENT_BY, entry.id
        assert entry.retry in RETRY, entry.id
        assert isinstance(entry.seen_by_client, bool), entry.id
    problems = [p for p in validate(catalogue) if p.startswith(("codes.json", "mdn_locales.json"))]
    assert problems == []


def test_an_entry_without_the_facts_does_not_load(tmp_path: Path) -> None:
    facts = json.loads((DATA_DIR / "codes.json").read_text(encoding="utf-8"))
    del facts["entries"][0]["retry"]
    (tmp_path / "codes.json").write_text(json.dumps(facts), encoding="utf-8")
    (tmp_path / "en.json").write_text((DATA_DIR / "en.json").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(CatalogueError, match="lacks retry"):
        load(tmp_path)


def test_who_sends_what(catalogue: Catalogue) -> None:
    def sent_by(entry_id: str) -> str:
        return catalogue.by_id[entry_id].sent_by

    assert {sent_by(str(c)) for c in (520, 521, 522, 523, 524, 525, 526, 527, 530)} == {"cdn"}
    assert {sent_by(str(c)) for c in (460, 463, 464, 561)} == {"load_balancer"}
    assert {sent_by(str(c)) for c in (444, 494, 495, 496, 497, 499, 440, 449)} == {"server_software"}
    assert {sent_by(str(c)) for c in (502, 504, 407)} == {"proxy"}
    assert {sent_by(str(c)) for c in (200, 404, 500, 419)} == {"origin"}


def test_codes_that_only_appear_in_logs(catalogue: Catalogue) -> None:
    hidden = {e.id for e in catalogue.entries if not e.seen_by_client}
    assert hidden == {"444", "460", "494", "495", "496", "497", "499"}
    assert catalogue.by_id["499-esri"].seen_by_client


def test_retry_advice(catalogue: Catalogue) -> None:
    def retry(entry_id: str) -> str:
        return catalogue.by_id[entry_id].retry

    assert retry("429") == retry("503") == "after_delay"
    assert retry("400") == retry("413") == retry("422") == "after_change"
    assert retry("502") == retry("504") == retry("408") == "yes"
    assert retry("404") == retry("501") == retry("451") == "no"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_cards_show_the_facts_in_every_language(handler: Handler, lang: str) -> None:
    sent_by = handler.ui(lang, "field_sent_by")
    seen = handler.ui(lang, "field_seen_by_client")
    for code in handler.catalogue.codes:
        card = handler.card(code, lang)
        entry = handler.catalogue.by_code[code][0]
        names = [f.name for f in card.fields]
        assert sent_by in names, (lang, code)
        assert (seen in names) == (not entry.seen_by_client), (lang, code)
        assert (handler.ui(lang, "field_retry") in names) == (code >= 300), (lang, code)
        assert card.facts is not None and card.facts.retry == entry.retry


def test_the_card_names_the_cdn_the_balancer_and_the_server_software(handler: Handler) -> None:
    def value(code: int, lang: str = "en") -> str:
        card = handler.card(code, lang)
        return next(f.value for f in card.fields if f.name == handler.ui(lang, "field_sent_by"))

    assert "Cloudflare" in value(522) and "CDN" in value(522)
    assert "AWS" in value(460) and "load balancer" in value(460)
    assert value(499).startswith("nginx") and value(499, "ja").startswith("nginx")
    no = handler.ui("en", "seen_by_client_no")
    assert any(f.value == no for f in handler.card(444, "en").fields)


# ---- links -------------------------------------------------------------------------------------


def test_the_mdn_locale_list_covers_every_entry_with_an_mdn_page(catalogue: Catalogue) -> None:
    slugs = {e.mdn_slug for e in catalogue.entries if e.mdn is not None}
    assert None not in slugs
    assert slugs == set(catalogue.mdn_pages)
    for slug, locales in catalogue.mdn_pages.items():
        assert set(locales) <= set(MDN_LOCALES), slug
        # French, Japanese, both Chinese and German publish every status page MDN has.
        assert {"fr", "ja", "zh-CN", "zh-TW", "de"} <= set(locales), slug
    assert set(catalogue.mdn_locales) <= set(LANGUAGES)
    assert not {"hi", "ta", "ar"} & set(catalogue.mdn_locales)


@pytest.mark.parametrize(
    ("code", "lang", "locale"),
    [
        (404, "fr", "fr"), (404, "pt", "pt-BR"), (404, "zh", "zh-CN"), (404, "de", "de"),
        (404, "es", "es"), (301, "es", "en-US"), (407, "ko", "en-US"), (506, "ru", "en-US"),
        (404, "hi", "en-US"), (404, "ar", "en-US"), (404, "en", "en-US"), (102, "pt", "en-US"),
    ],
)  # fmt: skip
def test_mdn_links_follow_the_reply_language_where_mdn_has_the_page(
    handler: Handler, code: int, lang: str, locale: str
) -> None:
    card = handler.card(code, lang)
    mdn = [link.url for link in card.links if link.url.startswith("https://developer.mozilla.org/")]
    assert mdn == [f"https://developer.mozilla.org/{locale}/docs/Web/HTTP/Reference/Status/{code}"]


def test_vendor_codes_link_the_vendors_own_pages(handler: Handler) -> None:
    def urls(code: int) -> list[str]:
        return [link.url for link in handler.card(code, "en").links]

    aws = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html"
    for code in (460, 463, 464, 561):
        assert f"{aws}#http-{code}-issues" in urls(code)
    cloudflare = (
        "https://developers.cloudflare.com/support/troubleshooting/http-status-codes/cloudflare-5xx-errors/"
    )
    for code in (520, 521, 522, 523, 524, 525, 526, 530):
        assert f"{cloudflare}error-{code}/" in urls(code)
    assert any(u.startswith("https://nginx.org/en/docs/") for u in urls(494))
    assert any(u.startswith("https://nginx.org/en/docs/") for u in urls(444))
    assert any("/troubleshoot/" in u and "iis" in u for u in urls(403))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_label_and_each_link_once_on_every_card(handler: Handler, lang: str) -> None:
    spec = handler.ui(lang, "field_spec")
    for code in handler.catalogue.codes:
        card = handler.card(code, lang)
        labels = [link.label for link in card.links] + [f.name for f in card.fields]
        assert len(labels) == len(set(labels)), (lang, code, labels)
        urls = [link.url for link in card.links]
        assert len(urls) == len(set(urls)), (lang, code)
        assert card.links[0].label == handler.ui(lang, "button_spec")
        # The specification's title goes with the standing, not in a field of its own.
        assert spec not in [f.name for f in card.fields], (lang, code)


# ---- what to check -----------------------------------------------------------------------------

# The codes people meet most: every 4xx/5xx in the lists of nginx, Apache, IIS, Cloudflare and the
# AWS Application Load Balancer, plus the everyday redirects and framework codes.
CHECKED = {
    301, 302, 304, 307, 308,
    400, 401, 403, 404, 405, 406, 408, 409, 410, 411, 412, 413, 414, 415, 416, 419, 421, 422, 429,
    431, 444, 460, 463, 464, 494, 495, 496, 497, 499,
    500, 501, 502, 503, 504, 505, 507, 520, 521, 522, 523, 524, 525, 526, 530, 561,
}  # fmt: skip


def test_the_codes_people_meet_most_say_what_to_check_in_every_language(catalogue: Catalogue) -> None:
    assert len(CHECKED) >= 40
    for lang in LANGUAGES:
        language = catalogue.languages[lang]
        with_checks = {catalogue.by_id[i].code for i, t in language.entries.items() if t.checks}
        assert with_checks >= CHECKED, (lang, sorted(CHECKED - with_checks))
        for code in CHECKED:
            checks = language.entries[str(code)].checks
            assert 2 <= len(checks) <= 4, (lang, code)
            assert all(0 < len(c) <= CHECK_MAX for c in checks), (lang, code)


@pytest.mark.parametrize(
    ("code", "needles"),
    [
        (504, ["proxy_read_timeout"]), (413, ["client_max_body_size"]),
        (431, ["large_client_header_buffers"]), (494, ["large_client_header_buffers"]), (525, ["SSL"]),
        (526, ["SSL"]), (419, ["CSRF"]), (460, ["idle_timeout"]),
    ],
)  # fmt: skip
def test_checks_name_the_server_setting_where_the_cause_differs(
    catalogue: Catalogue, code: int, needles: list[str]
) -> None:
    for lang in LANGUAGES:
        checks = " ".join(catalogue.languages[lang].entries[str(code)].checks)
        for needle in needles:
            assert needle in checks, (lang, code, needle)


def _cards_with_checks(handler: Handler) -> list[Reply]:
    return [handler.card(code, lang) for lang in handler.languages for code in sorted(CHECKED)]


def test_what_to_check_is_a_section_of_its_own_within_discords_limits(handler: Handler) -> None:
    for card in _cards_with_checks(handler):
        label = handler.ui(card.lang, "field_checks")
        message = render_message(card, handler, ephemeral=True)
        assert message_problems(message) == [], (card.lang, card.codes)
        (embed,) = message["embeds"]
        field = next(f for f in embed["fields"] if f["name"].lstrip("\u200f") == label)
        assert field["inline"] is False
        last = handler.catalogue.text(handler.catalogue.by_code[card.codes[0]][0], card.lang).checks[-1]
        # Shown whole (Discord escapes a few characters, so compare the words).
        assert re.sub(r"\W", "", last) in re.sub(r"\W", "", field["value"]), (card.lang, card.codes)


def test_what_to_check_fits_telegram_in_every_language(handler: Handler) -> None:
    for card in _cards_with_checks(handler):
        message = render_html(card)
        problems, visible, _ = check_text(message.html, "HTML", "message")
        assert problems == [] and message.length <= TEXT_LIMIT, (card.lang, card.codes)
        assert handler.ui(card.lang, "field_checks") in visible, (card.lang, card.codes)


# ---- ask --json --------------------------------------------------------------------------------


def test_ask_json_gives_the_facts_and_links_of_every_entry(catalogue: Catalogue) -> None:
    codes = [str(c) for c in catalogue.codes] + ["000"]
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "-", "--json", "--lang", "fr"],
        input="\n".join(codes) + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(codes)
    for data in out[:-1]:
        entry = catalogue.by_code[data["codes"][0]][0]
        assert data["kind"] == "entry"
        assert (data["sent_by"], data["seen_by_client"], data["retry"]) == (
            entry.sent_by,
            entry.seen_by_client,
            entry.retry,
        )
        assert data["links"] and all(set(link) == {"label", "url"} for link in data["links"])
        assert data["links"][0]["url"] == entry.spec.url
        if entry.mdn:
            mdn = catalogue.mdn_url(entry, "fr")
            assert {"label": "MDN", "url": mdn} in data["links"], entry.id
    assert (out[-1]["sent_by"], out[-1]["seen_by_client"], out[-1]["retry"]) == ("client", True, "yes")


# ---- corrections -------------------------------------------------------------------------------

# What each language used to say, wrongly; the corrected text must not say it again.
OLD_451 = {
    "en": "name the party that imposed it", "zh": "指明施加要求的一方", "ru": "кто его наложил",
    "es": "quién la impuso", "pt": "quem a impôs", "hi": "जिसने रोक लगाई", "ta": "தடையை விதித்த தரப்பை rel",
    "de": "die sie auferlegt hat", "ar": "الجهة التي فرضته", "ja": "要求を課した当事者",
    "ko": "요구한 주체를 rel",
}  # fmt: skip


def test_451_blocked_by_names_who_implements_the_block(catalogue: Catalogue) -> None:
    for lang in LANGUAGES:
        text = _text(catalogue, lang, "451")
        assert "RFC 7725" in text and "blocked-by" in text, lang
        assert OLD_451.get(lang, "\0") not in text, lang
    assert "implements the block" in _text(catalogue, "en", "451")
    assert "not the one that demanded it" in _text(catalogue, "en", "451")


def test_308_was_first_defined_in_rfc_7238(catalogue: Catalogue) -> None:
    for lang in LANGUAGES:
        text = _text(catalogue, lang, "308")
        assert "7238" in text and "2014" in text and "7538" in text, lang
        assert text.index("7238") < text.index("7538"), lang


OLD_425 = {
    "en": "A server, or an intermediary that marks", "zh": "服务器，或者在转发的请求上加注",
    "ru": "Сервер или посредник, помечающий", "es": "Un servidor, o un intermediario que marca",
    "pt": "Um servidor, ou um intermediário que marca", "hi": "सर्वर, या ऐसा मध्यस्थ",
    "ta": "ஒரு சேவையகமோ, முன்னனுப்பும்", "de": "Ein Server oder ein Vermittler, der die",
    "ar": "ويرد الخادم، أو الوسيط", "ja": "サーバー、または転送するリクエストに",
    "ko": "서버, 또는 전달하는 요청에",
}  # fmt: skip


def test_425_the_intermediary_marks_the_origin_answers(catalogue: Catalogue) -> None:
    for lang in LANGUAGES:
        text = _text(catalogue, lang, "425")
        assert "Early-Data: 1" in text and "425" in text, lang
        assert OLD_425.get(lang, "\0") not in text, lang
    english = _text(catalogue, "en", "425")
    assert "the origin server answers 425" in english
    assert "either retries" in english and "passes the 425 on to the client" in english


OLD_511 = {
    "en": "must not use it", "zh": "不得使用", "ru": "не должны его использовать", "es": "no deben usarlo",
    "pt": "não devem usá-lo", "hi": "उपयोग करने की अनुमति नहीं", "ta": "பயன்படுத்தக் கூடாது",
    "de": "dürfen den Code nicht", "ar": "ويجب ألا تستخدمه", "ja": "使ってはならない",
    "ko": "써서는 안 됩니다",
}  # fmt: skip


def test_511_origin_servers_should_not_use_it(catalogue: Catalogue) -> None:
    for lang in LANGUAGES:
        assert OLD_511.get(lang, "\0") not in _text(catalogue, lang, "511"), lang
    assert "should not use it (RFC 6585, Section 6)" in _text(catalogue, "en", "511")


OLD_306 = {
    "en": "must not", "zh": "不得", "ru": "нельзя", "es": "no debe", "pt": "não deve", "hi": "अनुमति नहीं",
    "ta": "கூடாது", "de": "darf", "fr": "ne devrait", "ar": "يجب ألا", "ja": "てはならない", "ko": "안 됩니다",
}  # fmt: skip


def test_306_is_reserved_and_unused_not_forbidden(catalogue: Catalogue) -> None:
    for lang in LANGUAGES:
        text = _text(catalogue, lang, "306") + " " + _text(catalogue, lang, "306", "summary")
        assert OLD_306[lang] not in text, lang
        assert "15.4.7" in text, lang


def test_100_after_a_417_the_client_repeats_the_request_without_expect(catalogue: Catalogue) -> None:
    for lang in LANGUAGES:
        text = _text(catalogue, lang, "100")
        assert "417" in text and text.count("Expect") >= 2, lang
    assert "after a 417 it should repeat the request without Expect" in _text(catalogue, "en", "100")


def test_422_in_french_was_first_defined_by_rfc_2518(catalogue: Catalogue) -> None:
    text = _text(catalogue, "fr", "422")
    assert "RFC 2518" in text and text.index("2518") < text.index("4918")


def test_218_says_apache_does_not_define_it_and_where_the_name_comes_from(catalogue: Catalogue) -> None:
    assert "wikipedia.org" in catalogue.by_id["218"].spec.url
    assert "does not define it" in _text(catalogue, "en", "218")
    for lang in LANGUAGES:
        text = _text(catalogue, lang, "218")
        assert "This is fine" in text and "ProxyErrorOverride" in text, lang
        assert "Apache" in _text(catalogue, lang, "218", "summary"), lang


def test_104_gives_the_registry_expiry_date(catalogue: Catalogue) -> None:
    for lang in LANGUAGES:
        assert "2026-11-13" in _text(catalogue, lang, "104"), lang
    assert "check the registry" in _text(catalogue, "en", "104")


def test_the_unofficial_note_does_not_say_only(catalogue: Catalogue) -> None:
    shared = [e for e in catalogue.entries if e.code in (526, 529, 599)]
    assert shared and all(e.standing == "unofficial" for e in shared)
    only = {"en": "only", "zh": "仅", "es": "limitado", "pt": "restrito", "hi": "केवल", "ta": "மட்டுமே",
            "de": "Nur", "fr": "Seul", "ar": "إلا", "ko": "에서만", "ru": "только", "ja": "のみ"}  # fmt: skip
    for lang in LANGUAGES:
        note = catalogue.languages[lang].ui["unofficial_note"]
        assert "{origin}" in note and only[lang] not in note, lang


def test_names(catalogue: Catalogue) -> None:
    def name(lang: str, entry_id: str) -> str | None:
        return catalogue.languages[lang].entries[entry_id].name

    assert name("ja", "203") == "非権威の情報"
    assert name("ko", "401") in ("인증 필요", "인증되지 않음")
    assert name("ko", "401") != name("ko", "403")
    assert "긺" not in (name("ko", "414") or "")
    assert name("pt", "416") == "Intervalo não satisfazível"
    # 301 and 308 are both permanent: German says "dauerhaft" for both.
    assert "Dauerhaft" in (name("de", "301") or "") and "Dauerhaft" in (name("de", "308") or "")


def test_418_summaries_are_in_their_own_language(catalogue: Catalogue) -> None:
    for lang in LANGUAGES:
        if lang != "en":
            assert not _text(catalogue, lang, "418", "summary").startswith("I'm a teapot"), lang


# English words that may stay in Hindi and Tamil prose: names, configuration, glossed terms.
_ALLOWED = re.compile(
    r"nginx|curl|rel|csrf|mod|npm|pip|gorouter|infinity|chunked|byteranges|multipart|multistatus|continue"
    r"|close|keep-alive|openssl s|blocked-by|preload|preconnect|strict|filesize|bytes|length|on|return|cert"
    r"|error|page|large|header|buffers|client|verify|ssl|body|size|max|post|upload|timeout|read|proxy"
    r"|security|offset|scheme|is fine|teapot|diff|openssl"
    # configuration and commands in "what to check" stay as they are
    r"|url|http|https|host|deny|location|server|optional|identity|origin-ip|traceroute|openssl verify"
    r"|connect failed|upstream prematurely closed"
)


@pytest.mark.parametrize("lang", ["hi", "ta"])
def test_hindi_and_tamil_gloss_or_translate_english(catalogue: Catalogue, lang: str) -> None:
    leftovers = []
    for entry_id, text in catalogue.languages[lang].entries.items():
        for field in (text.name or "", text.summary, text.description, *text.checks):
            # A gloss is the English term in brackets after the native one.
            bare = re.sub(r"\([^)]*\)", "", field)
            for word in re.findall(r"(?<![\w_./-])[a-z][a-z'\-]+(?: [a-z][a-z'\-]+)*(?![\w_./])", bare):
                if not _ALLOWED.fullmatch(word.rstrip("-")):
                    leftovers.append((entry_id, word))
    assert leftovers == []


def test_the_tamil_word_for_not_found_finds_404(handler: Handler) -> None:
    for lang in ("ta", "en"):
        reply = handler.answer(Request("கண்டுபிடிக்கப்படவில்லை", (lang,)))
        assert (reply.kind, reply.codes) == ("entry", (404,))
