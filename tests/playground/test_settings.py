"""Train settings: the one table of controls, the lecture's defaults, the URL round trip and the advice."""

import dataclasses
import itertools
import math

import pytest

from core.models import MAX_HIDDEN_LAYERS, MAX_UNITS, ModelSpec
from core.training import TrainConfig
from playground import i18n
from playground.settings import (
    BY_NAME,
    CONTROLS,
    CURVE_POINTS_MAX,
    LR_GRID,
    LR_MAX,
    LR_MIN,
    MOMENTUM_MAX,
    OWN_DATA_CONTROLS,
    SEED_MAX,
    TRAIN_CONTROLS,
    Note,
    TrainSettings,
    advice,
    from_query_params,
    lr_advice,
    to_query_params,
)

LECTURE_SIZES = (512, 256, 128, 64)


# ---- the table ----------------------------------------------------------------------------


def test_adding_a_setting_is_one_row_and_one_field():
    fields = {f.name for f in dataclasses.fields(TrainSettings)}
    assert set(TRAIN_CONTROLS) == fields - {"test_fraction"}
    assert {c.name for c in CONTROLS} <= fields  # every row names a field
    assert len(BY_NAME) == len(CONTROLS)  # and no field has two rows
    assert set(OWN_DATA_CONTROLS) == fields - {"kind"}


def test_every_control_travels_under_its_own_url_key():
    keys = [c.url for c in CONTROLS if c.url]
    assert len(keys) == len(set(keys))
    assert all(BY_NAME[name].url for name in TRAIN_CONTROLS)


@pytest.mark.parametrize("control", CONTROLS, ids=lambda c: c.name)
def test_every_control_has_a_label_and_its_options_have_names(control):
    assert i18n.has(f"settings.{control.name}.label", "en")
    for value in control.choices if control.widget == "choice" else ():
        with i18n.using("en"):
            assert i18n.choice(control.name, value)  # a KeyError would mean a missing label


def test_number_controls_take_their_bounds_from_core():
    assert (BY_NAME["hidden_sizes"].low, BY_NAME["hidden_sizes"].high) == (1, MAX_UNITS)
    assert (BY_NAME["lr"].low, BY_NAME["lr"].high) == (LR_MIN, LR_MAX)
    assert BY_NAME["momentum"].high == MOMENTUM_MAX < 1  # SGD's momentum must stay below 1
    for name in ("epochs", "batch_size", "seed", "log_every"):
        control = BY_NAME[name]
        assert TrainSettings(**{name: int(control.high)}).errors() == []
        assert TrainSettings(**{name: int(control.low)}).errors() == []


def test_controls_apply_only_where_they_mean_something():
    momentum, hidden, activation = BY_NAME["momentum"], BY_NAME["hidden_sizes"], BY_NAME["activation"]
    assert momentum.applies(TrainSettings()) and not momentum.applies(TrainSettings(optimizer="adam"))
    assert hidden.applies(TrainSettings()) and not hidden.applies(TrainSettings(kind="cnn"))
    assert not activation.applies(TrainSettings(hidden_sizes=()))  # softmax regression has no activation


# ---- defaults, spec and config ------------------------------------------------------------------


def test_defaults_are_the_lecture_model_and_optimizer():
    settings = TrainSettings()
    assert settings.spec() == ModelSpec(kind="mlp", hidden_sizes=LECTURE_SIZES, activation="relu")
    assert settings.config() == TrainConfig(
        epochs=10, batch_size=64, lr=0.01, momentum=0.5, seed=0, log_every=300, optimizer="sgd"
    )
    assert settings.errors() == []


def test_spec_sizes_the_network_for_a_table():
    spec = TrainSettings(hidden_sizes=(32,)).spec(in_features=4, num_classes=3)
    assert (spec.in_features, spec.hidden_sizes, spec.num_classes) == (4, (32,), 3)


def test_cnn_ignores_hidden_sizes_but_keeps_them_for_a_switch_back():
    settings = TrainSettings(kind="cnn", hidden_sizes=(32,))
    assert settings.spec() == ModelSpec(kind="cnn")
    assert settings.hidden_sizes == (32,)
    assert settings.with_overrides(kind="mlp").spec().hidden_sizes == (32,)


