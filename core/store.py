"""Where students' runs are kept: a database that outlives reloads, new tabs, restarts and crashes.

Every run (spec, settings, history, metrics, weights) is written as it trains — a checkpoint at
every epoch's end, with the state to resume it — and as it finishes or stops, so the run list a
student sees comes from here, not from the browser session or the process that trains. Presence
(who is connected), lessons and the class board live here too, so every app process sees the room.

Two backends behind one ``RunStore``: one SQLite file (the default, nothing to install) and
PostgreSQL (``open_store("postgresql://…")``, for a room that spans processes or machines; see
``core/store_postgres.py``). Both run the same ordered list of migrations (``MIGRATIONS``).

A classroom writes at once (30 students finishing together, two tabs of one student), so the
SQLite file is in WAL mode: readers never wait for the writer and writers queue on a busy timeout
instead of failing. The weights are opaque bytes (the app's safe checkpoint file); nothing here
unpickles anything.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import secrets
import sqlite3
import threading
import time
import zipfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from core.errors import CodedError

T = TypeVar("T")
STORE_VARIABLE = "SOFTMAX_PLAYGROUND_STORE"  # where the store lives: a file path or postgresql://…
STORE_FILE = "runs.db"
ORIGINS = ("trained", "uploaded")
STATUSES = ("finished", "stopped", "running", "interrupted", "failed")
RUNNING = "running"  # a run being trained right now: never pruned
MAX_OWNER, MAX_NAME, MAX_NICKNAME, MAX_PAGE, MAX_KEY = 64, 80, 40, 40, 200
LESSON_CODE = re.compile(r"[a-z2-7]{8}")  # 40 random bits in base32: URL-safe, typeable by hand
DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")  # the file is bad; "locked" or "busy" must not count
# the file is there but cannot be used right now: the caller says so and tries again later
SQLITE_UNAVAILABLE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_CANTOPEN")
RUN_COLUMNS = "id, owner, name, origin, status, spec, config, history, accuracy, created, size_bytes, shared_as, meta"
# the same without the history: a run list redrawn on every page visit reads only what it shows
SUMMARY_COLUMNS = RUN_COLUMNS.replace("history", "'{}'")
PRUNE_ORDER = "ORDER BY shared_as IS NOT NULL, created, seq"  # unshared before shared, oldest first

# The schema as one ordered list of migrations, run by both backends: migration n takes a store at
# version n - 1 to version n (SQLite counts in ``PRAGMA user_version``, PostgreSQL in a
# ``schema_version`` table). Append, never edit: a store in use may be at any earlier version.
# {serial}, {real}, {int} and {blob} become each dialect's column types (``DIALECT_TYPES``); a
# ``(dialect, statement)`` pair runs on that dialect only (the version still counts on both).
MIGRATIONS = (
    (  # 1: runs, their weights apart, active-model choices, lessons
        """CREATE TABLE IF NOT EXISTS runs (
        seq {serial},  -- insertion order: breaks ties between equal `created`
        id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL, name TEXT NOT NULL,
        origin TEXT NOT NULL, status TEXT NOT NULL,
        spec TEXT NOT NULL, config TEXT NOT NULL, history TEXT NOT NULL,
        accuracy {real}, created {real} NOT NULL, size_bytes {int} NOT NULL, shared_as TEXT,
        meta TEXT NOT NULL DEFAULT '{}')  -- which page and data set it was trained on""",
        "CREATE INDEX IF NOT EXISTS runs_by_owner ON runs (owner, created, seq)",
        # weights apart from the records, so listing runs never reads a page of them
        "CREATE TABLE IF NOT EXISTS blobs (run_id TEXT PRIMARY KEY, data {blob} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS active (owner TEXT PRIMARY KEY, run_id TEXT, picked INTEGER NOT NULL)",
        """CREATE TABLE IF NOT EXISTS lessons (code TEXT PRIMARY KEY, page TEXT NOT NULL,
        settings TEXT NOT NULL, locked TEXT NOT NULL, created {real} NOT NULL)""",
    ),
    (  # 2: runs in progress (statuses running / interrupted / failed) with their resume state; presence
        "CREATE TABLE IF NOT EXISTS resume (run_id TEXT PRIMARY KEY, data {blob} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status)",
        # one heartbeat per (student, app process, browser session): a process forgets its own
        # sessions without touching another process's
        """CREATE TABLE IF NOT EXISTS presence (student TEXT NOT NULL, process TEXT NOT NULL,
        session TEXT NOT NULL, seen {real} NOT NULL, PRIMARY KEY (student, process, session))""",
        "CREATE INDEX IF NOT EXISTS presence_by_seen ON presence (seen)",
    ),
    (  # 3: PostgreSQL keeps weights and resume states as they are: compressing a checkpoint of
        # megabytes (a default MLP's is 2.2 MB) took most of a write's time and saved little
        ("postgresql", "ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTERNAL"),
        ("postgresql", "ALTER TABLE resume ALTER COLUMN data SET STORAGE EXTERNAL"),
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
DIALECT_TYPES = MappingProxyType(
    {
        "sqlite": MappingProxyType({"serial": "INTEGER PRIMARY KEY", "real": "REAL", "int": "INTEGER", "blob": "BLOB"}),
        # REAL would be 4 bytes in PostgreSQL: a time.time() would lose its seconds
        "postgresql": MappingProxyType(
            {
                "serial": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                "real": "DOUBLE PRECISION",
                "int": "BIGINT",
                "blob": "BYTEA",
            }
        ),
    }
)


def migration_statements(version: int, dialect: str) -> list[str]:
    """The statements of migration ``version`` (1-based) in ``dialect``'s column types."""
    statements = []
    for entry in MIGRATIONS[version - 1]:
        only, statement = entry if isinstance(entry, tuple) else (dialect, entry)
        if only != dialect:
            continue
        for token, column_type in DIALECT_TYPES[dialect].items():
            statement = statement.replace("{" + token + "}", column_type)
        statements.append(statement)
    return statements


