"""Steering a run: pause, step, live lr / momentum changes, replay, and the scheduler's parked runs."""

import threading
import time

import pytest
import torch

from core.jobs import TrainingJob
from core.models import ModelSpec, build_model
from core.scheduler import Scheduler
from core.steering import replay
from core.training import Change, ConfigError, History, TrainConfig, TrainLoop, schedule_factor


def blobs(n=96, features=6, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    X = torch.randn(classes, features, generator=g)[y] * 2 + torch.randn(n, features, generator=g)
    return X, y


def small_model(seed=0):
    return build_model(ModelSpec(hidden_sizes=(8, 8), in_features=6, num_classes=3), seed=seed)


CONFIG = TrainConfig(epochs=3, batch_size=8, lr=0.05, momentum=0.5, log_every=2)  # 12 batches an epoch


def job(config=CONFIG, **kwargs):
    data = blobs()
    return TrainingJob(small_model(), config, data, data, device="cpu", **kwargs)


def numbers(history: History) -> dict:
    """Everything a history says except wall-clock seconds."""
    d = history.to_dict()
    d["epochs"] = [{k: v for k, v in e.items() if k != "seconds"} for e in d["epochs"]]
    return d


def test_paused_job_trains_nothing_and_takes_no_busy_time():
    j = job()
    j.pause()
    for _ in range(3):
        assert not j.run_slice(0.2)
    s = j.snapshot()
    assert s.paused and s.status == "running" and s.step == 0 and s.busy_s == 0.0 and j.idle


def test_step_trains_exactly_the_batches_asked_for_then_waits():
    j = job()
    j.run_slice(0.0)  # one batch
    j.pause()
    j.step(1)
    assert not j.idle
    j.run_slice(5.0)
    assert j.snapshot().step == 2 and j.idle
    j.step(3)
    j.step(2)  # Steps add up
    j.run_slice(5.0)
    assert j.snapshot().step == 7
    j.run_slice(5.0)
    assert j.snapshot().step == 7


def test_step_epoch_trains_to_the_end_of_the_current_epoch():
    j = job()
    j.pause()
    j.step(5)
    j.step_epoch()  # 12 batches an epoch: 7 more after the 5
    j.run_slice(5.0)
    s = j.snapshot()
    assert s.step == 12 and len(s.history.epochs) == 1
    j.step_epoch()
    j.run_slice(5.0)
    assert j.snapshot().step == 24


def test_resume_trains_on_to_the_end():
    j = job()
    j.pause()
    j.run_slice(0.1)
    j.resume()
    s = j.run_to_end()
    assert s.status == "finished" and s.step == 36 and not s.paused


def test_step_while_running_is_ignored_and_bad_steps_are_refused():
    j = job()
    j.step(3)  # not paused: nothing to grant
    j.pause()
    j.run_slice(1.0)
    assert j.snapshot().step == 0
    with pytest.raises(ValueError):
        j.step(0)


def test_changes_take_effect_at_the_next_batch_and_are_recorded():
    j = job()
    j.pause()
    j.step(4)
    j.run_slice(5.0)
    j.set_hyper(lr=0.2, momentum=0.9)
    assert j.snapshot().pending == (("lr", 0.2), ("momentum", 0.9))
    j.run_slice(5.0)  # paused: applies the changes, trains nothing
    s = j.snapshot()
    assert s.step == 4 and s.pending == ()
    assert s.history.changes == [Change(4, "lr", 0.2), Change(4, "momentum", 0.9)]
    group = j._loop._optimizer.param_groups[0]
    assert group["lr"] == 0.2 and group["momentum"] == 0.9


@pytest.mark.parametrize("bad", [{"lr": 0}, {"lr": float("nan")}, {"momentum": 1.0}, {"batch_size": 3}])
def test_bad_live_values_are_refused_with_a_coded_error(bad):
    with pytest.raises(ConfigError):
        job().set_hyper(**bad)


def test_replay_with_the_same_changes_gives_the_same_numbers_bit_for_bit():
    data = blobs()
    steered = TrainingJob(small_model(seed=3), CONFIG, data, data, device="cpu")
    steered.pause()
    steered.step(5)
    steered.run_slice(5.0)
    steered.set_hyper(lr=0.15)
    steered.step_epoch()
    steered.run_slice(5.0)
    steered.set_hyper(momentum=0.9)
    steered.resume()
    steered.run_slice(0.0)  # the change, then one batch
    steered.set_hyper(lr=0.01, momentum=0.0)
    got = steered.run_to_end().history
    assert [(c.step, c.name) for c in got.changes] == [(5, "lr"), (12, "momentum"), (13, "lr"), (13, "momentum")]

    model = small_model(seed=3)
    again = replay(model, CONFIG, data, data, got.changes)
    assert numbers(again) == numbers(got)
    for mine, theirs in zip(model.state_dict().values(), steered.model.state_dict().values()):
        assert torch.equal(mine, theirs)
    plain = replay(small_model(seed=3), CONFIG, data, data, [])
    assert numbers(plain) != numbers(got)  # the changes did change the run


def test_adam_momentum_is_beta1_and_history_round_trips_its_changes():
    config = TrainConfig(epochs=1, batch_size=8, lr=0.01, optimizer="adam", log_every=2)
    data = blobs()
    loop = TrainLoop(small_model(), config, data, data, device="cpu")
    loop.run(max_batches=2)
    loop.change("momentum", 0.8)
    assert loop._optimizer.param_groups[0]["betas"] == (0.8, 0.999)
    history = loop.finish()
    assert History.from_dict(history.to_dict()).changes == [Change(2, "momentum", 0.8)]
    assert History.from_dict({}).changes == []  # runs stored before live changes existed


def test_onecycle_schedule_matches_torch_onecycle():
    steps, peak = 50, 0.004
    params = [torch.nn.Parameter(torch.zeros(1))]
    optimizer = torch.optim.Adam(params, lr=peak)
    torch_schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=peak, total_steps=steps, cycle_momentum=False
    )
    for step in range(steps):
        assert peak * schedule_factor("onecycle", step, steps) == pytest.approx(optimizer.param_groups[0]["lr"])
        optimizer.step()
        torch_schedule.step()
    assert schedule_factor("constant", 7, steps) == 1.0


