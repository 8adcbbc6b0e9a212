"""The caches adapters share: least recently used first out, answers counted, "random" never kept."""

from __future__ import annotations

from bot.answer_cache import CACHED_TEXT_MAX, AnswerCache, Lru
from bot.service import Service
from handlers import Handler, load


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: Lru[str, int] = Lru(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the oldest
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == (1, None, 3, 2)


def test_answers_are_counted_and_random_or_long_texts_are_not_kept() -> None:
    service = Service(Handler(load()))
    cache: AnswerCache[tuple[str, str], str] = AnswerCache(service, "slack", size=8)
    cache.put(("404", "en"), "404", "entry", "card")
    cache.put(("random", "en"), "random", "entry", "a random card")
    long_text = "x" * (CACHED_TEXT_MAX + 1)
    cache.put((long_text, "en"), long_text, "error", "too long")
    assert cache.get(("404", "en")) == "card"
    assert cache.get(("random", "en")) is None
    assert cache.get((long_text, "en")) is None
    metrics = service.metrics.render().decode()
    assert 'http_status_bot_requests_total{kind="entry",platform="slack"} 1.0' in metrics


def test_size_zero_turns_the_cache_off() -> None:
    cache: AnswerCache[str, str] = AnswerCache(Service(Handler(load())), "slack", size=0)
    cache.put("404", "404", "entry", "card")
    assert cache.get("404") is None
