"""The Ray trainer on a local Ray of 2 CPUs: runs train, report, stop, keep their budget, share a
worker fairly, outlive the app process that started them, and survive a worker killed mid-run.

Ray is a requirement of this file (``requirements-cluster.txt``): when it is missing the tests
fail, they are not skipped. ``make test-fast`` leaves them out (``-m "not ray"``): starting Ray and
its worker processes takes a while on a 2-core machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from core import data as mnist_data
from core.checkpoint import checkpoint_bytes, load_checkpoint
from core.models import ModelSpec, build_model
from core.trainers.base import RunRequest
from core.training import History, TrainConfig

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 180.0  # the longest any one wait may take before the test fails (a loaded 2-core machine)
SMALL = ModelSpec(kind="mlp", hidden_sizes=(32,))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray of this test process, 2 CPUs, shut down at the end of the module."""
    import ray  # a missing Ray is a failure here, never a skip

    from core.trainers import ray_trainer

    if not ray.is_initialized():
        ray_trainer.start_local(num_cpus=2)
    yield ray
    ray.shutdown()


def subset_pairs():
    train = mnist_data.load_mnist_split(train=True)
    test = mnist_data.load_mnist_split(train=False, sources=(train.source,))
    return (mnist_data.normalize(train.images), train.labels), (mnist_data.normalize(test.images), test.labels)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    return tmp_path_factory.mktemp("ray-store") / "runs.db"


@pytest.fixture(scope="module")
def store(store_path):
    from core.store import open_store

    opened = open_store(store_path)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def trainer(ray_cluster, store_path):
    from core.trainers.ray_trainer import RayTrainer

    made = RayTrainer("auto", store_path, mnist=subset_pairs, workers=2)
    yield made
    made.shutdown_cluster_actors()
    made.close()


def new_request(
    store, owner="s" * 16, epochs=2, images=600, max_busy_s=None, seed=0, name="run", lr=0.05, log_every=5
) -> RunRequest:
    """A run as the room files it: its row in the store first ("running"), then the request."""
    config = TrainConfig(epochs=epochs, batch_size=64, lr=lr, momentum=0.5, seed=seed, log_every=log_every)
    model = build_model(SMALL, seed=seed)
    record, _ = store.save_checkpoint(
        owner,
        run_id=None,
        name=name,
        status="running",
        spec=SMALL.to_dict(),
        config=config.to_dict(),
        history=History().to_dict(),
        accuracy=None,
        weights=checkpoint_bytes(model, SMALL, config, History()),
        resume_state=None,
        meta={"page": "train", "dataset": "mnist"},
    )
    return RunRequest(
        run_id=record.id,
        owner=owner,
        name=name,
        spec=SMALL.to_dict(),
        config=config.to_dict(),
        data="mnist",
        images=images,
        max_busy_s=max_busy_s,
        meta={"page": "train", "dataset": "mnist"},
    )


