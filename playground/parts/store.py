"""The room's run store: one per process, SQLite beside the data by default, or the database the
``SOFTMAX_PLAYGROUND_STORE`` setting names (``core.store.store_target``)."""

from __future__ import annotations

from pathlib import Path

from core.limits import RoomLimits
from core.store import RunStore, open_store, store_target

STORE_FILE = "runs.db"


def open_run_store(data_dir: Path, limits: RoomLimits) -> RunStore:
    """The store the room keeps runs, lessons and presence in, with the room's caps."""
    return open_store(
        store_target(data_dir),
        max_runs_per_owner=limits.runs_per_student,
        max_total_bytes=int(limits.storage_mb * 2**20),
    )


def describe(store: RunStore) -> tuple[str, str]:
    """(kind, where) for the Teacher page: ("sqlite", the file) or ("postgresql", server/database,
    never the password)."""
    return store.backend, store.name
