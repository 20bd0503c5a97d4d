"""Who is here: the tabs of this process (for pushes and the reconnect window) and, through the
store's heartbeat rows, every student connected to any process of the room (the Teacher page).

A tab is this process's business: the Streamlit runtime says whether it is connected. Whether a
student is in the room is the store's: each process writes one heartbeat row per (student,
process, tab) at most every ``HEARTBEAT_S`` while the tab is connected, and forgets closed tabs.
Each process also beats for itself (``process_key``), which is how a room tells a dead process's
runs from a live one's.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.store import StoreError

HEARTBEAT_S = 10.0  # a connected tab's row is refreshed at most this often
PRESENT_S = 45.0  # a student seen within this is "connected" on the Teacher page
PROCESS_ALIVE_S = 60.0  # a process whose heartbeat is older is taken for dead
PRUNE_AFTER_S = 24 * 3600.0
PROCESS_PREFIX = "~p:"  # presence rows of processes, not students (student ids are hex)
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessId:
    """This server process, as recorded in the meta of the runs it trains."""

    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    started: float = field(default_factory=time.time)

    @property
    def id(self) -> str:
        return f"{self.host[:30]}:{self.pid}:{self.started:.3f}"  # fits the store's 64-character ids

    def meta(self) -> dict:
        return {"process": self.id, "host": self.host, "pid": self.pid}


def pid_alive(pid: int) -> bool:
    """True while a process of that id runs on this machine (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:  # no /proc (not Linux): kill said it exists
        return True


class Presence:
    """``seen`` on every script run; ``connected_students`` (this process), ``everyone`` (the room)."""

    def __init__(
        self,
        store,
        process: ProcessId,
        connected: Callable[[str], bool | None],
        exists: Callable[[str], bool | None],
    ):
        self.store, self.process = store, process
        self._connected, self._exists = connected, exists
        self._lock = threading.Lock()
        self._sessions: dict[str, tuple[str, float]] = {}  # session id → (student, last script run)
        self._beaten: dict[str, float] = {}  # session id → when its heartbeat row was last written
        self._away_since: dict[str, float] = {}  # student → when their last tab disconnected

    @property
    def process_key(self) -> str:
        return PROCESS_PREFIX + self.process.id

    def seen(self, student: str, session_id: str | None) -> None:
        """A script run of ``student`` in tab ``session_id``: the tab is theirs, they are here."""
        if session_id is None:
            return
        now = time.time()
        with self._lock:
            self._sessions[session_id] = (student, now)
            self._away_since.pop(student, None)
            due = now - self._beaten.get(session_id, -HEARTBEAT_S) >= HEARTBEAT_S
            if due:
                self._beaten[session_id] = now
        if due and self._connected(session_id) is not False:  # rows are for connected tabs only
            self._beat(student, session_id, now)

    def sessions(self) -> dict[str, tuple[str, float]]:
        with self._lock:
            return dict(self._sessions)

    def connected_students(self) -> set[str]:
        """Students with a connected tab on this process."""
        return {student for sid, (student, _) in self.sessions().items() if self._connected(sid)}

    def everyone(self, now: float | None = None) -> set[str]:
        """Students connected to any process of the room (the store's rows), this process's included."""
        here = self.connected_students()
        try:
            rows = self.store.present(PRESENT_S, now=now)
        except StoreError:  # the database is away for a moment: this process's own view
            _log.warning("presence: the store could not be read; counting this process's tabs only")
            return here
        # a student whose tabs here are all disconnected counts as gone: their rows may be this
        # process's own, not yet forgotten (another process's tab of theirs is the rare exception)
        gone_here = {student for student, _ in self.sessions().values()} - here
        return here | {s for s in rows if not s.startswith(PROCESS_PREFIX) and s not in gone_here}

    def live_processes(self, now: float | None = None) -> set[str]:
        """Process ids with a heartbeat within ``PROCESS_ALIVE_S``."""
        rows = self.store.present(PROCESS_ALIVE_S, now=now)
        return {key.removeprefix(PROCESS_PREFIX) for key in rows if key.startswith(PROCESS_PREFIX)}

    def sweep(self, now: float) -> tuple[set[str], list[str]]:
        """Called by the reaper: (students here, sessions closed since). Refreshes the rows of the
        connected tabs and of this process; forgets closed tabs' rows."""
        sessions = self.sessions()
        states = {sid: self._connected(sid) for sid in sessions}
        closed = [sid for sid, state in states.items() if state is False and not self._exists(sid)]
        here = {student for sid, (student, _) in sessions.items() if states[sid] is not False}
        with self._lock:
            for sid in closed:
                self._sessions.pop(sid, None)
                self._beaten.pop(sid, None)
            for student in here:
                self._away_since.pop(student, None)
        self._write_rows(sessions, states, closed, now)
        return here, closed

    def away_since(self, student: str, now: float) -> float:
        """When ``student`` was first found away (``now`` if just now)."""
        with self._lock:
            return self._away_since.setdefault(student, now)

    def _write_rows(self, sessions, states, closed, now: float) -> None:
        try:
            self.store.heartbeat(self.process_key, self.process.id, "process", at=now)
            for sid, (student, _) in sessions.items():
                if states[sid] is not False and sid not in closed:
                    self.store.heartbeat(student, self.process.id, sid, at=now)
            with self._lock:
                for sid in sessions:
                    if sid not in closed:
                        self._beaten[sid] = now
            if closed:
                self.store.forget_sessions(self.process.id, closed)
            self.store.prune_presence(PRUNE_AFTER_S, now=now)
        except StoreError:  # the database is away for a moment: the next sweep writes them
            _log.warning("presence: heartbeat rows not written (store unavailable); retrying on the next sweep")

    def _beat(self, student: str, session_id: str, now: float) -> None:
        try:
            self.store.heartbeat(student, self.process.id, session_id, at=now)
        except StoreError:
            _log.warning("presence: heartbeat of a tab not written (store unavailable)")

    def close(self) -> None:
        """This process leaves: its tabs' rows and its own go (another process sees them gone at once)."""
        sessions = [*self.sessions(), "process"]
        try:
            self.store.forget_sessions(self.process.id, sessions)
        except StoreError:
            _log.warning("presence: rows of a closing process not removed (store unavailable)")
