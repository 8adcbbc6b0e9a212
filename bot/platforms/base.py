"""What the runtime expects of a platform adapter."""

from __future__ import annotations

from typing import Protocol


class AdapterStartError(RuntimeError):
    """The platform refused to start (bad token, unreachable API...); the message says why."""


class Adapter(Protocol):
    """A platform adapter: the runtime starts it, watches it and stops it."""

    platform: str

    async def start(self) -> None:
        """Connect and begin serving; raise :class:`AdapterStartError` if the platform refuses."""

    async def stop(self) -> None:
        """Stop taking new work, finish replies in flight, close every connection."""

    def connected(self) -> bool:
        """Whether the adapter is connected and serving now (for ``/healthz``)."""
