"""core.jobs (via core.training): background jobs, stop, divergence, failure, the queue."""

import math
import time

import pytest
import torch

from core.models import ModelSpec, build_model
from core.training import JOB_STATUSES, TrainConfig, TrainingJob, TrainingQueue, fit

LONG = TrainConfig(epochs=1000, batch_size=4, lr=0.01)  # far longer than any test waits


def blobs(n=64, features=6, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    X = torch.randn(classes, features, generator=g)[y] * 2 + torch.randn(n, features, generator=g)
    return X, y


def small_model(seed=0, features=6):
    return build_model(ModelSpec(hidden_sizes=(8,), in_features=features, num_classes=3), seed=seed)


def job(config=LONG, queue=None, model=None, data=None, **kwargs):
    data = data or blobs()
    return TrainingJob(model or small_model(), config, data, data, queue=queue, device="cpu", **kwargs)


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def jobs():
    """Every job a test starts is stopped and joined, even when the test fails."""
    started = []
    yield started
    for j in started:
        j.stop()
    for j in started:
        if j._thread is not None:
            j.wait(10)


def test_finished_job_reports_everything(jobs):
    config = TrainConfig(epochs=2, batch_size=16, lr=0.05, log_every=2)
    j = job(config)
    jobs.append(j)
    assert j.snapshot().status == "queued" and not j.done
    j.start()
    assert j.wait(30)
    s = j.snapshot()
    assert s.status == "finished" and s.done and j.done
    assert "Finished 2 epochs" in s.message and "Test accuracy" in s.message
    assert s.step == s.total_steps == 8 and s.epoch == pytest.approx(2.0)
    assert len(s.history.epochs) == 2 and s.history.confusion
    assert s.samples_per_s > 0 and s.eta_s == 0.0
    assert s.device == "CPU" and s.queue_position is None
    assert not j.model.training and all(p.device.type == "cpu" for p in j.model.parameters())


def test_job_trains_the_same_as_fit(jobs):
    config = TrainConfig(epochs=2, batch_size=8, lr=0.05, log_every=3)
    direct = fit(small_model(), config, blobs(), blobs(), device="cpu")
    j = job(config)
    jobs.append(j)
    j.start().wait(30)
    assert j.snapshot().history.running_loss == direct.running_loss  # same seed, same history


def test_snapshot_is_a_copy(jobs):
    j = job(TrainConfig(epochs=1, batch_size=16))
    jobs.append(j)
    j.start().wait(30)
    s = j.snapshot()
    s.history.epochs.clear()
    s.history.confusion[0][0] = -1
    again = j.snapshot()
    assert len(again.history.epochs) == 1 and again.history.confusion[0][0] >= 0


def test_stop_takes_effect_within_one_batch_and_leaves_a_usable_model(jobs):
    j = job()
    jobs.append(j)
    j.start()
    wait_until(lambda: j.snapshot().step >= 3)
    running = j.snapshot()
    assert running.status == "running" and running.samples_per_s > 0 and running.eta_s > 0
    j.stop()
    step_at_stop = j.snapshot().step
    assert j.wait(10)
    s = j.snapshot()
    assert s.status == "stopped" and f"Stopped at step {s.step}" in s.message
    assert step_at_stop <= s.step <= step_at_stop + 1  # at most the batch already in flight
    assert s.step < s.total_steps
    assert not j.model.training
    X, _ = blobs(5)
    assert torch.isfinite(j.model(X)).all()  # consistent weights, usable at once
    assert sum(map(sum, s.history.confusion)) == 64  # the end-of-run analysis is there


def test_divergence_at_lr_1000(jobs):
    j = job(TrainConfig(epochs=50, batch_size=8, lr=1000.0, momentum=0.9),
            model=build_model(ModelSpec(hidden_sizes=(32, 32), in_features=6, num_classes=3), seed=0))
    jobs.append(j)
    j.start().wait(30)
    s = j.snapshot()
    assert s.status == "diverged"
    assert "step" in s.message and "lower learning rate" in s.message
    diverged_at = int(s.message.split("step ")[1].split(":")[0])
    assert diverged_at == s.step + 1  # the steps before it were done, the bad one was not applied
    assert not j.model.training


def test_an_exception_becomes_failed_with_its_message(jobs):
    data = blobs(features=5)  # the model expects 6 features
    j = job(TrainConfig(epochs=1, batch_size=8), data=data)
    jobs.append(j)
    j.start().wait(30)
    s = j.snapshot()
    assert s.status == "failed"
    assert s.message.startswith("Training failed: RuntimeError") and "shape" in s.message
    assert not j.model.training and all(p.device.type == "cpu" for p in j.model.parameters())


def test_bad_data_fails_with_fits_message(jobs):
    X, y = blobs()
    j = TrainingJob(small_model(), TrainConfig(epochs=1), (X, y[:10]), (X, y), device="cpu")
    jobs.append(j)
    j.start().wait(30)
    assert j.snapshot().status == "failed" and "64 inputs but 10 labels" in j.snapshot().message


def test_start_twice_and_bad_arguments():
    j = job(TrainConfig(epochs=1, batch_size=64))
    j.start()
    with pytest.raises(RuntimeError, match="already"):
        j.start()
    j.wait(30)
    with pytest.raises(ValueError, match="lr"):
        job(TrainConfig(lr=-1))
    with pytest.raises(ValueError, match="threads"):
        job(threads=0)
    with pytest.raises(ValueError, match="max_concurrent"):
        TrainingQueue(0)


def test_job_thread_uses_the_requested_thread_count(jobs):
    seen = []
    model = small_model()
    forward = model.forward
    model.forward = lambda x: (seen.append(torch.get_num_threads()), forward(x))[1]
    j = job(TrainConfig(epochs=1, batch_size=64), model=model, threads=2)
    jobs.append(j)
    j.start().wait(30)
    assert j.snapshot().status == "finished"
    assert seen and set(seen) == {2}


# --------------------------------------------------------------------------- the queue


def test_queue_runs_jobs_one_at_a_time_in_fifo_order(jobs):
    queue = TrainingQueue(max_concurrent=1)
    a, b, c = job(queue=queue), job(queue=queue), job(queue=queue)
    jobs.extend([a, b, c])
    a.start()
    wait_until(lambda: a.snapshot().status == "running")
    b.start()
    wait_until(lambda: b.snapshot().queue_position == 1)
    c.start()
    wait_until(lambda: c.snapshot().queue_position == 2)
    assert b.snapshot().status == c.snapshot().status == "queued"
    assert b.snapshot().step == 0 and queue.running == 1 and queue.waiting == 2

    a.stop()
    wait_until(lambda: b.snapshot().status == "running")
    assert a.snapshot().status == "stopped"
    assert c.snapshot().status == "queued" and c.snapshot().queue_position == 1

    b.stop()
    wait_until(lambda: c.snapshot().status == "running")
    assert c.snapshot().queue_position is None
    c.stop()
    assert c.wait(10)
    assert queue.running == 0 and queue.waiting == 0


def test_a_stopped_queued_job_leaves_the_queue(jobs):
    queue = TrainingQueue(max_concurrent=1)
    a, b, c = job(queue=queue), job(queue=queue), job(queue=queue)
    jobs.extend([a, b, c])
    a.start()
    wait_until(lambda: a.snapshot().status == "running")
    b.start()
    wait_until(lambda: b.snapshot().queue_position == 1)
    c.start()
    wait_until(lambda: c.snapshot().queue_position == 2)
    b.stop()
    assert b.wait(5)
    s = b.snapshot()
    assert s.status == "stopped" and "before it started" in s.message and s.step == 0
    assert c.snapshot().queue_position == 1
    a.stop()
    wait_until(lambda: c.snapshot().status == "running")


def test_queue_admits_max_concurrent_jobs(jobs):
    queue = TrainingQueue(max_concurrent=2)
    a, b, c = job(queue=queue), job(queue=queue), job(queue=queue)
    jobs.extend([a, b, c])
    for j in (a, b):
        j.start()
    wait_until(lambda: a.snapshot().status == b.snapshot().status == "running")
    c.start()
    wait_until(lambda: c.snapshot().queue_position == 1)
    b.stop()
    wait_until(lambda: c.snapshot().status == "running")
    assert a.snapshot().status == "running"


def test_a_finished_job_frees_its_slot(jobs):
    queue = TrainingQueue()
    short = job(TrainConfig(epochs=1, batch_size=64), queue=queue)
    follower = job(TrainConfig(epochs=1, batch_size=64), queue=queue)
    jobs.extend([short, follower])
    short.start()
    follower.start()
    assert short.wait(30) and follower.wait(30)
    assert short.snapshot().status == follower.snapshot().status == "finished"
    assert queue.running == 0


def test_a_failed_job_frees_its_slot(jobs):
    queue = TrainingQueue()
    broken = job(TrainConfig(epochs=1), queue=queue, data=blobs(features=5))
    jobs.append(broken)
    broken.start().wait(30)
    assert broken.snapshot().status == "failed" and queue.running == 0


def test_statuses_are_the_documented_ones():
    assert JOB_STATUSES == ("queued", "running", "stopped", "finished", "diverged", "failed")


def test_thread_count_is_restored_for_later_threads(jobs):
    import threading

    before = []
    probe = threading.Thread(target=lambda: before.append(torch.get_num_threads()))
    probe.start(), probe.join()
    j = job(TrainConfig(epochs=1, batch_size=64), threads=before[0] + 1)
    jobs.append(j)
    j.start().wait(30)
    after = []
    probe = threading.Thread(target=lambda: after.append(torch.get_num_threads()))
    probe.start(), probe.join()
    assert after == before


def test_data_that_is_not_a_pair_fails_in_the_job_not_the_constructor(jobs):
    X, y = blobs()
    j = TrainingJob(small_model(), TrainConfig(epochs=1), None, (X, y), device="cpu")
    jobs.append(j)
    j.start().wait(30)
    s = j.snapshot()
    assert s.status == "failed" and "(X, y) pair" in s.message and s.total_steps == 0
