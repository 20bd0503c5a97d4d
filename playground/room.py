"""What a classroom shares, composed once per process from named parts (``playground.parts``).

- ``data``: MNIST, loaded once (``RoomData``);
- ``store``: the run store (SQLite beside the data, or the database the configuration names);
- ``presence``: who is connected, this process's tabs and the whole room's heartbeat rows;
- ``models``: Draw's cache of stored runs' models and histories;
- ``trainer``: who trains what — started on first use only, so a page that trains nothing (the
  Softmax lab, the MNIST data page, the momentum lab) starts no training threads;
- ``default_model``: the model Draw predicts with before a student trained one.

Not ``st.cache_resource``: any client can empty every cached resource ("Clear cache" in the
menu, the C key, or one message over the websocket), which once created a second training
queue, reloaded MNIST (+290 MB) and retrained the default model. The room is a plain object
made once per process under a lock; nothing a browser sends can drop or duplicate it.

At its start the room marks the store's *running* runs of its kind of trainer whose process is
gone as *interrupted* (a server killed mid-lesson): the student finds them with their curve and
weights so far, and Resume carries on from the last epoch's checkpoint.
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch

from core import data as mnist_data
from core.limits import RoomLimits, load_limits
from core.store import StoreError
from core.trainers.local import LocalTrainer
from core.training import History
from playground import push
from playground.default_model import DefaultModel
from playground.parts.data import MnistData, RoomData, load_mnist_data
from playground.parts.models import ModelCache
from playground.parts.presence import Presence, ProcessId
from playground.parts.store import STORE_FILE, describe, open_run_store
from playground.parts.trainer import FAR_BELOW, RoomJob, RoomTrainer, far_below, mark_interrupted, trainer_kind

__all__ = [
    "FAR_BELOW",
    "STORE_FILE",
    "MnistData",
    "Room",
    "RoomJob",
    "far_below",
    "get_room",
    "load_mnist_data",
    "replace_room",
]

STATS_ENV = "SOFTMAX_PLAYGROUND_STATS"  # a file the room appends its jobs' progress to (the load benchmark)
STATS_INTERVAL_S = 0.5
REAPER_INTERVAL_S = 5.0
INTERRUPTED_CHECK_S = 60.0  # how often the reaper looks for runs of processes that died since
TRIM_INTERVAL_S = 60.0  # at most this often, memory a class left behind goes back to the system
_log = logging.getLogger("playground.room")


class Room:
    """One per server process (``get_room()``); tests make their own and ``close()`` them."""

    def __init__(
        self,
        data_dir: Path | str | None = None,
        limits: RoomLimits | None = None,
        workers: int | None = None,
        loader: Callable[[], MnistData] = load_mnist_data,
        connected: Callable[[str], bool | None] = push.session_is_connected,
        exists: Callable[[str], bool | None] = push.session_exists,
        prepare_default: bool = True,
        trainer=None,
    ):
        self.data_dir = Path(data_dir) if data_dir is not None else mnist_data.default_data_dir()
        if limits is None:
            limits, self.limit_problems = load_limits()
        else:
            self.limit_problems = []
        self.limits = limits
        self.process = ProcessId()
        self.data = RoomData(limits, loader)
        self.store = open_run_store(self.data_dir, limits)
        self.presence = Presence(self.store, self.process, connected, exists)
        self.models = ModelCache(self.store)
        self.pusher = push.Pusher()
        self.later = push.OneAtATime()  # Draw's details: one tab at a time, after the bars
        self._make_trainer = trainer or trainer_kind()  # a kind ("in-process", "ray") or a factory
        self.trainer_kind = self._make_trainer if isinstance(self._make_trainer, str) else LocalTrainer.name
        self._workers = workers
        self._trainer: RoomTrainer | None = None
        self._room_watchers: set[tuple[str | None, str]] = set()  # the teacher's, until a trainer starts
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self._trimmed_at = -math.inf
        self._checked_at = -math.inf
        self._trim_due = False  # tabs or jobs were let go since the last trim
        self.find_interrupted()
        self._reaper = threading.Thread(target=self._reap_forever, name="room-reaper", daemon=True)
        self._reaper.start()
        stats = os.environ.get(STATS_ENV, "").strip()
        if stats:
            threading.Thread(
                target=self._write_stats_forever, args=(Path(stats),), name="room-stats", daemon=True
            ).start()
        self.default_model = DefaultModel(self)
        if prepare_default:
            self.default_model.prepare()  # in the background: ready before the class opens Draw

    # ----------------------------------------------------------------- the parts

    @property
    def trainer(self) -> RoomTrainer:
        """The trainer part, started on first use (a page that trains nothing never starts it)."""
        with self._lock:
            if self._trainer is None:
                if self._closed.is_set():
                    raise RuntimeError("the room is closed")
                self._trainer = RoomTrainer(
                    self._make_trainer,
                    self.store,
                    self.data,
                    self.limits,
                    self.models,
                    self.process,
                    self.pusher.notify,
                    self._workers,
                )
                self._trainer.default_accuracy = self.default_accuracy
                for session_id, key in self._room_watchers:
                    self._trainer.watch_room(session_id, key)
                _log.info("trainer %s started (store %s)", self._trainer.kind, describe(self.store)[0])
            return self._trainer

    @property
    def trainer_started(self) -> bool:
        return self._trainer is not None

    @property
    def scheduler(self):
        """The in-process trainer's scheduler (the default model trains on it first)."""
        return self.trainer.scheduler

    def store_description(self) -> tuple[str, str]:
        """(kind, where) of the run store, for the Teacher page."""
        return describe(self.store)

    # ----------------------------------------------------------------- data

    def mnist(self) -> MnistData:
        """MNIST, loaded once (``MnistLoadError`` when no source works; the next call tries again)."""
        return self.data.mnist()

    def images_per_run(self) -> int:
        return self.data.images_per_run()

    # ----------------------------------------------------------------- students and tabs

    def seen(self, student: str, session_id: str | None) -> None:
        """A script run of ``student`` in tab ``session_id``: the tab is theirs, they are here."""
        self.presence.seen(student, session_id)

    def connected_students(self) -> set[str]:
        """Students connected to any process of the room (``Presence.everyone``)."""
        return self.presence.everyone()

    # ----------------------------------------------------------------- jobs (the trainer part)

    def job_of(self, student: str, page: str) -> RoomJob | None:
        if self._trainer is None and self._make_trainer == "ray" and page == "train":
            # a run of this student may train on the cluster, started by another app process
            if any(r.meta.get("page") == page for r in self.store.runs_with_status(("running",), owner=student)):
                return self.trainer.job_of(student, page)
        return self._trainer.job_of(student, page) if self._trainer is not None else None

    def all_jobs(self) -> list[RoomJob]:
        """Every student's latest job per page, newest first (the teacher's view)."""
        return self._trainer.all_jobs() if self._trainer is not None else []

    def stop(self, entry: RoomJob, by: str | None = None) -> None:
        """End the run before its next batch; ``by="teacher"`` tells its student who stopped it."""
        if by is not None and not entry.job.done:
            entry.stopped_by = by
        self.trainer.stop(entry)

    # Run controls: messages to the job, like Stop. A paused run holds no core and spends no
    # budget; the reconnect window ends it like any other run when its student stays away.
    def pause(self, entry: RoomJob) -> None:
        self._control(entry, "pause")

    def resume(self, entry: RoomJob) -> None:
        self._control(entry, "resume")

    def step(self, entry: RoomJob, batches: int = 1) -> None:
        self._control(entry, "step", batches)

    def step_epoch(self, entry: RoomJob) -> None:
        self._control(entry, "step_epoch")

    def set_hyper(self, entry: RoomJob, **values: float) -> None:
        self._control(entry, "set_hyper", **values)

    def _control(self, entry: RoomJob, verb: str, *args, **kwargs) -> None:
        """A run control (a plain message) to the job, wherever it trains: the scheduler holding the
        live job here, else the trainer's own ``control`` (a method call on the worker holding it)."""
        live = entry.job.live
        if live is not None and self.scheduler is not None:
            getattr(self.scheduler, verb)(live, *args, **kwargs)
            return
        self.trainer.trainer.control(entry.job.id, {"action": verb, "args": list(args), "kwargs": kwargs})

    def watch(self, entry: RoomJob, session_id: str | None, fragment_key: str) -> None:
        self.trainer.watch(entry, session_id, fragment_key)

    def watch_room(self, session_id: str | None, fragment_key: str) -> None:
        """Refresh that fragment when any job changes (the teacher's live view; starts no trainer)."""
        with self._lock:
            if self._trainer is None:
                self._room_watchers.add((session_id, fragment_key))
                return
        self._trainer.watch_room(session_id, fragment_key)

    def interrupted_runs(self, student: str) -> list:
        """The student's runs a dead process left *interrupted* (Resume carries them on)."""
        try:
            return self.store.runs_with_status(("interrupted",), owner=student)
        except StoreError:
            _log.warning("interrupted runs of student %s not read (store unavailable)", student[:8])
            return []

    def find_interrupted(self) -> list[str]:
        """Mark the *running* runs of dead processes of this room's trainer kind as interrupted."""
        try:
            live = self.presence.live_processes()
        except StoreError:  # without heartbeats only this machine's processes can be judged
            live = None
        held: set[str] = set()
        if self.trainer_kind != LocalTrainer.name:  # a cluster trains on without the app that started it
            if not self.trainer_started:  # judged once this process has the cluster's trainer (the reaper)
                return []
            try:
                held = set(self.trainer.trainer.running())
            except Exception:  # the cluster cannot be asked now: judge nothing rather than wrongly
                _log.warning("interrupted runs not looked for (the trainer did not answer)", exc_info=True)
                return []
        try:
            return mark_interrupted(self.store, self.trainer_kind, self.process, live, held)
        except StoreError:
            _log.warning("interrupted runs not looked for (store unavailable); the reaper tries again")
            return []

    def default_accuracy(self) -> float | None:
        """The default model's test accuracy; None while it is not ready."""
        state = self.default_model.state()
        return state.history.final_accuracy if state.ready and state.history is not None else None

    # ----------------------------------------------------------------- Draw's models

    def model(self, run_id: str, owner: str | None = None) -> torch.nn.Module | None:
        """The run's model (eval mode, CPU), from memory or safely from the store."""
        return self.models.model(run_id, owner)

    def remember_model(self, run_id: str, model: torch.nn.Module) -> None:
        self.models.remember_model(run_id, model)

    def forget_model(self, run_id: str) -> None:
        self.models.forget_model(run_id)

    def history(self, run_id: str, record=None) -> History:
        """A stored run's history, parsed once per version of its row."""
        return self.models.history(run_id, record)

    # ----------------------------------------------------------------- the reconnect window

    def reap(self, now: float | None = None) -> list[RoomJob]:
        """Stop the jobs of students away longer than the reconnect window; forget closed tabs.

        A tab whose connection dropped still counts as away (a Wi-Fi blip is short, the window
        is long); where the server cannot tell (no runtime), every student counts as here.
        """
        now = time.time() if now is None else now
        here, closed = self.presence.sweep(now)
        for sid in closed:
            self.pusher.forget(sid)
        released = len(closed)
        stopped = []
        if self._trainer is not None:
            self._trainer.forget_sessions(closed)
            window = self.limits.reconnect_minutes * 60
            stopped = self._trainer.stop_absent(here, self.presence.away_since, now, window)
            released += self._trainer.let_go(here, self.presence.away_since, now, window)
        if released:
            self._trim_due = True
        if self._trim_due:  # a release inside the rate limit is handed back by a later reap
            self._hand_back_memory(room_empty=not here)
        if time.monotonic() - self._checked_at >= INTERRUPTED_CHECK_S:
            self._checked_at = time.monotonic()
            self.find_interrupted()  # runs of another process of this room that died since
        return stopped

    def _hand_back_memory(self, room_empty: bool = False) -> None:
        """Once tabs and jobs are let go: collect their cycles and give the freed pages back.

        glibc keeps freed memory in its arenas, so the server's size only ever grew; trimming
        after a class has left keeps it near what the next class needs. Linux only; elsewhere a
        no-op. Rate-limited while anyone is connected (a full collection holds the GIL for a
        fraction of a second); an empty room is trimmed at once, so the last of a class to leave
        is handed back too.
        """
        now = time.monotonic()
        if not room_empty and now - self._trimmed_at < TRIM_INTERVAL_S:
            return
        self._trimmed_at, self._trim_due = now, False
        gc.collect()
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc
            pass

    def _reap_forever(self) -> None:
        while not self._closed.wait(REAPER_INTERVAL_S):
            try:
                self.reap()
            except Exception:  # the reaper must outlive any one bad session: logged, then on
                _log.exception("the room's reaper met an error; it carries on")

    def _write_stats_forever(self, path: Path) -> None:
        """One JSON line per interval: every job's examples and busy seconds (for measuring throughput)."""
        with open(path, "a", encoding="utf-8") as out:
            while not self._closed.wait(STATS_INTERVAL_S):
                jobs = []
                for entry in self.all_jobs():
                    try:
                        snap = entry.job.snapshot()
                    except LookupError:  # let go of meanwhile, nothing to count
                        continue
                    jobs.append(
                        {
                            "id": entry.job.id,
                            "student": entry.student,
                            "status": snap.status,
                            "samples": snap.samples,
                            "busy_s": round(snap.busy_s, 4),
                            "label": entry.job.label,
                        }
                    )
                out.write(
                    json.dumps({"t": time.time(), "jobs": jobs, "sessions": len(self.presence.sessions())}) + "\n"
                )
                out.flush()

    def close(self) -> None:
        """Stop the parts (a second call does nothing)."""
        with self._lock:
            if self._closed.is_set():
                return
            self._closed.set()
            trainer = self._trainer
        if trainer is not None:
            trainer.close()
        self.presence.close()
        self.pusher.close()
        self.later.close()
        self.store.close()


# --------------------------------------------------------------------------- the one room

_room: Room | None = None
_room_lock = threading.Lock()


def get_room() -> Room:
    """This server's room, made on first use."""
    global _room
    with _room_lock:
        if _room is None:
            _room = Room()
        return _room


def replace_room(room: Room | None) -> Room | None:
    """Swap the process's room (tests give each test module a fresh one); returns the old one."""
    global _room
    with _room_lock:
        old, _room = _room, room
    return old