def test_adam_trains_without_momentum():
    config = TrainSettings(optimizer="adam", lr=0.001, momentum=0.9).config()
    assert config.optimizer == "adam" and config.momentum == 0.0
    assert TrainSettings(momentum=0.9).config().momentum == 0.9


def test_errors_are_coded_and_say_what_cannot_train():
    (error,) = TrainSettings(hidden_sizes=(0,)).errors()
    assert error.code == "spec.units" and error.params["layer"] == 1
    (error,) = TrainSettings(momentum=1.0).errors()
    assert error.code == "config.momentum"
    assert len(TrainSettings(hidden_sizes=(0,), lr=-1.0).errors()) == 2  # one per part


def test_overrides_convert_sizes_and_reject_typos():
    assert TrainSettings().with_overrides(lr=0.1, hidden_sizes=[3, 2]).hidden_sizes == (3, 2)
    with pytest.raises(TypeError, match="learning_rate"):
        TrainSettings().with_overrides(learning_rate=0.1)


# ---- the URL ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        TrainSettings(),
        TrainSettings(kind="cnn", optimizer="adam", lr=0.001, batch_size=128, epochs=3, seed=7),
        TrainSettings(hidden_sizes=(), activation="sigmoid", lr=0.0003, momentum=0.0, log_every=1),
        TrainSettings(
            hidden_sizes=(MAX_UNITS,) * MAX_HIDDEN_LAYERS, activation="tanh", lr=10.0, momentum=0.99, seed=SEED_MAX
        ),
        TrainSettings(hidden_sizes=(1,), lr=0.0123456789, batch_size=1, epochs=50, log_every=100_000),
    ],
    ids=["defaults", "cnn-adam", "no-hidden", "largest", "off-grid-lr"],
)
def test_query_params_round_trip(settings):
    params = to_query_params(settings)
    assert set(params) == {BY_NAME[name].url for name in TRAIN_CONTROLS}
    assert all(isinstance(v, str) for v in params.values())
    restored, notes = from_query_params(params)
    assert restored == settings
    assert notes == []


def test_no_hidden_layer_travels_as_none():
    assert to_query_params(TrainSettings(hidden_sizes=()))["hidden"] == "none"
    for raw in ("none", "NONE", "0", ""):
        settings, notes = from_query_params({"hidden": raw})
        assert settings.hidden_sizes == () and notes == [], raw


def test_a_partial_link_fills_in_the_defaults():
    settings, notes = from_query_params({"lr": "0.1", "momentum": "0.9"})
    assert settings == TrainSettings(lr=0.1, momentum=0.9)
    assert notes == []


def test_a_link_fills_in_the_pages_own_defaults():
    own = TrainSettings(hidden_sizes=(32,), epochs=100)
    settings, _ = from_query_params({"lr": "0.2"}, own)
    assert settings == dataclasses.replace(own, lr=0.2)


def test_choices_are_read_case_insensitively():
    settings, notes = from_query_params({"model": "CNN", "opt": "Adam", "act": "Tanh"})
    assert (settings.kind, settings.optimizer, settings.activation) == ("cnn", "adam", "tanh") and notes == []


