"""Helpers for tests that train on a room: small jobs, a gate that holds a job mid-run, tab states.

A ``Gate`` keeps a run training for exactly as long as a test needs (no sleeps, no timing);
``finish`` and ``settled`` wait, with a deadline, for the room to have dealt with a run's end.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from core.models import ModelSpec
from core.trainers.local import LocalTrainer
from core.training import TrainConfig
from playground.room import Room

SMALL_SPEC = ModelSpec(hidden_sizes=(8,))
SMALL_IMAGES = 256


class Gate:
    """Lets a model train ``free`` batches, then holds the next one until ``allow``/``open``:
    a run that trains exactly as long as a test needs.

    A forward pre-hook, so the model and its checkpoint stay the real ones.
    """

    def __init__(self, free_batches: int = 0):
        self.allowed = free_batches
        self.calls = 0
        self.held_at: int | None = None  # the batch (1-based) waiting at the gate
        self._opened = False
        self._cond = threading.Condition()

    def attach(self, model):
        model.register_forward_pre_hook(self._hook)
        return model

    def _hook(self, module, args):
        if not module.training:
            return
        with self._cond:
            self.calls += 1
            while not self._opened and self.calls > self.allowed:
                self.held_at = self.calls
                self._cond.notify_all()
                if not self._cond.wait(60):
                    break
            self.held_at = None

    def wait_held(self, batch: int, timeout: float = 20.0) -> None:
        """Until training batch ``batch`` waits at the gate."""
        with self._cond:
            assert self._cond.wait_for(lambda: self.held_at == batch, timeout), f"batch {batch} never arrived"

    def allow(self, batches: int) -> None:
        with self._cond:
            self.allowed += batches
            self._cond.notify_all()

    def open(self) -> None:
        with self._cond:
            self._opened = True
            self._cond.notify_all()


class TabState:
    """What the room asks about a browser tab: connected (True/False/None) and whether it still exists."""

    def __init__(self):
        self.connected: dict[str, bool | None] = {}
        self.existing: dict[str, bool] = {}

    def is_connected(self, session_id: str) -> bool | None:
        return self.connected.get(session_id, True)

    def exists(self, session_id: str) -> bool:
        return self.existing.get(session_id, True)


def wait_until(condition, timeout: float = 20.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


HOOKS: dict[str, Callable] = {}  # a run's token → what to do to its model as it is built


class HookedTrainer(LocalTrainer):
    """The in-process trainer, with a test's hook run on a run's model as it is built (a gate that
    holds it mid-run, a hook that makes it diverge or fail): the model and its checkpoints stay real."""

    def build(self, request):
        job = super().build(request)
        hook = HOOKS.pop(request.meta.get("test_hook", ""), None)
        if hook is not None:
            hook(job.model)
        return job


def hooked_trainer(store, data, workers, on_change, limits):
    return HookedTrainer(store, data.pairs, workers, on_change=on_change)


def small_config(epochs: int = 1, log_every: int = 10, lr: float = 0.01) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=64, log_every=log_every, lr=lr)


def train(
    room: Room,
    student: str,
    page: str = "train",
    name: str = "run",
    gate: Gate | None = None,
    before=None,
    epochs: int = 1,
    log_every: int = 10,
    spec=SMALL_SPEC,
    lr: float = 0.01,
    seed: int = 0,
):
    """Start a small run (the lecture's loop, a tiny MLP, 256 images) for ``student`` on ``page``
    through the room's trainer; ``gate`` holds it, ``before(model)`` runs first. Returns the entry."""
    token = secrets.token_hex(6)

    def hook(model):
        if gate is not None:
            room.gates.append(gate)
            gate.attach(model)
        if before is not None:
            before(model)

    HOOKS[token] = hook
    config = replace(small_config(epochs, log_every, lr), seed=seed)
    return room.trainer.start(
        student,
        page,
        name,
        spec.to_dict(),
        config.to_dict(),
        data="mnist",
        images=SMALL_IMAGES,
        meta={"test_hook": token},
        details={"spec": spec},
    )


def finish(entry, timeout: float = 30.0):
    """Wait until the job ended and the room dealt with its end (stored it or not)."""
    assert entry.job.wait(timeout), "the job did not end"
    assert entry.filed.wait(5), "the room did not deal with the job's end"
    return entry


def settled(room: Room, entry, timeout: float = 30.0):
    """``finish``, and the scheduler let go of the job: everything its end triggers has happened."""
    finish(entry, timeout)
    job = room.trainer.trainer.job(entry.job.id)
    wait_until(lambda: job not in room.scheduler.jobs(), timeout, "the scheduler to drop the job")
    return entry
