"""A throw-away PostgreSQL server for the tests: started once per session, in a temporary folder.

Debian's ``postgresql`` package is used as installed (``.ci/run`` installs it); nothing else is
downloaded. The server refuses to run as root, so under root every command runs as the
``postgres`` user. It listens on 127.0.0.1 only, on a free port, with durability switched off
(fsync) because the data dies with the session anyway.

Fixtures (imported by ``tests/conftest.py``, so any test can ask for them):

- ``postgres_server``: the running server (session-scoped); ``stop()`` and ``start()`` for tests of
  a database that goes away; ``url(dbname)``.
- ``postgres_url``: a URL for one test, with a fresh, empty schema of its own first on the search
  path, dropped after the test.

PostgreSQL or psycopg missing is a failure, not a skip: the store's tests must run on both backends.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import pytest

SERVER_SETTINGS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"


def find_postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` (Debian's layout), else where pg_ctl is on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda path: int(Path(path).parts[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).resolve().parent if on_path else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder, run as ``postgres`` when we are root."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="pg-"))  # short: the socket path must fit 107 bytes
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-N", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [*self.as_user, str(self.bin_dir / tool), *args], capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            log = (self.dir / "log").read_text() if (self.dir / "log").exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stdout}{done.stderr}{log}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 {SERVER_SETTINGS}"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "start", "-w")

    def stop(self) -> None:
        """A fast shutdown: open connections are cut, as when a database server restarts."""
        self._run("pg_ctl", "-D", str(self.data), "stop", "-m", "fast", "-w")

    def url(self, dbname: str = "postgres", **options: str) -> str:
        query = "&".join(f"{key}={quote(value)}" for key, value in options.items())
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}" + (f"?{query}" if query else "")

    def execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True, connect_timeout=5) as connection:
            connection.execute(sql)

    def remove(self) -> None:
        """Stop the server (by its pid if pg_ctl cannot) and delete its folder."""
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            try:
                self.stop()
            except (RuntimeError, subprocess.SubprocessError):
                pid = int(pid_file.read_text().split()[0])
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    if not pid_file.exists():
                        break
                    time.sleep(0.1)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        pytest.fail("PostgreSQL is not installed: the store's tests need Debian's `postgresql` package (.ci/run)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail("psycopg is not installed: pip install -r requirements-cluster.txt (.ci/run does)")
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def postgres_url(postgres_server):
    """A URL whose connections see a fresh, empty schema of this test's own (dropped afterwards)."""
    schema = "t_" + secrets.token_hex(6)
    postgres_server.execute(f"CREATE SCHEMA {schema}")
    yield postgres_server.url(options=f"-c search_path={schema}")
    postgres_server.execute(f"DROP SCHEMA {schema} CASCADE")