@pytest.mark.parametrize(
    "params, field, expected, key, note_params",
    [
        ({"lr": "fast"}, "lr", 0.01, "url.not_number", {"name": "lr", "raw": "fast", "default": 0.01}),
        ({"lr": "nan"}, "lr", 0.01, "url.not_finite", {"name": "lr", "raw": "nan"}),
        ({"lr": "-inf"}, "lr", 0.01, "url.not_finite", {"name": "lr", "raw": "-inf"}),
        ({"lr": "100"}, "lr", LR_MAX, "url.outside", {"name": "lr", "low": LR_MIN, "high": LR_MAX, "used": LR_MAX}),
        ({"lr": "0"}, "lr", LR_MIN, "url.outside", {"used": LR_MIN}),
        ({"momentum": "1.5"}, "momentum", MOMENTUM_MAX, "url.outside", {"name": "momentum", "used": MOMENTUM_MAX}),
        ({"momentum": "-0.2"}, "momentum", 0.0, "url.outside", {"used": 0.0}),
        ({"batch": "2.5"}, "batch_size", 64, "url.not_number", {"name": "batch", "raw": "2.5", "default": 64}),
        ({"epochs": "0"}, "epochs", 1, "url.outside", {"name": "epochs", "raw": "0", "used": 1}),
        ({"epochs": "500"}, "epochs", 50, "url.outside", {"used": 50}),
        ({"seed": "-1"}, "seed", 0, "url.outside", {"used": 0}),
        (
            {"model": "transformer"},
            "kind",
            "mlp",
            "url.not_choice",
            {"name": "model", "raw": "transformer", "default": "mlp", "choices": "mlp, cnn, cnn2"},
        ),
        ({"act": "gelu"}, "activation", "relu", "url.not_choice", {"name": "act", "raw": "gelu"}),
        ({"opt": "rmsprop"}, "optimizer", "sgd", "url.not_choice", {"name": "opt", "default": "sgd"}),
        ({"hidden": "512-abc"}, "hidden_sizes", LECTURE_SIZES, "url.bad_sizes", {"name": "hidden", "raw": "512-abc"}),
        (
            {"hidden": "10000-64"},
            "hidden_sizes",
            (MAX_UNITS, 64),
            "url.wide_layer",
            {"name": "hidden", "high": MAX_UNITS},
        ),
        (
            {"hidden": "-".join(["9"] * 10)},
            "hidden_sizes",
            (9,) * MAX_HIDDEN_LAYERS,
            "url.too_many_layers",
            {"name": "hidden", "count": 10, "limit": MAX_HIDDEN_LAYERS},
        ),
        (
            {"hidden": "0,0,0"},
            "hidden_sizes",
            LECTURE_SIZES,
            "url.empty_layer",
            {"name": "hidden", "raw": "0,0,0", "high": MAX_UNITS},
        ),
        ({"hidden": "128-0"}, "hidden_sizes", LECTURE_SIZES, "url.empty_layer", {"raw": "128-0"}),
    ],
)
def test_a_broken_link_falls_back_per_value_with_a_note(params, field, expected, key, note_params):
    settings, notes = from_query_params({**params, "seed": params.get("seed", "3")})
    assert getattr(settings, field) == expected
    assert settings.seed == (3 if field != "seed" else expected)  # the other values of the link still count
    (note,) = notes
    assert note.key == key
    assert {name: note.params[name] for name in note_params} == note_params
    assert settings.errors() == []  # whatever came in, the result can train
    with i18n.using("en"):
        assert note.text()  # the catalogue has the key and every parameter it uses


def test_zeros_never_become_one_unit_layers():
    """``hidden=0,0,0`` once trained a 784-1-1-1-10 network; it is refused, ``0`` alone means none."""
    settings, notes = from_query_params({"hidden": "0,0,0"})
    assert settings.hidden_sizes == LECTURE_SIZES
    assert [n.key for n in notes] == ["url.empty_layer"]
    assert from_query_params({"hidden": "0"})[0].hidden_sizes == ()


def test_every_broken_value_gets_its_own_note():
    settings, notes = from_query_params({"lr": "x", "batch": "y", "act": "z"})
    assert (settings.lr, settings.batch_size, settings.activation) == (0.01, 64, "relu")
    assert sorted(n.params["name"] for n in notes) == ["act", "batch", "lr"]


def test_repeated_keys_take_the_last_value():
    settings, notes = from_query_params({"lr": ["0.5", "0.02"], "batch": ("x", "32")})
    assert (settings.lr, settings.batch_size) == (0.02, 32) and notes == []
    assert from_query_params({"lr": []})[0].lr == 0.01  # an empty list is no value


def test_url_notes_read_in_english():
    with i18n.using("en"):
        _, (note,) = from_query_params({"lr": "100"})
        assert note.text() == "`lr=100` is outside 0.0001…10; using 10."
        _, (note,) = from_query_params({"hidden": "-".join(["9"] * 10)})
        assert note.text() == "`hidden` has 10 layers; keeping the first 8."


def test_a_raw_value_in_a_url_note_is_shown_as_typed():
    with i18n.using("en"):
        _, (note,) = from_query_params({"hidden": "512-abc"})
        assert "`hidden=512-abc`" in note.text()


def test_lr_grid_is_log_spaced_1_2_3_5_and_holds_the_lecture_value():
    assert LR_GRID[0] == LR_MIN == 1e-4 and LR_GRID[-1] == LR_MAX == 10.0 and 0.01 in LR_GRID
    assert list(LR_GRID) == sorted(set(LR_GRID))
    for decade in range(-4, 1):
        assert [v for v in LR_GRID if 10.0**decade <= v < 10.0 ** (decade + 1)] == pytest.approx(
            [m * 10.0**decade for m in (1, 2, 3, 5)]
        )
    steps = [math.log10(b / a) for a, b in itertools.pairwise(LR_GRID)]
    assert max(steps) < 0.31  # no gap on the log slider wider than 3 → 5 or 5 → 10


