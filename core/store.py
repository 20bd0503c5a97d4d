"""Where students' runs are kept: one SQLite file that outlives reloads, new tabs and restarts.

Every run (spec, settings, history, final metrics, weights) is written as it finishes or stops,
so the run list a student sees comes from here, not from the browser session. A classroom
writes at once (30 students finishing together, two tabs of one student), so the file is in WAL
mode: readers never wait for the writer and writers queue on a busy timeout instead of failing.
The weights are opaque bytes (the app's safe checkpoint file); nothing here unpickles anything.
"""

from __future__ import annotations

import base64
import io
import json
import re
import secrets
import sqlite3
import threading
import time
import zipfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from core.errors import CodedError

SCHEMA_VERSION = 1
ORIGINS = ("trained", "uploaded")
STATUSES = ("finished", "stopped")
MAX_OWNER, MAX_NAME, MAX_NICKNAME, MAX_PAGE = 64, 80, 40, 40
LESSON_CODE = re.compile(r"[a-z2-7]{8}")  # 40 random bits in base32: URL-safe, typeable by hand
DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")  # the file is bad; "locked" or "busy" must not count
RUN_COLUMNS = "id, owner, name, origin, status, spec, config, history, accuracy, created, size_bytes, shared_as, meta"
# the same without the history: a run list redrawn on every page visit reads only what it shows
SUMMARY_COLUMNS = RUN_COLUMNS.replace("history", "'{}'")
PRUNE_ORDER = "ORDER BY shared_as IS NOT NULL, created, seq"  # unshared before shared, oldest first

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS runs (
        seq INTEGER PRIMARY KEY,  -- insertion order: breaks ties between equal `created`
        id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL, name TEXT NOT NULL,
        origin TEXT NOT NULL, status TEXT NOT NULL,
        spec TEXT NOT NULL, config TEXT NOT NULL, history TEXT NOT NULL,
        accuracy REAL, created REAL NOT NULL, size_bytes INTEGER NOT NULL, shared_as TEXT,
        meta TEXT NOT NULL DEFAULT '{}')  -- which page and data set it was trained on""",
    "CREATE INDEX IF NOT EXISTS runs_by_owner ON runs (owner, created, seq)",
    # weights apart from the records, so listing runs never reads a page of them
    "CREATE TABLE IF NOT EXISTS blobs (run_id TEXT PRIMARY KEY, data BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS active (owner TEXT PRIMARY KEY, run_id TEXT, picked INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS lessons (code TEXT PRIMARY KEY, page TEXT NOT NULL,
        settings TEXT NOT NULL, locked TEXT NOT NULL, created REAL NOT NULL)""",
)


class StoreError(CodedError, ValueError):
    """Bad input from a user, or a store file that could not be used as it was."""

    templates = MappingProxyType(
        {
            "store.bad_owner": "an owner id must be a non-empty string of at most {max} characters",
            "store.bad_text": "{field} must have 1 to {max} characters once spaces are trimmed, got {length}",
            "store.bad_choice": "{field} must be one of {allowed}, got {value}",
            "store.not_json": "{field} must be a JSON object: {reason}",
            "store.bad_number": "{field} must be a number in {low}..{high}, got {value}",
            "store.bad_weights": "the weights must be bytes, got {kind}",
            "store.too_large": "the weights take {size} bytes, more than the store's whole limit of {limit} bytes",
            "store.damaged": "the run store {path} was damaged ({reason}); it was moved to {moved} "
            "and a new, empty store was started",
            "store.newer_schema": "the run store {path} comes from a newer app "
            "(schema {found}; this one reads {supported})",
        }
    )


@dataclass(frozen=True)
class StoredRun:
    id: str  # unique across the store: "r" + 12 random hex digits
    owner: str
    name: str
    origin: str  # "trained" | "uploaded"
    status: str  # "finished" | "stopped"
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


class _Damaged(Exception):
    """The file is not a sound database (internal: it becomes ``RunStore.notice``)."""


