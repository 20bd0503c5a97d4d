"""What every trainer shares: a run as a request, the trainer's interface, and its checkpoints.

A trainer trains students' runs somewhere — threads of this process (``core.trainers.local``)
or a cluster — and the app talks to every one of them the same way: it files a ``RunRequest``
(everything needed to build and train the run, picklable so it can travel to another process),
reads ``JobSnapshot``s, and asks for a stop. The side that trains writes the run into the store
at every epoch's end and when it ends (``checkpoint_to_store``), so an app process that dies
loses nothing: the run is there, *interrupted* at its last epoch, with what ``resume`` needs.

Resume states are ``torch.save`` of plain tensors, numbers, strings, lists and dicts, read back
with ``torch.load(weights_only=True)``: a stored state is never unpickled as arbitrary objects.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol, runtime_checkable

import torch

from core.errors import CodedError
from core.jobs import JobSnapshot

DATA_KINDS = ("mnist", "table")
# A job's status → the stored run's status: a run the trainer still holds is "running" in the store.
STORE_STATUS = MappingProxyType(
    {
        "queued": "running",
        "running": "running",
        "finished": "finished",
        "stopped": "stopped",
        "diverged": "failed",
        "failed": "failed",
    }
)
MAX_RESUME_STATE_BYTES = 512 * 2**20  # a resume state is about 3× the weights; this is far above any model allowed


class ResumeStateError(CodedError, ValueError):
    """A kept resume state that cannot be read back."""

    templates = MappingProxyType({"resume.unreadable": "the run's kept training state cannot be read: {reason}"})


@dataclass(frozen=True)
class RunRequest:
    """Everything a trainer anywhere needs to build and train one run (picklable)."""

    run_id: str  # the store's id: checkpoints land on that row
    owner: str  # the student id
    name: str
    spec: dict  # ModelSpec.to_dict()
    config: dict  # TrainConfig.to_dict()
    data: str  # "mnist" (the worker's own copy, first ``images`` rows) or "table"
    images: int = 0  # mnist: training images to use (0 = all)
    table: tuple | None = None  # "table": (X_train, y_train, X_test, y_test) numpy arrays
    max_busy_s: float | None = None
    resume_state: bytes | None = None  # continue an interrupted run from its checkpoint
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.data not in DATA_KINDS:
            raise ValueError(f"data must be one of {DATA_KINDS}, got {self.data!r}")
        if self.data == "table" and (self.table is None or len(self.table) != 4):
            raise ValueError("a table run needs (X_train, y_train, X_test, y_test)")

    @property
    def epochs(self) -> int:
        return int(self.config.get("epochs", 0))


@runtime_checkable
class Trainer(Protocol):
    """Trains runs; the room holds one per process and speaks to it only through this."""

    name: str  # "in-process" | "ray"

    def submit(self, request: RunRequest, priority: bool = False) -> str:
        """Start (or queue) the run; returns its job id (== ``request.run_id``)."""

    def snapshots(self, job_ids: list[str], newer_than: dict[str, int] | None = None) -> dict[str, JobSnapshot]:
        """The jobs' progress; with ``newer_than`` only those whose version grew past it."""

    def stop(self, job_id: str) -> None:
        """End the job soon, keeping what it trained."""

    def running(self) -> list[str]:
        """Job ids this trainer trains or queues."""

    def close(self) -> None:
        """Let go of the workers (runs still training stay *running* in the store until marked)."""


# --------------------------------------------------------------------------- resume states


def state_bytes(state: dict) -> bytes:
    """A resume state (plain tensors, numbers, strings, lists, dicts) as bytes."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def load_state(data: bytes) -> dict:
    """Bytes from ``state_bytes`` back into a dict, safely (``weights_only=True``)."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) > MAX_RESUME_STATE_BYTES:
        raise ResumeStateError("resume.unreadable", reason="not a resume state")
    try:
        state = torch.load(io.BytesIO(bytes(data)), map_location="cpu", weights_only=True)
    except Exception as error:  # any unreadable file: one named error for the caller to show
        raise ResumeStateError("resume.unreadable", reason=f"{type(error).__name__}: {error}") from None
    if not isinstance(state, dict):
        raise ResumeStateError("resume.unreadable", reason="not a dict")
    return state


# --------------------------------------------------------------------------- checkpoints


def checkpoint_to_store(store, request: RunRequest, job_snapshot_or_state, weights: bytes, resume_state: bytes | None):
    """Write the run's row as it is now: status, history, accuracy, weights, resume state.

    ``job_snapshot_or_state`` is a ``JobSnapshot`` (its status is mapped to the store's) or a
    ``(store_status, history)`` pair for a trainer that keeps its own state. The row is updated
    in place (``request.run_id``); returns the ``StoredRun``. Written by the side that trains, at
    every epoch's end and when the run ends.
    """
    if isinstance(job_snapshot_or_state, JobSnapshot):
        status, history = STORE_STATUS[job_snapshot_or_state.status], job_snapshot_or_state.history
    else:
        status, history = job_snapshot_or_state
    meta = {**request.meta, "epochs_done": len(history.epochs), "checkpointed": time.time()}
    record, _ = store.save_checkpoint(
        request.owner,
        run_id=request.run_id,
        name=request.name,
        status=status,
        spec=request.spec,
        config=request.config,
        history=history.to_dict(),
        accuracy=history.final_accuracy,
        weights=weights,
        resume_state=resume_state,
        meta=meta,
    )
    return record
