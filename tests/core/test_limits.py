"""core.limits: the room's settings from a file and the environment, the cost model, capping and refusing."""

import pytest

from core.limits import (
    LimitError,
    RoomLimits,
    env_name,
    estimate_seconds,
    load_limits,
    macs_per_sample,
    plan_run,
)
from core.models import ModelSpec
from core.training import TrainConfig

LECTURE = ModelSpec()


def test_defaults_without_a_file_or_variables(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    limits, problems = load_limits({})
    assert limits == RoomLimits() and problems == []
    assert limits.max_epochs == 50 and limits.train_images == 0 and limits.run_minutes == 10


def test_file_then_environment_on_top(tmp_path):
    room = tmp_path / "room.toml"
    room.write_text("max_epochs = 3\ntrain_images = 10000\nrun_minutes = 2.5\n")
    limits, problems = load_limits({env_name("max_epochs"): "1", "SOFTMAX_PLAYGROUND_MAX_UNITS": "256"}, room)
    assert problems == []
    assert (limits.max_epochs, limits.train_images, limits.run_minutes, limits.max_units) == (1, 10_000, 2.5, 256)


def test_room_file_is_found_by_variable_or_in_the_working_folder(tmp_path, monkeypatch):
    (tmp_path / "room.toml").write_text("max_epochs = 4\n")
    monkeypatch.chdir(tmp_path)
    assert load_limits({})[0].max_epochs == 4
    other = tmp_path / "elsewhere.toml"
    other.write_text("max_epochs = 7\n")
    assert load_limits({"SOFTMAX_PLAYGROUND_ROOM": str(other)})[0].max_epochs == 7


@pytest.mark.parametrize(
    "name, raw",
    [
        ("max_epochs", "zero"),
        ("max_epochs", "0"),
        ("max_epochs", "2.5"),
        ("run_minutes", "nan"),
        ("train_images", "-1"),
        ("max_units", "99999"),
    ],
)
def test_bad_values_keep_the_default_and_are_reported(name, raw):
    limits, problems = load_limits({env_name(name): raw})
    assert getattr(limits, name) == getattr(RoomLimits(), name)
    expected = "limits.bad_number" if name == "run_minutes" else "limits.bad_int"  # run_minutes may be 0.5
    assert [p.code for p in problems] == [expected] and problems[0].params["name"] == name


def test_a_broken_or_unknown_file_is_reported_not_fatal(tmp_path):
    broken = tmp_path / "room.toml"
    broken.write_text("max_epochs = [")
    limits, problems = load_limits({}, broken)
    assert limits == RoomLimits() and problems[0].code == "limits.bad_file"
    broken.write_text("max_epochz = 3\nmax_epochs = true\n")
    limits, problems = load_limits({}, broken)
    assert sorted(p.code for p in problems) == ["limits.bad_int", "limits.unknown"]
    assert limits.max_epochs == 50


def test_macs_of_the_lecture_mlp_and_the_cnn():
    sizes = [784, 512, 256, 128, 64, 10]
    assert macs_per_sample(LECTURE) == sum(a * b for a, b in zip(sizes, sizes[1:]))
    assert macs_per_sample(ModelSpec(kind="cnn")) == 10 * 24 * 24 * 25 + 20 * 8 * 8 * 10 * 25 + 320 * 10


def test_epochs_over_the_limit_are_capped_with_a_message():
    plan = plan_run(RoomLimits(max_epochs=1), LECTURE, TrainConfig(epochs=10), 60_000)
    assert plan.allowed and plan.config.epochs == 1
    assert [c.code for c in plan.capped] == ["limits.epochs"] and plan.capped[0].params == {"limit": 1, "asked": 10}


def test_training_images_are_limited():
    plan = plan_run(RoomLimits(train_images=10_000), LECTURE, TrainConfig(), 60_000)
    assert plan.n_train == 10_000
    assert plan_run(RoomLimits(), LECTURE, TrainConfig(), 60_000).n_train == 60_000


def test_the_lecture_run_fits_the_default_budget_and_absurd_runs_do_not():
    assert plan_run(RoomLimits(), LECTURE, TrainConfig(), 60_000).allowed
    batch_one = plan_run(RoomLimits(), LECTURE, TrainConfig(epochs=50, batch_size=1), 60_000)
    assert batch_one.refused.code == "limits.cost" and batch_one.refused.params["minutes"] > 10
    huge = plan_run(RoomLimits(), ModelSpec(hidden_sizes=(4096,) * 8), TrainConfig(batch_size=1), 60_000)
    assert huge.refused.code == "limits.cost" and huge.estimate_s > 24 * 3600  # the UI once said 11 days
    wide = plan_run(RoomLimits(max_units=512), ModelSpec(hidden_sizes=(1024,)), TrainConfig(), 60_000)
    assert wide.refused.code == "limits.units"


def test_the_estimate_grows_with_epochs_images_and_model():
    base = estimate_seconds(LECTURE, TrainConfig(epochs=1), 60_000)
    assert estimate_seconds(LECTURE, TrainConfig(epochs=2), 60_000) == pytest.approx(2 * base)
    assert estimate_seconds(LECTURE, TrainConfig(epochs=1), 30_000) < base
    assert estimate_seconds(ModelSpec(hidden_sizes=(1024, 1024)), TrainConfig(epochs=1), 60_000) > base


def test_limit_errors_read_well():
    error = LimitError("limits.cost", minutes=42.0, limit=10.0)
    assert str(error) == "this run would take about 42 minutes of training; the room allows 10 minutes per run"
