"""Store addresses: ``sqlite:///relative/file``, ``sqlite:////absolute/file`` or
``postgresql://user@host:port/database``, read, checked and shown without their password.

Nothing here connects to anything, so :mod:`bot.config` can validate an address at start-up and
``check-config`` can print it without importing a database driver.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Literal

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql", "postgres")

Backend = Literal["sqlite", "postgresql"]


class StoreAddressError(ValueError):
    """An address the bot cannot use; the message never repeats a password."""


@dataclass(frozen=True, slots=True)
class StoreAddress:
    """Where the shared state lives: a SQLite file or a PostgreSQL database."""

    backend: Backend
    # The SQLite file's path, or the PostgreSQL DSN as given (password included, if any).
    target: str

    @property
    def password(self) -> str | None:
        """The password written into a PostgreSQL URL, if one was (``PGPASSWORD`` is better)."""
        if self.backend != "postgresql":
            return None
        password = urllib.parse.urlsplit(self.target).password
        return urllib.parse.unquote(password) if password else None

    def shown(self) -> str:
        """The address as it may appear in logs and ``check-config``: the password as ``***``."""
        if self.backend == "sqlite":
            return SQLITE_PREFIX + self.target
        return redact_url(self.target)


def redact_url(url: str) -> str:
    """``url`` with the password of its user part, if any, replaced by ``***``."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def parse_address(url: str) -> StoreAddress:
    """Read a store address; raises :class:`StoreAddressError` naming what is wrong.

    SQLite follows the usual URL convention: three slashes, then the path, so that
    ``sqlite:///prefs.sqlite3`` is relative to the working directory and
    ``sqlite:////data/prefs.sqlite3`` is absolute.
    """
    text = url.strip()
    if text.startswith(SQLITE_PREFIX):
        path = urllib.parse.unquote(text[len(SQLITE_PREFIX) :])
        if not path:
            raise StoreAddressError("a sqlite:/// address needs a file path after the three slashes")
        return StoreAddress("sqlite", path)
    scheme, _, rest = text.partition("://")
    if scheme.lower() in POSTGRES_SCHEMES and rest:
        try:
            parts = urllib.parse.urlsplit(text)
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError:
            raise StoreAddressError(f"{redact_url(text)} is not a valid PostgreSQL URL") from None
        return StoreAddress("postgresql", text)
    shown = f"{scheme}://" if rest else "an address without a scheme"
    raise StoreAddressError(f"must start with sqlite:/// or postgresql://, not {shown}")
