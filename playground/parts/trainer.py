"""The room's trainer part: who trains what, a run's progress, its stop, its budget and its end.

Pages hand it a run (``start``: spec, config, the data) and read ``RoomJob``s back; it files the
run in the store as *running* before the first batch, builds the ``RunRequest`` and passes it to
the trainer that the configuration chose (``make_trainer``: in-process by default). The trainer's
side writes a checkpoint at every epoch's end and when the run ends, so this part only decides
what a run that ended becomes for the student (Draw's model, or nothing when it diverged).

A run is filed under its student's id, not a browser tab: it keeps training while the student
may come back (``RoomLimits.reconnect_minutes``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.jobs import JobSnapshot
from core.limits import RoomLimits
from core.models import ModelSpec
from core.store import StoreError
from core.trainers.base import RunRequest, Trainer
from core.trainers.local import LocalTrainer
from core.training import History, TrainConfig
from playground.parts.data import RoomData
from playground.parts.models import ModelCache
from playground.parts.presence import ProcessId, pid_alive

TRAINER_ENV = "SOFTMAX_PLAYGROUND_TRAINER"  # "in-process" (default) or "ray"
RAY_ENV = "SOFTMAX_PLAYGROUND_RAY"  # "auto" or a cluster address: the Ray trainer
POLL_S = 0.25  # how often a trainer without callbacks (another process) is asked for news
_log = logging.getLogger("playground.trainer")


def trainer_kind() -> str:
    """The configured trainer: ``SOFTMAX_PLAYGROUND_TRAINER``, else "ray" when a Ray address is set."""
    kind = os.environ.get(TRAINER_ENV, "").strip().lower()
    if kind:
        return kind
    return "ray" if os.environ.get(RAY_ENV, "").strip() else LocalTrainer.name


def make_trainer(
    kind, store, data: RoomData, workers: int | None, on_change: Callable[[str], None], limits: RoomLimits
) -> Trainer:
    """The trainer of that kind (or made by ``kind(store, data, workers, on_change, limits)``, a
    factory). Ray is imported only when asked for: it is not a dependency of the embedded room."""
    if callable(kind):
        return kind(store, data, workers, on_change, limits)
    if kind == LocalTrainer.name:
        return LocalTrainer(store, data.pairs, workers, on_change=on_change)
    if kind == "ray":
        from core.trainers import ray_trainer  # requirements-cluster.txt

        return ray_trainer.make_trainer(store=store, limits=limits, on_change=on_change, data=data, workers=workers)
    raise ValueError(f"unknown trainer {kind!r}: use 'in-process' or 'ray'")


class JobView:
    """A run as the pages read it, whichever trainer trains it: ``snapshot()``, ``done``, ``config``."""

    def __init__(self, trainer: Trainer, request: RunRequest):
        self._trainer, self.request = trainer, request
        self.id, self.label = request.run_id, request.name
        self.config = TrainConfig.from_dict(request.config)
        self.stop_requested = False
        self._last: JobSnapshot | None = None

    def snapshot(self) -> JobSnapshot:
        found = self._trainer.snapshots([self.id]).get(self.id)
        if found is not None:
            self._last = found
        elif self._last is None:  # forgotten by the trainer before anyone asked: a stopped stub
            raise LookupError(f"the trainer knows no job {self.id}")
        return self._last

    @property
    def done(self) -> bool:
        return self.snapshot().done

    @property
    def live(self):
        """The ``TrainingJob`` itself where the trainer is in this process (None elsewhere): what
        in-process controls act on."""
        job = getattr(self._trainer, "job", None)
        return job(self.id) if job is not None else None

    @property
    def model(self):
        """The live model (in-process trainers only; others: None, read the stored run)."""
        found = self.live
        return found.model if found is not None else None

    @property
    def total_steps(self) -> int:
        return self.snapshot().total_steps

    @property
    def paused(self) -> bool:
        return self.snapshot().paused

    @property
    def idle(self) -> bool:
        """Paused with nothing left to do (no Step granted, no change waiting)."""
        found = self.live
        if found is not None:
            return found.idle
        snap = self.snapshot()
        return snap.paused and not snap.pending

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended; True if it has."""
        job = getattr(self._trainer, "job", None)
        found = job(self.id) if job is not None else None
        if found is not None:
            return found.wait(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True


@dataclass
class RoomJob:
    """A student's run on a page and what the app needs once it ends."""

    job: JobView
    student: str
    page: str  # "train" | "own"
    name: str
    details: dict  # page-specific: the settings, the table it trains on, …
    started: float = field(default_factory=time.time)
    run_id: str | None = None  # the stored run, once it ended with a usable model
    pruned: tuple = ()  # runs the store dropped to make room for it
    save_error: BaseException | None = None
    resumed: bool = False
    filed: threading.Event = field(default_factory=threading.Event)  # set once the end was dealt with
    stopped_by: str | None = None  # "teacher" when the Teacher page stopped it (the student is told)

    @property
    def store_id(self) -> str:
        """The run's row in the store (it exists from the start, *running*)."""
        return self.job.id


FAR_BELOW = 0.20  # a run this far below the model Draw has (20 points of accuracy) never takes its place


def far_below(accuracy: float | None, reference: float | None) -> bool:
    """True when ``accuracy`` is more than FAR_BELOW under ``reference`` (unknown either way: False).

    Momentum 0.99 sent from the momentum lab trains MNIST to about 11%: such a run must not replace
    a 97% model on Draw without the student asking for it. A quick but healthy run (one epoch,
    softmax regression, sigmoid units) lands within 20 points of the default model and does take
    over: the student sees on Draw what they trained.
    """
    return accuracy is not None and reference is not None and accuracy < reference - FAR_BELOW


class RoomTrainer:
    """The trainer part: ``start`` / ``resume`` a run, ``job_of`` / ``all_jobs`` / ``stop`` it, watchers."""

    def __init__(
        self,
        kind: str,
        store,
        data: RoomData,
        limits: RoomLimits,
        models: ModelCache,
        process: ProcessId,
        notify: Callable[[str, str], None],
        workers: int | None = None,
    ):
        self.store, self.data, self.limits, self.models, self.process = store, data, limits, models, process
        self._notify = notify
        self._lock = threading.RLock()
        self._jobs: dict[tuple[str, str], RoomJob] = {}  # (student, page) → the latest job
        self._by_id: dict[str, RoomJob] = {}
        self._watchers: dict[str, set[tuple[str, str]]] = {}  # job id → {(session id, fragment key)}
        self._room_watchers: set[tuple[str, str]] = set()  # (session, fragment) refreshed on any change
        self._closed = threading.Event()
        self.default_accuracy: Callable[[], float | None] = lambda: None  # the room sets it: Draw's fallback
        self.trainer = make_trainer(kind, store, data, workers, self._job_changed, limits)
        self.kind = self.trainer.name
        if not isinstance(self.trainer, LocalTrainer):  # news from another process: asked for
            threading.Thread(target=self._poll_forever, name="room-trainer-poll", daemon=True).start()

    @property
    def scheduler(self):
        """The in-process trainer's scheduler (None for a trainer elsewhere)."""
        return getattr(self.trainer, "scheduler", None)

    # ----------------------------------------------------------------- starting

    def start(
        self,
        student: str,
        page: str,
        name: str,
        spec: dict,
        config: dict,
        *,
        data: str = "mnist",
        images: int = 0,
        table: tuple | None = None,
        meta: dict | None = None,
        details: dict | None = None,
        resume: tuple[str, bytes | None] | None = None,
    ) -> RoomJob:
        """File the run as *running* and hand it to the trainer (``RuntimeError`` while this
        student's previous run on the page still trains). ``resume`` = (stored run id, its state)."""
        with self._lock:
            current = self._jobs.get((student, page))
            if current is not None and not current.job.done:
                raise RuntimeError("this student is already training a run on this page")
        meta = {**(meta or {}), "page": page, "trainer": self.kind, **self.process.meta()}
        if data == "mnist":
            meta.setdefault("dataset", "mnist")
            meta.setdefault("source", self.data.mnist().source)
            meta.setdefault("images", images)
        pruned: list = []
        if resume is None:
            record, pruned = self.store.save_checkpoint(
                student,
                run_id=None,
                name=name,
                status="running",
                spec=spec,
                config=config,
                history=History().to_dict(),
                accuracy=None,
                weights=b"",
                resume_state=None,
                meta=meta,
            )
            run_id, state = record.id, None
        else:  # the row is this process's now: nobody marks it interrupted for the dead one's sake
            run_id, state = resume
            record = self.store.get_run(run_id, student)
            self.store.save_checkpoint(
                student,
                run_id=run_id,
                name=record.name,
                status="running",
                spec=record.spec,
                config=record.config,
                history=record.history,
                accuracy=record.accuracy,
                weights=self.store.weights(run_id, student) or b"",
                resume_state=state,
                meta=meta,
            )
        request = RunRequest(
            run_id=run_id,
            owner=student,
            name=name,
            spec=spec,
            config=config,
            data=data,
            images=images,
            table=table,
            max_busy_s=self.limits.run_seconds,
            resume_state=state,
            meta=meta,
        )
        entry = RoomJob(JobView(self.trainer, request), student, page, name, details or {}, pruned=tuple(pruned))
        entry.resumed = resume is not None
        try:
            # filed and submitted as one step for readers: nobody finds an entry its trainer does
            # not know yet, and the job's first news waits for its entry
            with self._lock:
                current = self._jobs.get((student, page))
                if current is not None and not current.job.done:  # a second press got here first
                    raise RuntimeError("this student is already training a run on this page")
                self._jobs[(student, page)] = entry
                self._by_id[run_id] = entry
                try:
                    self.trainer.submit(request)
                except Exception:
                    self._by_id.pop(run_id, None)
                    if self._jobs.get((student, page)) is entry:
                        del self._jobs[(student, page)]
                    raise
        except Exception:
            if resume is None:
                self.store.delete_run(run_id, student)
            else:
                self.store.set_status(run_id, "interrupted", student)
            _log.exception("run %s of student %s could not start (trainer %s)", run_id, student[:8], self.kind)
            raise
        _log.info(
            "run %s %s: student %s, page %s, trainer %s",
            run_id,
            "resumed" if resume is not None else "started",
            student[:8],
            page,
            self.kind,
        )
        return entry

    def resume(self, student: str, run_id: str, page: str = "train", details: dict | None = None) -> RoomJob | None:
        """Carry on the student's interrupted run from its last checkpoint (None: no such run)."""
        record = self.store.get_run(run_id, student)
        if record is None or record.status != "interrupted" or record.meta.get("dataset", "mnist") != "mnist":
            return None
        state = self.store.resume_state(run_id, student)
        self.models.forget_model(run_id)
        return self.start(
            student,
            page,
            record.name,
            record.spec,
            record.config,
            data="mnist",
            images=int(record.meta.get("images", 0)),
            meta={k: v for k, v in record.meta.items() if k not in ("process", "host", "pid", "trainer")},
            details=details,
            resume=(run_id, state),
        )

    # ----------------------------------------------------------------- reading and stopping

    def job_of(self, student: str, page: str) -> RoomJob | None:
        with self._lock:
            found = self._jobs.get((student, page))
        if found is None and page == "train" and not isinstance(self.trainer, LocalTrainer):
            found = self.adopt(student, page)
        return found

    def adopt(self, student: str, page: str) -> RoomJob | None:
        """The student's run that trains on the cluster but was started by another app process (a
        replica that died, or the one a proxy no longer sends this browser to): taken into this
        process's jobs, so its live panel shows here with its whole curve. None when there is none."""
        running = [
            r
            for r in self.store.runs_with_status(("running",), owner=student)
            if r.meta.get("page") == page and r.meta.get("trainer") == self.kind
        ]
        for record in sorted(running, key=lambda r: r.created, reverse=True):
            if record.id not in self.trainer.snapshots([record.id]):
                continue  # the cluster does not train it (any more): the reaper's to mark
            request = RunRequest(
                run_id=record.id,
                owner=student,
                name=record.name,
                spec=record.spec,
                config=record.config,
                data="mnist",
                images=int(record.meta.get("images", 0)),
                max_busy_s=self.limits.run_seconds,
                meta=record.meta,
            )
            images = int(record.meta.get("images", 0)) or self.data.images_per_run()
            details = {"spec": ModelSpec.from_dict(record.spec), "images": images}
            entry = RoomJob(JobView(self.trainer, request), student, page, record.name, details)
            with self._lock:
                if (student, page) in self._jobs:  # another tab adopted it meanwhile
                    return self._jobs[(student, page)]
                self._jobs[(student, page)] = entry
                self._by_id[record.id] = entry
            _log.info("run %s adopted: student %s, page %s, trainer %s", record.id, student[:8], page, self.kind)
            return entry
        return None

    def all_jobs(self) -> list[RoomJob]:
        """Every student's latest job per page, newest first (the teacher's view)."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda e: e.started, reverse=True)

    def stop(self, entry: RoomJob) -> None:
        entry.job.stop_requested = True
        self.trainer.stop(entry.job.id)
        _log.info("run %s stop asked: student %s, trainer %s", entry.job.id, entry.student[:8], self.kind)

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

    def forget_sessions(self, sessions: list[str]) -> None:
        closed = set(sessions)
        with self._lock:
            for watchers in self._watchers.values():
                watchers -= {w for w in watchers if w[0] in closed}
            self._room_watchers -= {w for w in self._room_watchers if w[0] in closed}

    # ----------------------------------------------------------------- the end of a run

    def _job_changed(self, job_id: str) -> None:
        with self._lock:
            entry = self._by_id.get(job_id)
        if entry is None:
            return
        snap = entry.job.snapshot()
        if snap.done and not entry.filed.is_set():
            try:
                self._file_run(entry, snap)
            finally:
                entry.filed.set()
        with self._lock:
            targets = set(self._watchers.get(job_id, ())) | self._room_watchers
        for session_id, key in targets:
            self._notify(session_id, key)

    def _file_run(self, entry: RoomJob, snap: JobSnapshot) -> None:
        """What the run became: a kept run (Draw's model unless picked otherwise) or nothing."""
        run_id, student = entry.job.id, entry.student
        usable = snap.status in ("finished", "stopped") and snap.step > 0
        error = getattr(self.trainer, "checkpoint_error", lambda _: None)(run_id)
        try:
            if usable and error is None:
                entry.run_id = run_id
                model = entry.job.model
                if model is not None:
                    self.models.remember_model(run_id, model)
                else:
                    self.models.forget_model(run_id)
                if entry.job.request.meta.get("dataset") == "mnist":
                    self._offer_to_draw(student, run_id, snap.history.final_accuracy)
            elif snap.status == "diverged" or snap.step == 0:
                self.store.delete_run(run_id, student)  # nothing worth keeping (diverged weights are NaN)
        except (StoreError, OSError) as store_error:  # a full disk must not take the trainer down
            error = store_error
        entry.save_error = error
        how = {"finished": "finished", "stopped": "stopped"}.get(snap.status, snap.status)
        if snap.status == "failed":
            _log.error("run %s failed: student %s, trainer %s", run_id, student[:8], self.kind, exc_info=snap.error)
        else:
            _log.info("run %s %s at step %d: student %s, trainer %s", run_id, how, snap.step, student[:8], self.kind)
        if error is not None:
            _log.error("run %s of student %s was not kept", run_id, student[:8], exc_info=error)

    def _offer_to_draw(self, student: str, run_id: str, accuracy: float | None) -> None:
        """A new MNIST run becomes the student's active model unless they picked one or it is far
        worse than the model Draw has now (their active run, else the default model)."""
        active, picked = self.store.get_active(student)
        current = self.store.get_run(active, student) if active else None
        if current is not None and current.meta.get("dataset", "mnist") != "mnist":
            current = None
        if picked and current is not None:
            return
        reference = current.accuracy if current is not None else self.default_accuracy()
        if not far_below(accuracy, reference):
            self.store.set_active(student, run_id, picked=False)

    # ----------------------------------------------------------------- the reconnect window

    def stop_absent(self, here: set[str], away_since: Callable[[str, float], float], now: float, window: float):
        """Stop the runs of students away longer than the window; returns the entries stopped."""
        with self._lock:
            running = [e for e in self._jobs.values() if not e.job.done]
        stopped = [e for e in running if e.student not in here and now - away_since(e.student, now) >= window]
        for entry in stopped:
            self.stop(entry)
        return stopped

    def let_go(self, here: set[str], away_since: Callable[[str, float], float], now: float, window: float) -> int:
        """Forget the ended jobs of students gone longer than the window (their runs are stored):
        what a class leaves behind is released, and the next class reuses that memory."""
        gone = 0
        with self._lock:
            for key, entry in list(self._jobs.items()):
                if entry.filed.is_set() and entry.job.done and entry.student not in here:
                    if now - away_since(entry.student, now) >= window:
                        del self._jobs[key]
                        self._by_id.pop(entry.job.id, None)
                        self._watchers.pop(entry.job.id, None)
                        getattr(self.trainer, "forget", lambda _: None)(entry.job.id)
                        gone += 1
        return gone

    # ----------------------------------------------------------------- a trainer elsewhere

    def _poll_forever(self) -> None:
        versions: dict[str, int] = {}
        while not self._closed.wait(POLL_S):
            with self._lock:
                ids = [job_id for job_id, e in self._by_id.items() if not e.filed.is_set()]
            try:
                news = self.trainer.snapshots(ids, versions)
            except Exception:  # a trainer elsewhere may be away a moment: say so, ask again
                _log.exception("the %s trainer could not be asked for progress", self.kind)
                continue
            for job_id, snap in news.items():
                versions[job_id] = snap.version
                self._job_changed(job_id)

    def close(self) -> None:
        self._closed.set()
        self.trainer.close()


# --------------------------------------------------------------------------- after a crash


def mark_interrupted(
    store, kind: str, process: ProcessId, live_processes: set[str] | None, held: set[str] = frozenset()
) -> list[str]:
    """Runs the store holds as *running* for a trainer of this kind whose process is gone become
    *interrupted* (their last checkpoint is kept); returns their ids.

    A process is gone when it ran on this machine and its pid no longer runs (or is ours, from an
    earlier life), or, elsewhere, when it has no heartbeat within ``PROCESS_ALIVE_S``. A run of a
    live process, or of another kind of trainer, is left alone, and so is a run the trainer still
    ``held`` (a Ray cluster keeps training the runs of an app process that died).
    """
    marked = []
    for record in store.runs_with_status(("running",)):
        meta = record.meta
        if meta.get("trainer", LocalTrainer.name) != kind or meta.get("process") == process.id:
            continue
        if record.id in held:
            continue
        if meta.get("host") == process.host and isinstance(meta.get("pid"), int):
            gone = meta["pid"] == process.pid or not pid_alive(meta["pid"])
        else:
            gone = live_processes is not None and meta.get("process") not in live_processes
        if gone and store.set_status(record.id, "interrupted", record.owner):
            marked.append(record.id)
            _log.warning(
                "run %s interrupted at epoch %s: student %s, its process %s is gone (trainer %s)",
                record.id,
                meta.get("epochs_done", 0),
                record.owner[:8],
                meta.get("process", "?"),
                kind,
            )
    return marked