class StoreError(CodedError, ValueError):
    """Bad input from a user, or a store that could not be used as it was."""

    templates = MappingProxyType(
        {
            "store.bad_owner": "an owner id must be a non-empty string of at most {max} characters",
            "store.bad_text": "{field} must have 1 to {max} characters once spaces are trimmed, got {length}",
            "store.bad_choice": "{field} must be one of {allowed}, got {value}",
            "store.not_json": "{field} must be a JSON object: {reason}",
            "store.bad_number": "{field} must be a number in {low}..{high}, got {value}",
            "store.bad_weights": "the weights must be bytes, got {kind}",
            "store.too_large": "the weights take {size} bytes, more than the store's whole limit of {limit} bytes",
            "store.unknown_run": "there is no run {run_id} of this student to update (deleted?)",
            "store.damaged": "the run store {path} was damaged ({reason}); it was moved to {moved} "
            "and a new, empty store was started",
            "store.newer_schema": "the run store {path} comes from a newer app "
            "(schema {found}; this one reads {supported})",
            "store.unavailable": "the run store {path} could not be reached ({reason}); try again in a moment",
        }
    )


class StoreUnavailable(StoreError):
    """The database could not be reached after a short retry (a few tries over about 2 s).

    Nothing was written by the failed call; the next call tries again (and reconnects)."""


@dataclass(frozen=True)
class StoredRun:
    id: str  # unique across the store: "r" + 12 random hex digits
    owner: str
    name: str
    origin: str  # "trained" | "uploaded"
    status: str  # one of STATUSES
    spec: dict  # ModelSpec.to_dict()
    config: dict  # TrainConfig.to_dict()
    history: dict  # History.to_dict()
    accuracy: float | None  # final test accuracy in [0, 1]
    created: float  # time.time()
    size_bytes: int  # of the weights blob
    shared_as: str | None  # nickname on the class board, None when not shared
    meta: dict = field(default_factory=dict)  # the page and data set it was trained on, for the app


@dataclass(frozen=True)
class Lesson:
    code: str  # 8 random base32 characters
    page: str  # e.g. "train"
    settings: dict
    locked: tuple[str, ...]  # controls students may not change
    created: float


class Database(Protocol):
    """What the store's queries need of a connection: ``?`` placeholders, DB-API cursors back."""

    def execute(self, sql: str, params=()) -> Any: ...

    def executemany(self, sql: str, params) -> Any: ...


