"""A student's runs: what the Train, Draw and Teacher pages list, compare and predict with.

The runs live in the room's store (``core.store``), filed under the student's id, so a reload,
a second tab or a server restart shows the same list and the same active model. A ``Run`` is
the stored record plus its parsed history and, on demand, its model — both read once per
server and kept, since a stored run never changes except for its name and sharing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

from core.checkpoint import check_mnist_classifier, checkpoint_bytes, load_checkpoint
from core.models import ModelSpec, layer_table
from core.store import StoredRun
from core.training import History, TrainConfig, final_analysis
from playground.room import Room, get_room

MNIST = "mnist"
LISTED = ("finished", "stopped", "interrupted")  # a run still training shows on its page's live panel


@dataclass(frozen=True)
class Run:
    """One stored run, read-only; ``model`` and ``history`` load when first used."""

    record: StoredRun
    room: Room

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def origin(self) -> str:
        return self.record.origin

    @property
    def owner(self) -> str:
        return self.record.owner

    @property
    def created(self) -> float:
        return self.record.created

    @property
    def shared_as(self) -> str | None:
        return self.record.shared_as

    @property
    def accuracy(self) -> float | None:
        """The run's one score: its final model on the test set (``History.final_accuracy``)."""
        return self.record.accuracy

    @cached_property
    def spec(self) -> ModelSpec:
        return ModelSpec.from_dict(self.record.spec)

    @cached_property
    def config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.record.config)

    @property
    def status(self) -> str:
        """ "finished", "stopped" or "interrupted" (a server stopped while it trained; Resume on Train)."""
        return self.record.status

    @property
    def epochs_done(self) -> int:
        """Epochs trained and kept (an interrupted run's last checkpoint)."""
        return int(self.record.meta.get("epochs_done", len(self.history.epochs)))

    @property
    def history(self) -> History:
        return self.room.history(self.id, self.record)

    @property
    def model(self) -> torch.nn.Module:
        return self.room.model(self.id)

    @cached_property
    def parameters(self) -> int:
        return sum(layer.params for layer in layer_table(self.spec))


def _room(room: Room | None) -> Room:
    return room if room is not None else get_room()


def list_runs(student: str, room: Room | None = None, dataset: str = MNIST) -> list[Run]:
    """The student's runs on ``dataset``, oldest first (histories are not read for a list)."""
    room = _room(room)
    return [
        Run(r, room)
        for r in room.store.list_runs(student, history=False)
        if r.meta.get("dataset", MNIST) == dataset and r.status in LISTED and r.size_bytes > 0
    ]


def get_run(student: str, run_id: str | None, room: Room | None = None) -> Run | None:
    room = _room(room)
    record = room.store.get_run(run_id, student) if run_id else None
    return Run(record, room) if record is not None else None


def active_run(student: str, room: Room | None = None) -> Run | None:
    """The model Draw predicts with: the one the student picked, else the newest MNIST run."""
    room = _room(room)
    run_id, _ = room.store.get_active(student)
    run = get_run(student, run_id, room)
    if run is not None and run.record.meta.get("dataset", MNIST) == MNIST and run.record.size_bytes > 0:
        return run
    runs = list_runs(student, room)
    return runs[-1] if runs else None


def picked_run(student: str, room: Room | None = None) -> bool:
    """True when the student chose the active model themselves (a new run then does not take over)."""
    return _room(room).store.get_active(student)[1]


def set_active(student: str, run_id: str | None, room: Room | None = None, picked: bool = True) -> bool:
    return _room(room).store.set_active(student, run_id, picked)


def rename_run(student: str, run_id: str, name: str, room: Room | None = None) -> bool:
    return _room(room).store.rename_run(run_id, student, name)


def delete_run(student: str, run_id: str, room: Room | None = None) -> bool:
    room = _room(room)
    deleted = room.store.delete_run(run_id, student)
    if deleted:
        room.forget_model(run_id)
    return deleted


def share_run(student: str, run_id: str, nickname: str | None, room: Room | None = None) -> bool:
    """Show the run on the class board under ``nickname`` (None withdraws it)."""
    return _room(room).store.share_run(run_id, student, nickname)


def add_uploaded(
    student: str, data: bytes, file_name: str, room: Room | None = None, activate: bool = True
) -> tuple[Run, list]:
    """A checkpoint file as one of the student's runs; ``CheckpointError`` saying why if unusable.

    The file's own history may describe another test set (the full MNIST when this server runs
    on the subset), so the look-inside analysis is recomputed on this server's test set.
    """
    room = _room(room)
    checkpoint = load_checkpoint(data)
    check_mnist_classifier(checkpoint.spec)
    history = checkpoint.history if checkpoint.history is not None else History()
    X, y = room.mnist().test
    final_analysis(checkpoint.model, X, y, history)
    config = checkpoint.config if checkpoint.config is not None else TrainConfig()
    stem = file_name.rsplit(".", 1)[0] or file_name
    record, pruned = room.store.add_run(
        student,
        name=stem[:80],
        origin="uploaded",
        status="finished",
        spec=checkpoint.spec.to_dict(),
        config=config.to_dict(),
        history=history.to_dict(),
        accuracy=history.final_accuracy,
        weights=checkpoint_bytes(checkpoint.model, checkpoint.spec, config, history),
        meta={"dataset": MNIST, "file": file_name},
    )
    room.remember_model(record.id, checkpoint.model)
    if activate:  # chosen on purpose: a later run does not take over (the student can switch back)
        room.store.set_active(student, record.id, picked=True)
    return Run(record, room), pruned


def download_bytes(run: Run) -> bytes:
    """The run's checkpoint file as stored (weights, spec, settings, curves)."""
    return run.room.store.weights(run.id, run.owner) or b""


def file_name(run: Run) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run.name).strip("._") or "run"
    return f"{safe[:60]}.pt"
