"""The run store on PostgreSQL: the same schema and queries as the SQLite file, for a room that
spans app processes or machines (``SOFTMAX_PLAYGROUND_STORE=postgresql://…``).

``core/store.py`` imports this module only when a ``postgresql://`` target is opened, so the
embedded default needs no psycopg. What differs from SQLite, and where it is handled:

- **Placeholders**: the store's queries are written with ``?``; ``Connection`` turns them into ``%s``.
- **Column types**: the one list of migrations names ``{serial}``, ``{real}``, ``{blob}``; PostgreSQL
  gets an identity column, ``DOUBLE PRECISION`` (its ``REAL`` has 4 bytes) and ``BYTEA``. Applied
  versions are rows of a ``schema_version`` table, migrated under an advisory lock so two processes
  starting together run each migration once.
- **Writers take turns** like SQLite's ``BEGIN IMMEDIATE``: a write that reads and then deletes
  (pruning, delete, set_active) holds a transaction-level advisory lock, so two prunes never pick the
  same runs; heartbeats and lessons are single upserts and skip it.
- **Bytes travel in binary** both ways (bytes parameters, results), and weights and resume states
  are stored uncompressed (migration 3): a checkpoint of the default MLP wrote in a fifth of the
  time and read in a sixth, measured on this machine.
- **Connections** are a few kept open and handed to one thread at a time (Streamlit runs each rerun
  on its own thread); a connection that failed is closed, never reused.
- **The server going away** (a restart, a network blip): the operation is retried with fresh
  connections for about 2 s, then ``StoreUnavailable`` is raised — never psycopg's own error — and the
  next call connects again. A transaction cut off before its commit left nothing behind; retrying it
  is safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg.types.string import BytesBinaryDumper

from core.store import SCHEMA_VERSION, StoreError, StoreUnavailable, migration_statements, redacted

T = TypeVar("T")
RETRY_S = 2.0  # how long an operation keeps trying before the store is reported unavailable
RETRY_DELAYS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)  # between tries: a dropped connection is retried at once
CONNECT_TIMEOUT_S = 2
WRITE_LOCK = 0x536F_6674  # advisory lock keys of this app (any 64-bit numbers other apps do not use)
MIGRATION_LOCK = WRITE_LOCK + 1
# the server is gone or refused the work for now (restart, shutdown, lost connection, too many clients)
LOST = (psycopg.OperationalError, psycopg.InterfaceError)


class Connection:
    """A psycopg connection that speaks the store's dialect: ``?`` placeholders."""

    def __init__(self, connection: psycopg.Connection):
        self._connection = connection

    def execute(self, sql: str, params=()) -> Any:
        return self._connection.execute(_placeholders(sql), params, binary=True)

    def executemany(self, sql: str, params) -> Any:
        cursor = self._connection.cursor()
        cursor.executemany(_placeholders(sql), params)
        return cursor


class PostgresBackend:
    """A PostgreSQL database behind ``RunStore``: a few connections, retries, the same migrations."""

    dialect = "postgresql"

    def __init__(self, url: str, *, max_connections: int = 8, timeout: float = 30.0):
        self.url, self.name, self.timeout = url, redacted(url), timeout
        self.notice: StoreError | None = None  # a damaged SQLite file's notice; never set here
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)  # one app process never floods the server
        self._closed = False
        self._retrying(self._migrate)

    # ------------------------------------------------------------------ the Backend interface

    def write(self, work: Callable[[Connection], T], exclusive: bool = True) -> T:
        """``work(connection)`` in one transaction, retried whole if the connection is lost."""

        def attempt(connection: psycopg.Connection) -> T:
            with connection.transaction():
                if exclusive:
                    connection.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                return work(Connection(connection))

        return self._retrying(attempt)

    def read(self, sql: str, params=()) -> list[tuple]:
        return self._retrying(lambda connection: Connection(connection).execute(sql, params).fetchall())

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    # ------------------------------------------------------------------ migrations

    def _migrate(self, connection: psycopg.Connection) -> None:
        """Bring the database to ``SCHEMA_VERSION``, one migration at a time, in one transaction."""
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)")
            found = connection.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
            if found > SCHEMA_VERSION:
                raise StoreError("store.newer_schema", path=self.name, found=found, supported=SCHEMA_VERSION)
            for version in range(found + 1, SCHEMA_VERSION + 1):
                for statement in migration_statements(version, self.dialect):
                    connection.execute(statement)
                connection.execute("INSERT INTO schema_version VALUES (%s)", (version,))

    # ------------------------------------------------------------------ connections and retries

    def _retrying(self, operation: Callable[[psycopg.Connection], T]) -> T:
        """Run ``operation`` on a connection; on a lost server, try again with a fresh one for
        ``RETRY_S`` seconds, then raise ``StoreUnavailable``."""
        deadline = time.monotonic() + RETRY_S
        failure: Exception | None = None
        for delay in RETRY_DELAYS:
            if failure is not None:
                if time.monotonic() + delay > deadline:
                    break
                time.sleep(delay)
            try:
                return self._on_a_connection(operation)
            except LOST as error:
                failure = error
                self._drop_idle()  # after a restart every kept connection is dead: none is tried again
        raise StoreUnavailable("store.unavailable", path=self.name, reason=_first_line(failure)) from failure

    def _on_a_connection(self, operation: Callable[[psycopg.Connection], T]) -> T:
        if not self._slots.acquire(timeout=self.timeout):
            raise StoreUnavailable("store.unavailable", path=self.name, reason="every connection stayed busy")
        try:
            connection = self._take()
            try:
                result = operation(connection)
            except BaseException:
                self._give_back(connection)  # the transaction rolled back; a broken connection is closed
                raise
            self._give_back(connection)
            return result
        finally:
            self._slots.release()

    def _take(self) -> psycopg.Connection:
        with self._lock:
            if self._closed:
                raise StoreUnavailable("store.unavailable", path=self.name, reason="the store was closed")
            if self._idle:
                return self._idle.pop()
        connection = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        connection.adapters.register_dumper(bytes, BytesBinaryDumper)
        return connection

    def _give_back(self, connection: psycopg.Connection) -> None:
        sound = not connection.closed and not connection.broken
        sound = sound and connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with self._lock:
            if sound and not self._closed:
                self._idle.append(connection)
                return
        connection.close()

    def _drop_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


def _placeholders(sql: str) -> str:
    """The store's ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled first)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _first_line(error: Exception | None) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
