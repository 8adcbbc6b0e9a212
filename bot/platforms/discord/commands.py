"""The Discord command set: ``/http``, ``/http-logs``, ``/lang`` and the "Explain HTTP status"
message command.

:func:`command_payloads` builds it as ``PUT /applications/{id}/commands`` takes it, with localised
descriptions for every language the catalogue speaks and Discord supports. Registering it is
:mod:`bot.platforms.discord.sync`'s job; answering it, :mod:`bot.platforms.discord.responder`'s.
"""

from __future__ import annotations

from typing import Any

from bot import flows
from bot.platforms.discord.render import render_languages, truncate
from handlers import Handler

BASE_LANG = "en"

# Discord's client locales (developer docs, "Locales"; the same set as discord.py 2.7's
# ``discord.Locale``). There is no Tamil locale, and none for Arabic in the documented list, so
# those languages get no command localisations: Discord rejects the whole command set when a
# localisation key is unknown. They are still offered by the ``lang`` option.
# (The preview OpenAPI description already lists "ar" and "he": add them here once the
# documentation does.)
DISCORD_LOCALES: tuple[str, ...] = (
    "id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl", "no",
    "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi", "th",
    "zh-CN", "ja", "zh-TW", "ko",
)  # fmt: skip

# Command and option types of the API.
CHAT_INPUT = 1
MESSAGE_COMMAND = 3
OPTION_STRING = 3
OPTION_BOOLEAN = 5
OPTION_ATTACHMENT = 11
# Where commands may be used: guilds, DMs with the bot, group DMs; installed to guilds or users.
CONTEXT_GUILD, CONTEXT_BOT_DM, CONTEXT_PRIVATE_CHANNEL = 0, 1, 2
INSTALL_GUILD, INSTALL_USER = 0, 1

NAME_MAX = 32
DESCRIPTION_MAX = 100

HTTP_COMMAND = "http"
QUERY_OPTION = "query"
PRIVATE_OPTION = "private"
LANG_OPTION = "lang"
LOGS_COMMAND = "http-logs"
FILE_OPTION = "file"
LANG_COMMAND = "lang"
LANGUAGE_OPTION = "language"
EXPLAIN_KEY = "cmd_explain_message"


def discord_locales(lang: str) -> tuple[str, ...]:
    """The Discord locales that speak one of our languages (``es`` → ``es-ES``, ``es-419``)."""
    return tuple(loc for loc in DISCORD_LOCALES if loc.split("-", 1)[0] == lang)


def localisations(handler: Handler, key: str, limit: int) -> dict[str, str]:
    """``{discord_locale: text}`` for one interface string, in every language but the base one."""
    out: dict[str, str] = {}
    for lang in handler.languages:
        if lang == BASE_LANG:
            continue
        text = truncate(handler.ui(lang, key), limit)
        for locale in discord_locales(lang):
            out[locale] = text
    return out


def _described(handler: Handler, key: str) -> dict[str, Any]:
    return {
        "description": truncate(handler.ui(BASE_LANG, key), DESCRIPTION_MAX),
        "description_localizations": localisations(handler, key, DESCRIPTION_MAX),
    }


def language_choices(handler: Handler) -> list[dict[str, str]]:
    """One choice per available language, named as its speakers write it."""
    return render_languages(flows.languages(handler))


def explain_command_name(handler: Handler) -> str:
    """The message command's name (its identity in interactions: Discord sends the base name)."""
    return truncate(handler.ui(BASE_LANG, EXPLAIN_KEY), NAME_MAX)


def command_payloads(handler: Handler) -> list[dict[str, Any]]:
    """The whole command set, as ``PUT /applications/{id}/commands`` takes it.

    Names stay the same in every locale (``/http query:`` is what people share in docs and
    screenshots); descriptions, and the message command's name, are localised.
    """
    anywhere = {
        "contexts": [CONTEXT_GUILD, CONTEXT_BOT_DM, CONTEXT_PRIVATE_CHANNEL],
        "integration_types": [INSTALL_GUILD, INSTALL_USER],
    }
    http = {
        "type": CHAT_INPUT,
        "name": HTTP_COMMAND,
        **_described(handler, "cmd_http"),
        "options": [
            {
                "type": OPTION_STRING,
                "name": QUERY_OPTION,
                **_described(handler, "cmd_http_query"),
                "required": True,
                "autocomplete": True,
            },
            {"type": OPTION_BOOLEAN, "name": PRIVATE_OPTION, **_described(handler, "cmd_http_private")},
            {
                "type": OPTION_STRING,
                "name": LANG_OPTION,
                **_described(handler, "cmd_http_lang"),
                "choices": language_choices(handler),
            },
        ],
        **anywhere,
    }
    logs = {
        "type": CHAT_INPUT,
        "name": LOGS_COMMAND,
        **_described(handler, "cmd_http_logs"),
        "options": [
            {
                "type": OPTION_ATTACHMENT,
                "name": FILE_OPTION,
                **_described(handler, "cmd_http_logs_file"),
                "required": True,
            },
            # Private unless set to false: a log is often not for the whole channel to read.
            {"type": OPTION_BOOLEAN, "name": PRIVATE_OPTION, **_described(handler, "cmd_http_private")},
            {
                "type": OPTION_STRING,
                "name": LANG_OPTION,
                **_described(handler, "cmd_http_lang"),
                "choices": language_choices(handler),
            },
        ],
        **anywhere,
    }
    lang = {
        "type": CHAT_INPUT,
        "name": LANG_COMMAND,
        **_described(handler, "cmd_lang"),
        "options": [
            {
                "type": OPTION_STRING,
                "name": LANGUAGE_OPTION,
                # No interface string of its own yet: the /http option's wording fits.
                **_described(handler, "cmd_http_lang"),
                "required": False,
                "autocomplete": True,
            }
        ],
        # A preference belongs to a guild or a DM channel with the bot, so only where it is installed.
        "contexts": [CONTEXT_GUILD, CONTEXT_BOT_DM],
        "integration_types": [INSTALL_GUILD],
    }
    explain = {
        "type": MESSAGE_COMMAND,
        "name": explain_command_name(handler),
        "name_localizations": localisations(handler, EXPLAIN_KEY, NAME_MAX),
        "description": "",
        **anywhere,
    }
    return [http, logs, lang, explain]
