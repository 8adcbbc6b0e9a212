"""A throwaway PostgreSQL server for the tests and benchmarks: ``initdb`` and ``pg_ctl`` from the
operating system's package, a data directory in a temporary folder, 127.0.0.1 on a free port.

The server binaries are found on ``PATH``, through ``pg_config --bindir``, or under
``/usr/lib/postgresql/<version>/bin`` (Debian and Ubuntu keep them there). ``initdb`` refuses to
run as root, so as root everything runs as an unprivileged user (``postgres`` when the package
created it, else ``nobody``) owning the temporary folder. Password authentication is on (SCRAM),
so the bot's tests go through the same password path as a real deployment.

One server serves a whole test session; each test gets a database of its own
(:meth:`PostgresServer.create_database`). :meth:`PostgresServer.stop` and
:meth:`PostgresServer.start` simulate an outage.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

SUPERUSER = "postgres"
# Fast rather than durable: the data dies with the test session anyway.
TEST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
INSTALL_HINT = (
    "PostgreSQL's server programs (initdb, pg_ctl) were not found: install the operating system's"
    " package (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql)"
)


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server programs on this machine."""


def find_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``, or ``None``."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False
            )
            candidate = Path(out.stdout.strip())
            if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
                return candidate
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One ``postgres`` process over a temporary data directory."""

    def __init__(self, bindir: Path, *, settings: tuple[str, ...] = TEST_SETTINGS) -> None:
        self.bindir = bindir
        self.settings = settings
        self.password = secrets.token_urlsafe(18)
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="bot-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_user: list[str] = []
        self._owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            self._owner = self._unprivileged_user()
            if shutil.which("runuser"):
                self._as_user = ["runuser", "-u", self._owner.pw_name, "--"]
            else:
                self._as_user = [
                    "setpriv",
                    f"--reuid={self._owner.pw_uid}",
                    f"--regid={self._owner.pw_gid}",
                    "--clear-groups",
                ]
            os.chown(self.root, self._owner.pw_uid, self._owner.pw_gid)
        self.running = False

    @staticmethod
    def _unprivileged_user() -> pwd.struct_passwd:
        for name in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                return pwd.getpwnam(name)
        raise PostgresUnavailable("running as root, and no 'postgres' or 'nobody' user to run initdb as")

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self._as_user, *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            server_log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed: {result.stderr.strip()}\n{server_log}")

    def init(self) -> None:
        """Create the cluster: a superuser with a password, SCRAM over TCP."""
        password_file = self.root / "password"
        password_file.write_text(self.password + "\n", encoding="utf-8")
        if self._owner is not None:
            os.chown(password_file, self._owner.pw_uid, self._owner.pw_gid)
        self._run(
            str(self.bindir / "initdb"),
            "--pgdata",
            str(self.data),
            "--username",
            SUPERUSER,
            f"--pwfile={password_file}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        password_file.unlink()

    def start(self) -> None:
        """Start (or restart after :meth:`stop`) on the same port; returns once it accepts."""
        options = [f"-p {self.port}", "-c listen_addresses=127.0.0.1", f"-k {self.root}"]
        options += [f"-c {setting}" for setting in self.settings]
        self._run(
            str(self.bindir / "pg_ctl"),
            "start",
            "--pgdata",
            str(self.data),
            "--log",
            str(self.log),
            "--wait",
            "--timeout=60",
            "-o",
            " ".join(options),
        )
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` cuts every client, as a database restart does."""
        self._run(str(self.bindir / "pg_ctl"), "stop", "--pgdata", str(self.data), "-m", mode, "--wait")
        self.running = False

    def destroy(self) -> None:
        """Stop if running and delete everything."""
        if self.running:
            with contextlib.suppress(Exception):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", *, password: bool = True) -> str:
        """A URL the bot accepts; without ``password``, give it through ``PGPASSWORD``."""
        secret = f":{self.password}" if password else ""
        return f"postgresql://{SUPERUSER}{secret}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL through ``psql`` over TCP; its output, unaligned, no headers."""
        result = subprocess.run(
            [str(self.bindir / "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
            env={
                **os.environ,
                "PGHOST": "127.0.0.1",
                "PGPORT": str(self.port),
                "PGUSER": SUPERUSER,
                "PGPASSWORD": self.password,
                "PGDATABASE": database,
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout.strip()

    def create_database(self, prefix: str = "test") -> str:
        """A new, empty database; its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return name


@contextlib.contextmanager
def running_server(settings: tuple[str, ...] = TEST_SETTINGS) -> Iterator[PostgresServer]:
    """A started server, destroyed on exit; raises :class:`PostgresUnavailable` without one."""
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable(INSTALL_HINT)
    server = PostgresServer(bindir, settings=settings)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.destroy()
