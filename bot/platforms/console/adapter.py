"""The console adapter: a local prompt with line editing and history, no token needed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from bot.exit_codes import EXIT_OK, EXIT_USAGE
from bot.render.plain import render_plain
from handlers import Handler, Reply, Request

QUIT_WORDS = frozenset({"quit", "exit", ":q", "/quit"})
HISTORY_FILE = Path(os.environ.get("HTTP_STATUS_BOT_HISTORY", "~/.http_status_bot_history")).expanduser()
PROMPT = "http> "


def _setup_readline() -> Callable[[], None]:
    """Enable line editing and persistent history where readline exists; returns a saver."""
    try:
        import readline
    except ImportError:  # Windows without pyreadline: plain input() still works.
        return lambda: None
    with contextlib.suppress(OSError):
        readline.read_history_file(HISTORY_FILE)
    readline.set_history_length(1000)

    def save() -> None:
        with contextlib.suppress(OSError):
            readline.write_history_file(HISTORY_FILE)

    return save


class ConsoleAdapter:
    """Reads queries from a terminal (or any text stream) and prints plain-text replies."""

    platform = "console"

    def __init__(
        self,
        handler: Handler,
        lang: str | None = None,
        locale: str | None = None,
        stdin: TextIO | None = None,
        out: TextIO | None = None,
        on_exit: Callable[[], None] | None = None,
        answer: Callable[[Request], Reply] | None = None,
    ) -> None:
        self._handler = handler
        self._langs = (lang, locale)
        self._stdin = stdin or sys.stdin
        self._out = out or sys.stdout
        self._on_exit = on_exit
        # The runtime passes Service.answer (timed and counted); alone, the handler answers.
        self._answer = answer or handler.answer
        self._task: asyncio.Task[None] | None = None
        self._interactive = self._stdin.isatty()

    def connected(self) -> bool:
        """The console is up while its reader runs."""
        return self._task is not None and not self._task.done()

    def _read(self) -> str | None:
        try:
            if self._interactive:
                return input(PROMPT)
            line = self._stdin.readline()
            return line.rstrip("\r\n") if line else None
        except EOFError:
            return None

    def answer_line(self, line: str) -> str:
        """The printed answer to one line of input."""
        return render_plain(self._answer(Request(line, self._langs, platform="console")))

    async def _next_line(self) -> str | None:
        # A daemon thread per line rather than the default executor: a thread blocked in input()
        # must not keep the process alive after Ctrl-C.
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str | None] = loop.create_future()

        def deliver(line: str | None) -> None:
            if not future.done():
                future.set_result(line)

        def work() -> None:
            line = self._read()
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(deliver, line)

        threading.Thread(target=work, name="console-reader", daemon=True).start()
        return await future

    async def _loop(self) -> None:
        save = _setup_readline() if self._interactive else (lambda: None)
        if self._interactive:
            self._out.write(f"{self._handler.ui(self._handler.language(self._langs), 'help_console')}\n")
        try:
            while True:
                line = await self._next_line()
                if line is None or line.strip().casefold() in QUIT_WORDS:
                    break
                self._out.write(self.answer_line(line) + "\n\n")
                self._out.flush()
        finally:
            save()
            if self._on_exit:
                self._on_exit()

    async def start(self) -> None:
        """Start reading; returns at once."""
        self._handler.warm()
        self._task = asyncio.create_task(self._loop(), name="console")

    async def stop(self) -> None:
        """Stop reading (a line being answered is finished first)."""
        if self._task and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait(self) -> None:
        """Wait until the user leaves (quit, Ctrl-D or end of input)."""
        if self._task:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def run_console(handler: Handler, lang: str | None = None, locale: str | None = None) -> int:
    """``python -m bot console``: the prompt until quit, Ctrl-D or Ctrl-C; returns the exit status."""
    if lang and handler.supported(lang) is None:
        sys.stderr.write(f"unknown language {lang!r}; available: {', '.join(handler.languages)}\n")
        return EXIT_USAGE

    async def main() -> None:
        adapter = ConsoleAdapter(handler, lang=lang, locale=locale)
        await adapter.start()
        await adapter.wait()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.stdout.write("\n")
    return EXIT_OK
