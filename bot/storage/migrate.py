"""``python -m bot storage migrate --from URL --to URL``: move chat language preferences from one
store to another, typically from a process's SQLite file into the PostgreSQL database that
replicas will share.

Every preference of the source is written to the target, replacing the target's value for the
same chat and leaving its other chats alone, so running it again (or from several SQLite files,
one per former replica) is harmless. Addresses are printed with their password hidden.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TextIO

from bot.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from bot.storage.base import StorageError
from bot.storage.factory import Backend, copy_preferences, open_backend
from bot.storage.urls import StoreAddress, StoreAddressError, parse_address


async def migrate(source: StoreAddress, target: StoreAddress) -> int:
    """Copy the preferences; how many. Raises :class:`StorageError` when a store fails."""
    opened: list[Backend] = []
    try:
        opened.append(await open_backend(source))
        opened.append(await open_backend(target))
        return await copy_preferences(opened[0].prefs, opened[1].prefs)
    finally:
        for backend in opened:
            await backend.close()


def run_storage(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run a ``storage`` action; the exit status (0 done, 1 a store failed, 2 wrong usage)."""
    try:
        source, target = parse_address(args.source), parse_address(args.target)
    except StoreAddressError as exc:
        err.write(f"storage migrate: the address {exc}\n")
        return EXIT_USAGE
    if source == target:
        err.write("storage migrate: --from and --to name the same store\n")
        return EXIT_USAGE
    if source.backend == "sqlite" and not Path(source.target).is_file():
        # Opening it would create an empty file and "copy" nothing: certainly a wrong path.
        err.write(f"storage migrate: no such file: {source.target}\n")
        return EXIT_FAILURE
    try:
        count = asyncio.run(migrate(source, target))
    except StorageError as exc:
        err.write(f"storage migrate: {exc}\n")
        return EXIT_FAILURE
    noun = "preference" if count == 1 else "preferences"
    out.write(f"copied {count} {noun} from {source.shown()} to {target.shown()}\n")
    return EXIT_OK
