"""core.scheduler: fair turns for many runs, determinism under sharing, stop, limits, workers."""

import threading
import time

import pytest
import torch

from core.jobs import TrainingJob
from core.models import ModelSpec, build_model
from core.scheduler import Scheduler
from core.training import TrainConfig, fit


def blobs(n=64, features=6, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    X = torch.randn(classes, features, generator=g)[y] * 2 + torch.randn(n, features, generator=g)
    return X, y


def small_model(seed=0):
    return build_model(ModelSpec(hidden_sizes=(16,), in_features=6, num_classes=3), seed=seed)


def make_job(config, seed=0, **kwargs):
    data = blobs()
    return TrainingJob(small_model(seed), config, data, data, device="cpu", **kwargs)


def wait_until(predicate, timeout=30.0):
    """Poll (never a fixed sleep): True as soon as the condition holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.002)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def scheduler():
    made = []

    def make(**kwargs):
        s = Scheduler(**kwargs)
        made.append(s)
        return s

    yield make
    for s in made:
        s.shutdown()


def test_many_jobs_all_progress_before_any_finishes(scheduler):
    s = scheduler(workers=2, slice_s=0.002)
    config = TrainConfig(epochs=30, batch_size=4, log_every=1)  # 480 batches each
    jobs = [s.submit(make_job(config, seed=i)) for i in range(12)]
    # the turns go round: every job trains a batch while all of them are still far from done
    assert wait_until(lambda: all(j.snapshot().step > 0 for j in jobs))
    assert not any(j.done for j in jobs)
    steps = [j.snapshot().step for j in jobs]
    assert max(steps) < min(j.total_steps for j in jobs) // 2
    for j in jobs:
        s.stop(j)
    assert all(j.wait(30) for j in jobs)


def test_sharing_changes_nothing_in_the_numbers(scheduler):
    config = TrainConfig(epochs=3, batch_size=8, lr=0.05, log_every=2)
    X, y = blobs()
    alone = fit(small_model(seed=7), config, (X, y), (X, y), device="cpu")
    s = scheduler(workers=2, slice_s=0.001)
    mine = s.submit(TrainingJob(small_model(seed=7), config, (X, y), (X, y), device="cpu"))
    others = [s.submit(make_job(TrainConfig(epochs=20, batch_size=4, lr=0.1), seed=i)) for i in range(5)]
    assert mine.wait(60)
    got = mine.snapshot().history
    assert got.running_loss == alone.running_loss
    assert got.test_accuracy == alone.test_accuracy and got.confusion == alone.confusion
    for j in others:
        s.stop(j)


def test_sharing_and_eta_are_reported(scheduler):
    s = scheduler(workers=1, slice_s=0.01)
    jobs = [s.submit(make_job(TrainConfig(epochs=200, batch_size=4), seed=i)) for i in range(3)]
    assert wait_until(lambda: all(j.snapshot().eta_s for j in jobs))
    assert {j.snapshot().sharing for j in jobs} == {3}
    for j in jobs:
        s.stop(j)
    assert all(j.wait(30) for j in jobs)
    assert s.active == 0 and s.jobs() == []


def test_beyond_the_active_limit_jobs_wait_in_line_and_move_up(scheduler):
    s = scheduler(workers=1, slice_s=0.005, max_active=2)
    long = TrainConfig(epochs=500, batch_size=4)
    first, second = s.submit(make_job(long)), s.submit(make_job(long))
    third, fourth = s.submit(make_job(long)), s.submit(make_job(long))
    assert s.active == 2 and s.waiting == 2
    assert (third.snapshot().queue_position, fourth.snapshot().queue_position) == (1, 2)
    assert third.snapshot().status == "queued"
    s.stop(first)
    assert first.wait(30)
    assert wait_until(lambda: third.snapshot().step > 0)
    assert fourth.snapshot().queue_position == 1
    for j in (second, third, fourth):
        s.stop(j)
    assert all(j.wait(30) for j in (second, third, fourth))


def test_stopping_a_waiting_job_ends_it_at_once(scheduler):
    s = scheduler(workers=1, slice_s=0.005, max_active=1)
    running = s.submit(make_job(TrainConfig(epochs=500, batch_size=4)))
    waiting = s.submit(make_job(TrainConfig(epochs=500, batch_size=4)))
    s.stop(waiting)
    assert waiting.done and waiting.snapshot().message_code == "job.stopped_early"
    s.stop(running)
    assert running.wait(30)


class GatedJob(TrainingJob):
    """A real job whose turns start only when the test lets them, and which logs each turn."""

    def __init__(self, name, gate, log, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.name, self._gate, self._log = name, gate, log

    def run_slice(self, seconds, share=1.0):
        self._log.append(self.name)
        assert self._gate.acquire(timeout=60), "the test never let this turn go on"
        return super().run_slice(seconds, share)


def test_a_stopped_job_jumps_the_line_and_ends_in_the_next_turn(scheduler):
    s = scheduler(workers=1, slice_s=0.01)
    gate, log = threading.Semaphore(0), []
    data = blobs()
    config = TrainConfig(epochs=500, batch_size=4)
    jobs = [s.submit(GatedJob(f"j{i}", gate, log, small_model(i), config, data, data, device="cpu")) for i in range(10)]
    assert wait_until(lambda: log == ["j0"])  # j0's turn is under way; j1 … j9 wait in line
    s.stop(jobs[5])
    gate.release()  # j0's turn ends
    assert wait_until(lambda: len(log) == 2)
    # it jumps the line: the next turn is the stopped job's, not j1's (nine turns would come first)
    assert log == ["j0", "j5"]
    gate.release()
    assert jobs[5].wait(30) and jobs[5].snapshot().status == "stopped"
    for j in jobs:
        s.stop(j)
    for _ in range(100):  # every job's last turn (each ends at once: stopped)
        gate.release()
    assert all(j.wait(30) for j in jobs)


def test_a_priority_job_goes_first(scheduler):
    s = scheduler(workers=1, slice_s=0.01, max_active=2)
    long = TrainConfig(epochs=500, batch_size=4)
    crowd = [s.submit(make_job(long, seed=i)) for i in range(4)]
    urgent = s.submit(make_job(TrainConfig(epochs=1, batch_size=8)), priority=True)
    assert urgent.wait(30)
    assert urgent.snapshot().status == "finished"
    for j in crowd:
        s.stop(j)


def test_failed_and_diverged_jobs_leave_the_turns(scheduler):
    s = scheduler(workers=2, slice_s=0.01)
    bad = s.submit(TrainingJob(small_model(), TrainConfig(epochs=1), "nope", "nope", device="cpu"))
    X, y = blobs(200)
    wild = s.submit(
        TrainingJob(
            build_model(ModelSpec(hidden_sizes=(32, 32), in_features=6, num_classes=3), seed=0),
            TrainConfig(epochs=50, batch_size=20, lr=1000.0, momentum=0.9),
            (X, y),
            (X, y),
            device="cpu",
        )
    )
    assert bad.wait(30) and wild.wait(30)
    assert bad.snapshot().status == "failed" and wild.snapshot().status == "diverged"
    assert wait_until(lambda: s.active == 0)


def test_workers_train_at_one_thread_and_leave_the_callers_setting_alone(scheduler):
    before = torch.get_num_threads()
    seen = []

    class Probe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = small_model()

        def forward(self, x):
            seen.append((threading.current_thread().name, torch.get_num_threads()))
            return self.inner(x)

    s = scheduler(workers=2)
    data = blobs()
    j = s.submit(TrainingJob(Probe(), TrainConfig(epochs=1, batch_size=16), data, data, device="cpu"))
    assert j.wait(30) and j.snapshot().status == "finished"
    assert seen and all(name.startswith("trainer-") and threads == 1 for name, threads in seen)
    assert torch.get_num_threads() == before


def test_shutdown_stops_everything(scheduler):
    s = scheduler(workers=2, slice_s=0.01)
    jobs = [s.submit(make_job(TrainConfig(epochs=500, batch_size=4), seed=i)) for i in range(4)]
    s.shutdown()
    assert all(j.done for j in jobs)
    with pytest.raises(RuntimeError):
        s.submit(make_job(TrainConfig(epochs=1)))


def test_bad_worker_counts_are_refused():
    with pytest.raises(ValueError):
        Scheduler(workers=0)
