"""The command line: ``console``, ``ask``, ``logs``, ``run``, ``check-config``, ``storage``, platforms'
own commands.

Platform libraries are imported only by the commands that need them, so ``ask`` and ``console``
start fast and work without discord.py or python-telegram-bot being importable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from typing import BinaryIO, TextIO

from bot.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from bot.platforms.registry import operator_commands
from handlers import CatalogueError, Handler, Request, load
from handlers.logs.reader import FORMATS
from handlers.models import Reply
from handlers.query_parser import MAX_QUERY


def env_locale(environ: dict[str, str] | None = None) -> str | None:
    """The user's locale from ``LC_ALL``/``LC_MESSAGES``/``LANG`` (``fr_FR.UTF-8`` → ``fr-FR``)."""
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value and value not in ("C", "POSIX") and not value.startswith("C."):
            return value.split(".", 1)[0].split("@", 1)[0].replace("_", "-")
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="http-status-bot: explains HTTP status codes in team chats and on the console.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    console = sub.add_parser("console", help="interactive prompt (no token needed)")
    console.add_argument("--lang", help="answer in this language (en, fr, de, ...)")

    ask = sub.add_parser("ask", help="answer one query, or one per line of standard input with '-'")
    ask.add_argument(
        "query", nargs="+", metavar="QUERY", help="a code, a class or words; '-' reads standard input"
    )
    ask.add_argument("--lang", help="answer in this language (en, fr, de, ...)")
    ask.add_argument("--json", action="store_true", help="print one JSON object per answer")

    logs = sub.add_parser("logs", help="summarise a log file (plain or gzip; '-' reads standard input)")
    logs.add_argument("file", nargs="?", default="-", metavar="FILE", help="the log; '-' or nothing: stdin")
    logs.add_argument("--lang", help="answer in this language (en, fr, de, ...)")
    logs.add_argument("--json", action="store_true", help="print one JSON object")
    logs.add_argument(
        "--format",
        default="auto",
        choices=("auto", *FORMATS),
        metavar="FORMAT",
        help="auto (default) or one of: " + ", ".join(FORMATS),
    )
    logs.add_argument("--chart", metavar="PNG", help="also draw the timeline into this PNG file")

    for name, text in (
        ("run", "start every enabled platform adapter"),
        ("check-config", "validate the configuration and print it with secrets masked"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--config", metavar="FILE", help="TOML file (default: $BOT_CONFIG)")
        cmd.set_defaults(operator=True)

    storage = sub.add_parser("storage", help="move chat language preferences between stores")
    actions = storage.add_subparsers(dest="storage_action", required=True, metavar="ACTION")
    migrate = actions.add_parser(
        "migrate",
        help="copy every chat's language preference from one store into another",
        description="Copy every chat's language preference from one store into another (the same"
        " chat's value is replaced, other chats are kept). Give the PostgreSQL password in"
        " PGPASSWORD or a PGPASSFILE rather than in the URL.",
    )
    migrate.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="URL",
        help="sqlite:///file.sqlite3 or postgresql://...",
    )
    migrate.add_argument(
        "--to",
        dest="target",
        required=True,
        metavar="URL",
        help="postgresql://user@host:port/db or sqlite:///...",
    )

    # Declared by the platform packages (Discord's sync-commands); bot.commands runs them.
    for command in operator_commands().values():
        cmd = sub.add_parser(command.name, help=command.help)
        cmd.add_argument("--config", metavar="FILE", help="TOML file (default: $BOT_CONFIG)")
        command.add_arguments(cmd)
        cmd.set_defaults(operator=True)
    return parser


def _load_handler() -> Handler:
    return Handler(load())


def _write(reply: Reply, as_json: bool, out: TextIO) -> None:
    from bot.render.plain import render_plain, reply_json

    if as_json:
        out.write(json.dumps(reply_json(reply), ensure_ascii=False) + "\n")
    else:
        out.write(render_plain(reply) + "\n")
        out.flush()


def lines_of(stdin: TextIO) -> Iterator[str]:
    """Standard input line by line, each decoded as UTF-8 on its own with replacement characters:
    one line in another encoding (a Latin-1 log line) costs nothing to the lines around it."""
    raw: BinaryIO | None = getattr(stdin, "buffer", None)
    if raw is None:  # already text (tests, an embedding program)
        yield from stdin
        return
    for line in raw:
        yield line.decode("utf-8", "replace")


def from_argv(text: str) -> str:
    """A command-line argument as text: bytes the locale could not decode (kept by Python as
    lone surrogates) become replacement characters."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _ask(args: argparse.Namespace, handler: Handler, stdin: TextIO, out: TextIO) -> int:
    langs = (args.lang, env_locale())
    if args.lang and handler.supported(args.lang) is None:
        sys.stderr.write(f"unknown language {args.lang!r}; available: {', '.join(handler.languages)}\n")
        return EXIT_USAGE
    if args.query == ["-"]:
        for line in lines_of(stdin):
            _write(handler.answer(_ask_request(line.rstrip("\r\n"), langs)), args.json, out)
            if not args.json:
                out.write("\n")
        return EXIT_OK
    query = " ".join(from_argv(word) for word in args.query)
    _write(handler.answer(_ask_request(query, langs)), args.json, out)
    return EXIT_OK


def _ask_request(text: str, langs: tuple[str | None, ...]) -> Request:
    """A log line (any format the log reader knows, or a longer line with a code in a known
    position, up to 8 KiB) is explained; anything else is a typed query (256 characters at most).
    """
    from handlers.logs import explainable, looks_like_log

    long = len(text.strip()) > MAX_QUERY
    if (long and explainable(text)) or (not long and text.strip() and looks_like_log(text)):
        return Request(text, langs, mode="explain")
    return Request(text, langs)


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status."""
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return _dispatch(args, stdin, out)
    except BrokenPipeError:
        # The reader went away (``| head -1``): what it read is all it wanted.
        _detach_stdout()
        return EXIT_OK


def _detach_stdout() -> None:
    """Point standard output at /dev/null, so that the interpreter's final flush does not
    report the broken pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout (an embedding program, a test)
        pass


def _dispatch(args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    if getattr(args, "operator", False):
        from bot.commands import run_command

        return run_command(args)
    if args.command == "storage":
        from bot.storage.migrate import run_storage

        return run_storage(args, out, sys.stderr)
    try:
        handler = _load_handler()
    except CatalogueError as exc:
        sys.stderr.write(f"catalogue error: {exc}\n")
        return EXIT_FAILURE
    if args.command == "ask":
        return _ask(args, handler, stdin, out)
    if args.command == "logs":
        from bot.logs_command import run_logs

        return run_logs(args, handler, stdin, out, env_locale())
    from bot.platforms.console.adapter import run_console

    return run_console(handler, lang=args.lang, locale=env_locale())