class RunStore:
    """The runs, active-model preferences and lessons of one classroom server.

    One connection behind a lock rather than one per thread: Streamlit runs every rerun on a
    fresh thread, so per-thread connections would pile up unclosed and ``close()`` could not
    reach them; SQLite admits one writer at a time anyway and these queries are short. Other
    processes (or another ``RunStore`` on the file) are serialised by SQLite's busy timeout.
    """

    def __init__(self, path, max_runs_per_owner: int = 30, max_total_bytes: int = 512 * 2**20, timeout: float = 30.0):
        if max_runs_per_owner < 1 or max_total_bytes < 1:
            raise ValueError("max_runs_per_owner and max_total_bytes must be positive")
        self.path = Path(path)
        self.max_runs_per_owner, self.max_total_bytes, self.timeout = max_runs_per_owner, max_total_bytes, timeout
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
        found = db.execute("PRAGMA user_version").fetchone()[0]
        if found > SCHEMA_VERSION:
            raise StoreError("store.newer_schema", path=str(self.path), found=found, supported=SCHEMA_VERSION)
        if found < SCHEMA_VERSION:  # IF NOT EXISTS: two processes creating it at once both succeed
            with _transaction(db):
                for statement in SCHEMA:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self):
        with self._lock, _transaction(self._db):
            yield self._db

    def _rows(self, sql: str, params=()) -> list[tuple]:
        with self._lock:  # one statement reads one consistent snapshot
            return self._db.execute(sql, params).fetchall()

    def _runs(self, where: str, params=(), order: str = "created, seq", history: bool = True) -> list[StoredRun]:
        columns = RUN_COLUMNS if history else SUMMARY_COLUMNS
        return [_run(row) for row in self._rows(f"SELECT {columns} FROM runs WHERE {where} ORDER BY {order}", params)]

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
        run = StoredRun(
            id="r" + secrets.token_hex(6),
            owner=_owner(owner),
            name=_text("name", name, MAX_NAME),
            origin=_choice("origin", origin, ORIGINS),
            status=_choice("status", status, STATUSES),
            spec=_json_object("spec", spec),
            config=_json_object("config", config),
            history=_json_object("history", history),
            size_bytes=len(blob),
            shared_as=None,
            accuracy=None if accuracy is None else _number("accuracy", accuracy, 0, 1),
            created=time.time() if created is None else _number("created", created, 0, 1e11),
            meta=_json_object("meta", meta or {}),
        )
        with self._write() as db:
            db.execute(f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({', '.join('?' * 13)})", _row(run))
            db.execute("INSERT INTO blobs VALUES (?, ?)", (run.id, blob))
            return run, self._prune(db, run)

    def _prune(self, db: sqlite3.Connection, new: StoredRun) -> list[StoredRun]:
        """The owner's runs beyond the per-owner cap, then any runs until the bytes fit; never ``new``."""
        mine = db.execute(f"SELECT id FROM runs WHERE owner = ? AND id <> ? {PRUNE_ORDER}", (new.owner, new.id))
        mine = [run_id for (run_id,) in mine]
        pruned = _drop(db, mine[: max(0, len(mine) + 1 - self.max_runs_per_owner)])
        excess = db.execute("SELECT COALESCE(SUM(size_bytes), 0) FROM runs").fetchone()[0] - self.max_total_bytes
        doomed = []
        for run_id, size in db.execute(f"SELECT id, size_bytes FROM runs WHERE id <> ? {PRUNE_ORDER}", (new.id,)):
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
        owner = None if owner is None else _owner(owner)
        found = self._runs("id = ? AND (? IS NULL OR owner = ?)", (run_id, owner, owner))
        return found[0] if found else None

    def weights(self, run_id: str, owner: str | None = None) -> bytes | None:
        """The run's weights exactly as stored; ``owner=None`` as in ``get_run``."""
        owner = None if owner is None else _owner(owner)
        rows = self._rows(
            "SELECT data FROM blobs JOIN runs ON id = run_id WHERE id = ? AND (? IS NULL OR owner = ?)",
            (run_id, owner, owner),
        )
        return bytes(rows[0][0]) if rows else None

    def rename_run(self, run_id: str, owner: str, name: str) -> bool:
        return self._update("name", _text("name", name, MAX_NAME), run_id, owner)

    def share_run(self, run_id: str, owner: str, nickname: str | None) -> bool:
        """Show the run on the class board under ``nickname``; None withdraws it."""
        shown = None if nickname is None else _text("nickname", nickname, MAX_NICKNAME)
        return self._update("shared_as", shown, run_id, owner)

    def _update(self, column: str, value, run_id: str, owner: str) -> bool:
        with self._write() as db:
            return (
                db.execute(
                    f"UPDATE runs SET {column} = ? WHERE id = ? AND owner = ?", (value, run_id, _owner(owner))
                ).rowcount
                > 0
            )

    def delete_run(self, run_id: str, owner: str) -> bool:
        """Delete one of the owner's own runs (and the active preference pointing at it)."""
        with self._write() as db:
            mine = db.execute("SELECT id FROM runs WHERE id = ? AND owner = ?", (run_id, _owner(owner)))
            return bool(_drop(db, [run_id for (run_id,) in mine]))

    def shared_runs(self, history: bool = True) -> list[StoredRun]:
        """Every owner's shared runs, best accuracy first, runs without one last."""
        return self._runs(
            "shared_as IS NOT NULL", order="accuracy IS NULL, accuracy DESC, created, seq", history=history
        )

    def usage(self) -> tuple[int, int]:
        """(number of runs, total weight bytes), for the teacher's page."""
        count, total = self._rows("SELECT COUNT(*), COALESCE(SUM(size_bytes), 0) FROM runs")[0]
        return count, total

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
        with self._write() as db:
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

    def save_lesson(self, page: str, settings: dict, locked=()) -> Lesson:
        """Keep a teacher's preset under a fresh random code that students open by link."""
        page, settings = _text("page", page, MAX_PAGE), _json_object("settings", settings)
        locked = tuple(_text("locked control", name, MAX_NAME) for name in locked)
        created = time.time()
        with self._write() as db:
            while True:  # a collision (one in 2**40 per pair) just draws again
                code = base64.b32encode(secrets.token_bytes(5)).decode("ascii").lower()
                if db.execute(
                    "INSERT OR IGNORE INTO lessons VALUES (?, ?, ?, ?, ?)",
                    (code, page, json.dumps(settings), json.dumps(locked), created),
                ).rowcount:
                    return Lesson(code, page, settings, locked, created)

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


def _drop(db: sqlite3.Connection, run_ids: list[str]) -> list[StoredRun]:
    """Delete runs with their weights and any active preference pointing at one; returns their records."""
    params = [(run_id,) for run_id in run_ids]
    records = [_run(db.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", p).fetchone()) for p in params]
    for table, column in (("runs", "id"), ("blobs", "run_id"), ("active", "run_id")):
        db.executemany(f"DELETE FROM {table} WHERE {column} = ?", params)
    return records


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


def _blob(weights, limit: int) -> bytes:
    if not isinstance(weights, (bytes, bytearray, memoryview)):
        raise StoreError("store.bad_weights", kind=type(weights).__name__)
    blob = bytes(weights)
    if len(blob) > limit:
        raise StoreError("store.too_large", size=len(blob), limit=limit)
    return blob