def test_live_lr_change_under_onecycle_scales_the_schedule():
    config = TrainConfig(epochs=1, batch_size=8, lr=0.01, optimizer="adam", schedule="onecycle")
    data = blobs()
    loop = TrainLoop(small_model(), config, data, data, device="cpu")
    loop.run(max_batches=3)
    loop.change("lr", 0.02)
    loop.run(max_batches=1)
    assert loop._optimizer.param_groups[0]["lr"] == pytest.approx(0.02 * schedule_factor("onecycle", 3, 12))


# --------------------------------------------------------------------------- the scheduler


def wait_for(condition, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_scheduler_parks_a_paused_run_and_gives_its_turns_to_the_others():
    long = TrainConfig(epochs=1000, batch_size=8, lr=0.01)
    scheduler = Scheduler(workers=1, slice_s=0.01, nice=0)
    try:
        paused, other = job(long), job(long)
        paused.pause()
        scheduler.submit(paused)
        scheduler.submit(other)
        assert wait_for(lambda: scheduler.parked == 1)
        assert wait_for(lambda: other.snapshot().step > 50)
        assert paused.snapshot().step == 0 and paused.snapshot().busy_s == 0.0
        scheduler.step(paused, 3)
        assert wait_for(lambda: paused.snapshot().step == 3 and scheduler.parked == 1)
        scheduler.set_hyper(paused, lr=0.5)
        assert wait_for(lambda: paused.snapshot().history.changes == [Change(3, "lr", 0.5)])
        assert paused.snapshot().step == 3
        scheduler.resume(paused)
        assert wait_for(lambda: paused.snapshot().step > 10 and scheduler.parked == 0)
        scheduler.pause(paused)
        assert wait_for(lambda: scheduler.parked == 1)
        frozen = paused.snapshot().step
        time.sleep(0.1)
        assert paused.snapshot().step == frozen
        scheduler.stop(paused)  # a paused run ends when stopped, with what it trained
        assert paused.wait(20) and paused.snapshot().status == "stopped" and scheduler.parked == 0
    finally:
        scheduler.shutdown()


def test_shutdown_ends_paused_runs_too():
    scheduler = Scheduler(workers=1, slice_s=0.01, nice=0)
    j = job(TrainConfig(epochs=1000, batch_size=8))
    j.pause()
    scheduler.submit(j)
    assert wait_for(lambda: scheduler.parked == 1)
    scheduler.shutdown()
    assert j.wait(5) and j.snapshot().status == "stopped"


def test_the_budget_counts_only_training_time():
    j = job(TrainConfig(epochs=1000, batch_size=8), max_busy_s=0.3)
    j.run_slice(0.05)
    j.pause()
    started = time.perf_counter()
    while time.perf_counter() - started < 0.5:  # longer than the budget, paused
        j.run_slice(0.05)
    assert not j.done and j.snapshot().busy_s < 0.3
    j.resume()
    ended = threading.Event()
    while not j.run_slice(0.05):
        pass
    ended.set()
    assert j.snapshot().message_code == "job.budget"