def wait_for(check, what: str, timeout: float = WAIT_S, every: float = 0.25):
    """Poll ``check()`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    pytest.fail(f"gave up waiting for {what}")


def snapshot_of(trainer, run_id):
    return trainer.snapshots([run_id]).get(run_id)


def ended(trainer, run_id):
    snap = snapshot_of(trainer, run_id)
    return snap if snap is not None and snap.done else None


# --------------------------------------------------------------------------- runs train and report


def test_a_run_trains_to_the_end_and_its_checkpoints_land_in_the_store(trainer, store):
    request = new_request(store, epochs=2)
    assert trainer.submit(request) == request.run_id
    assert request.run_id in trainer.running()

    snap = wait_for(lambda: ended(trainer, request.run_id), "the run to end")
    assert snap.status == "finished"
    assert [e.epoch for e in snap.history.epochs] == [1, 2]
    assert snap.history.final_accuracy > 0.5  # 600 images, 2 epochs of a small MLP: far above chance

    record = wait_for(lambda: _with_status(store, request.run_id, "finished"), "the finished row")
    assert record.accuracy == pytest.approx(snap.history.final_accuracy)
    assert len(record.history["epochs"]) == 2
    model = load_checkpoint(store.weights(request.run_id)).model
    assert sum(p.numel() for p in model.parameters()) == 784 * 32 + 32 + 32 * 10 + 10
    assert store.resume_state(request.run_id) is None  # a finished run keeps no resume state
    wait_for(lambda: request.run_id not in trainer.running(), "the run to leave the ledger")


def test_snapshots_are_read_in_one_batch_and_only_when_newer(trainer, store):
    requests = [new_request(store, epochs=1, seed=seed, name=f"run {seed}") for seed in range(3)]
    for request in requests:
        trainer.submit(request)
    ids = [r.run_id for r in requests]
    wait_for(lambda: all(ended(trainer, run_id) for run_id in ids), "three runs to end")

    snaps = trainer.snapshots(ids + ["r-unknown"])
    assert sorted(snaps) == sorted(ids)  # an id no worker holds is simply absent
    versions = {run_id: snap.version for run_id, snap in snaps.items()}
    assert trainer.snapshots(ids, newer_than=versions) == {}  # nothing new since
    older = {**versions, ids[0]: versions[ids[0]] - 1}
    assert list(trainer.snapshots(ids, newer_than=older)) == [ids[0]]


def test_the_step_counter_is_read_between_two_versions(trainer, store):
    """A run's version grows with a point of its curve or an epoch; its step, samples and speed
    move in between, and every read brings them (without the history) — the page's progress and
    the room's throughput are never a point of the curve behind."""
    request = new_request(store, epochs=40, images=6000, log_every=1_000_000)  # points only at epochs' ends
    trainer.submit(request)
    run_id = request.run_id
    steps_by_version: dict[int, set[int]] = {}

    def two_steps_in_one_version():
        trainer.snapshots([run_id], newer_than={})  # a read of the workers, as the room's poll does
        snap = snapshot_of(trainer, run_id)
        if snap.done:
            pytest.fail("the run ended before two reads fell between two of its versions")
        steps_by_version.setdefault(snap.version, set()).add(snap.step)
        return any(len(steps) > 1 for steps in steps_by_version.values())

    wait_for(two_steps_in_one_version, "two steps read under one version", every=0.01)
    trainer.stop(run_id)
    wait_for(lambda: ended(trainer, run_id), "the stopped run to end")


def test_placement_picks_the_worker_with_the_fewest_runs(trainer, store):
    wait_for(lambda: not trainer.running(), "an idle cluster")
    requests = [new_request(store, epochs=50, images=6000, seed=seed) for seed in range(4)]
    for request in requests:
        trainer.submit(request)
    try:
        placed = [trainer.where(r.run_id) for r in requests]
        assert sorted(placed) == ["worker-0", "worker-0", "worker-1", "worker-1"]
        assert trainer.load() == {"worker-0": 2, "worker-1": 2}
    finally:
        for request in requests:
            trainer.stop(request.run_id)
        wait_for(lambda: all(ended(trainer, r.run_id) for r in requests), "the stopped runs to end")


def test_stop_ends_a_run_and_keeps_what_it_trained(trainer, store):
    request = new_request(store, epochs=50, images=6000)
    trainer.submit(request)
    wait_for(lambda: (snapshot_of(trainer, request.run_id) or _no()).step > 0, "the first progress")

    trainer.stop(request.run_id)
    told = snapshot_of(trainer, request.run_id)  # the page's rerun after Stop reads what Stop did at once
    assert told.message_code == "job.stopping" or told.done
    snap = wait_for(lambda: ended(trainer, request.run_id), "the stopped run")
    assert snap.status == "stopped" and snap.message_code == "job.stopped"
    assert 0 < snap.step < snap.total_steps
    record = wait_for(lambda: _with_status(store, request.run_id, "stopped"), "the stopped row")
    assert record.history["steps"] == snap.step


def test_the_budget_stops_a_run(trainer, store):
    request = new_request(store, epochs=50, images=6000, max_busy_s=0.5)
    trainer.submit(request)
    snap = wait_for(lambda: ended(trainer, request.run_id), "the budget to stop the run")
    assert snap.status == "stopped" and snap.message_code == "job.budget"
    assert snap.busy_s >= 0.5 and snap.step < snap.total_steps


