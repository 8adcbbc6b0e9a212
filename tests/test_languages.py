"""Twelve languages: complete files, real translations, search in every language, preferences."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.storage import SqlitePreferences
from handlers import Handler, Request, load
from handlers.catalogue import LANGUAGES, Catalogue, Language

from search_quality import evaluate, load_cases

# Proper names and symbols that read the same in every language.
SAME_EVERYWHERE = re.compile(
    r"^(MDN|OK|\{cls\} · \{class_name\}|nginx|Cloudflare|Shopify|Pantheon|Qualys SSL Labs|"
    r"Microsoft IIS|Spring Framework|Esri ArcGIS Server|Apache HTTP Server|Laravel.*|Twitter API v1|"
    r"AWS Elastic Load Balancing|Microsoft IIS / Exchange ActiveSync|Microsoft Windows|[\d\s\W]*)$"
)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load()


def present(catalogue: Catalogue) -> list[Language]:
    return [lang for code, lang in catalogue.languages.items() if code != "en"]


def test_every_language_of_the_seed_is_there(catalogue: Catalogue) -> None:
    assert tuple(catalogue.languages) == LANGUAGES
    assert len(LANGUAGES) == 12


def _pairs(english: Language, lang: Language) -> list[tuple[str, str, str]]:
    pairs = [(f"ui.{k}", v, lang.ui[k]) for k, v in english.ui.items()]
    pairs += [(f"standing.{k}", v, lang.standing[k]) for k, v in english.standing.items()]
    pairs += [(f"origins.{k}", v, lang.origins[k]) for k, v in english.origins.items()]
    for digit, cls in english.classes.items():
        pairs += [(f"classes.{digit}.name", cls.name, lang.classes[digit].name)]
        pairs += [(f"classes.{digit}.summary", cls.summary, lang.classes[digit].summary)]
    for entry_id, text in english.entries.items():
        own = lang.entries[entry_id]
        pairs += [(f"{entry_id}.summary", text.summary, own.summary)]
        pairs += [(f"{entry_id}.description", text.description, own.description)]
    return pairs


def test_nothing_is_left_in_english(catalogue: Catalogue) -> None:
    english = catalogue.languages["en"]
    for lang in present(catalogue):
        same = [key for key, en, own in _pairs(english, lang) if en == own and not SAME_EVERYWHERE.match(own)]
        assert same == [], f"{lang.code}: identical to English: {same}"


def test_names_are_not_the_english_reason_phrase_in_other_scripts(catalogue: Catalogue) -> None:
    latin = re.compile(r"^[\x00-\x7f]*$")
    for lang in present(catalogue):
        if lang.code in ("fr", "de", "es", "pt"):
            continue
        for entry_id, text in lang.entries.items():
            assert text.name and not latin.match(text.name), (lang.code, entry_id, text.name)


def test_arabic_is_right_to_left_and_the_rest_left_to_right(catalogue: Catalogue) -> None:
    assert [code for code, lang in catalogue.languages.items() if lang.rtl] == ["ar"]
    handler = Handler(catalogue)
    reply = handler.answer(Request("404", ("ar",)))
    assert reply.rtl and reply.lang == "ar"
    assert reply.title.startswith("404 Not Found · ")
    # No bidi control characters in the data: renderers decide direction.
    for text in catalogue.languages["ar"].entries.values():
        assert not re.search("[\u200e\u200f\u202a-\u202e\u2066-\u2069]", text.description + text.summary)


def test_scripts_and_punctuation(catalogue: Catalogue) -> None:
    script = {
        "zh": r"[\u4e00-\u9fff]", "ja": r"[\u3040-\u30ff]", "ko": r"[\uac00-\ud7af]", "ru": r"[а-яА-Я]",
        "ar": r"[\u0600-\u06ff]", "hi": r"[\u0900-\u097f]", "ta": r"[\u0b80-\u0bff]",
    }  # fmt: skip
    for code, pattern in script.items():
        lang = catalogue.languages[code]
        for entry_id, text in lang.entries.items():
            assert re.search(pattern, text.description), (code, entry_id)
    for code in ("zh", "ja"):
        for text in catalogue.languages[code].entries.values():
            assert not text.summary.endswith("。")


LOCALES = {
    "pt-BR": "pt", "zh-CN": "zh", "zh-TW": "zh", "es-419": "es", "es-ES": "es", "en-US": "en",
    "en-GB": "en", "de": "de", "fr": "fr", "ja": "ja", "ko": "ko", "ru": "ru", "hi": "hi",
    "ar": "ar", "ta": "ta", "ta_IN": "ta", "sv-SE": None,
}  # fmt: skip


def test_client_locales_map_to_languages(catalogue: Catalogue) -> None:
    handler = Handler(catalogue)
    for locale, lang in LOCALES.items():
        assert handler.supported(locale) == lang, locale
    # explicit option → chat preference → user locale → server locale → English
    assert handler.language(["de", "fr", "es", "ja"]) == "de"
    assert handler.language([None, "fr", "es", "ja"]) == "fr"
    assert handler.language([None, None, "pt-BR", "ja"]) == "pt"
    assert handler.language([None, None, "sv-SE", "ja"]) == "ja"
    assert handler.language([None, None, None, None]) == "en"


REQUIRED = {
    "es": "no encontrado", "de": "nicht gefunden", "ru": "не найдено", "ja": "見つかりません",
    "zh": "未找到", "ko": "찾을 수 없음", "ar": "غير موجود", "hi": "नहीं मिला", "fr": "introuvable",
    "pt": "não encontrado", "ta": "கிடைக்கவில்லை", "en": "not found",
}  # fmt: skip


@pytest.mark.parametrize("query_lang", sorted(REQUIRED))
def test_any_language_finds_404_whatever_the_reply_language(catalogue: Catalogue, query_lang: str) -> None:
    handler = Handler(catalogue)
    for reply_lang in ("en", "ar", "zh", query_lang):
        reply = handler.answer(Request(REQUIRED[query_lang], (reply_lang,)))
        assert reply.codes[:1] == (404,), (query_lang, reply_lang)
        assert reply.lang == reply_lang


def test_search_accuracy_in_every_language(catalogue: Catalogue) -> None:
    cases = load_cases()
    scores = evaluate(Handler(catalogue), cases)
    report = {lang: (s.total, round(s.top1_rate, 3), round(s.top3_rate, 3)) for lang, s in scores.items()}
    for lang in LANGUAGES:
        score = scores[lang]
        misses = [(c.query, c.expected, got) for c, got in score.misses]
        assert score.total >= 12, report
        assert score.top1_rate >= 0.85, (lang, report[lang], misses)
        assert score.top3_rate >= 0.95, (lang, report[lang], misses)
    assert scores["all"].top1_rate >= 0.9, report


async def test_a_chat_preference_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "prefs.sqlite3"
    store = SqlitePreferences(path)
    await store.set("telegram:-100123", "ja")
    await store.set("discord:42", "ar")
    await store.set("discord:42", "ko")
    await store.set("telegram:7", "de")
    await store.set("telegram:7", None)
    await store.close()
    reopened = SqlitePreferences(path)
    assert await reopened.get("telegram:-100123") == "ja"
    assert await reopened.get("discord:42") == "ko"
    assert await reopened.get("telegram:7") is None
    await reopened.close()


def test_lang_command_values(catalogue: Catalogue) -> None:
    handler = Handler(catalogue)
    assert handler.language_choice("de") == "de"
    assert handler.language_choice(" pt-BR ") == "pt"
    assert handler.language_choice("Deutsch") == "de"
    assert handler.language_choice("japanese") == "ja"
    assert handler.language_choice("العربية") == handler.language_choice("ar") == "ar"
    assert handler.language_choice("RESET") == ""
    assert handler.language_choice("klingon") is None
    assert "日本語 (ja)" in handler.available_languages()
