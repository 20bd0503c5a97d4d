"""Training in the background for the UI: ``TrainingJob`` and the ``TrainingQueue`` that limits them.

A Streamlit rerun stops the script, so a training loop inside it dies at the next click
(FINDINGS.md). A job runs ``fit`` on its own thread; the page polls ``snapshot()``, a copy made
under a lock, and never touches the live model or history while the job runs.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import torch
import torch.nn as nn

from core.training import (
    DivergedError,
    History,
    Pair,
    Progress,
    TrainConfig,
    device_label,
    fit,
    pick_device,
    steps_per_epoch,
)

JOB_STATUSES = ("queued", "running", "stopped", "finished", "diverged", "failed")
FINAL_STATUSES = ("stopped", "finished", "diverged", "failed")

# One intra-op thread per job. Measured on the 2-core target (FINDINGS.md): 2 threads are only
# 1.3-1.6× faster on an idle machine but 5-46× slower while another process is busy (OpenMP
# spin-waiting), and a classroom server is always busy; 1 thread stays steady at 4-6 s/epoch.
DEFAULT_THREADS = 1


# --------------------------------------------------------------------------- the queue


class TrainingQueue:
    """At most ``max_concurrent`` jobs train at once; the rest wait in FIFO order.

    An object, not module state: the app keeps one per process in ``st.cache_resource`` so
    a classroom of sessions cannot oversubscribe the CPU.
    """

    def __init__(self, max_concurrent: int = 1):
        if not isinstance(max_concurrent, int) or max_concurrent < 1:
            raise ValueError(f"max_concurrent must be a positive integer, got {max_concurrent!r}")
        self.max_concurrent = max_concurrent
        self._changed = threading.Condition()
        self._waiting: deque = deque()
        self._running: set = set()

    def acquire(self, job, cancelled=lambda: False) -> bool:
        """Block until ``job`` may train (True) or ``cancelled()`` turns true while it waits (False)."""
        with self._changed:
            self._waiting.append(job)
            try:
                while not self._may_start(job):
                    if cancelled():
                        return False
                    self._changed.wait(timeout=0.1)  # wake() is the fast path; this bounds a miss
                self._running.add(job)
                return True
            finally:
                self._waiting.remove(job)
                self._changed.notify_all()  # the next in line may move up or start

    def _may_start(self, job) -> bool:
        free = self.max_concurrent - len(self._running)
        return free > 0 and self._waiting.index(job) < free

    def release(self, job) -> None:
        with self._changed:
            self._running.discard(job)
            self._changed.notify_all()

    def wake(self) -> None:
        """Let waiting jobs re-check (e.g. after one was asked to stop)."""
        with self._changed:
            self._changed.notify_all()

    def position(self, job) -> int | None:
        """1-based place of a waiting job; None when it is not waiting."""
        with self._changed:
            try:
                return self._waiting.index(job) + 1
            except ValueError:
                return None

    @property
    def running(self) -> int:
        with self._changed:
            return len(self._running)

    @property
    def waiting(self) -> int:
        with self._changed:
            return len(self._waiting)


# --------------------------------------------------------------------------- the job


@dataclass(frozen=True)
class JobSnapshot:
    status: str  # one of JOB_STATUSES
    message: str
    step: int
    total_steps: int
    epoch: float  # fractional
    history: History  # a copy: safe to read while the job trains on
    samples_per_s: float | None
    eta_s: float | None
    queue_position: int | None  # 1-based while queued
    device: str  # device_label of where it trains

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def fraction(self) -> float:
        return self.step / self.total_steps if self.total_steps else 0.0


class TrainingJob:
    """``fit`` on a background thread: ``start()``, ``stop()``, ``snapshot()``, ``wait()``."""

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig,
        train: Pair,
        test: Pair,
        queue: TrainingQueue | None = None,
        device: torch.device | str | None = None,
        threads: int = DEFAULT_THREADS,
    ):
        config.validate()
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        self.model = model
        self.config = config
        self.train, self.test = train, test
        self.queue = queue
        self.device = torch.device(device) if device is not None else pick_device()
        self.threads = threads
        self._lock = threading.Lock()
        self._stop_requested = threading.Event()
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None
        # progress, written by the training thread under the lock
        self._status = "queued"
        self._message = "Waiting to start."
        self._step = 0
        self._total_steps = self._planned_steps_per_epoch() * config.epochs
        self._epoch = 0.0
        self._history = History()
        self._history_sizes = (0, 0)
        self._samples_per_s: float | None = None
        self._eta_s: float | None = None

    # ----------------------------------------------------------------- controls

    def start(self) -> "TrainingJob":
        if self._thread is not None:
            raise RuntimeError("this job has already been started")
        self._thread = threading.Thread(target=self._run, name="training-job", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the job to stop; it does so before its next batch (or leaves the queue)."""
        self._stop_requested.set()
        if self.queue is not None:
            self.queue.wake()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended; True if it has."""
        if self._thread is None:
            raise RuntimeError("start() the job before waiting for it")
        return self._finished.wait(timeout)

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            status = self._status
            position = self.queue.position(self) if self.queue is not None and status == "queued" else None
            return JobSnapshot(
                status=status,
                message=self._message,
                step=self._step,
                total_steps=self._total_steps,
                epoch=self._epoch,
                history=self._history.copy(),
                samples_per_s=self._samples_per_s,
                eta_s=self._eta_s,
                queue_position=position,
                device=device_label(self.device),
            )

    # ----------------------------------------------------------------- the thread

    def _run(self) -> None:
        admitted = False
        try:
            if self.queue is not None:
                self._set(message="Waiting for a free training slot.")
                admitted = self.queue.acquire(self, cancelled=self._stop_requested.is_set)
                if not admitted:
                    self._set(status="stopped", message="Stopped before it started.")
                    return
            self._set(status="running", message=f"Training on {device_label(self.device)}.")
            history = self._fit_with_threads()
            self._end_with(history)
        except DivergedError as error:
            self._set(status="diverged", history=error.history,
                      message=f"Diverged at step {error.step}: the loss became {error.loss}. "
                              f"Try a lower learning rate (lr = {self.config.lr:g} now).")
        except Exception as error:  # a failure must reach the UI, never vanish with the thread
            self._set(status="failed", message=f"Training failed: {type(error).__name__}: {error}")
        finally:
            self._leave_model_usable()
            if admitted:
                self.queue.release(self)
            self._finished.set()

    def _fit_with_threads(self) -> History:
        # OpenMP's thread count belongs to the calling thread, but torch also makes it the
        # default for threads started later, so the previous value is put back afterwards
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            return fit(self.model, self.config, self.train, self.test, self._on_progress,
                       self._stop_requested.is_set, self.device)
        finally:
            torch.set_num_threads(previous)

    def _end_with(self, history: History) -> None:
        accuracy = history.final_accuracy
        score = f" Test accuracy {accuracy:.2%}." if accuracy is not None else ""
        if history.stopped:
            self._set(status="stopped", history=history, message=f"Stopped at step {history.steps}.{score}")
        else:
            self._set(status="finished", history=history, eta_s=0.0,
                      message=f"Finished {self.config.epochs} epochs.{score}")

    def _leave_model_usable(self) -> None:
        # fit already restores eval mode and the original device; this also covers a failure
        # before fit began, and a model that arrived on a GPU goes back to the CPU for the UI
        try:
            self.model.to("cpu")
            self.model.eval()
        except Exception as error:
            self._set(status="failed", message=f"Training failed: could not move the model back: {error}")

    def _on_progress(self, p: Progress) -> None:
        rate = p.samples_seen / p.elapsed_s if p.elapsed_s > 0 else None
        steps_per_s = p.step / p.elapsed_s if p.elapsed_s > 0 else 0.0
        eta = (p.total_steps - p.step) / steps_per_s if steps_per_s > 0 else None
        sizes = (len(p.history.running_loss), len(p.history.epochs))
        with self._lock:
            self._step, self._total_steps, self._epoch = p.step, p.total_steps, p.epoch
            self._samples_per_s, self._eta_s = rate, eta
            if sizes != self._history_sizes:  # copy only when a point or an epoch was added
                self._history = p.history.copy()
                self._history_sizes = sizes

    def _set(self, history: History | None = None, **fields) -> None:
        with self._lock:
            for name, value in fields.items():
                setattr(self, f"_{name}", value)
            if history is not None:
                self._history = history.copy()
                self._history_sizes = (len(history.running_loss), len(history.epochs))
                self._step = history.steps
                self._epoch = history.steps / max(1, self._planned_steps_per_epoch())

    def _planned_steps_per_epoch(self) -> int:
        # bad data must surface as a failed job with fit's message, not break the constructor
        try:
            return steps_per_epoch(len(self.train[0]), self.config.batch_size)
        except Exception:
            return 0
