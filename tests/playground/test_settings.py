"""Train settings: the lecture's defaults, the URL round trip, and advice next to controls."""

import textwrap

import pytest
from streamlit.testing.v1 import AppTest

from core.models import ModelSpec
from core.training import TrainConfig
from playground.settings import LR_GRID, LR_MAX, LR_MIN, TrainSettings


def test_defaults_are_the_lecture_model_and_optimizer():
    settings = TrainSettings()
    assert settings.spec() == ModelSpec(kind="mlp", hidden_sizes=(512, 256, 128, 64), activation="relu")
    assert settings.config() == TrainConfig(epochs=10, batch_size=64, lr=0.01, momentum=0.5, seed=0,
                                            log_every=300, optimizer="sgd")
    assert settings.errors() == []


def test_cnn_ignores_hidden_sizes_but_keeps_them_for_later():
    settings = TrainSettings(kind="cnn", hidden_sizes=(32,))
    assert settings.spec().kind == "cnn"
    assert settings.hidden_sizes == (32,)  # switching back to the MLP restores them


def test_adam_trains_without_momentum():
    config = TrainSettings(optimizer="adam", lr=0.001, momentum=0.9).config()
    assert config.optimizer == "adam" and config.momentum == 0.0


@pytest.mark.parametrize("settings", [
    TrainSettings(),
    TrainSettings(kind="cnn", optimizer="adam", lr=0.001, batch_size=128, epochs=3, seed=7),
    TrainSettings(hidden_sizes=(), activation="sigmoid", lr=0.0003, momentum=0.0, log_every=1),
    TrainSettings(hidden_sizes=(4096,) * 8, activation="tanh", lr=10.0, momentum=0.99, seed=2**31 - 1),
    TrainSettings(lr=0.0123456789),
])
def test_query_params_round_trip(settings):
    params = settings.to_query_params()
    assert all(isinstance(v, str) for v in params.values())
    restored, messages = TrainSettings.from_query_params(params)
    assert restored == settings
    assert messages == []


def test_a_partial_link_fills_in_the_defaults():
    settings, messages = TrainSettings.from_query_params({"lr": "0.1", "momentum": "0.9"})
    assert settings == TrainSettings(lr=0.1, momentum=0.9)
    assert messages == []


def test_zero_hidden_layers_travel_as_none():
    assert TrainSettings(hidden_sizes=()).to_query_params()["hidden"] == "none"
    assert TrainSettings.from_query_params({"hidden": "none"})[0].hidden_sizes == ()


@pytest.mark.parametrize("params, field, expected, fragment", [
    ({"lr": "fast"}, "lr", 0.01, "not a number"),
    ({"lr": "nan"}, "lr", 0.01, "not a finite number"),
    ({"lr": "100"}, "lr", LR_MAX, "outside"),
    ({"lr": "0"}, "lr", LR_MIN, "outside"),
    ({"momentum": "1.5"}, "momentum", 0.99, "outside"),
    ({"batch": "2.5"}, "batch_size", 64, "not a number"),
    ({"epochs": "0"}, "epochs", 1, "outside"),
    ({"model": "transformer"}, "kind", "mlp", "not one of"),
    ({"act": "gelu"}, "activation", "relu", "not one of"),
    ({"hidden": "512-abc"}, "hidden_sizes", (512, 256, 128, 64), "should look like"),
    ({"hidden": "10000-0"}, "hidden_sizes", (4096, 1), "clamped"),
    ({"hidden": "-".join(["9"] * 10)}, "hidden_sizes", (9,) * 8, "first 8"),
])
def test_a_broken_link_falls_back_with_a_message(params, field, expected, fragment):
    settings, messages = TrainSettings.from_query_params(params)
    assert getattr(settings, field) == expected
    assert len(messages) == 1 and fragment in messages[0]
    assert settings.errors() == []  # whatever came in, the result can train


def test_repeated_keys_take_the_last_value():
    settings, _ = TrainSettings.from_query_params({"lr": ["0.5", "0.02"]})
    assert settings.lr == 0.02


def test_lr_grid_is_log_spaced_and_contains_the_lecture_value():
    assert LR_GRID[0] == LR_MIN and LR_GRID[-1] == LR_MAX and 0.01 in LR_GRID
    assert list(LR_GRID) == sorted(set(LR_GRID))


def test_advice_warns_where_sgd_steps_get_large():
    assert "lr" not in TrainSettings().advice()
    note = TrainSettings(lr=0.5, momentum=0.9).advice()["lr"]
    assert "5" in note and "NaN" in note  # 0.5 / (1 - 0.9) = 5


def test_advice_for_adam_sigmoid_batch_and_logging():
    assert "Adam" in TrainSettings(optimizer="adam", lr=0.1).advice()["lr"]
    assert "ReLU" in TrainSettings(activation="sigmoid").advice()["activation"]
    assert "activation" not in TrainSettings(activation="sigmoid", hidden_sizes=(64,)).advice()
    notes = TrainSettings(batch_size=64, log_every=300).advice(n_train=6000)
    assert "94 batches" in notes["log_every"]  # ceil(6000 / 64)
    assert "log_every" not in TrainSettings(log_every=50).advice(n_train=6000)
    assert "batch_size" in TrainSettings(batch_size=4096).advice(n_train=1000)


def test_errors_explain_what_cannot_train():
    errors = TrainSettings(hidden_sizes=(0,)).errors()
    assert len(errors) == 1 and "hidden layer 1" in errors[0]
    assert TrainSettings(momentum=1.0).errors()


def test_overrides_reject_typos():
    assert TrainSettings().with_overrides(lr=0.1, hidden_sizes=[3, 2]).hidden_sizes == (3, 2)
    with pytest.raises(TypeError, match="learning_rate"):
        TrainSettings().with_overrides(learning_rate=0.1)


MAIN = """
import streamlit as st
from playground.settings import send_to_train_page
st.session_state["train.w.lr"] = 0.5  # a stale widget value that must not win
if st.button("go", key="go"):
    send_to_train_page(lr=0.1, momentum=0.9)
"""

TRAIN = """
import streamlit as st
from playground.settings import current_settings
settings = current_settings()
st.write(f"lr={settings.lr} momentum={settings.momentum} opt={settings.optimizer}")
st.write(f"stale={'train.w.lr' in st.session_state}")
st.write(f"url={st.query_params.to_dict().get('lr')}")
"""


def test_send_to_train_page_prefills_and_switches(tmp_path):
    (tmp_path / "pages").mkdir()
    (tmp_path / "app.py").write_text(textwrap.dedent(MAIN))
    (tmp_path / "pages" / "1_Train.py").write_text(textwrap.dedent(TRAIN))
    at = AppTest.from_file(str(tmp_path / "app.py"))
    at.session_state["train.settings"] = TrainSettings(optimizer="adam", lr=0.001)
    at.run()
    at.button(key="go").click().run()
    assert not at.exception
    lines = [m.value for m in at.markdown]
    assert "lr=0.1 momentum=0.9 opt=sgd" in lines  # momentum implies SGD
    assert "stale=False" in lines
    assert "url=0.1" in lines
