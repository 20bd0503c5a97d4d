"""The in-process trainer: runs take fair turns on this machine's cores (``core.scheduler``).

A ``RunRequest`` becomes a ``TrainingJob``: the model built from its spec and seed, the data
the first ``images`` rows of this process's MNIST (or the request's table), and, for a resumed
run, the loop's kept state. The worker thread that trains a job writes its checkpoint into the
store at every epoch's end and when it ends (``checkpoint_to_store``): weights, history and the
resume state, so a process killed mid-run leaves every run at its last epoch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np
import torch

from core.checkpoint import checkpoint_bytes
from core.jobs import JobSnapshot, TrainingJob
from core.models import ModelSpec, build_model
from core.scheduler import Scheduler
from core.trainers.base import RunRequest, checkpoint_to_store, load_state, state_bytes
from core.training import Pair, TrainConfig, pick_device

NAME = "in-process"
_log = logging.getLogger(__name__)


class LocalTrainer:
    """``Trainer`` on this process's scheduler threads; ``job(id)`` also hands out the live job."""

    name = NAME

    def __init__(
        self,
        store,
        mnist: Callable[[], tuple[Pair, Pair]],
        workers: int | None = None,
        *,
        scheduler: Scheduler | None = None,
        on_change: Callable[[str], None] | None = None,
    ):
        """``mnist()`` → (train, test) normalized pairs, loaded once by the caller; ``on_change(job_id)``
        is called from the training thread whenever a job has something new (after its checkpoint)."""
        self.store = store
        self.scheduler = scheduler if scheduler is not None else Scheduler(workers=workers)
        self._mnist = mnist
        self._on_change = on_change
        self._lock = threading.Lock()
        self._jobs: dict[str, tuple[RunRequest, TrainingJob]] = {}
        self._ended: set[str] = set()  # jobs that ended (their final checkpoint is being written)
        self._in_store: set[str] = set()  # jobs whose end is in the store (final checkpoint written or failed)
        self._errors: dict[str, BaseException] = {}  # job id → why its last checkpoint failed

    # ----------------------------------------------------------------- the Trainer interface

    def submit(self, request: RunRequest, priority: bool = False) -> str:
        job = self.build(request)
        with self._lock:
            current = self._jobs.get(request.run_id)
            if current is not None and not current[1].done:
                raise RuntimeError(f"run {request.run_id} is already training")
            self._jobs[request.run_id] = (request, job)
            self._ended.discard(request.run_id)
            self._in_store.discard(request.run_id)
            self._errors.pop(request.run_id, None)
        self.scheduler.submit(job, priority=priority)
        return job.id

    def snapshots(self, job_ids: list[str], newer_than: dict[str, int] | None = None) -> dict[str, JobSnapshot]:
        found = {}
        for job_id in job_ids:
            job = self.job(job_id)
            if job is None:
                continue
            snap = job.snapshot()
            if newer_than is None or snap.version > newer_than.get(job_id, -1):
                found[job_id] = snap
        return found

    def stop(self, job_id: str) -> None:
        job = self.job(job_id)
        if job is not None:
            self.scheduler.stop(job)

    def running(self) -> list[str]:
        with self._lock:
            return [job_id for job_id, (_, job) in self._jobs.items() if not job.done]

    def close(self) -> None:
        """Stop the workers. Runs not yet ended keep their last epoch's checkpoint, *running* in the
        store, until a room marks them interrupted (the next start, or another process)."""
        with self._lock:
            self._closing = True
        self.scheduler.shutdown()

    # ----------------------------------------------------------------- in-process extras

    _closing = False

    def job(self, job_id: str) -> TrainingJob | None:
        with self._lock:
            found = self._jobs.get(job_id)
        return found[1] if found is not None else None

    def request(self, job_id: str) -> RunRequest | None:
        with self._lock:
            found = self._jobs.get(job_id)
        return found[0] if found is not None else None

    def ended_in_store(self, job_id: str) -> bool:
        """Whether the run ended and the store says so: its final checkpoint was written (or failed,
        ``checkpoint_error``). Its snapshot says *done* a moment before."""
        with self._lock:
            return job_id in self._in_store

    def checkpoint_error(self, job_id: str) -> BaseException | None:
        with self._lock:
            return self._errors.get(job_id)

    def forget(self, job_id: str) -> None:
        """Let go of an ended job (its run is in the store)."""
        with self._lock:
            found = self._jobs.get(job_id)
            if found is not None and found[1].done:
                del self._jobs[job_id]
                self._ended.discard(job_id)
                self._in_store.discard(job_id)
                self._errors.pop(job_id, None)

    def build(self, request: RunRequest) -> TrainingJob:
        """The request as a job: model from spec + seed, data, budget, and the kept state to resume."""
        spec, config = ModelSpec.from_dict(request.spec), TrainConfig.from_dict(request.config)
        if request.data == "mnist":
            (X_train, y_train), test = self._mnist()
            n = request.images or len(y_train)
            train, device = (X_train[:n], y_train[:n]), pick_device()
        else:  # a student's table: the CPU, batches of a few rows are launch-bound on a GPU
            (train, test), device = _table_pairs(request.table), "cpu"
        resume = load_state(request.resume_state) if request.resume_state is not None else None
        return TrainingJob(
            build_model(spec, seed=config.seed),
            config,
            train,
            test,
            device=device,
            owner=request.owner,
            label=request.name,
            max_busy_s=request.max_busy_s,
            on_change=self._changed,
            job_id=request.run_id,
            resume_state=resume,
            on_epoch=self._epoch_ended,
        )

    # ----------------------------------------------------------------- checkpoints (training thread)

    def _epoch_ended(self, job: TrainingJob) -> None:
        if job.done:
            return
        state = job.resume_state()
        self._checkpoint(job, job.snapshot(), state_bytes(state) if state is not None else None)

    def _changed(self, job: TrainingJob) -> None:
        snap = job.snapshot()
        if snap.done:
            with self._lock:
                first = job.id not in self._ended
                self._ended.add(job.id)
            if first and not (self._closing and snap.status == "stopped"):
                self._checkpoint(job, snap, None)  # a run that ended needs no resume state
            with self._lock:
                self._in_store.add(job.id)
        if self._on_change is not None:
            self._on_change(job.id)

    def _checkpoint(self, job: TrainingJob, snap: JobSnapshot, resume: bytes | None) -> None:
        request = self.request(job.id)
        if request is None or self.store is None:
            return
        if snap.status == "diverged" or (snap.done and snap.step == 0):
            return  # no model worth keeping (a diverged one holds NaN); the room deletes the row
        started = time.perf_counter()
        try:
            spec = ModelSpec.from_dict(request.spec)
            weights = checkpoint_bytes(job.model, spec, job.config, snap.history)
            checkpoint_to_store(self.store, request, snap, weights, resume)
        except Exception as error:  # a full disk must not stop the training: the page says so
            _log.exception("checkpoint of run %s (student %s) failed", job.id, request.owner[:8])
            with self._lock:
                self._errors[job.id] = error
            return
        with self._lock:
            self._errors.pop(job.id, None)
        _log.debug("checkpoint of run %s at step %d in %.3f s", job.id, snap.step, time.perf_counter() - started)


def _table_pairs(table: tuple) -> tuple[Pair, Pair]:
    X_train, y_train, X_test, y_test = (np.asarray(a) for a in table)
    return (
        (torch.from_numpy(X_train.astype(np.float32)), torch.from_numpy(y_train.astype(np.int64))),
        (torch.from_numpy(X_test.astype(np.float32)), torch.from_numpy(y_test.astype(np.int64))),
    )
