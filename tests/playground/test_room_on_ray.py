"""The room with the Ray trainer (``SOFTMAX_PLAYGROUND_RAY``): a student's run trains on a local Ray
of 2 CPUs, its progress reaches the room's job, its end is filed like an in-process run's, and a
stop pressed on the page ends it. Ray is required here (``requirements-cluster.txt``): missing, the
tests fail; ``make test-fast`` leaves them out.
"""

from __future__ import annotations

import time

import pytest

from core.models import ModelSpec
from core.training import TrainConfig

pytestmark = pytest.mark.ray

WAIT_S = 180.0
SMALL = ModelSpec(kind="mlp", hidden_sizes=(32,))


@pytest.fixture(scope="module")
def ray_cluster():
    import ray  # a missing Ray is a failure here, never a skip

    from core.trainers import ray_trainer

    if not ray.is_initialized():
        ray_trainer.start_local(num_cpus=2)
    yield ray
    ray.shutdown()


@pytest.fixture
def ray_room(ray_cluster, install_room, monkeypatch):
    monkeypatch.setenv("SOFTMAX_PLAYGROUND_RAY", "auto")  # already attached: the test's own Ray
    room = install_room(trainer="ray", workers=2)
    yield room
    room.trainer.trainer.shutdown_cluster_actors()


def wait_for(check, what: str, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}")


def start(room, student: str, epochs: int):
    config = TrainConfig(epochs=epochs, batch_size=64, lr=0.05, seed=0, log_every=5)
    return room.trainer.start(student, "train", "run on ray", SMALL.to_dict(), config.to_dict(), images=600)


def test_a_students_run_trains_on_ray_and_is_filed_as_theirs(ray_room):
    assert ray_room.trainer.kind == "ray"
    entry = start(ray_room, "a" * 16, epochs=2)
    assert ray_room.trainer.job_of("a" * 16, "train") is entry
    wait_for(entry.filed.is_set, "the run to be filed")
    snap = entry.job.snapshot()
    assert snap.status == "finished" and len(snap.history.epochs) == 2
    record = ray_room.store.get_run(entry.job.id, "a" * 16)
    assert record.status == "finished" and record.meta["trainer"] == "ray"
    assert entry.run_id == record.id and entry.save_error is None
    assert ray_room.store.get_active("a" * 16)[0] == record.id  # Draw's model, as with the in-process trainer
    assert ray_room.models.model(record.id, "a" * 16) is not None  # read safely from the store


def test_stop_on_the_page_ends_a_run_on_ray(ray_room):
    entry = start(ray_room, "b" * 16, epochs=50)
    wait_for(lambda: entry.job.snapshot().step > 0, "the first progress")
    ray_room.trainer.stop(entry)
    wait_for(entry.filed.is_set, "the stopped run to be filed")
    snap = entry.job.snapshot()
    assert snap.status == "stopped" and 0 < snap.step < snap.total_steps
    assert ray_room.store.get_run(entry.job.id).status == "stopped"


def test_pause_a_live_change_and_resume_reach_a_run_on_ray(ray_room):
    entry = start(ray_room, "c" * 16, epochs=50)
    wait_for(lambda: entry.job.snapshot().step > 0, "the first progress")
    ray_room.pause(entry)
    wait_for(lambda: entry.job.paused, "the run to say it is paused")
    ray_room.set_hyper(entry, lr=0.02)
    wait_for(lambda: entry.job.snapshot().history.changes, "the change to be applied")
    assert entry.job.snapshot().history.changes[-1].value == 0.02
    ray_room.resume(entry)
    wait_for(lambda: not entry.job.paused, "the run to resume")
    ray_room.stop(entry)
    wait_for(entry.filed.is_set, "the stopped run to be filed")
    stored = ray_room.history(entry.job.id)
    assert [change.value for change in stored.changes] == [0.02]
