"""core.jobs: a run trained in slices — statuses, snapshots, stop, divergence, failure, budget."""

import math
import threading

import pytest
import torch

from core.jobs import JOB_STATUSES, MESSAGES, TrainingJob
from core.models import ModelSpec, build_model
from core.training import ConfigError, TrainConfig, fit

LONG = TrainConfig(epochs=1000, batch_size=4, lr=0.01)  # far longer than any test trains


def blobs(n=64, features=6, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    X = torch.randn(classes, features, generator=g)[y] * 2 + torch.randn(n, features, generator=g)
    return X, y


def small_model(seed=0, features=6):
    return build_model(ModelSpec(hidden_sizes=(8,), in_features=features, num_classes=3), seed=seed)


def job(config=LONG, model=None, data=None, **kwargs):
    data = data or blobs()
    return TrainingJob(model or small_model(), config, data, data, device="cpu", **kwargs)


def test_finished_job_reports_everything():
    config = TrainConfig(epochs=2, batch_size=16, lr=0.05, log_every=2)
    j = job(config)
    s = j.snapshot()
    assert s.status == "queued" and not s.done and not j.done and s.message == "Waiting to start."
    s = j.run_to_end()
    assert s.status == "finished" and s.done and j.done and j.wait(0)
    assert s.message_code == "job.finished" and s.message_params["epochs"] == 2
    assert s.message == f"Finished 2 epochs. Test accuracy {s.history.final_accuracy:.2%}."
    assert s.step == s.total_steps == 8 and s.epoch == pytest.approx(2.0)
    assert len(s.history.epochs) == 2 and s.history.confusion
    assert s.samples_per_s > 0 and s.eta_s == 0.0 and s.busy_s > 0
    assert s.device == "CPU" and s.queue_position is None
    assert not j.model.training and all(p.device.type == "cpu" for p in j.model.parameters())


def test_slices_train_exactly_what_fit_trains():
    config = TrainConfig(epochs=3, batch_size=8, lr=0.05, log_every=3)
    X, y = blobs()
    expected = fit(small_model(seed=1), config, (X, y), (X, y), device="cpu")
    sliced = job(config, model=small_model(seed=1), data=(X, y))
    slices = 0
    while not sliced.run_slice(0.0):  # one batch per slice: as fine-grained as turns get
        slices += 1
    got = sliced.snapshot().history
    assert slices == 3 * 8 - 1
    assert got.running_loss == expected.running_loss
    assert [(e.epoch, e.train_loss, e.test_loss, e.test_accuracy) for e in got.epochs] == [
        (e.epoch, e.train_loss, e.test_loss, e.test_accuracy) for e in expected.epochs
    ]
    assert got.confusion == expected.confusion


def test_snapshot_is_a_copy_and_version_grows_with_the_history():
    j = job(TrainConfig(epochs=1, batch_size=4, log_every=1))
    j.run_slice(0.0)
    first = j.snapshot()
    first.history.running_loss.clear()
    second = j.snapshot()
    assert len(second.history.running_loss) == 1
    j.run_slice(0.0)
    assert j.snapshot().version > second.version


def test_on_change_fires_for_points_epochs_and_statuses_only():
    seen = []
    config = TrainConfig(epochs=2, batch_size=16, log_every=2)  # 4 batches an epoch: 2 points each
    j = job(config, on_change=lambda jj: seen.append(jj.snapshot().version))
    j.run_to_end()
    # running, then per epoch: 2 points (the second with the epoch's evaluation), then finished
    assert len(seen) == 1 + 2 * 2 + 1
    assert seen == sorted(seen)


def test_a_failing_listener_does_not_break_training():
    def boom(_):
        raise RuntimeError("listener bug")

    s = job(TrainConfig(epochs=1, batch_size=32), on_change=boom).run_to_end()
    assert s.status == "finished"


def test_stop_ends_within_one_batch_and_keeps_a_usable_model():
    j = job()
    j.run_slice(0.0)
    j.request_stop()
    assert j.run_slice(10.0)  # the stop is seen before the next batch
    s = j.snapshot()
    assert s.status == "stopped" and s.message_code == "job.stopped" and s.step == 1
    assert s.history.stopped and s.history.confusion  # analysed on the test set as it was
    assert all(torch.isfinite(p).all() for p in j.model.parameters()) and not j.model.training


def test_a_stop_says_so_at_once_and_tells_the_listener_once():
    seen = []
    j = job(on_change=lambda jb: seen.append(jb.snapshot().message_code))
    j.run_slice(0.0)
    before = j.snapshot().version
    j.request_stop()
    j.request_stop()  # a second press changes nothing
    s = j.snapshot()
    assert s.status == "running" and s.message_code == "job.stopping" and s.version == before + 1
    assert seen.count("job.stopping") == 1
    assert j.run_slice(10.0) and j.snapshot().message_code == "job.stopped"


def test_stop_before_the_first_batch():
    j = job()
    j.request_stop()
    assert j.run_slice(1.0)
    s = j.snapshot()
    assert s.status == "stopped" and s.message_code == "job.stopped_early" and s.step == 0


def test_divergence_at_lr_1000():
    X, y = blobs(200)
    config = TrainConfig(epochs=50, batch_size=20, lr=1000.0, momentum=0.9)
    model = build_model(ModelSpec(hidden_sizes=(32, 32), in_features=6, num_classes=3), seed=0)
    s = job(config, model=model, data=(X, y)).run_to_end()
    assert s.status == "diverged" and s.message_code == "job.diverged"
    assert s.message_params["step"] >= 1 and not math.isfinite(s.message_params["loss"])
    assert f"Diverged at step {s.message_params['step']}" in s.message


def test_an_exception_becomes_failed_with_its_message():
    class Broken(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            raise RuntimeError("model exploded")

    s = job(TrainConfig(epochs=1, batch_size=8), model=Broken()).run_to_end()
    assert s.status == "failed" and "model exploded" in s.message and isinstance(s.error, RuntimeError)


def test_bad_data_fails_in_the_job_with_the_coded_reason():
    data = (torch.zeros(4, 6), torch.zeros(3, dtype=torch.int64))
    s = job(TrainConfig(epochs=1), data=data).run_to_end()
    assert s.status == "failed" and isinstance(s.error, ConfigError)
    assert s.error.code == "data.length_mismatch" and "4 inputs but 3 labels" in s.message


def test_data_that_is_not_a_pair_fails_in_the_job_not_the_constructor():
    j = TrainingJob(small_model(), TrainConfig(epochs=1), "nope", "nope", device="cpu")
    s = j.run_to_end()
    assert s.status == "failed" and s.error.code == "data.not_pair"


def test_a_bad_config_is_refused_before_any_job_exists():
    with pytest.raises(ConfigError) as info:
        job(TrainConfig(epochs=0))
    assert info.value.code == "config.int_range" and info.value.params["name"] == "epochs"


def test_the_budget_stops_a_run_and_keeps_its_model():
    j = job(max_busy_s=0.05)
    busy_before = []  # the job's training seconds before each slice
    while True:
        busy_before.append(j.snapshot().busy_s)
        if j.run_slice(0.02):
            break
    s = j.snapshot()
    assert s.status == "stopped" and s.message_code == "job.budget"
    assert s.message_params["minutes"] == pytest.approx(0.05 / 60)
    # it ended in the slice that reached the budget: not before, and not one slice later
    assert max(busy_before) < 0.05 <= s.busy_s
    assert s.step > 0 and s.history.confusion


def test_eta_counts_the_turns_a_job_waits_for():
    alone, shared = job(), job()
    alone.run_slice(0.05, share=1.0)
    shared.run_slice(0.05, share=15.0)
    a, b = alone.snapshot(), shared.snapshot()
    per_step_a = a.busy_s / a.step
    per_step_b = b.busy_s / b.step
    assert a.eta_s == pytest.approx((a.total_steps - a.step) * per_step_a)
    assert b.eta_s == pytest.approx((b.total_steps - b.step) * per_step_b * 15.0)


def test_wait_blocks_until_the_end():
    j = job(TrainConfig(epochs=1, batch_size=8))
    assert not j.wait(0.01)
    worker = threading.Thread(target=j.run_to_end)
    worker.start()
    assert j.wait(30)
    worker.join(30)


def test_statuses_and_messages_are_the_documented_ones():
    assert JOB_STATUSES == ("queued", "running", "stopped", "finished", "diverged", "failed")
    assert set(MESSAGES) == {
        "job.queued",
        "job.running",
        "job.finished",
        "job.stopped",
        "job.stopped_early",
        "job.stopping",
        "job.budget",
        "job.diverged",
        "job.failed",
    }
