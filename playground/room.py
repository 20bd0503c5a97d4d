"""What a classroom shares, with one owner per server process: data, trainer, store, default model.

Not ``st.cache_resource``: any client can empty every cached resource ("Clear cache" in the
menu, the C key, or one message over the websocket), which once created a second training
queue, reloaded MNIST (+290 MB) and retrained the default model. The room is a plain object
made once per process under a lock; nothing a browser sends can drop or duplicate it.

Runs belong to students, not to browser tabs: a job is filed under its student's id and
keeps training while the student may come back (``RoomLimits.reconnect_minutes``); a run is
stored the moment it ends, whether or not anybody is watching.
"""

from __future__ import annotations

import ctypes
import gc
import json
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from core import data as mnist_data
from core.checkpoint import checkpoint_bytes, load_checkpoint
from core.jobs import TrainingJob
from core.limits import RoomLimits, load_limits
from core.scheduler import Scheduler
from core.store import RunStore
from core.training import History
from playground import push
from playground.default_model import DefaultModel

STORE_FILE = "runs.db"
STATS_ENV = "SOFTMAX_PLAYGROUND_STATS"  # a file the room appends its jobs' progress to (the load benchmark)
STATS_INTERVAL_S = 0.5
REAPER_INTERVAL_S = 5.0
TRIM_INTERVAL_S = 60.0  # at most this often, memory a class left behind goes back to the system
# Models kept in memory for Draw, by their weights' size: about a class's active models (the
# lecture's MLP is 2.3 MB); the rest are read from the store when needed (~20 ms).
LOADED_MODELS_MB = 64.0
LOADED_HISTORIES = 256  # parsed histories (a run's curves and mistakes: ~0.1 MB each)


