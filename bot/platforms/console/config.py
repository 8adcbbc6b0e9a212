"""``[console]``: answering on this terminal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot.platforms.base import Listener, Secret


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    """``[console]``: answer on standard input/output (``python -m bot console`` forces it)."""

    SECRETS: ClassVar[tuple[Secret, ...]] = ()

    enabled: bool = False

    def check(self) -> None:
        """Nothing to check: the console needs no token and no port."""

    def listeners(self) -> tuple[Listener, ...]:
        """None."""
        return ()
