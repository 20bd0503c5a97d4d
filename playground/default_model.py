"""The default model: Draw always has a model to predict with, even before a student trained one.

The lecture's MLP, trained with Adam for about 120,000 samples (two epochs of the full MNIST,
twenty of the shipped subset). It is trained once per machine and kept as a checkpoint in the
data folder, so later server starts load it in milliseconds; it is retrained only when that
file is missing, unreadable, or was made from another data source. Preparing it starts with the
room, in the background, so a class arriving on Draw finds it ready.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from core.checkpoint import CheckpointError, checkpoint_bytes, load_checkpoint
from core.idx import write_atomically
from core.jobs import JobSnapshot, TrainingJob
from core.models import ModelSpec, build_model
from core.training import History, TrainConfig

DEFAULT_SAMPLES = 120_000  # the first training: 5-10 s on one core
DEFAULT_SPEC = ModelSpec()  # the lecture's 784-512-256-128-64-10 ReLU
STATUSES = ("waiting", "loading", "training", "ready", "failed")  # a DefaultState's; the home page words each
FILE = "default-model-{data}.pt"  # "full" (cache, download or mirror: the same bytes) or "subset"


def default_config(n_train: int, samples: int = DEFAULT_SAMPLES) -> TrainConfig:
    """Enough epochs to see about ``samples`` images; Adam, because it learns fastest in so few steps."""
    if n_train < 1:
        raise ValueError(f"need at least one training image, got {n_train}")
    epochs = max(1, math.ceil(samples / n_train))
    # log_every large: the default model's loss curve is never shown, only its accuracy.
    return TrainConfig(epochs=epochs, batch_size=64, lr=1e-3, momentum=0.0, seed=0, log_every=10_000, optimizer="adam")


@dataclass(frozen=True)
class DefaultState:
    """Where the default model is: ``ready`` with a model, ``training`` with progress, or ``failed``."""

    status: str  # one of STATUSES
    model: torch.nn.Module | None = None
    history: History | None = None
    progress: JobSnapshot | None = None
    error: BaseException | None = None
    from_disk: bool = False

    @property
    def ready(self) -> bool:
        return self.status == "ready"


class DefaultModel:
    """Loads the kept checkpoint or trains it once (on the room's scheduler, ahead of everyone)."""

    def __init__(self, room, samples: int = DEFAULT_SAMPLES):
        self.room, self.samples = room, samples
        self._lock = threading.Lock()
        self._state = DefaultState("waiting")
        self._job: TrainingJob | None = None
        self._started = False

    def prepare(self) -> None:
        """Start loading or training in the background (once; again after a failure)."""
        with self._lock:
            if self._started and self._state.status != "failed":
                return
            self._started = True
            self._state = DefaultState("loading")
        threading.Thread(target=self._prepare, name="default-model", daemon=True).start()

    def state(self) -> DefaultState:
        with self._lock:
            state, job = self._state, self._job
        if state.status == "training" and job is not None:
            return DefaultState("training", progress=job.snapshot())
        return state

    def path(self, source: str) -> Path:
        return self.room.data_dir / FILE.format(data="subset" if source == "subset" else "full")

    # ----------------------------------------------------------------- in the background

    def _prepare(self) -> None:
        try:
            mnist = self.room.mnist()
            config = default_config(len(mnist.train_labels), self.samples)
            kept = self._load(self.path(mnist.source), config)
            if kept is not None:
                self._set(DefaultState("ready", model=_frozen(kept[0]), history=kept[1], from_disk=True))
                return
            self._train(mnist, config)
        except Exception as error:  # MNIST missing, disk full: the page says so and offers the others
            logging.getLogger("playground.default_model").exception("the default model could not be prepared")
            self._set(DefaultState("failed", error=error))

    def _load(self, path: Path, config: TrainConfig):
        """The kept model if it is ours: same spec, trained the same way on this data source."""
        if not path.is_file():
            return None
        try:
            checkpoint = load_checkpoint(path)
        except CheckpointError:
            return None  # unreadable: train it again and write a good one
        if checkpoint.spec != DEFAULT_SPEC or checkpoint.config != config or checkpoint.history is None:
            return None
        return checkpoint.model, checkpoint.history

    def _train(self, mnist, config: TrainConfig) -> None:
        job = TrainingJob(
            build_model(DEFAULT_SPEC, seed=0), config, mnist.train, mnist.test, device="cpu", label="default model"
        )
        with self._lock:
            self._job = job
            self._state = DefaultState("training")
        if self.room.trainer_kind == "in-process":
            self.room.scheduler.submit(job, priority=True)  # ahead of the class: Draw needs it first
            job.wait()
        else:  # the class trains elsewhere: this one job trains here, on this thread
            job.run_to_end()
        snapshot = job.snapshot()
        if snapshot.status != "finished":
            raise RuntimeError(snapshot.message)
        write_atomically(self.path(mnist.source), checkpoint_bytes(job.model, DEFAULT_SPEC, config, snapshot.history))
        self._set(DefaultState("ready", model=_frozen(job.model), history=snapshot.history))

    def _set(self, state: DefaultState) -> None:
        with self._lock:
            self._state = state
            if state.status in ("ready", "failed"):
                self._job = None


def _frozen(model: torch.nn.Module) -> torch.nn.Module:
    """Shared by every visitor: eval mode and no gradients, so nobody can train it by accident."""
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model
