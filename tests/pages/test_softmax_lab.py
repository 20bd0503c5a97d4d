"""The softmax & cross-entropy lab under AppTest: the lecture's example, edits, bad input."""

import math
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "3_Softmax_Lab.py")


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; metrics: {[m.label for m in at.metric]}"
    return values[0]


def cross_entropy_by_hand(z: list[float], target: int) -> float:
    """−log(e^{z_t} / Σ e^{z_j}), written out like the lecture's formula."""
    return -math.log(math.exp(z[target]) / sum(math.exp(v) for v in z))


@pytest.fixture
def at():
    app = AppTest.from_file(PAGE, default_timeout=60)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_the_lecture_example_gives_0_9729(at):
    assert metric(at, "Cross-entropy loss") == "0.9729"
    assert metric(at, "Prediction (argmax)") == "0"
    assert any("Largest difference between the routes" in s.body for s in at.success)


def test_every_chart_is_drawn(at):
    # steps, −log p and the gradient
    assert len(at.get("plotly_chart")) == 3
    assert len(at.dataframe) >= 3  # steps table, routes, overflow


def test_editing_logits_and_target_updates_the_loss(at):
    z = [1.5, -0.3, 2.0, 0.7]
    at.text_input(key="lab.logits").set_value(", ".join(map(str, z))).run()
    assert not at.exception and not [e for e in at.error if "Cannot" in e.body]
    assert metric(at, "Cross-entropy loss") == f"{cross_entropy_by_hand(z, 0):.4f}"
    assert metric(at, "Prediction (argmax)") == "2"
    at.selectbox(key="lab.target").set_value(3).run()
    assert metric(at, "Cross-entropy loss") == f"{cross_entropy_by_hand(z, 3):.4f}"


def test_temperature_divides_the_logits(at):
    at.slider(key="lab.temperature").set_value(2.0).run()
    z = [0.2 / 2, 0.1 / 2, -0.1 / 2]
    assert metric(at, "Cross-entropy loss") == f"{cross_entropy_by_hand(z, 0):.4f}"


def test_fewer_classes_bring_an_out_of_range_target_back(at):
    at.text_input(key="lab.logits").set_value("1, 2, 3, 4, 5").run()
    at.selectbox(key="lab.target").set_value(4).run()
    at.text_input(key="lab.logits").set_value("1, 2").run()
    assert not at.exception
    assert metric(at, "Cross-entropy loss") == f"{cross_entropy_by_hand([1, 2], 0):.4f}"


@pytest.mark.parametrize("text, message", [
    ("0.2, banana, -0.1", "not a number"),
    ("7", "2 to 10 logits"),
    (", ".join(["1"] * 11), "2 to 10 logits"),
    ("", "type the logits"),
    ("1, inf", "not a finite number"),
])
def test_bad_logits_get_a_clear_message(at, text, message):
    at.text_input(key="lab.logits").set_value(text).run()
    assert not at.exception
    errors = " ".join(e.body for e in at.error)
    assert "Cannot read the logits" in errors and message in errors
    assert not at.metric  # nothing half-computed is shown


def test_the_overflow_demonstration_shows_naive_nan_and_stable_answer(at):
    overflow = [e.body for e in at.error if "overflows" in e.body]
    assert overflow, "the default huge logits should show the naive formula failing"
    frames = [d.value for d in at.dataframe]
    table = next(f for f in frames if "naive exp(z) / Σ exp(z)" in f.columns)
    assert table["naive exp(z) / Σ exp(z)"].isna().any()
    assert abs(table["stable softmax"].sum() - 1) < 1e-12
    at.text_input(key="lab.huge_logits").set_value("1, 2, 3").run()
    assert not [e.body for e in at.error if "overflows" in e.body]