# ---- advice -------------------------------------------------------------------------------------


def test_the_lecture_settings_need_no_advice():
    assert advice(TrainSettings(), n_train=60_000) == {}
    assert lr_advice(TrainSettings()) is None


def test_advice_warns_where_sgd_steps_get_large():
    note = advice(TrainSettings(lr=0.5, momentum=0.9))["lr"]
    assert note.key == "advice.sgd_step"
    assert note.params["momentum"] == 0.9 and note.params["step"] == pytest.approx(0.5 / (1 - 0.9))
    assert "lr" not in advice(TrainSettings(lr=0.5, momentum=0.0))  # a step of 0.5
    assert "lr" in advice(TrainSettings(lr=2.0, momentum=0.0))
    with i18n.using("en"):
        text = note.text()
    assert "lr / (1 − momentum) = 5" in text and "NaN" in text


def test_advice_for_adam_looks_at_its_own_lr():
    note = advice(TrainSettings(optimizer="adam", lr=0.1))["lr"]
    assert note.key == "advice.adam_lr" and note.params == {"lr": 0.1}
    assert "lr" not in advice(TrainSettings(optimizer="adam", lr=0.01))
    assert advice(TrainSettings(optimizer="adam", lr=0.5, momentum=0.9))["lr"].key == "advice.adam_lr"
    with i18n.using("en"):
        assert "Adam" in note.text() and "0.1" in note.text()


@pytest.mark.parametrize(
    "settings, warned",
    [
        (TrainSettings(activation="sigmoid"), True),
        (TrainSettings(activation="sigmoid", hidden_sizes=(64, 64, 64)), True),
        (TrainSettings(activation="sigmoid", hidden_sizes=(64, 64)), False),
        (TrainSettings(activation="tanh"), False),
        (TrainSettings(kind="cnn", activation="sigmoid"), False),
    ],
)
def test_advice_on_sigmoid_through_three_layers_or_more(settings, warned):
    notes = advice(settings)
    assert ("activation" in notes) == warned
    if warned:
        assert notes["activation"].key == "advice.sigmoid" and "ReLU" in notes["activation"].text()


def test_advice_on_a_batch_as_large_as_the_data():
    note = advice(TrainSettings(batch_size=1000, log_every=1), n_train=1000)["batch_size"]
    assert note.key == "advice.batch_whole_set" and note.params == {"n_train": 1000}
    assert "batch_size" not in advice(TrainSettings(batch_size=999, log_every=1), n_train=1000)
    assert "batch_size" not in advice(TrainSettings(batch_size=4096))  # unknown data size: no opinion


def test_advice_on_logging_less_often_than_once_per_epoch():
    note = advice(TrainSettings(batch_size=64, log_every=300), n_train=6000)["log_every"]
    assert note.key == "advice.log_once_per_epoch"
    assert note.params == {"batches": 94, "batch_size": 64, "log_every": 300}  # ceil(6000 / 64)
    with i18n.using("en"):
        assert "94 batches" in note.text()
    assert "log_every" not in advice(TrainSettings(log_every=50), n_train=6000)
    assert "log_every" not in advice(TrainSettings(log_every=94), n_train=6000)


def test_advice_on_more_curve_points_than_a_chart_shows():
    settings = TrainSettings(batch_size=1, log_every=1, epochs=10)
    note = advice(settings, n_train=60_000)["log_every"]
    assert note.key == "advice.curve_points"
    assert note.params == {"points": 600_000, "suggest": 600}
    assert 600_000 / note.params["suggest"] <= CURVE_POINTS_MAX  # the suggestion does fit
    assert "log_every" not in advice(settings.with_overrides(log_every=600), n_train=60_000)
    with i18n.using("en"):
        assert "600,000 points" in note.text() and "every 600 batches" in note.text()


def test_notes_are_data_until_worded():
    note = Note("advice.batch_whole_set", {"n_train": 12345})
    with i18n.using("en"):
        assert note.text() == "Not smaller than the 12,345 training examples: every epoch is one batch."