def test_a_diverged_run_says_at_which_step(trainer, store):
    request = new_request(store, epochs=2, lr=1e6)
    trainer.submit(request)
    snap = wait_for(lambda: ended(trainer, request.run_id), "the run to diverge")
    assert snap.status == "diverged" and snap.message_code == "job.diverged"
    assert snap.message_params["step"] >= 1
    assert store.get_run(request.run_id).status == "running"  # no NaN weights written; the room deletes the row


def test_a_failed_table_run_brings_its_coded_error_across(trainer, store):
    """A run that fails in the worker: the app process gets the error itself (a CodedError), not a
    broken read."""
    import numpy as np

    from core.training import ConfigError

    spec = ModelSpec(kind="mlp", hidden_sizes=(8,), in_features=4, num_classes=3)
    config = TrainConfig(epochs=1, batch_size=4, seed=0)
    record, _ = store.save_checkpoint(
        "t" * 16,
        run_id=None,
        name="table",
        status="running",
        spec=spec.to_dict(),
        config=config.to_dict(),
        history=History().to_dict(),
        accuracy=None,
        weights=b"",
        resume_state=None,
        meta={"page": "own", "dataset": "table"},
    )
    X = np.zeros((12, 4), dtype=np.float32)
    table = (X, np.zeros(11, dtype=np.int64), X, np.zeros(12, dtype=np.int64))  # 12 rows, 11 labels
    request = RunRequest(record.id, "t" * 16, "table", spec.to_dict(), config.to_dict(), "table", table=table)
    trainer.submit(request)
    snap = wait_for(lambda: ended(trainer, request.run_id), "the run to fail")
    assert snap.status == "failed"
    assert isinstance(snap.error, ConfigError) and snap.error.code == "data.length_mismatch"


def test_two_runs_on_one_worker_take_fair_turns(trainer, store):
    """Two equal runs on one worker: while both train, neither gets far ahead of the other."""
    wait_for(lambda: not trainer.running(), "an idle cluster")
    first = new_request(store, epochs=20, images=6000, seed=1)
    elsewhere = new_request(store, epochs=20, images=6000, seed=9)  # the other worker's
    second = new_request(store, epochs=20, images=6000, seed=2)
    for request in (first, elsewhere, second):
        trainer.submit(request)
    assert trainer.where(first.run_id) == trainer.where(second.run_id) != trainer.where(elsewhere.run_id)
    pair = [first.run_id, second.run_id]
    try:
        start = wait_for(
            lambda: len(snaps := trainer.snapshots(pair)) == 2 and all(s.step > 0 for s in snaps.values()) and snaps,
            "both to be training",
        )
        both = wait_for(
            lambda: (
                (snaps := trainer.snapshots(pair)) and max(snaps[i].step - start[i].step for i in pair) >= 300 and snaps
            ),
            "the pair to train a while side by side",
        )
        assert all(s.sharing == 2 for s in both.values())
        gained = sorted(both[i].step - start[i].step for i in pair)
        # turns of 0.2 s round robin: while both train, each gains about as much as the other
        # (one run after the other would leave one at 0)
        assert gained[0] >= 0.6 * gained[1], gained
    finally:
        for request in (first, elsewhere, second):
            trainer.stop(request.run_id)
        wait_for(lambda: all(ended(trainer, r.run_id) for r in (first, elsewhere, second)), "the runs to end")


# --------------------------------------------------------------------------- nothing lost


def test_another_app_process_finds_a_run_by_id_and_stops_it(trainer, store, store_path):
    """A second trainer object knows nothing of the first's runs; the ledger tells it where they are."""
    from core.trainers.ray_trainer import RayTrainer

    request = new_request(store, epochs=50, images=6000)
    trainer.submit(request)
    other = RayTrainer("auto", store_path, mnist=None, workers=2)
    snap = wait_for(lambda: snapshot_of(other, request.run_id), "the other trainer to read the run")
    assert snap.status in ("queued", "running")
    assert other.request(request.run_id) == request  # what it needs to show the run as its own
    other.stop(request.run_id)
    assert wait_for(lambda: ended(trainer, request.run_id), "the stop").status == "stopped"


