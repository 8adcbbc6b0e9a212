"""The catalogue data: complete, within limits, and free of the seed's defects."""

from __future__ import annotations

import json
import re

import pytest

from handlers import load, validate
from handlers.catalogue import DATA_DIR, DESCRIPTION_MAX, SUMMARY_MAX, Catalogue

# Written from ../shared/design/catalogue.md, independently of the data files.
REGISTERED = {
    100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
    104: "Upload Resumption Supported", 200: "OK", 201: "Created", 202: "Accepted",
    203: "Non-Authoritative Information", 204: "No Content", 205: "Reset Content",
    206: "Partial Content", 207: "Multi-Status", 208: "Already Reported", 226: "IM Used",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
    304: "Not Modified", 305: "Use Proxy", 306: "(Unused)", 307: "Temporary Redirect",
    308: "Permanent Redirect", 400: "Bad Request", 401: "Unauthorized", 402: "Payment Required",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict", 410: "Gone",
    411: "Length Required", 412: "Precondition Failed", 413: "Content Too Large",
    414: "URI Too Long", 415: "Unsupported Media Type", 416: "Range Not Satisfiable",
    417: "Expectation Failed", 418: "(Unused)", 421: "Misdirected Request",
    422: "Unprocessable Content", 423: "Locked", 424: "Failed Dependency", 425: "Too Early",
    426: "Upgrade Required", 428: "Precondition Required", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates", 507: "Insufficient Storage", 508: "Loop Detected",
    510: "Not Extended", 511: "Network Authentication Required",
}  # fmt: skip
STANDING = {
    102: "deprecated",
    305: "deprecated",
    104: "temporary",
    306: "unused",
    418: "unused",
    510: "obsolete",
}
UNOFFICIAL = {
    218: ["apache"], 419: ["laravel"], 420: ["twitter", "spring"], 430: ["shopify"], 440: ["iis"],
    449: ["iis"], 450: ["windows"], 451: ["exchange"], 444: ["nginx"], 494: ["nginx"],
    495: ["nginx"], 496: ["nginx"], 497: ["nginx"], 498: ["esri"], 499: ["nginx", "esri"],
    509: ["cpanel"], 460: ["aws_elb"], 463: ["aws_elb"], 464: ["aws_elb"], 561: ["aws_elb"],
    520: ["cloudflare"], 521: ["cloudflare"], 522: ["cloudflare"], 523: ["cloudflare"],
    524: ["cloudflare"], 525: ["cloudflare"], 526: ["cloudflare"], 527: ["cloudflare"],
    529: ["qualys"], 530: ["cloudflare", "pantheon"], 598: ["proxies"], 599: ["proxies"],
}  # fmt: skip
FORMER = {413: "Payload Too Large", 414: "Request-URI Too Long", 416: "Requested Range Not Satisfiable",
          422: "Unprocessable Entity"}  # fmt: skip


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load()


def test_the_data_validates(catalogue: Catalogue) -> None:
    assert validate(catalogue) == []


def test_every_registered_value_with_its_registry_phrase(catalogue: Catalogue) -> None:
    assert len(REGISTERED) == 64
    for code, phrase in REGISTERED.items():
        entries = catalogue.by_code.get(code)
        assert entries, f"{code} missing"
        assert entries[0].reason == phrase, code
        assert entries[0].standing == STANDING.get(code, "registered"), code


def test_every_unofficial_meaning_with_its_origin(catalogue: Catalogue) -> None:
    for code, origins in UNOFFICIAL.items():
        found = [e.origin for e in catalogue.by_code[code] if e.standing == "unofficial"]
        assert found == origins, code
    assert catalogue.by_code[451][0].standing == "registered"


def test_former_names_and_teapot(catalogue: Catalogue) -> None:
    for code, name in FORMER.items():
        assert name in catalogue.by_code[code][0].former_names
    assert catalogue.by_code[418][0].common_name == "I'm a teapot"


def test_specifications_are_current(catalogue: Catalogue) -> None:
    rfc9110 = {c for c in REGISTERED if catalogue.by_code[c][0].spec.title.startswith("RFC 9110")}
    # RFC 9110 defines these; obsolete RFCs (2616, 2068, 1945, 7231) are never cited.
    for code in (100, 200, 301, 305, 306, 307, 400, 404, 413, 418, 421, 422, 426, 500, 505):
        assert code in rfc9110, code
    for entry in catalogue.entries:
        assert not re.search(r"RFC ?(2616|2068|1945|7231|7235|7540)\b", entry.spec.title), entry.id
        assert entry.spec.url.startswith("https://")
        if entry.spec.title.startswith("RFC 9110, Section "):
            section = entry.spec.title.rsplit(" ", 1)[1]
            assert entry.spec.url == f"https://www.rfc-editor.org/rfc/rfc9110#section-{section}"
    assert catalogue.by_code[425][0].spec.title.startswith("RFC 8470")
    assert catalogue.by_code[429][0].spec.title.startswith("RFC 6585")


def test_limits_in_every_language(catalogue: Catalogue) -> None:
    for lang in catalogue.languages.values():
        for entry_id, text in lang.entries.items():
            assert 0 < len(text.summary) <= SUMMARY_MAX, (lang.code, entry_id)
            assert 0 < len(text.description) <= DESCRIPTION_MAX, (lang.code, entry_id)


def test_links_are_well_formed(catalogue: Catalogue) -> None:
    pattern = re.compile(r"^https://[a-z0-9.-]+\.[a-z]{2,}/[^\s\"<>]*$")
    for entry in catalogue.entries:
        assert pattern.match(entry.spec.url), entry.id
        if entry.mdn:
            assert (
                entry.mdn
                == f"https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Status/{entry.code}"
            )


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_english_and_french_are_complete(catalogue: Catalogue, lang: str) -> None:
    assert set(catalogue.languages[lang].entries) == set(catalogue.by_id)


def _french() -> dict[str, dict[str, str]]:
    data = json.loads((DATA_DIR / "fr.json").read_text(encoding="utf-8"))
    return dict(data["entries"].items())


def test_french_has_none_of_the_seed_defects() -> None:
    fr = _french()
    text = json.dumps(fr, ensure_ascii=False).casefold()
    # 421 is Misdirected Request, not a per-IP connection limit; 422 once, 423 on its own.
    assert "adresse ip" not in fr["421"]["description"].casefold()
    assert "connexions" not in fr["421"]["description"].casefold()
    assert "423" not in fr["422"]["description"]
    assert "verrouill" in (fr["423"]["name"] + fr["423"]["description"]).casefold()
    # 425 is Too Early (TLS early data), not the WebDAV draft; no RFC 3658.
    assert "3658" not in text
    assert "0-rtt" in fr["425"]["description"].casefold()
    # 426 is generic, not "switch to TLS/1.0"; header names stay literal; modern vocabulary.
    assert "tls/1.0" not in text
    for artefact in ("emplacement", "super informations", "adresse de saut", "documents en vue",
                     "[1]", "statut 416. code", "pilote de navigateur"):  # fmt: skip
        assert artefact not in text, artefact
    # RFC 2616's "entity" vocabulary is gone ("identité" is fine).
    assert not re.search(r"\bentités?\b", text)
    assert "location" in fr["301"]["description"].casefold()
    # 307 keeps the method and the body.
    assert "méthode" in fr["307"]["description"].casefold()
    # 449 and 509 are flagged unofficial through the facts; 400 is about malformed syntax.
    assert "sémantique est incorrecte" not in fr["400"]["description"].casefold()