@dataclass(frozen=True)
class MnistData:
    """Both MNIST splits, raw and normalized, plus where they came from."""

    train_images: torch.Tensor  # [N, 28, 28] uint8
    train_labels: torch.Tensor  # [N] int64
    test_images: torch.Tensor  # [M, 28, 28] uint8
    test_labels: torch.Tensor  # [M] int64
    train_X: torch.Tensor  # [N, 1, 28, 28] float32, normalized
    test_X: torch.Tensor  # [M, 1, 28, 28] float32, normalized
    source: str  # "cache" | "download" | "mirror" | "subset"
    location: str  # the folder it came from ("" for the shipped subset)
    failures: tuple[str, ...]  # why the sources tried first failed

    @property
    def is_subset(self) -> bool:
        return self.source == "subset"

    @property
    def train(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.train_X, self.train_labels

    @property
    def test(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.test_X, self.test_labels

    def train_slice(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``n`` training images: a room's smaller budget per run."""
        return self.train_X[:n], self.train_labels[:n]


def load_mnist_data() -> MnistData:
    train = mnist_data.load_mnist_split(train=True)
    # The test split must come from the same source as the training split, or a subset
    # model would be scored against the full test set (or the other way round).
    test = mnist_data.load_mnist_split(train=False, sources=(train.source,))
    return MnistData(
        train_images=train.images,
        train_labels=train.labels,
        test_images=test.images,
        test_labels=test.labels,
        train_X=mnist_data.normalize(train.images),
        test_X=mnist_data.normalize(test.images),
        source=train.source,
        location=train.location,
        failures=train.failures,
    )


FAR_BELOW = 0.20  # a run this far below the model Draw has (20 points of accuracy) never takes its place


def far_below(accuracy: float | None, reference: float | None) -> bool:
    """True when ``accuracy`` is more than FAR_BELOW under ``reference`` (unknown either way: False).

    Momentum 0.99 sent from the momentum lab trains MNIST to about 11%: such a run must not replace
    a 97% model on Draw without the student asking for it. A quick but healthy run (one epoch,
    softmax regression, sigmoid units) lands within 20 points of the default model and does take
    over: the student sees on Draw what they trained.
    """
    return accuracy is not None and reference is not None and accuracy < reference - FAR_BELOW


@dataclass
class RoomJob:
    """A job and what the app needs to file its run when it ends."""

    job: TrainingJob
    student: str
    page: str  # "train" | "own"
    name: str
    details: dict  # page-specific: the settings, the table it trains on, …
    started: float = field(default_factory=time.time)
    run_id: str | None = None  # the stored run, once it ended with a usable model
    pruned: tuple = ()  # runs the store dropped to make room for it
    save_error: BaseException | None = None
    filed: threading.Event = field(default_factory=threading.Event)  # set once the end was dealt with
    stopped_by: str | None = None  # "teacher" when the Teacher page stopped it (the student is told)


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
    ):
        self.data_dir = Path(data_dir) if data_dir is not None else mnist_data.default_data_dir()
        if limits is None:
            limits, self.limit_problems = load_limits()
        else:
            self.limit_problems = []
        self.limits = limits
        self.scheduler = Scheduler(workers=workers)
        self.pusher = push.Pusher()
        self.later = push.OneAtATime()  # Draw's details: one tab at a time, after the bars
        self.store = RunStore(
            self.data_dir / STORE_FILE,
            max_runs_per_owner=limits.runs_per_student,
            max_total_bytes=int(limits.storage_mb * 2**20),
        )
        self._loader = loader
        self._connected, self._exists = connected, exists
        self._lock = threading.RLock()
        self._mnist: MnistData | None = None
        self._mnist_error: BaseException | None = None
        self._jobs: dict[tuple[str, str], RoomJob] = {}  # (student, page) → the latest job
        self._watchers: dict[str, set[tuple[str, str]]] = {}  # job id → {(session id, fragment key)}
        self._room_watchers: set[tuple[str, str]] = set()  # (session, fragment) refreshed on any change
        self._sessions: dict[str, tuple[str, float]] = {}  # session id → (student, last script run)
        self._away_since: dict[str, float] = {}  # student → when their last tab disconnected
        self._models: OrderedDict[str, torch.nn.Module] = OrderedDict()
        self._histories: OrderedDict[str, History] = OrderedDict()
        self._closed = threading.Event()
        self._trimmed_at = -math.inf
        self._trim_due = False  # tabs or jobs were let go since the last trim
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

    # ----------------------------------------------------------------- data

    def mnist(self) -> MnistData:
        """MNIST, loaded once (``MnistLoadError`` when no source works; the next call tries again)."""
        with self._lock:
            if self._mnist is None:
                self._mnist = self._loader()
            return self._mnist

    def images_per_run(self) -> int:
        n = len(self.mnist().train_labels)
        return min(n, self.limits.train_images) if self.limits.train_images else n

    # ----------------------------------------------------------------- students and tabs

    def seen(self, student: str, session_id: str | None) -> None:
        """A script run of ``student`` in tab ``session_id``: the tab is theirs, they are here."""
        if session_id is None:
            return
        with self._lock:
            self._sessions[session_id] = (student, time.time())
            self._away_since.pop(student, None)

    def connected_students(self) -> set[str]:
        with self._lock:
            sessions = dict(self._sessions)
        return {student for sid, (student, _) in sessions.items() if self._connected(sid)}

    # ----------------------------------------------------------------- jobs

    def submit(self, student: str, page: str, job: TrainingJob, name: str, details: dict) -> RoomJob:
        """Train ``job`` for ``student`` on ``page``; it replaces that page's previous (ended) job."""
        with self._lock:
            current = self._jobs.get((student, page))
            if current is not None and not current.job.done:
                raise RuntimeError("this student is already training a run on this page")
            entry = RoomJob(job, student, page, name, details)
            self._jobs[(student, page)] = entry
        job.on_change = lambda j: self._job_changed(entry)
        self.scheduler.submit(job)
        return entry

    def job_of(self, student: str, page: str) -> RoomJob | None:
        with self._lock:
            return self._jobs.get((student, page))

    def all_jobs(self) -> list[RoomJob]:
        """Every student's latest job per page, newest first (the teacher's view)."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda e: e.started, reverse=True)

    def stop(self, entry: RoomJob, by: str | None = None) -> None:
        """End the run before its next batch; ``by="teacher"`` tells its student who stopped it."""
        if by is not None and not entry.job.done:
            entry.stopped_by = by
        self.scheduler.stop(entry.job)

    def watch(self, entry: RoomJob, session_id: str | None, fragment_key: str) -> None:
        """Refresh that tab's fragment whenever the job has something new to show."""
        if session_id is not None:
            with self._lock:
                self._watchers.setdefault(entry.job.id, set()).add((session_id, fragment_key))

    def watch_room(self, session_id: str | None, fragment_key: str) -> None:
        """Refresh that fragment when any job changes (the teacher's live view)."""
        if session_id is not None:
            with self._lock:
                self._room_watchers.add((session_id, fragment_key))

    def _job_changed(self, entry: RoomJob) -> None:
        if entry.job.done and not entry.filed.is_set():
            try:
                self._file_run(entry)
            finally:
                entry.filed.set()
        with self._lock:
            targets = set(self._watchers.get(entry.job.id, ())) | self._room_watchers
        for session_id, key in targets:
            self.pusher.notify(session_id, key)

    # ----------------------------------------------------------------- runs

    def _file_run(self, entry: RoomJob) -> None:
        """Store a run as it ends: finished or stopped after at least one batch (diverged weights are NaN)."""
        snapshot = entry.job.snapshot()
        if snapshot.status not in ("finished", "stopped") or snapshot.step == 0:
            return
        saver = entry.details.get("save")
        try:
            run_id, pruned = saver(entry, snapshot) if saver else self.save_run(entry, snapshot)
        except Exception as error:  # a full disk must not take the trainer down
            entry.save_error = error
            return
        entry.run_id, entry.pruned = run_id, tuple(pruned)

    def save_run(self, entry: RoomJob, snapshot) -> tuple[str, list]:
        """An MNIST run into the store; it becomes the student's active model unless they picked one
        or it is far worse than the model Draw has now (their active run, else the default model)."""
        meta = {"page": entry.page, "dataset": "mnist", "source": self.mnist().source}
        record, pruned = self.add_trained_run(entry, snapshot, meta)
        self.remember_model(record.id, entry.job.model)
        active, picked = self.store.get_active(entry.student)
        current = self.store.get_run(active, entry.student) if active else None
        if current is not None and current.meta.get("dataset", "mnist") != "mnist":
            current = None
        if picked and current is not None:
            return record.id, pruned
        reference = current.accuracy if current is not None else self.default_accuracy()
        if not far_below(record.accuracy, reference):
            self.store.set_active(entry.student, record.id, picked=False)
        return record.id, pruned

    def default_accuracy(self) -> float | None:
        """The default model's test accuracy; None while it is not ready."""
        state = self.default_model.state()
        return state.history.final_accuracy if state.ready and state.history is not None else None

    def add_trained_run(self, entry: RoomJob, snapshot, meta: dict, name: str | None = None):
        """The job's run into the store — settings, curves, weights — with what it was trained on."""
        job, spec = entry.job, entry.details["spec"]
        return self.store.add_run(
            entry.student,
            name=entry.name if name is None else name,
            origin="trained",
            status=snapshot.status,
            spec=spec.to_dict(),
            config=job.config.to_dict(),
            history=snapshot.history.to_dict(),
            accuracy=snapshot.history.final_accuracy,
            weights=checkpoint_bytes(job.model, spec, job.config, snapshot.history),
            meta=meta,
        )

    def model(self, run_id: str, owner: str | None = None) -> torch.nn.Module | None:
        """The run's model (eval mode, CPU), from memory or safely from the store."""
        with self._lock:
            if run_id in self._models:
                self._models.move_to_end(run_id)
                return self._models[run_id]
        weights = self.store.weights(run_id, owner)
        if weights is None:
            return None
        model = load_checkpoint(weights).model
        self.remember_model(run_id, model)
        return model

    def remember_model(self, run_id: str, model: torch.nn.Module) -> None:
        model.eval()
        for parameter in model.parameters():  # shared between tabs: nobody trains it by accident
            parameter.requires_grad_(False)
        with self._lock:
            self._models[run_id] = model
            self._models.move_to_end(run_id)
            while len(self._models) > 1 and sum(map(_megabytes, self._models.values())) > LOADED_MODELS_MB:
                self._models.popitem(last=False)

    def forget_model(self, run_id: str) -> None:
        with self._lock:
            self._models.pop(run_id, None)
            self._histories.pop(run_id, None)

    def history(self, run_id: str) -> History:
        """A stored run's history, parsed once (it never changes once stored)."""
        with self._lock:
            if run_id in self._histories:
                self._histories.move_to_end(run_id)
                return self._histories[run_id]
        record = self.store.get_run(run_id)
        history = History.from_dict(record.history) if record is not None else History()
        with self._lock:
            self._histories[run_id] = history
            while len(self._histories) > LOADED_HISTORIES:
                self._histories.popitem(last=False)
        return history

    # ----------------------------------------------------------------- the reconnect window

    def reap(self, now: float | None = None) -> list[RoomJob]:
        """Stop the jobs of students away longer than the reconnect window; forget closed tabs.

        A tab whose connection dropped still counts as away (a Wi-Fi blip is short, the window
        is long); where the server cannot tell (no runtime), every student counts as here.
        """
        now = time.time() if now is None else now
        with self._lock:
            sessions = dict(self._sessions)
            running = [e for e in self._jobs.values() if not e.job.done]
        states = {sid: self._connected(sid) for sid in sessions}
        released = 0
        for sid, state in states.items():
            if state is False and not self._exists(sid):
                released += 1
                with self._lock:
                    self._sessions.pop(sid, None)
                    for watchers in self._watchers.values():
                        watchers -= {w for w in watchers if w[0] == sid}
                    self._room_watchers -= {w for w in self._room_watchers if w[0] == sid}
                self.pusher.forget(sid)
        here = {student for sid, (student, _) in sessions.items() if states[sid] is not False}
        window = self.limits.reconnect_minutes * 60
        stopped = []
        with self._lock:
            for student in here:
                self._away_since.pop(student, None)
            for entry in running:
                if entry.student in here:
                    continue
                away = self._away_since.setdefault(entry.student, now)
                if now - away >= window:
                    stopped.append(entry)
            released += self._let_go(here, now, window)
        for entry in stopped:
            self.stop(entry)
        if released:
            self._trim_due = True
        if self._trim_due:  # a release inside the rate limit is handed back by a later reap
            self._hand_back_memory(room_empty=not here)
        return stopped

    def _let_go(self, here: set[str], now: float, window: float) -> int:
        """Forget the ended jobs of students gone longer than the window (their runs are stored):
        what a class leaves behind is released, and the next class reuses that memory."""
        gone = 0
        for key, entry in list(self._jobs.items()):
            if entry.job.done and entry.filed.is_set() and entry.student not in here:
                away = self._away_since.setdefault(entry.student, now)
                if now - away >= window:
                    del self._jobs[key]
                    self._watchers.pop(entry.job.id, None)
                    gone += 1
        return gone

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
            except Exception:  # the reaper must outlive any one bad session
                pass

    def _write_stats_forever(self, path: Path) -> None:
        """One JSON line per interval: every job's examples and busy seconds (for measuring throughput)."""
        with open(path, "a", encoding="utf-8") as out:
            while not self._closed.wait(STATS_INTERVAL_S):
                with self._lock:
                    entries = list(self._jobs.values())
                jobs = []
                for entry in entries:
                    snap = entry.job.snapshot()
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
                out.write(json.dumps({"t": time.time(), "jobs": jobs, "sessions": len(self._sessions)}) + "\n")
                out.flush()

    def close(self) -> None:
        self._closed.set()
        self.scheduler.shutdown()
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


def _megabytes(model: torch.nn.Module) -> float:
    return sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