class Backend(Protocol):
    """One database behind the store: a write transaction, a read, and the name to show."""

    dialect: str
    name: str  # the file, or the server without its password: for messages
    notice: StoreError | None

    def write(self, work: Callable[[Database], T], exclusive: bool = True) -> T: ...

    def read(self, sql: str, params=()) -> list[tuple]: ...

    def close(self) -> None: ...


def store_target(data_dir: Path) -> str | Path:
    """Where the app keeps its runs: ``$SOFTMAX_PLAYGROUND_STORE`` if set, else ``data_dir/runs.db``."""
    configured = os.environ.get(STORE_VARIABLE, "").strip()
    if not configured:
        return Path(data_dir) / STORE_FILE
    return configured if is_postgres_url(configured) else Path(configured).expanduser()


def is_postgres_url(target) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def redacted(url: str) -> str:
    """A database URL without its password, for messages and the Teacher page."""
    return re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", url)


def open_store(target: str | Path, *, max_runs_per_owner: int = 30, max_total_bytes: int = 512 * 2**20) -> RunStore:
    """The store at ``target``: a file path opens SQLite, ``postgresql://…`` PostgreSQL."""
    return RunStore(target, max_runs_per_owner=max_runs_per_owner, max_total_bytes=max_total_bytes)


class _Damaged(Exception):
    """The file is not a sound database (internal: it becomes ``RunStore.notice``)."""


class SQLiteBackend:
    """One SQLite file, one connection behind a lock rather than one per thread.

    Streamlit runs every rerun on a fresh thread, so per-thread connections would pile up unclosed
    and ``close()`` could not reach them; SQLite admits one writer at a time anyway and these
    queries are short. Other processes (or another store on the file) are serialised by SQLite's
    busy timeout.
    """

    dialect = "sqlite"

    def __init__(self, path, timeout: float = 30.0):
        self.path = Path(path)
        self.name, self.timeout = str(self.path), timeout
        self.notice: StoreError | None = None  # set when a damaged file was moved aside; the Teacher page shows it
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        """Connect; a damaged file is moved aside and replaced, as an empty run list beats a dead app."""
        try:
            return self._connect()
        except _Damaged as damage:
            reason = str(damage)
        moved = _move_aside(self.path)
        self.notice = StoreError("store.damaged", path=str(self.path), moved=str(moved), reason=reason)
        return self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # in WAL, a killed process still loses no commit
            check = db.execute("PRAGMA quick_check").fetchone()[0]  # reads every page: once, at start
            if check != "ok":
                raise _Damaged(check)
            self._migrate(db)
        except BaseException as error:
            db.close()
            if getattr(error, "sqlite_errorname", "") in DAMAGED:
                raise _Damaged(str(error)) from None
            raise
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        """Run the migrations the file lacks, in one transaction; read without a lock first, so a
        store already up to date opens while another process writes."""
        if self._version(db) == SCHEMA_VERSION:
            return
        with _transaction(db):
            found = self._version(db)  # again, under the write lock: another process may have migrated
            for version in range(found + 1, SCHEMA_VERSION + 1):
                for statement in migration_statements(version, self.dialect):
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _version(self, db: sqlite3.Connection) -> int:
        found = db.execute("PRAGMA user_version").fetchone()[0]
        if found > SCHEMA_VERSION:
            raise StoreError("store.newer_schema", path=self.name, found=found, supported=SCHEMA_VERSION)
        return found

    def write(self, work: Callable[[Database], T], exclusive: bool = True) -> T:
        """``work(db)`` in one transaction; every SQLite write is exclusive (BEGIN IMMEDIATE)."""
        with self._unavailable_as_error(), self._lock, _transaction(self._db):
            return work(self._db)

    def read(self, sql: str, params=()) -> list[tuple]:
        with self._unavailable_as_error(), self._lock:  # one statement reads one consistent snapshot
            return self._db.execute(sql, params).fetchall()

    @contextmanager
    def _unavailable_as_error(self):
        try:
            yield
        except sqlite3.OperationalError as error:
            if not getattr(error, "sqlite_errorname", "").startswith(SQLITE_UNAVAILABLE):
                raise
            raise StoreUnavailable("store.unavailable", path=self.name, reason=str(error)) from error

    def close(self) -> None:
        with self._lock:
            self._db.close()


