"""The chat flows every platform shares, returning neutral results for adapters to render.

An adapter reads its platform's event (a command's argument, an option, the message replied to),
calls a flow, and renders what comes back with its own renderer. No platform re-implements
``/lang``, the apology, the list of languages, the preference key or "explain every status code
in this message": each exists once, here, so that every platform behaves the same.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from bot.service import Service
from bot.storage import StorageError
from handlers import Handler, Reply, Request

# How much of an unknown /lang value is echoed back: enough to recognise a typo, no more.
ECHO_MAX = 64

LangOutcome = Literal["current", "set", "reset", "unknown", "forbidden", "unavailable"]


def preference_key(platform: str, place: object) -> str:
    """The key a chat's language preference is stored under: ``telegram:-1001234``.

    ``place`` is whatever the platform scopes a preference to: a chat, a guild, a workspace.
    """
    return f"{platform}:{place}"


@dataclass(frozen=True, slots=True)
class Notice:
    """A short localised sentence shown as it is: a /lang answer, the apology."""

    text: str
    lang: str
    rtl: bool


@dataclass(frozen=True, slots=True)
class LangResult:
    """What ``/lang`` did, and the sentence that says so.

    ``current``: no value, the chat's language is shown. ``set``/``reset``: the preference
    changed (platforms that can answer privately show these to everyone, the rest only to the
    asker). ``unknown``: the value names no language. ``forbidden``: the asker may not change
    this chat's language. ``unavailable``: there is no chat to store a preference for, or the store
    cannot save it now (the database is down): the asker is told to try again later.
    """

    outcome: LangOutcome
    notice: Notice

    @property
    def changed(self) -> bool:
        """Whether the chat's preference was changed (set or cleared)."""
        return self.outcome in ("set", "reset")


@dataclass(frozen=True, slots=True)
class LanguageChoice:
    """A language as people pick it from a list: its code and its name in itself."""

    code: str
    native_name: str
    rtl: bool


def notice(handler: Handler, lang: str, key: str, **values: object) -> Notice:
    """The interface string ``key`` in ``lang``, with its writing direction."""
    language = handler.catalogue.languages.get(lang)
    return Notice(handler.ui(lang, key, **values), lang, bool(language and language.rtl))


def apology(service: Service, *locales: str | None) -> Notice:
    """ "Something went wrong" in the first of ``locales`` we speak, else the default language."""
    lang = service.handler.language((*locales, service.default_lang))
    return notice(service.handler, lang, "apology")


def languages(handler: Handler, typed: str = "") -> list[LanguageChoice]:
    """Every language whose code, own name or English name starts with ``typed`` (all of them
    when it is empty), in the catalogue's order."""
    folded = typed.strip().casefold()
    out = []
    for code, language in handler.catalogue.languages.items():
        names = (code, language.native_name.casefold(), language.name.casefold())
        if not folded or any(name.startswith(folded) for name in names):
            out.append(LanguageChoice(code, language.native_name, language.rtl))
    return out


def explain(service: Service, platform: str, text: str, langs: Iterable[str | None]) -> Reply:
    """Every status code in ``text``: a message replied to, a message a command points at."""
    return service.answer(Request(text, tuple(langs), platform, "explain"))


def _same(text: str) -> str:
    return text


async def lang(
    service: Service,
    chat: str | None,
    value: str | None,
    *,
    may_configure: bool | Callable[[], Awaitable[bool]],
    user_locale: str | None = None,
    server_locale: str | None = None,
    quote: Callable[[str], str] = _same,
) -> LangResult:
    """``/lang``: show the chat's language (no value), set it (``de``, ``Deutsch``, ``pt-BR``) or
    clear it (``reset``, ``auto``...).

    ``chat`` is the :func:`preference_key`. ``may_configure`` says whether the asker may change
    this chat's language: a boolean when the platform's event carries the answer, or a callable
    when finding out costs a request (it is then called only when the value would change
    something). ``quote`` makes the echoed value inert for the platform's markup (the HTML
    renderers escape it themselves).
    """
    handler = service.handler

    async def langs() -> tuple[str | None, ...]:
        return await service.langs(chat, user_locale=user_locale, server_locale=server_locale)

    current = handler.language(await langs())
    if not value or not value.strip():
        native = handler.catalogue.languages[current].native_name
        shown = notice(
            handler, current, "lang_current", language=native, available=handler.available_languages()
        )
        return LangResult("current", shown)
    chosen = handler.language_choice(value)
    if chosen is None:
        echoed = quote(value[:ECHO_MAX])
        available = handler.available_languages()
        return LangResult(
            "unknown", notice(handler, current, "lang_unknown", value=echoed, available=available)
        )
    if chat is None:
        return LangResult("unavailable", notice(handler, current, "apology"))
    allowed = may_configure if isinstance(may_configure, bool) else await may_configure()
    if not allowed:
        return LangResult("forbidden", notice(handler, current, "lang_forbidden"))
    try:
        await service.prefs.set(chat, chosen or None)
    except StorageError:
        return LangResult("unavailable", notice(handler, current, "lang_unsaved"))
    if chosen == "":
        return LangResult("reset", notice(handler, handler.language(await langs()), "lang_reset"))
    native = handler.catalogue.languages[chosen].native_name
    return LangResult("set", notice(handler, chosen, "lang_set", language=native))
