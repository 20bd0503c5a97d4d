"""A training run as a job: trained in slices by a scheduler, read by the UI through snapshots.

A Streamlit rerun stops the script, so a training loop inside a page dies at the next click.
A ``TrainingJob`` holds a ``TrainLoop``; ``core.scheduler.Scheduler`` gives it turns on a worker
thread (``run_slice``), and the page reads ``snapshot()``, a copy made under a lock, never the
live model or history. Status lines carry a code and parameters (``message_code``,
``message_params``) so the UI words them in its own language; ``message`` is the English.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType

import torch
import torch.nn as nn

from core.training import (
    DivergedError,
    History,
    Pair,
    Progress,
    TrainConfig,
    TrainLoop,
    device_label,
    pick_device,
    steps_per_epoch,
)

_log = logging.getLogger(__name__)

JOB_STATUSES = ("queued", "running", "stopped", "finished", "diverged", "failed")
FINAL_STATUSES = ("stopped", "finished", "diverged", "failed")

MESSAGES = MappingProxyType(
    {
        "job.queued": "Waiting to start.",
        "job.running": "Training on {device}.",
        "job.finished": "Finished {epochs} epochs. Test accuracy {accuracy:.2%}.",
        "job.stopped": "Stopped at step {step}. Test accuracy {accuracy:.2%}.",
        "job.stopped_early": "Stopped before it started.",
        "job.stopping": "Stopping: measuring the test accuracy of what it trained.",
        "job.budget": "Stopped at step {step}: the room's limit of {minutes:g} minutes of training per run was "
        "reached. Test accuracy {accuracy:.2%}.",
        "job.diverged": "Diverged at step {step}: the loss became {loss}.",
        "job.failed": "Training failed: {error}",
    }
)


@dataclass(frozen=True)
class JobSnapshot:
    status: str  # one of JOB_STATUSES
    message_code: str  # a key of MESSAGES
    message_params: dict
    step: int
    total_steps: int
    epoch: float  # fractional
    history: History  # a copy: safe to read while the job trains on
    version: int  # grows whenever the history gains a point, an epoch or the status changes
    samples: int  # training examples seen so far
    samples_per_s: float | None  # while it has its turn on a core
    eta_s: float | None  # honest: counts the turns it waits for while others share the cores
    sharing: int  # runs taking turns on the machine right now, this one included
    queue_position: int | None  # 1-based while waiting for a place among the active runs
    busy_s: float  # seconds of training so far
    device: str  # device_label of where it trains
    error: BaseException | None = None  # what made it fail (a CodedError where core knows why)

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def message(self) -> str:
        """The status line in English (the UI formats ``message_code`` in the user's language)."""
        return MESSAGES[self.message_code].format(**self.message_params)


@dataclass
class _State:
    status: str = "queued"
    code: str = "job.queued"
    params: dict = field(default_factory=dict)
    step: int = 0
    epoch: float = 0.0
    history: History = field(default_factory=History)
    samples: int = 0
    sizes: tuple[int, int] = (0, 0)
    version: int = 0
    samples_per_s: float | None = None
    eta_s: float | None = None
    sharing: int = 1
    position: int | None = None
    busy_s: float = 0.0
    error: BaseException | None = None


class TrainingJob:
    """One run: ``run_slice()`` trains it for a while, ``request_stop()`` ends it, ``snapshot()`` reads it.

    ``on_change(job)`` is called (from whichever thread trains it) when the history gains a
    point or an epoch, or the status changes: the app uses it to refresh the pages that show
    this run, and nothing else. ``max_busy_s`` caps the seconds of training it may take.
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig,
        train: Pair,
        test: Pair,
        device: torch.device | str | None = None,
        *,
        owner: str = "",
        label: str = "",
        max_busy_s: float | None = None,
        on_change: Callable[[TrainingJob], None] | None = None,
        job_id: str | None = None,
        resume_state: dict | None = None,
        on_epoch: Callable[[TrainingJob], None] | None = None,
    ):
        config.validate()
        self.id = secrets.token_hex(6)  # unique per process, not guessable from another student's
        if job_id is not None:  # a trainer names its jobs after their stored runs
            self.id = job_id
        self.resume_from = resume_state  # ``TrainLoop.resume_state()`` of an interrupted run, or None
        self.on_epoch = on_epoch  # called from the training thread at every epoch's end (checkpoints)
        self.model, self.config, self.train, self.test = model, config, train, test
        self.device = torch.device(device) if device is not None else pick_device()
        self.owner, self.label = owner, label
        self.max_busy_s = max_busy_s
        self.on_change = on_change
        self.created = time.time()
        self.total_steps = self._planned_steps()
        self._lock = threading.Lock()
        self._stop_requested = threading.Event()
        self._ended = threading.Event()
        self._loop: TrainLoop | None = None
        self._state = _State()
        if resume_state is not None:  # queued, it already shows its curve so far
            self._show_resumed(resume_state)

    # ----------------------------------------------------------------- controls

    def request_stop(self) -> None:
        """Ask the job to end; it does so before its next batch and keeps what it trained.

        Until then its status says so: ending takes one last evaluation, which waits for a core.
        """
        with self._lock:
            first = not self._stop_requested.is_set() and self._state.status not in FINAL_STATUSES
            self._stop_requested.set()
            if first and self._state.status == "running":
                s = self._state
                s.code, s.params, s.version = "job.stopping", {}, s.version + 1
        if first:
            self._changed()

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended; True if it has."""
        return self._ended.wait(timeout)

    @property
    def done(self) -> bool:
        return self._ended.is_set()

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            s = self._state
            return JobSnapshot(
                s.status,
                s.code,
                dict(s.params),
                s.step,
                self.total_steps,
                s.epoch,
                s.history.copy(),
                s.version,
                s.samples,
                s.samples_per_s,
                s.eta_s,
                s.sharing,
                s.position,
                s.busy_s,
                device_label(self.device),
                s.error,
            )

    def run_to_end(self, slice_s: float = 0.5) -> JobSnapshot:
        """Train in the calling thread until the job ends (tests, scripts): no scheduler needed."""
        while not self.run_slice(slice_s):
            pass
        return self.snapshot()

    # ----------------------------------------------------------------- for the scheduler

    def set_place(self, sharing: int, position: int | None = None) -> None:
        """The scheduler's news: how many runs share the machine, where this one waits."""
        with self._lock:
            self._state.sharing, self._state.position = sharing, position

    def run_slice(self, seconds: float, share: float = 1.0) -> bool:
        """Train for about ``seconds`` (at least one batch); True once the job has ended.

        ``share`` is how many turns go round before this job's next one (active runs per
        worker): the ETA counts the waiting too.
        """
        if self.done:
            return True
        if self._stop_requested.is_set():
            self._end_stopped()
            return True
        try:
            loop = self._loop or self._start()
            started = time.perf_counter()
            finished = loop.run(deadline=started + seconds, should_stop=self._stop_requested.is_set)
            self._account(time.perf_counter() - started, share)
            if finished:
                self._end(loop.finish(), "finished")
            elif self._stop_requested.is_set():
                self._end(loop.finish(stopped=True), "stopped")
            elif self.max_busy_s is not None and self._state.busy_s >= self.max_busy_s:
                self._end(loop.finish(stopped=True), "budget")
        except DivergedError as error:
            self._close_loop()
            self._finish("diverged", "job.diverged", {"step": error.step, "loss": error.loss}, error.history)
        except Exception as error:  # a failure must reach the UI, never vanish with the thread
            self._close_loop()
            self._finish("failed", "job.failed", {"error": f"{type(error).__name__}: {error}"}, None, error)
        return self.done

    # ----------------------------------------------------------------- inside

    def _start(self) -> TrainLoop:
        self._loop = TrainLoop(self.model, self.config, self.train, self.test, self.device, self._on_progress)
        if self.resume_from is not None:
            self._resume(self._loop, self.resume_from)
        self._update("running", "job.running", {"device": device_label(self.device)})
        return self._loop

    def _on_progress(self, p: Progress) -> None:
        sizes = (len(p.history.running_loss), len(p.history.epochs))
        grew = False
        with self._lock:
            s = self._state
            s.step, s.epoch, s.samples = p.step, p.epoch, p.samples_seen
            s.samples_per_s = p.samples_seen / p.elapsed_s if p.elapsed_s > 0 else None
            if sizes != s.sizes:  # copy only when a point or an epoch was added
                s.history, s.sizes, s.version = p.history.copy(), sizes, s.version + 1
                grew = True
        if grew:
            self._changed()
        if grew and self.on_epoch is not None and sizes[1] != self._epochs_told:
            self._epochs_told = sizes[1]
            self.on_epoch(self)

    _epochs_told = 0  # epochs ``on_epoch`` was called for (a resumed run starts at its own)

    def resume_state(self) -> dict | None:
        """The loop's ``resume_state()`` while it trains (call from the training thread: ``on_epoch``)."""
        return self._loop.resume_state() if self._loop is not None else None

    def _resume(self, loop: TrainLoop, state: dict) -> None:
        """Carry on an interrupted run: its loop from the kept state."""
        loop.restore(state)
        self._show_resumed(state)

    def _show_resumed(self, state: dict) -> None:
        """The kept run's history, step and training seconds so far (the budget counts them too)."""
        history = History.from_dict(state["history"])
        steps = max(1, self._planned_steps_per_epoch())
        self._epochs_told = len(history.epochs)
        with self._lock:
            s = self._state
            s.history, s.step, s.samples = history, history.steps, int(state["seen"])
            s.sizes = (len(history.running_loss), len(history.epochs))
            s.epoch = history.steps / steps
            s.busy_s = float(state["elapsed"])

    def _account(self, spent: float, share: float) -> None:
        with self._lock:
            s = self._state
            s.busy_s += spent
            if s.step:
                per_step = s.busy_s / s.step
                s.eta_s = (self.total_steps - s.step) * per_step * max(1.0, share)

    def _end(self, history: History, how: str) -> None:
        self._close_loop()
        accuracy = history.final_accuracy
        params = {"step": history.steps, "accuracy": accuracy if accuracy is not None else float("nan")}
        if how == "finished":
            self._finish("finished", "job.finished", {**params, "epochs": self.config.epochs}, history)
        elif how == "budget":
            self._finish("stopped", "job.budget", {**params, "minutes": (self.max_busy_s or 0) / 60}, history)
        else:
            self._finish("stopped", "job.stopped", params, history)

    def _end_stopped(self) -> None:
        if self._loop is None:
            self._finish("stopped", "job.stopped_early", {}, None)
        else:
            self._end(self._loop.finish(stopped=True), "stopped")

    def _close_loop(self) -> None:
        if self._loop is not None:
            self._loop.close()
            self._loop = None  # frees the optimizer's state (momentum buffers, Adam moments)

    def _finish(
        self, status: str, code: str, params: dict, history: History | None, error: BaseException | None = None
    ) -> None:
        with self._lock:
            s = self._state
            if history is not None:
                s.history, s.step = history.copy(), history.steps
                s.epoch = history.steps / max(1, self._planned_steps_per_epoch())
            s.status, s.code, s.params, s.error = status, code, params, error
            s.version += 1
            s.eta_s = 0.0 if status == "finished" else None
            s.position = None
        self.model.eval()
        self._ended.set()
        self._changed()

    def _update(self, status: str, code: str, params: dict) -> None:
        with self._lock:
            s = self._state
            s.status, s.code, s.params, s.version = status, code, params, s.version + 1
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change(self)
            except Exception:  # a listener's failure must not break the training: logged, training goes on
                _log.exception("a listener of job %s failed", self.id)

    def _planned_steps_per_epoch(self) -> int:
        # bad data must surface as a failed job with the loop's message, not break the constructor
        try:
            return steps_per_epoch(len(self.train[0]), self.config.batch_size)
        except Exception:  # not logged: the loop raises it again as the failed job's message
            return 0

    def _planned_steps(self) -> int:
        return self._planned_steps_per_epoch() * self.config.epochs