class RunStore:
    """The runs, active-model choices, lessons and presence of one classroom, on either backend.

    ``RunStore(path)`` opens (and creates) a SQLite file; ``RunStore("postgresql://…")`` a
    PostgreSQL database. Both are migrated to ``SCHEMA_VERSION`` on open; a newer one is refused.
    """

    def __init__(self, path, max_runs_per_owner: int = 30, max_total_bytes: int = 512 * 2**20, timeout: float = 30.0):
        if max_runs_per_owner < 1 or max_total_bytes < 1:
            raise ValueError("max_runs_per_owner and max_total_bytes must be positive")
        self.max_runs_per_owner, self.max_total_bytes, self.timeout = max_runs_per_owner, max_total_bytes, timeout
        if is_postgres_url(path):
            from core.store_postgres import PostgresBackend  # psycopg only where PostgreSQL is asked for

            self._backend: Backend = PostgresBackend(path, timeout=timeout)
            self.path = None
        else:
            self._backend = SQLiteBackend(path, timeout)
            self.path = Path(path)

    @property
    def backend(self) -> str:
        """ "sqlite" or "postgresql", for the Teacher page."""
        return self._backend.dialect

    @property
    def name(self) -> str:
        """The file, or the PostgreSQL server and database without the password."""
        return self._backend.name

    @property
    def notice(self) -> StoreError | None:
        """Set when a damaged SQLite file was moved aside on open; the Teacher page shows it."""
        return self._backend.notice

    def close(self) -> None:
        self._backend.close()

    def _write(self, work: Callable[[Database], T], exclusive: bool = True) -> T:
        return self._backend.write(work, exclusive)

    def _rows(self, sql: str, params=()) -> list[tuple]:
        return self._backend.read(sql, params)

    def _runs(self, where: str, params=(), order: str = "created, seq", history: bool = True) -> list[StoredRun]:
        columns = RUN_COLUMNS if history else SUMMARY_COLUMNS
        return [_run(row) for row in self._rows(f"SELECT {columns} FROM runs WHERE {where} ORDER BY {order}", params)]

    def _record(self, owner, name, origin, status, spec, config, history, accuracy, size, created, meta) -> StoredRun:
        """A new run's record, every field checked."""
        return StoredRun(
            id="r" + secrets.token_hex(6),
            owner=_owner(owner),
            name=_text("name", name, MAX_NAME),
            origin=_choice("origin", origin, ORIGINS),
            status=_choice("status", status, STATUSES),
            spec=_json_object("spec", spec),
            config=_json_object("config", config),
            history=_json_object("history", history),
            size_bytes=size,
            shared_as=None,
            accuracy=None if accuracy is None else _number("accuracy", accuracy, 0, 1),
            created=time.time() if created is None else _number("created", created, 0, 1e11),
            meta=_json_object("meta", meta or {}),
        )

    def add_run(
        self,
        owner: str,
        *,
        name: str,
        origin: str,
        status: str,
        spec: dict,
        config: dict,
        history: dict,
        accuracy: float | None,
        weights: bytes,
        created: float | None = None,
        meta: dict | None = None,
    ) -> tuple[StoredRun, list[StoredRun]]:
        """Keep a run as it finishes or stops; returns it and the runs pruned to respect the caps."""
        blob = _blob(weights, self.max_total_bytes)
        run = self._record(owner, name, origin, status, spec, config, history, accuracy, len(blob), created, meta)
        return self._write(lambda db: self._insert(db, run, blob, None))

    def _insert(self, db: Database, run: StoredRun, blob: bytes, resume: bytes | None):
        db.execute(f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({', '.join('?' * 13)})", _row(run))
        db.execute("INSERT INTO blobs VALUES (?, ?)", (run.id, blob))
        if resume is not None:
            db.execute("INSERT INTO resume VALUES (?, ?)", (run.id, resume))
        return run, self._prune(db, run)

    def save_checkpoint(
        self,
        owner: str,
        *,
        run_id: str | None,
        name: str,
        status: str,
        spec: dict,
        config: dict,
        history: dict,
        accuracy: float | None,
        weights: bytes,
        resume_state: bytes | None,
        origin: str = "trained",
        meta: dict | None = None,
        created: float | None = None,
    ) -> tuple[StoredRun, list[StoredRun]]:
        """Keep a run in progress (or as it ends) with what it takes to resume it.

        ``run_id=None`` starts a new run (the caps pruned as ``add_run`` prunes them); an existing
        ``run_id`` of ``owner`` is updated in place — same id, no pruning — keeping the name the
        student may have given it meanwhile, its place on the class board, its creation time
        (unless ``created`` is given) and its meta (unless ``meta`` is given). ``resume_state=None``
        deletes the kept resume state: a finished run needs none. Raises ``store.unknown_run``
        for an id that is not the owner's (a run deleted while it trained is not brought back)."""
        blob = _blob(weights, self.max_total_bytes)
        resume = None if resume_state is None else _bytes("resume_state", resume_state)
        run = self._record(owner, name, origin, status, spec, config, history, accuracy, len(blob), created, meta)
        if run_id is None:
            return self._write(lambda db: self._insert(db, run, blob, resume))
        return self._write(lambda db: self._update_checkpoint(db, run_id, run, created, meta, blob, resume))

    def _update_checkpoint(self, db: Database, run_id, new: StoredRun, created, meta, blob, resume):
        found = db.execute(
            "SELECT name, created, shared_as, meta FROM runs WHERE id = ? AND owner = ?", (run_id, new.owner)
        ).fetchone()
        if found is None:
            raise StoreError("store.unknown_run", run_id=str(run_id)[:MAX_OWNER])
        name, stored_created, shared_as, stored_meta = found
        run = replace(
            new,
            id=run_id,
            name=name,
            created=stored_created if created is None else new.created,
            shared_as=shared_as,
            meta=json.loads(stored_meta) if meta is None else new.meta,
        )
        db.execute(
            "UPDATE runs SET origin = ?, status = ?, spec = ?, config = ?, history = ?, accuracy = ?, "
            "created = ?, size_bytes = ?, meta = ? WHERE id = ?",
            (*_row(run)[3:8], run.accuracy, run.created, run.size_bytes, json.dumps(run.meta), run.id),
        )
        db.execute("UPDATE blobs SET data = ? WHERE run_id = ?", (blob, run.id))
        if resume is None:
            db.execute("DELETE FROM resume WHERE run_id = ?", (run.id,))
        else:
            db.execute(
                "INSERT INTO resume VALUES (?, ?) ON CONFLICT (run_id) DO UPDATE SET data = excluded.data",
                (run.id, resume),
            )
        return run, []

    def _prune(self, db: Database, new: StoredRun) -> list[StoredRun]:
        """The owner's runs beyond the per-owner cap, then any runs until the bytes fit; never
        ``new`` and never a run still training (they count, but are not dropped)."""
        mine = db.execute(f"SELECT id, status FROM runs WHERE owner = ? AND id <> ? {PRUNE_ORDER}", (new.owner, new.id))
        mine = list(mine)
        prunable = [run_id for run_id, status in mine if status != RUNNING]
        pruned = _drop(db, prunable[: max(0, len(mine) + 1 - self.max_runs_per_owner)])
        excess = db.execute("SELECT COALESCE(SUM(size_bytes), 0) FROM runs").fetchone()[0] - self.max_total_bytes
        doomed = []
        candidates = db.execute(
            f"SELECT id, size_bytes FROM runs WHERE id <> ? AND status <> ? {PRUNE_ORDER}", (new.id, RUNNING)
        )
        for run_id, size in candidates.fetchall():
            if excess <= 0:
                break
            doomed.append(run_id)
            excess -= size
        return pruned + _drop(db, doomed)

    def list_runs(self, owner: str, history: bool = True) -> list[StoredRun]:
        """The owner's runs, oldest first; the weights stay on disk (and, with ``history=False``,
        the histories too: ``history`` is then ``{}``)."""
        return self._runs("owner = ?", (_owner(owner),), history=history)

    def get_run(self, run_id: str, owner: str | None = None) -> StoredRun | None:
        """One run; ``owner=None`` finds any owner's (the teacher's view)."""
        found = self._runs(*_of_owner("id = ?", (run_id,), owner))
        return found[0] if found else None

    def weights(self, run_id: str, owner: str | None = None) -> bytes | None:
        """The run's weights exactly as stored; ``owner=None`` as in ``get_run``."""
        where, params = _of_owner("id = ?", (run_id,), owner)
        rows = self._rows(f"SELECT data FROM blobs JOIN runs ON id = run_id WHERE {where}", params)
        return bytes(rows[0][0]) if rows else None

    def resume_state(self, run_id: str, owner: str | None = None) -> bytes | None:
        """What it takes to continue the run (optimizer, RNG, position), as saved; None when the run
        keeps none (it finished) or is unknown. ``owner=None`` as in ``get_run``."""
        where, params = _of_owner("id = ?", (run_id,), owner)
        rows = self._rows(f"SELECT data FROM resume JOIN runs ON id = run_id WHERE {where}", params)
        return bytes(rows[0][0]) if rows else None

    def runs_with_status(self, statuses: tuple[str, ...], owner: str | None = None) -> list[StoredRun]:
        """Every run (or the owner's) in one of ``statuses``, oldest first, without histories:
        e.g. the runs left ``running`` by a process that died, to mark them interrupted."""
        statuses = tuple(_choice("status", status, STATUSES) for status in statuses)
        if not statuses:
            return []
        where = f"status IN ({', '.join('?' * len(statuses))})"
        return self._runs(*_of_owner(where, statuses, owner), history=False)

    def set_status(self, run_id: str, status: str, owner: str | None = None) -> bool:
        """Change a run's status (e.g. ``running`` → ``interrupted``); False for an unknown run."""
        where, params = _of_owner("id = ?", (run_id,), owner)
        status = _choice("status", status, STATUSES)
        return self._write(
            lambda db: db.execute(f"UPDATE runs SET status = ? WHERE {where}", (status, *params)).rowcount > 0
        )

    def rename_run(self, run_id: str, owner: str, name: str) -> bool:
        return self._update("name", _text("name", name, MAX_NAME), run_id, owner)

    def share_run(self, run_id: str, owner: str, nickname: str | None) -> bool:
        """Show the run on the class board under ``nickname``; None withdraws it."""
        shown = None if nickname is None else _text("nickname", nickname, MAX_NICKNAME)
        return self._update("shared_as", shown, run_id, owner)

    def _update(self, column: str, value, run_id: str, owner: str) -> bool:
        owner = _owner(owner)
        return self._write(
            lambda db: (
                db.execute(f"UPDATE runs SET {column} = ? WHERE id = ? AND owner = ?", (value, run_id, owner)).rowcount
                > 0
            )
        )

    def delete_run(self, run_id: str, owner: str) -> bool:
        """Delete one of the owner's own runs (and the active preference pointing at it)."""
        owner = _owner(owner)

        def delete(db: Database) -> bool:
            mine = db.execute("SELECT id FROM runs WHERE id = ? AND owner = ?", (run_id, owner)).fetchall()
            return bool(_drop(db, [found for (found,) in mine]))

        return self._write(delete)

    def shared_runs(self, history: bool = True) -> list[StoredRun]:
        """Every owner's shared runs, best accuracy first, runs without one last."""
        return self._runs(
            "shared_as IS NOT NULL", order="accuracy IS NULL, accuracy DESC, created, seq", history=history
        )

    def usage(self) -> tuple[int, int]:
        """(number of runs, total weight bytes), for the teacher's page."""
        count, total = self._rows("SELECT COUNT(*), COALESCE(SUM(size_bytes), 0) FROM runs")[0]
        return int(count), int(total)

    def export_owner(self, owner: str) -> bytes:
        """One zip of the owner's runs: index.json with the records, "<id>.pt" with each blob as is."""
        rows = self._rows(
            f"SELECT {RUN_COLUMNS}, data FROM runs JOIN blobs ON run_id = id WHERE owner = ? ORDER BY created, seq",
            (_owner(owner),),
        )
        index = {
            "format": "softmax-playground-runs",
            "version": 1,
            "owner": owner,
            "runs": [asdict(_run(row[:-1])) for row in rows],
        }
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("index.json", json.dumps(index, indent=1), compress_type=zipfile.ZIP_DEFLATED)
            for row in rows:  # stored as is: the checkpoints are archives already
                archive.writestr(f"{row[0]}.pt", bytes(row[-1]))
        return buffer.getvalue()

    def get_active(self, owner: str) -> tuple[str | None, bool]:
        """(the owner's active run id, picked: whether the student chose it rather than the app)."""
        rows = self._rows("SELECT run_id, picked FROM active WHERE owner = ?", (_owner(owner),))
        return (rows[0][0], bool(rows[0][1])) if rows else (None, False)

    def set_active(self, owner: str, run_id: str | None, picked: bool) -> bool:
        """Remember the active run; False (nothing stored) when ``run_id`` is not one of the owner's."""
        owner = _owner(owner)

        def remember(db: Database) -> bool:
            if (
                run_id is not None
                and not db.execute("SELECT 1 FROM runs WHERE id = ? AND owner = ?", (run_id, owner)).fetchone()
            ):
                return False
            db.execute(
                "INSERT INTO active VALUES (?, ?, ?) ON CONFLICT (owner) DO UPDATE "
                "SET run_id = excluded.run_id, picked = excluded.picked",
                (owner, run_id, int(bool(picked))),
            )
            return True

        return self._write(remember)

    def save_lesson(self, page: str, settings: dict, locked=()) -> Lesson:
        """Keep a teacher's preset under a fresh random code that students open by link."""
        page, settings = _text("page", page, MAX_PAGE), _json_object("settings", settings)
        locked = tuple(_text("locked control", name, MAX_NAME) for name in locked)
        created = time.time()

        def save(db: Database) -> Lesson:
            while True:  # a collision (one in 2**40 per pair) just draws again
                code = base64.b32encode(secrets.token_bytes(5)).decode("ascii").lower()
                if db.execute(
                    "INSERT INTO lessons VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (code, page, json.dumps(settings), json.dumps(locked), created),
                ).rowcount:
                    return Lesson(code, page, settings, locked, created)

        return self._write(save, exclusive=False)

    def get_lesson(self, code) -> Lesson | None:
        """The lesson behind a code from a link; None for an unknown or malformed one."""
        code = code.strip().lower() if isinstance(code, str) else ""
        if not LESSON_CODE.fullmatch(code):
            return None
        rows = self._rows("SELECT page, settings, locked, created FROM lessons WHERE code = ?", (code,))
        if not rows:
            return None
        page, settings, locked, created = rows[0]
        return Lesson(code, page, json.loads(settings), tuple(json.loads(locked)), created)

    # ------------------------------------------------------------------ presence

    def heartbeat(self, student: str, process: str, session: str, at: float | None = None) -> None:
        """Mark ``student`` present now (or ``at``) in one browser ``session`` served by ``process``."""
        row = (_owner(student), _key("process", process), _key("session", session), _at(at))
        self._write(
            lambda db: db.execute(
                "INSERT INTO presence VALUES (?, ?, ?, ?) ON CONFLICT (student, process, session) "
                "DO UPDATE SET seen = excluded.seen",
                row,
            ),
            exclusive=False,
        )

    def present(self, within_s: float, now: float | None = None) -> dict[str, float]:
        """Every student seen in the last ``within_s`` seconds, by any process → when last seen."""
        since = _at(now) - within_s
        rows = self._rows("SELECT student, MAX(seen) FROM presence WHERE seen >= ? GROUP BY student", (since,))
        return {student: float(seen) for student, seen in rows}

    def forget_sessions(self, process: str, sessions: list[str]) -> None:
        """Drop the heartbeats of browser sessions ``process`` knows have closed for good."""
        process = _key("process", process)
        params = [(process, _key("session", session)) for session in sessions]
        if params:
            self._write(
                lambda db: db.executemany("DELETE FROM presence WHERE process = ? AND session = ?", params),
                exclusive=False,
            )

    def prune_presence(self, older_than_s: float, now: float | None = None) -> int:
        """Drop heartbeats older than ``older_than_s`` (any process's: one that died leaves them);
        returns how many went."""
        before = _at(now) - older_than_s
        return self._write(
            lambda db: db.execute("DELETE FROM presence WHERE seen < ?", (before,)).rowcount, exclusive=False
        )


# ---------------------------------------------------------------------- helpers


@contextmanager
def _transaction(db: sqlite3.Connection):
    """BEGIN IMMEDIATE takes the write lock up front, so a second writer (thread, tab or process)
    waits on the busy timeout; a deferred BEGIN that reads, then writes, may fail at once instead."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _run(row: tuple) -> StoredRun:
    id_, owner, name, origin, status, spec, config, history, accuracy, created, size, shared_as, meta = row
    return StoredRun(
        id_,
        owner,
        name,
        origin,
        status,
        json.loads(spec),
        json.loads(config),
        json.loads(history),
        accuracy,
        created,
        size,
        shared_as,
        json.loads(meta),
    )


def _row(run: StoredRun) -> tuple:
    return (
        run.id,
        run.owner,
        run.name,
        run.origin,
        run.status,
        json.dumps(run.spec),
        json.dumps(run.config),
        json.dumps(run.history),
        run.accuracy,
        run.created,
        run.size_bytes,
        run.shared_as,
        json.dumps(run.meta),
    )


def _drop(db: Database, run_ids: list[str]) -> list[StoredRun]:
    """Delete runs with their weights, resume states and any active preference pointing at one;
    returns their records."""
    params = [(run_id,) for run_id in run_ids]
    if not params:
        return []
    records = [_run(db.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", p).fetchone()) for p in params]
    for table, column in (("runs", "id"), ("blobs", "run_id"), ("resume", "run_id"), ("active", "run_id")):
        db.executemany(f"DELETE FROM {table} WHERE {column} = ?", params)
    return records


def _of_owner(where: str, params: tuple, owner: str | None) -> tuple[str, tuple]:
    """``where`` narrowed to ``owner``'s runs, or left for any owner's when ``owner`` is None."""
    if owner is None:
        return where, tuple(params)
    return f"{where} AND owner = ?", (*params, _owner(owner))


def _move_aside(path: Path) -> Path:
    """Rename the damaged file, with any -wal/-shm of its own, to ``<name>.corrupt-<UTC time>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target, n = path.with_name(f"{path.name}.corrupt-{stamp}"), 1
    while target.exists():
        target, n = path.with_name(f"{path.name}.corrupt-{stamp}-{n}"), n + 1
    # SQLite deletes the sidecars on its last close; any still there (another process) go first
    for suffix in ("-wal", "-shm", ""):
        if Path(f"{path}{suffix}").exists():
            Path(f"{path}{suffix}").replace(Path(f"{target}{suffix}"))
    return target


def _owner(owner) -> str:
    if not isinstance(owner, str) or not owner or len(owner) > MAX_OWNER:
        raise StoreError("store.bad_owner", max=MAX_OWNER)
    return owner


def _text(field: str, value, longest: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not 1 <= len(text) <= longest:
        raise StoreError("store.bad_text", field=field, max=longest, length=len(text))
    return text


def _choice(field: str, value, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise StoreError("store.bad_choice", field=field, allowed=", ".join(allowed), value=repr(value))
    return value


def _json_object(field: str, value) -> dict:
    """The object as it will read back (tuples become lists), so a new record equals a stored one."""
    if not isinstance(value, dict):
        raise StoreError("store.not_json", field=field, reason=f"got {type(value).__name__}")
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as error:
        raise StoreError("store.not_json", field=field, reason=str(error)) from None


def _number(field: str, value, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise StoreError("store.bad_number", field=field, low=low, high=high, value=repr(value))
    return float(value)


def _key(field: str, value) -> str:
    """A process or session id: opaque, non-empty, bounded."""
    if not isinstance(value, str) or not value or len(value) > MAX_KEY:
        raise StoreError("store.bad_text", field=field, max=MAX_KEY, length=len(value) if isinstance(value, str) else 0)
    return value


def _at(moment: float | None) -> float:
    return time.time() if moment is None else _number("time", moment, 0, 1e11)


def _bytes(field: str, value) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise StoreError("store.bad_weights", kind=type(value).__name__)
    return bytes(value)


def _blob(weights, limit: int) -> bytes:
    if not isinstance(weights, (bytes, bytearray, memoryview)):
        raise StoreError("store.bad_weights", kind=type(weights).__name__)
    blob = bytes(weights)
    if len(blob) > limit:
        raise StoreError("store.too_large", size=len(blob), limit=limit)
    return blob
