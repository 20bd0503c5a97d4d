"""The Ray trainer: the room's runs trained by long-lived worker actors on a Ray cluster.

Switched on by one setting, ``SOFTMAX_PLAYGROUND_RAY``: ``auto`` attaches to the Ray running on
this machine or starts one (all its cores, no dashboard) that outlives the app process; any
other value is a cluster address (``ray://host:10001`` or ``host:6379``). Unset, the room trains
in its own process and nothing here is imported.

What keeps it fair and cheap is the in-process design, one level up:

- **Long-lived workers, not an actor per run.** A torch process costs ~300 MB; one
  ``TrainerWorker`` actor per core (``num_cpus=1``, one torch thread) holds the same round-robin
  ``core.scheduler.Scheduler`` the in-process trainer uses, with one worker thread, so the runs it
  holds take turns of ``SLICE_S``. Placing a run is choosing the worker with the fewest active runs.
- **MNIST once per node.** The ``Ledger`` actor puts the normalized arrays into Ray's object
  store once; a worker maps them from its node's copy (NumPy arrays out of the object store are
  zero-copy views of shared memory), so thirty runs on a node share one copy.
- **Progress is read, not pushed.** An app process asks each worker once per tick for the
  snapshots of the runs its tabs watch that are newer than the versions it has
  (``TrainerWorker.snapshots``): one call per worker per tick, never one per run.
- **Control is a method call** on the worker holding the run: ``control(job_id, {"action": "stop"})``.
- **Nothing lost when a process dies.** Workers and the ledger are *detached, named* actors in
  ``NAMESPACE``: an app process that dies stops nothing, and any other app process finds them by
  name. Every run is checkpointed into the run store by the worker (``checkpoint_to_store``) at
  every epoch's end and when it ends; the ledger remembers which worker holds which run. A worker
  that dies is restarted by Ray (``max_restarts``) and takes its runs back from their last
  checkpoint (or from the start when none was written yet); a run that cannot go on — it killed
  its worker ``MAX_RESUMES`` times, or the store has nothing to resume it from — ends *failed* in
  the store with what it trained kept. None is silently gone.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import ray
import torch

from core import data as mnist_data
from core.jobs import JobSnapshot
from core.scheduler import SLICE_S, Scheduler
from core.training import Pair

log = logging.getLogger(__name__)

RAY_ENV = "SOFTMAX_PLAYGROUND_RAY"  # "auto" or a cluster address; unset = the in-process trainer
NAMESPACE = "softmax-playground"  # the detached actors live here, found by name by every app process
LEDGER_NAME = "ledger"
WORKER_PREFIX = "worker-"
MAX_RESUMES = 3  # a run that killed its worker this often is not restarted again: it ends failed
VERSION_STRIDE = 1_000_000  # a resumed run's versions continue above everything it reported before
KEEP_ENDED_S = 15 * 60.0  # an ended run's last snapshot stays readable this long (the reconnect window)
STEERING = ("pause", "resume", "step", "step_epoch", "set_hyper")  # run controls a worker passes on
CALL_TIMEOUT_S = 30.0  # a submit, stop or placement answer (a loaded laptop answers in seconds)
SNAPSHOT_TIMEOUT_S = 0.8  # a tick's reads: a worker that is restarting does not hold up the others
START_TIMEOUT_S = 60.0  # `ray start --head` on a busy laptop
FRESH_S = 1.0  # a snapshot read this recently answers a page's read (the room's poll reads 4× a second)
# what changes between two versions of a run (the version grows with a point of the curve, an epoch
# or a status): read every time, so the step counter and the room's throughput are never a point behind
PROGRESS = ("step", "epoch", "samples", "samples_per_s", "eta_s", "sharing", "queue_position", "busy_s", "window")
# where the workers read MNIST from when no app process sent it (the same as the app's)
PASSED_ENV = (mnist_data.SOURCES_ENV, mnist_data.DATA_DIR_ENV)


class RayTrainerError(RuntimeError):
    """The Ray cluster cannot be reached or started, or refuses what the trainer asks."""


# --------------------------------------------------------------------------- the setting


def ray_setting(environ: Mapping[str, str] | None = None) -> str:
    """The value of ``SOFTMAX_PLAYGROUND_RAY`` ("" when the in-process trainer is wanted)."""
    environ = os.environ if environ is None else environ
    return environ.get(RAY_ENV, "").strip()


def connect(setting: str, num_cpus: int | None = None) -> bool:
    """Join the Ray cluster ``setting`` names; True when this call connected (False: already was).

    ``auto`` attaches to the Ray already running on this machine, else starts one with ``ray
    start --head`` (its own processes, so the runs outlive the app process; ``ray stop`` ends it).
    """
    if ray.is_initialized():
        return False
    options = {
        "namespace": NAMESPACE,
        "runtime_env": runtime_env(),
        "log_to_driver": False,
        "logging_level": logging.WARNING,
    }
    if setting != "auto":
        ray.init(address=setting, **options)
        return True
    try:
        ray.init(address="auto", **options)
    except ConnectionError:
        start_local_head(num_cpus)
        ray.init(address="auto", **options)
    return True


def start_local_head(num_cpus: int | None = None) -> None:
    """``ray start --head`` on this machine: every core (or ``num_cpus``), no dashboard."""
    cpus = num_cpus or len(os.sched_getaffinity(0))
    ray_cli = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
    command = [ray_cli] if ray_cli else [sys.executable, "-m", "ray.scripts.scripts"]
    command += ["start", "--head", f"--num-cpus={cpus}", "--include-dashboard=false", "--disable-usage-stats"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT_S)
    if done.returncode != 0:
        raise RayTrainerError(f"`ray start --head` failed: {done.stderr.strip()[-500:]}")


def start_local(num_cpus: int) -> None:
    """A Ray of this process only (tests, benchmarks): ``num_cpus`` cores, no dashboard; it ends
    with this process or ``ray.shutdown()``."""
    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        namespace=NAMESPACE,
        runtime_env=runtime_env(),
        log_to_driver=False,
        logging_level=logging.WARNING,
    )


def runtime_env() -> dict:
    """The project's ``core`` package shipped to the workers (so any node runs the same code);
    a job-level setting, given to ``ray.init``: the detached actors keep it."""
    passed = {name: os.environ[name] for name in PASSED_ENV if os.environ.get(name)}
    return {"py_modules": [str(Path(__file__).resolve().parents[1])], "env_vars": {"OMP_NUM_THREADS": "1", **passed}}


# --------------------------------------------------------------------------- the data, once per node


@dataclass(frozen=True)
class MnistArrays:
    """Normalized MNIST as NumPy arrays (Ray maps NumPy zero-copy out of its object store)."""

    train_X: np.ndarray  # [N, 1, 28, 28] float32
    train_y: np.ndarray  # [N] int64
    test_X: np.ndarray  # [M, 1, 28, 28] float32
    test_y: np.ndarray  # [M] int64
    source: str = ""

    @classmethod
    def load(cls) -> MnistArrays:
        """Read MNIST on this node as the app does (``core.data``'s sources, the test split from the same)."""
        train = mnist_data.load_mnist_split(train=True)
        test = mnist_data.load_mnist_split(train=False, sources=(train.source,))
        train_X, test_X = mnist_data.normalize(train.images), mnist_data.normalize(test.images)
        return cls.from_tensors((train_X, train.labels), (test_X, test.labels), train.source)

    @classmethod
    def from_tensors(cls, train: tuple, test: tuple, source: str = "") -> MnistArrays:
        return cls(*(t.numpy() for t in (*train, *test)), source=source)

    def key(self) -> tuple:
        return (self.source, len(self.train_y), len(self.test_y))

    def train(self, images: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``images`` training images (0 = all), as tensors sharing the arrays' memory."""
        n = images or len(self.train_y)
        return _tensor(self.train_X[:n]), _tensor(self.train_y[:n])

    def test(self) -> tuple[torch.Tensor, torch.Tensor]:
        return _tensor(self.test_X), _tensor(self.test_y)


def _tensor(array: np.ndarray) -> torch.Tensor:
    # Read-only shared memory: training only reads its data (a batch is a gathered copy), so the
    # tensor may share it; torch warns about writability, which nothing here uses.
    if not array.flags.writeable:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return torch.from_numpy(array)
    return torch.from_numpy(array)


# --------------------------------------------------------------------------- the ledger actor


class Ledger:
    """Who holds which run, and the MNIST arrays in the object store (one per cluster, detached).

    It owns the object it puts, so the data lives as long as the ledger, not as long as the app
    process that sent it. Placement and recovery read and write here; no training happens here.
    """

    def __init__(self, mnist: MnistArrays | None):
        self._mnist_key = mnist.key() if mnist is not None else None
        self._mnist_ref = ray.put(mnist) if mnist is not None else None
        self._placed: dict[str, tuple[str, object]] = {}  # run id → (worker name, RunRequest)
        self._resumes: dict[str, int] = {}  # run id → times it was taken back after its worker died
        self._workers: list[str] = []

    def mnist(self) -> list:
        """``[ObjectRef]`` of the arrays (a list, so the caller gets the reference, not a copy);
        read on this node the first time when no app process sent them."""
        if self._mnist_ref is None:
            self.set_mnist(MnistArrays.load())
        return [self._mnist_ref]

    def mnist_key(self) -> tuple | None:
        return self._mnist_key

    def set_mnist(self, mnist: MnistArrays) -> None:
        self._mnist_key, self._mnist_ref = mnist.key(), ray.put(mnist)

    def register_workers(self, names: list[str]) -> None:
        self._workers = sorted(set(self._workers) | set(names))

    def workers(self) -> list[str]:
        return list(self._workers)

    def place(self, request) -> str:
        """The worker with the fewest runs gets ``request`` (ties: the first by name)."""
        if not self._workers:
            raise RayTrainerError("no trainer worker is registered")
        if request.run_id in self._placed:
            return self._placed[request.run_id][0]
        load = {name: 0 for name in self._workers}
        for name, _ in self._placed.values():
            if name in load:
                load[name] += 1
        chosen = min(self._workers, key=lambda name: (load[name], name))
        self._placed[request.run_id] = (chosen, request)
        return chosen

    def request(self, run_id: str):
        """The ``RunRequest`` of a run placed and not ended (None otherwise)."""
        found = self._placed.get(run_id)
        return found[1] if found is not None else None

    def where(self, run_ids: list[str]) -> dict[str, str]:
        return {run_id: self._placed[run_id][0] for run_id in run_ids if run_id in self._placed}

    def ended(self, run_id: str) -> None:
        self._placed.pop(run_id, None)
        self._resumes.pop(run_id, None)

    def placed_on(self, worker: str) -> list[tuple[object, int]]:
        """(request, times resumed so far) of every run placed on ``worker``: what it must take back."""
        return [
            (request, self._resumes.get(run_id, 0))
            for run_id, (name, request) in self._placed.items()
            if name == worker
        ]

    def resumed(self, run_id: str) -> int:
        self._resumes[run_id] = self._resumes.get(run_id, 0) + 1
        return self._resumes[run_id]

    def running(self) -> list[str]:
        return list(self._placed)

    def load(self) -> dict[str, int]:
        load = {name: 0 for name in self._workers}
        for name, _ in self._placed.values():
            load[name] = load.get(name, 0) + 1
        return load


# --------------------------------------------------------------------------- the worker actor


class TrainerWorker:
    """One core's trainer: the in-process trainer (``core.trainers.local``) on a one-thread
    ``Scheduler``, so the runs it holds take turns of ``slice_s``; it checkpoints them into the
    store it opens itself, and tells the ledger when one ends."""

    def __init__(self, name: str, store_target: str, slice_s: float = SLICE_S):
        from core.store import open_store
        from core.trainers.local import LocalTrainer

        torch.set_num_threads(1)
        self.name = name
        self._lock = threading.Lock()
        self._mnist: MnistArrays | None = None
        self._version_base: dict[str, int] = {}  # run id → added to its versions (a resumed run's grow on)
        self._ended_at: dict[str, float] = {}  # run id → when it ended (kept readable a while)
        self._ledger = ray.get_actor(LEDGER_NAME, namespace=NAMESPACE)
        self._store = open_store(store_target)
        self._trainer = LocalTrainer(
            self._store, self._mnist_pairs, scheduler=Scheduler(workers=1, slice_s=slice_s), on_change=self._changed
        )
        self._take_back()

    # ------------------------------------------------------------ called by app processes

    def pid(self) -> int:
        return os.getpid()

    def submit(self, request, priority: bool = False) -> tuple[str, JobSnapshot]:
        """Take the run; returns its job id and first snapshot (a reader never meets it unknown)."""
        job_id = self._trainer.submit(request, priority)
        log.info("run %s of student %s started on %s", request.run_id, request.owner[:8], self.name)
        return job_id, self._travelling_snapshot(job_id, self._trainer.snapshots([job_id])[job_id])

    def snapshots(self, job_ids: list[str], newer_than: dict[str, int] | None = None) -> dict[str, JobSnapshot | dict]:
        """What the app process does not know yet of those of ``job_ids`` this worker holds: the whole
        snapshot of a run whose version grew past ``newer_than``, else only its ``PROGRESS`` fields
        (the step counter moves between two points of the curve; the history need not travel again)."""
        newer_than = newer_than or {}
        self._forget_old()
        found: dict[str, JobSnapshot | dict] = {}
        for job_id, snap in self._trainer.snapshots(job_ids).items():
            if snap.done and not self._trainer.ended_in_store(job_id):
                # Not yet: an app process would file the run while the store still had it running
                # (its status, and the weights Draw reads, those of the last epoch's checkpoint).
                continue
            if self._version(job_id, snap) > newer_than.get(job_id, -1):
                found[job_id] = self._travelling_snapshot(job_id, snap)
            elif not snap.done:
                found[job_id] = {field: getattr(snap, field) for field in PROGRESS}
        return found

    def _version(self, job_id: str, snap: JobSnapshot) -> int:
        """The run's version as the app process counts it: it grows on across a resume."""
        return self._version_base.get(job_id, 0) + snap.version

    def _travelling_snapshot(self, job_id: str, snap: JobSnapshot) -> JobSnapshot:
        """The snapshot as the app process gets it: its version grown on, its error one that pickles."""
        return dataclasses.replace(snap, version=self._version(job_id, snap), error=_travelling(snap.error))

    def control(self, job_id: str, message: dict) -> bool:
        """A message for the run ``job_id``: ``{"action": "stop"}``, or a run control with its arguments
        (``{"action": "set_hyper", "kwargs": {"lr": 0.05}}``); False when this worker does not hold it."""
        if self._trainer.job(job_id) is None:
            return False
        action = message.get("action")
        if action == "stop":
            self._trainer.stop(job_id)
            return True
        if action in STEERING:  # the same messages the in-process scheduler takes (pause, step, …)
            job = self._trainer.job(job_id)
            getattr(self._trainer.scheduler, action)(job, *message.get("args", ()), **message.get("kwargs", {}))
            return True
        raise RayTrainerError(f"unknown control message {message!r}")

    def running(self) -> list[str]:
        return self._trainer.running()

    # ------------------------------------------------------------ inside

    def _mnist_pairs(self) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """This node's copy of MNIST, mapped from the object store once per worker."""
        with self._lock:
            if self._mnist is None:
                (ref,) = ray.get(self._ledger.mnist.remote())
                self._mnist = ray.get(ref)
            return self._mnist.train(), self._mnist.test()

    def _changed(self, job_id: str) -> None:
        """From the training thread, after the run's checkpoint: an ended run leaves the ledger."""
        job = self._trainer.job(job_id)
        if job is None or not job.done:
            return
        with self._lock:
            if job_id in self._ended_at:
                return
            self._ended_at[job_id] = time.monotonic()
        self._ledger.ended.remote(job_id)
        snap = job.snapshot()
        log.info("run %s of student %s %s on %s", job_id, job.owner[:8], snap.status, self.name)

    def _take_back(self) -> None:
        """After a restart: the runs the ledger placed here go on from their last checkpoint."""
        for request, resumes in ray.get(self._ledger.placed_on.remote(self.name)):
            run_id = request.run_id
            try:
                record = self._store.get_run(run_id)
                if record is not None and record.status != "running":
                    self._ledger.ended.remote(run_id)  # it ended (or was taken over) before the worker died
                    continue
                if resumes >= MAX_RESUMES:
                    self._give_up(request, f"its trainer died {resumes + 1} times while it trained")
                    continue
                state = self._store.resume_state(run_id)
                count = ray.get(self._ledger.resumed.remote(run_id))
                self._version_base[run_id] = count * VERSION_STRIDE
                self._trainer.submit(dataclasses.replace(request, resume_state=state))
                log.warning(
                    "run %s of student %s resumed on %s from %s",
                    run_id,
                    request.owner[:8],
                    self.name,
                    "its last checkpoint" if state is not None else "the start (no epoch had ended)",
                )
            except Exception as error:  # never silently gone: it ends failed with what it trained
                log.exception("run %s could not be resumed on %s", run_id, self.name)
                self._give_up(request, f"{type(error).__name__}: {error}")

    def _give_up(self, request, why: str) -> None:
        try:
            self._store.set_status(request.run_id, "failed")
        finally:
            self._ledger.ended.remote(request.run_id)
        log.error("run %s of student %s failed on %s: %s", request.run_id, request.owner[:8], self.name, why)

    def _forget_old(self) -> None:
        now = time.monotonic()
        with self._lock:
            old = [job_id for job_id, at in self._ended_at.items() if now - at > KEEP_ENDED_S]
            for job_id in old:
                del self._ended_at[job_id]
                self._version_base.pop(job_id, None)
        for job_id in old:
            self._trainer.forget(job_id)


def _travelling(error: BaseException | None) -> BaseException | None:
    """The error as it can cross to the app process: itself when it pickles, else its text."""
    if error is None:
        return None
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # not logged: an exception holding something that does not pickle is kept as its text
        return RuntimeError(f"{type(error).__name__}: {error}")


# --------------------------------------------------------------------------- the app's side


class RayTrainer:
    """The room's trainer on Ray: submit, read snapshots in batches, stop; runs outlive this object.

    ``mnist()`` → (train, test) normalized pairs, as for the in-process trainer; it is called
    only when the cluster's ledger holds no MNIST yet (the first app process to attach puts it
    there). ``workers`` defaults to one per CPU of the cluster.
    """

    name = "ray"

    def __init__(
        self,
        setting: str,
        store_target,
        mnist: Callable[[], tuple[Pair, Pair]] | None = None,
        workers: int | None = None,
        slice_s: float = SLICE_S,
    ):
        self.setting, self.store_target, self.slice_s = setting, str(store_target), slice_s
        self._mnist = mnist
        self._handles: dict = {}  # worker name → actor handle
        self._where: dict[str, str] = {}  # run id → worker name
        self._latest: dict[str, tuple[float, JobSnapshot]] = {}  # run id → (monotonic read time, snapshot)
        self._lock = threading.Lock()  # the fields above
        self._reading = threading.Lock()  # one read of the workers at a time
        self._connected = connect(setting)
        self._ledger = self._get_or_create_ledger()
        count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        names = [f"{WORKER_PREFIX}{i}" for i in range(count)]
        known = ray.get(self._ledger.workers.remote(), timeout=CALL_TIMEOUT_S)
        for worker_name in sorted(set(names) | set(known)):
            self._handles[worker_name] = self._get_or_create_worker(worker_name)
        ray.get(self._ledger.register_workers.remote(list(self._handles)), timeout=CALL_TIMEOUT_S)
        # a new worker imports torch and maps MNIST first: wait here, not in a student's first submit
        ray.get([handle.pid.remote() for handle in self._handles.values()], timeout=START_TIMEOUT_S)

    # ------------------------------------------------------------ the Trainer interface

    def submit(self, request, priority: bool = False) -> str:
        worker_name = ray.get(self._ledger.place.remote(request), timeout=CALL_TIMEOUT_S)
        self._where[request.run_id] = worker_name
        job_id, first = ray.get(self._handle(worker_name).submit.remote(request, priority), timeout=CALL_TIMEOUT_S)
        with self._lock:
            self._latest[job_id] = (time.monotonic(), first)
        return job_id

    def snapshots(self, job_ids: list[str], newer_than: dict[str, int] | None = None) -> dict[str, JobSnapshot]:
        """The jobs' snapshots (with ``newer_than``, only those whose version grew past it).

        With ``newer_than`` (the room's poll, a few times a second) every run not yet ended is read
        again: one call per worker holding any of them. Without it (a page, the stats) a snapshot
        read in the last ``FRESH_S`` answers; a stale one is read together with every other run
        this process follows, so thirty pages reading their own run cost one call per worker, not
        thirty. One read at a time: a page that finds a read under way waits for it rather than
        queueing calls of its own behind it at the workers (thirty pages doing so held the workers'
        answers back by seconds). An ended run's snapshot never changes; a restarting worker is
        skipped that time.
        """
        if self._stale(job_ids, newer_than is None):
            with self._reading:
                stale = self._stale(job_ids, newer_than is None)  # another thread may just have read them
                if stale:
                    self._read(stale)
        newer_than = newer_than or {}
        with self._lock:
            return {
                job_id: self._latest[job_id][1]
                for job_id in job_ids
                if job_id in self._latest and self._latest[job_id][1].version > newer_than.get(job_id, -1)
            }

    def _stale(self, job_ids: list[str], fresh_enough: bool) -> list[str]:
        """The runs to read again: those not ended (with ``fresh_enough``, only those not read in the
        last ``FRESH_S``, and then with every other run this process follows)."""
        now = time.monotonic()
        with self._lock:
            open_ids = [job_id for job_id in job_ids if job_id not in self._latest or not self._latest[job_id][1].done]
            if not fresh_enough:
                return open_ids
            stale = [j for j in open_ids if j not in self._latest or now - self._latest[j][0] > FRESH_S]
            if stale:  # the rest this process follows come along in the same calls
                stale += [j for j, (_, snap) in self._latest.items() if not snap.done and j not in stale]
            return stale

    def _read(self, job_ids: list[str]) -> None:
        """Ask each worker once for what changed in ``job_ids`` since the last read."""
        unknown = [job_id for job_id in job_ids if job_id not in self._where]
        if unknown:
            self._where.update(ray.get(self._ledger.where.remote(unknown), timeout=CALL_TIMEOUT_S))
        by_worker: dict[str, list[str]] = {}
        for job_id in job_ids:
            worker_name = self._where.get(job_id)
            if worker_name is not None:
                by_worker.setdefault(worker_name, []).append(job_id)
        with self._lock:
            known = {job_id: self._latest[job_id][1].version for job_id in job_ids if job_id in self._latest}
        calls = {
            self._handle(worker_name).snapshots.remote(ids, {i: known[i] for i in ids if i in known}): ids
            for worker_name, ids in by_worker.items()
        }
        if not calls:
            return
        ready, _ = ray.wait(list(calls), num_returns=len(calls), timeout=SNAPSHOT_TIMEOUT_S)
        read_at = time.monotonic()
        for ref in ready:
            try:
                news = ray.get(ref)
            except ray.exceptions.RayError:  # a worker that died: it takes its runs back when restarted
                continue
            with self._lock:
                for job_id in calls[ref]:
                    self._take(job_id, news.get(job_id), read_at)

    def _take(self, job_id: str, news: JobSnapshot | dict | None, read_at: float) -> None:
        """Keep what a worker said of a run (with ``_lock`` held): a newer snapshot, or the progress
        of the one this process has."""
        cached = self._latest.get(job_id)
        if isinstance(news, JobSnapshot):
            if cached is None or news.version >= cached[1].version:
                self._latest[job_id] = (read_at, news)
        elif cached is not None:  # unchanged since the last read, but for its progress
            self._latest[job_id] = (read_at, dataclasses.replace(cached[1], **news) if news else cached[1])

    def request(self, job_id: str):
        """The ``RunRequest`` of a run the cluster trains (None once it ended): another app process
        takes a student's run back by its id."""
        return ray.get(self._ledger.request.remote(job_id), timeout=CALL_TIMEOUT_S)

    def stop(self, job_id: str) -> None:
        self.control(job_id, {"action": "stop"})

    def control(self, job_id: str, message: dict) -> bool:
        worker_name = self._where.get(job_id) or ray.get(self._ledger.where.remote([job_id])).get(job_id)
        if worker_name is None:
            return False
        taken = ray.get(self._handle(worker_name).control.remote(job_id, message), timeout=CALL_TIMEOUT_S)
        with self._lock:
            if taken and job_id in self._latest:  # the page that sent it reads what it did, not a second-old copy
                self._latest[job_id] = (float("-inf"), self._latest[job_id][1])
        return taken

    def running(self) -> list[str]:
        return ray.get(self._ledger.running.remote(), timeout=CALL_TIMEOUT_S)

    def forget(self, job_id: str) -> None:
        """Drop what this process remembers of an ended run (the cluster forgets it on its own)."""
        with self._lock:
            self._latest.pop(job_id, None)
            self._where.pop(job_id, None)

    def close(self) -> None:
        """Let go of the cluster; the runs train on (they belong to the cluster, not this process)."""
        if self._connected and ray.is_initialized():
            ray.shutdown()
        self._connected = False

    # ------------------------------------------------------------ for operators and tests

    def worker_pids(self) -> dict[str, int]:
        return {name: ray.get(handle.pid.remote(), timeout=CALL_TIMEOUT_S) for name, handle in self._handles.items()}

    def load(self) -> dict[str, int]:
        return ray.get(self._ledger.load.remote(), timeout=CALL_TIMEOUT_S)

    def where(self, job_id: str) -> str | None:
        return ray.get(self._ledger.where.remote([job_id]), timeout=CALL_TIMEOUT_S).get(job_id)

    def shutdown_cluster_actors(self) -> None:
        """Kill the workers and the ledger (tests, and an operator ending a course): runs stop."""
        for handle in [*self._handles.values(), self._ledger]:
            ray.kill(handle, no_restart=True)
        self._handles.clear()

    # ------------------------------------------------------------ inside

    def _handle(self, worker_name: str):
        if worker_name not in self._handles:
            self._handles[worker_name] = ray.get_actor(worker_name, namespace=NAMESPACE)
        return self._handles[worker_name]

    def _get_or_create_ledger(self):
        try:
            ledger = ray.get_actor(LEDGER_NAME, namespace=NAMESPACE)
        except ValueError:
            ledger = (
                ray.remote(Ledger)
                .options(
                    name=LEDGER_NAME,
                    namespace=NAMESPACE,
                    lifetime="detached",
                    get_if_exists=True,
                    num_cpus=0,
                    max_restarts=0,
                )
                .remote(None)
            )
        if self._mnist is not None and ray.get(ledger.mnist_key.remote(), timeout=START_TIMEOUT_S) is None:
            train, test = self._mnist()
            ray.get(ledger.set_mnist.remote(MnistArrays.from_tensors(train, test)))
        return ledger

    def _get_or_create_worker(self, worker_name: str):
        return (
            ray.remote(TrainerWorker)
            .options(
                name=worker_name,
                namespace=NAMESPACE,
                lifetime="detached",
                get_if_exists=True,
                num_cpus=1,
                max_restarts=-1,
                max_task_retries=0,
            )
            .remote(worker_name, str(self.store_target), self.slice_s)
        )


def store_target_of(store) -> str:
    """Where the workers open the store: the SQLite file of ``store``, else the configured database."""
    from core.store import store_target

    path = getattr(store, "path", None)
    if path is not None:
        return str(path)
    return str(store_target(Path(".")))  # PostgreSQL: $SOFTMAX_PLAYGROUND_STORE, with its password


def make_trainer(
    store,
    limits=None,
    on_change: Callable[[str], None] | None = None,
    *,
    data=None,
    workers: int | None = None,
    setting: str | None = None,
) -> RayTrainer:
    """The room's Ray trainer for ``SOFTMAX_PLAYGROUND_RAY`` (or ``setting``), training into ``store``.

    ``data`` (the room's data part, with ``pairs()``) sends the app's MNIST to the cluster the
    first time; without it the cluster reads MNIST from the same sources itself. ``limits`` and
    ``on_change`` are not needed: the budget travels in each request, and news is read by the room
    (``snapshots``), never pushed from another process.
    """
    setting = setting if setting is not None else ray_setting()
    if not setting:
        raise RayTrainerError(f"{RAY_ENV} is not set: say 'auto' or a Ray cluster address")
    mnist = getattr(data, "pairs", None)
    return RayTrainer(setting, store_target_of(store), mnist=mnist, workers=workers)
