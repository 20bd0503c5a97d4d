"""core.trainers.local: runs from RunRequests, checkpoints in the store at every epoch's end and at
the end, and a run carried on from its checkpoint trains the numbers of an uninterrupted one."""

import threading
import time

import numpy as np
import pytest
import torch

from core.checkpoint import load_checkpoint
from core.models import ModelSpec
from core.store import open_store
from core.trainers.base import RunRequest, Trainer, load_state, state_bytes
from core.trainers.local import LocalTrainer
from core.training import History, TrainConfig

SPEC = ModelSpec(hidden_sizes=(8,), in_features=6, num_classes=3)


def blobs(n=120, features=6, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    X = torch.randn(classes, features, generator=g)[y] * 2 + torch.randn(n, features, generator=g)
    return X.numpy(), y.numpy()


def table():
    X, y = blobs()
    return X[:90], y[:90], X[90:], y[90:]


@pytest.fixture
def store(tmp_path):
    opened = open_store(tmp_path / "runs.db")
    yield opened
    opened.close()


def new_run(store, config: TrainConfig, owner="ada", resume_state=None, run_id=None) -> RunRequest:
    if run_id is None:
        record, _ = store.save_checkpoint(
            owner,
            run_id=None,
            name="blobs",
            status="running",
            spec=SPEC.to_dict(),
            config=config.to_dict(),
            history=History().to_dict(),
            accuracy=None,
            weights=b"",
            resume_state=None,
            meta={"dataset": "table"},
        )
        run_id = record.id
    return RunRequest(
        run_id=run_id,
        owner=owner,
        name="blobs",
        spec=SPEC.to_dict(),
        config=config.to_dict(),
        data="table",
        table=table(),
        resume_state=resume_state,
        meta={"dataset": "table"},
    )


def no_mnist():
    raise AssertionError("a table run never reads MNIST")


def numbers(history: History) -> dict:
    """A history without its wall-clock seconds (no two runs share those)."""
    d = history.to_dict()
    d["epochs"] = [{k: v for k, v in e.items() if k != "seconds"} for e in d["epochs"]]
    return d


def test_a_run_is_checkpointed_at_every_epoch_and_when_it_ends(store):
    seen = []
    trainer = LocalTrainer(store, no_mnist, workers=1)
    assert isinstance(trainer, Trainer) and trainer.name == "in-process"
    original = trainer._epoch_ended

    def spy(job):
        original(job)
        record = store.get_run(job.id)
        seen.append((record.status, len(record.history["epochs"]), store.resume_state(job.id) is not None))

    trainer._epoch_ended = spy
    try:
        config = TrainConfig(epochs=3, batch_size=16, lr=0.05, log_every=2, seed=3)
        request = new_run(store, config)
        job_id = trainer.submit(request)
        assert job_id == request.run_id and trainer.running() == [job_id]
        job = trainer.job(job_id)
        job.on_epoch = spy  # the job was built with the original; watch what each epoch leaves
        assert job.wait(60)
        snap = trainer.snapshots([job_id])[job_id]
    finally:
        trainer.close()
    assert snap.status == "finished" and trainer.running() == []
    assert seen[:2] == [("running", 1, True), ("running", 2, True)]
    record = store.get_run(job_id)
    assert record.status == "finished" and len(record.history["epochs"]) == 3
    assert record.accuracy == pytest.approx(snap.history.final_accuracy)
    assert store.resume_state(job_id) is None  # a finished run keeps none
    stored = load_checkpoint(store.weights(job_id))
    for a, b in zip(stored.model.parameters(), job.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_snapshots_newer_than_a_version_are_the_only_ones_returned(store):
    trainer = LocalTrainer(store, no_mnist, workers=1)
    try:
        request = new_run(store, TrainConfig(epochs=1, batch_size=16))
        trainer.submit(request)
        assert trainer.job(request.run_id).wait(60)
        snap = trainer.snapshots([request.run_id, "unknown"])[request.run_id]
        assert trainer.snapshots([request.run_id], {request.run_id: snap.version}) == {}
        assert set(trainer.snapshots([request.run_id], {request.run_id: snap.version - 1})) == {request.run_id}
    finally:
        trainer.close()


def test_a_run_interrupted_and_resumed_trains_the_numbers_of_an_uninterrupted_one(store):
    config = TrainConfig(epochs=30, batch_size=8, lr=0.05, momentum=0.9, log_every=3, seed=5)
    whole = LocalTrainer(store, no_mnist, workers=1)
    try:
        request = new_run(store, config)
        whole.submit(request)
        assert whole.job(request.run_id).wait(120)
        expected = whole.snapshots([request.run_id])[request.run_id].history
    finally:
        whole.close()

    first_epoch = threading.Event()
    crashed = LocalTrainer(store, no_mnist, workers=1, on_change=lambda _: first_epoch.set())
    request = new_run(store, config)
    crashed.submit(request)
    job = crashed.job(request.run_id)
    assert first_epoch.wait(60)
    while not job.snapshot().history.epochs:
        first_epoch.clear()
        assert first_epoch.wait(60)
    crashed.close()  # the process goes away mid-run: no final checkpoint is written
    record = store.get_run(request.run_id)
    assert record.status == "running"
    epochs_kept = len(record.history["epochs"])
    assert 1 <= epochs_kept < config.epochs
    state = store.resume_state(request.run_id)
    assert load_state(state)["epoch"] == epochs_kept

    resumed = LocalTrainer(store, no_mnist, workers=1)
    try:
        again = new_run(store, config, resume_state=state, run_id=request.run_id)
        resumed.submit(again)
        first = resumed.snapshots([again.run_id])[again.run_id]
        assert len(first.history.epochs) == epochs_kept  # the curve so far, before a new batch
        assert resumed.job(again.run_id).wait(120)
        got = resumed.snapshots([again.run_id])[again.run_id]
    finally:
        resumed.close()
    assert got.status == "finished"
    assert numbers(got.history) == numbers(expected)
    assert store.get_run(again.run_id).status == "finished"


def test_a_stored_resume_state_is_read_without_unpickling(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("unpickled!",))

    with pytest.raises(ValueError):
        load_state(state_bytes({"x": Evil()}))
    assert load_state(state_bytes({"x": torch.ones(2), "n": 3, "s": "a", "l": [1.0, None]}))["n"] == 3


def test_a_table_request_needs_its_table():
    with pytest.raises(ValueError):
        RunRequest("r1", "ada", "x", SPEC.to_dict(), TrainConfig().to_dict(), data="table")
    with pytest.raises(ValueError):
        RunRequest("r1", "ada", "x", SPEC.to_dict(), TrainConfig().to_dict(), data="csv")
    assert RunRequest("r1", "ada", "x", {}, {"epochs": 3}, data="mnist").epochs == 3
    assert np.asarray(table()[0]).shape == (90, 6)


class HeldStore:
    """The store, with the run's final checkpoint (the row that says it ended) held until released."""

    def __init__(self, store):
        self._store = store
        self.writing_end = threading.Event()
        self.release = threading.Event()

    def save_checkpoint(self, owner, **row):
        if row["status"] != "running":
            self.writing_end.set()
            assert self.release.wait(60)
        return self._store.save_checkpoint(owner, **row)

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_a_run_is_ended_in_store_only_once_its_final_checkpoint_is_written(store):
    held = HeldStore(store)
    trainer = LocalTrainer(held, no_mnist, workers=1)
    try:
        request = new_run(store, TrainConfig(epochs=1, batch_size=16))
        trainer.submit(request)
        assert held.writing_end.wait(60)
        snap = trainer.snapshots([request.run_id])[request.run_id]
        assert snap.done and store.get_run(request.run_id).status == "running"
        assert not trainer.ended_in_store(request.run_id)  # done, but the store does not say so yet
        held.release.set()
        deadline = time.monotonic() + 60
        while not trainer.ended_in_store(request.run_id) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert trainer.ended_in_store(request.run_id)
        assert store.get_run(request.run_id).status == "finished"
    finally:
        held.release.set()
        trainer.close()