def test_a_run_outlives_the_app_process_that_started_it(trainer, store, store_path, ray_cluster):
    """An app process (a second Ray driver) submits a run and is SIGKILLed; the run trains on."""
    request = new_request(store, epochs=3, images=6000)
    script = (
        "import pickle, sys, time\n"
        "from core.trainers.ray_trainer import RayTrainer\n"
        "request = pickle.loads(bytes.fromhex(sys.argv[3]))\n"
        "trainer = RayTrainer(sys.argv[1], sys.argv[2], mnist=None, workers=2)\n"
        "trainer.submit(request)\n"
        "print('submitted', flush=True)\n"
        "time.sleep(600)\n"
    )
    import pickle

    address = ray_cluster.get_runtime_context().gcs_address
    app = subprocess.Popen(
        [sys.executable, "-c", script, address, str(store_path), pickle.dumps(request).hex()],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert app.stdout.readline().strip() == "submitted"
    finally:
        app.send_signal(signal.SIGKILL)
        app.wait(30)
    snap = wait_for(lambda: ended(trainer, request.run_id), "the orphaned run to finish")
    assert snap.status == "finished" and len(snap.history.epochs) == 3
    wait_for(lambda: _with_status(store, request.run_id, "finished"), "its finished row")


def test_a_killed_worker_takes_its_run_back_from_the_last_checkpoint(trainer, store):
    """SIGKILL the worker mid-run: Ray restarts it, the run goes on from its last epoch's checkpoint
    and ends with the same numbers as the same run trained without interruption."""
    victim, reference = (
        new_request(store, epochs=20, images=6000, seed=5),
        new_request(store, epochs=20, images=6000, seed=5),
    )
    trainer.submit(victim)
    # a checkpoint with a resume state exists only while the run trains: poll the store itself
    wait_for(lambda: store.resume_state(victim.run_id), "the first checkpoint", every=0.05)
    worker = trainer.where(victim.run_id)
    pid = trainer.worker_pids()[worker]
    before = snapshot_of(trainer, victim.run_id)
    os.kill(pid, signal.SIGKILL)
    trainer.submit(reference)  # the same run, uninterrupted, on whichever worker is free

    resumed = wait_for(
        lambda: (
            (s := snapshot_of(trainer, victim.run_id)) is not None
            and s.version > before.version
            and s.status != "queued"
            and s
        ),
        "the run back, training",
    )
    assert trainer.worker_pids()[worker] != pid  # a new process holds it
    assert len(resumed.history.epochs) >= 1  # its curve so far came back with it
    snap = wait_for(lambda: ended(trainer, victim.run_id), "the resumed run to finish")
    alone = wait_for(lambda: ended(trainer, reference.run_id), "the reference run to finish")
    assert snap.status == "finished"
    assert [e.epoch for e in snap.history.epochs] == list(range(1, 21))
    assert [e.test_loss for e in snap.history.epochs] == [e.test_loss for e in alone.history.epochs]
    assert snap.history.final_accuracy == alone.history.final_accuracy
    record = wait_for(lambda: _with_status(store, victim.run_id, "finished"), "the finished row")
    assert torch.equal(
        _first_weight(load_checkpoint(store.weights(victim.run_id)).model),
        _first_weight(load_checkpoint(store.weights(reference.run_id)).model),
    )
    assert record.accuracy == alone.history.final_accuracy


def test_a_run_that_cannot_be_resumed_ends_failed_with_what_it_trained(trainer, store):
    request = new_request(store, epochs=50, images=6000, seed=7)
    trainer.submit(request)
    wait_for(lambda: store.resume_state(request.run_id), "the first checkpoint")
    pid = trainer.worker_pids()[trainer.where(request.run_id)]
    os.kill(pid, signal.SIGKILL)
    _wait_gone(pid)
    kept = store.get_run(request.run_id)
    store.save_checkpoint(  # the kept training state is damaged while the worker is down
        request.owner,
        run_id=request.run_id,
        name=request.name,
        status="running",
        spec=kept.spec,
        config=kept.config,
        history=kept.history,
        accuracy=kept.accuracy,
        weights=store.weights(request.run_id),
        resume_state=b"not a resume state",
        meta=kept.meta,
    )
    record = wait_for(lambda: _with_status(store, request.run_id, "failed"), "the run to be marked failed")
    assert len(record.history["epochs"]) >= 1  # what it trained is kept
    assert load_checkpoint(store.weights(request.run_id)).model is not None
    wait_for(lambda: request.run_id not in trainer.running(), "the failed run to leave the ledger")


# --------------------------------------------------------------------------- helpers


def _no():
    class Nothing:
        step = 0
        history = History()

    return Nothing()


def _with_status(store, run_id, status):
    record = store.get_run(run_id)
    return record if record is not None and record.status == status else None


def _first_weight(model):
    return next(iter(model.parameters())).detach()


def _wait_gone(pid):
    def gone():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(gone, f"process {pid} to exit")


def test_run_controls_reach_the_worker_holding_the_run(trainer, store):
    request = new_request(store, epochs=50, images=6000)
    trainer.submit(request)
    wait_for(lambda: (snapshot_of(trainer, request.run_id) or _no()).step > 0, "the first progress")

    assert trainer.control(request.run_id, {"action": "pause"})
    paused = wait_for(lambda: _paused_and_still(trainer, request.run_id), "the run to pause")
    assert trainer.control(request.run_id, {"action": "set_hyper", "kwargs": {"lr": 0.05}})
    assert trainer.control(request.run_id, {"action": "step", "args": [2]})
    stepped = wait_for(
        lambda: _at_step(trainer, request.run_id, paused.step + 2), "exactly two batches more while paused"
    )
    assert stepped.paused and stepped.history.changes and stepped.history.changes[-1].value == 0.05
    assert trainer.control(request.run_id, {"action": "resume"})
    wait_for(lambda: (snapshot_of(trainer, request.run_id) or _no()).step > stepped.step, "training after resume")
    trainer.stop(request.run_id)
    wait_for(lambda: ended(trainer, request.run_id), "the stopped run")


def _paused_and_still(trainer, run_id):
    """The snapshot once the run is paused and two reads a second apart agree on its step."""
    first = snapshot_of(trainer, run_id)
    if first is None or not first.paused:
        return None
    time.sleep(1.0)
    second = snapshot_of(trainer, run_id)
    return second if second.step == first.step else None


def _at_step(trainer, run_id, step):
    snap = snapshot_of(trainer, run_id)
    return snap if snap is not None and snap.step == step else None


def test_a_worker_tells_of_a_runs_end_only_once_the_store_has_it(tmp_path):
    """The app process files a run as soon as a worker says it ended (Draw's model, the student's list):
    said a moment before the final checkpoint was written, the stored run still read *running*."""
    import threading

    from core.store import open_store
    from core.trainers.local import LocalTrainer
    from core.trainers.ray_trainer import TrainerWorker
    from tests.core.test_local_trainer import HeldStore, new_run, no_mnist

    store = open_store(tmp_path / "runs.db")
    held = HeldStore(store)
    worker = TrainerWorker.__new__(TrainerWorker)  # the worker's own state, without an actor around it
    worker.name, worker._lock, worker._version_base, worker._ended_at = "w0", threading.Lock(), {}, {}
    worker._trainer = LocalTrainer(held, no_mnist, workers=1)
    try:
        request = new_run(store, TrainConfig(epochs=1, batch_size=16))
        _, first = worker.submit(request)
        assert not first.done
        assert held.writing_end.wait(60)
        news = worker.snapshots([request.run_id], {request.run_id: first.version})
        assert request.run_id not in news  # ended, not yet in the store: no news of it
        held.release.set()
        done = wait_for(lambda: worker.snapshots([request.run_id]).get(request.run_id), "the end in the store")
        assert done.status == "finished" and store.get_run(request.run_id).status == "finished"
    finally:
        held.release.set()
        worker._trainer.close()
        store.close()
