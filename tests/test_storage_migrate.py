"""``python -m bot storage migrate``: a SQLite file's preferences into PostgreSQL, as an operator
moving to replicas runs it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.storage import SqlitePreferences

from conftest import BotRunner, free_port
from support.postgres import PostgresServer


def _sqlite_file(path: Path, prefs: dict[str, str]) -> str:
    async def fill() -> None:
        store = SqlitePreferences(path)
        for chat, lang in prefs.items():
            await store.set(chat, lang)
        await store.close()

    asyncio.run(fill())
    return f"sqlite:///{path}"


def test_a_sqlite_file_moves_into_postgresql(
    run_bot: BotRunner, tmp_path: Path, postgres: PostgresServer
) -> None:
    database = postgres.create_database("migrate")
    source = _sqlite_file(
        tmp_path / "old.sqlite3", {"telegram:-1001": "fr", "discord:900": "de", "telegram:42": "ar"}
    )
    target = postgres.url(database, password=False)
    env = {"PGPASSWORD": postgres.password}
    result = run_bot("storage", "migrate", "--from", source, "--to", target, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"copied 3 preferences from {source} to {target}\n"
    rows = postgres.psql("SELECT chat || '=' || lang FROM chat_language ORDER BY chat", database)
    assert rows.splitlines() == ["discord:900=de", "telegram:-1001=fr", "telegram:42=ar"]
    # Again, from another replica's file: the same chat is replaced, the others are kept.
    other = _sqlite_file(tmp_path / "other.sqlite3", {"telegram:42": "ja", "discord:901": "ko"})
    again = run_bot("storage", "migrate", "--from", other, "--to", target, env=env)
    assert again.returncode == 0, again.stderr
    rows = postgres.psql("SELECT chat || '=' || lang FROM chat_language ORDER BY chat", database)
    assert rows.splitlines() == [
        "discord:900=de", "discord:901=ko", "telegram:-1001=fr", "telegram:42=ja",
    ]  # fmt: skip
    assert postgres.password not in result.stdout + result.stderr + again.stdout + again.stderr


def test_wrong_addresses_are_one_line_and_never_show_a_password(run_bot: BotRunner, tmp_path: Path) -> None:
    usage = run_bot("storage", "migrate", "--from", "mysql://u:pw@h/db", "--to", "sqlite:///x.sqlite3")
    assert usage.returncode == 2
    assert usage.stderr == (
        "storage migrate: the address must start with sqlite:/// or postgresql://, not mysql://\n"
    )
    missing = run_bot(
        "storage", "migrate", "--from", "sqlite:///absent.sqlite3", "--to", "sqlite:///b.sqlite3"
    )
    assert (missing.returncode, missing.stderr) == (1, "storage migrate: no such file: absent.sqlite3\n")
    assert not (tmp_path / "absent.sqlite3").exists()
    source = _sqlite_file(tmp_path / "a.sqlite3", {"telegram:1": "fr"})
    closed = f"postgresql://bot:s3cret-pw@127.0.0.1:{free_port()}/bot"
    down = run_bot("storage", "migrate", "--from", source, "--to", closed)
    assert down.returncode == 1
    assert down.stderr.startswith("storage migrate: PostgreSQL at postgresql://bot:***@127.0.0.1:")
    assert "s3cret-pw" not in down.stderr and len(down.stderr.splitlines()) == 1
