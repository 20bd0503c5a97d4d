"""The softmax & cross-entropy lab under AppTest: the lecture's example, edits, bad input, the tables."""

import math

import numpy as np
import pytest

from core.softmax import naive_softmax, softmax, walkthrough
from playground import fmt
from tests.pages.conftest import metric, table_text, texts


def cross_entropy_by_hand(z: list[float], target: int) -> float:
    """−log(e^{z_t} / Σ e^{z_j}), written out like the lecture's formula."""
    return -math.log(math.exp(z[target]) / sum(math.exp(v) for v in z))


@pytest.fixture
def at(open_page):
    return open_page("1_Softmax_Lab")


def test_the_lecture_example_gives_0_9729(at):
    assert metric(at, "Cross-entropy loss") == "0.9729"
    assert metric(at, "Prediction (argmax)") == "0"
    assert any("Largest difference between the routes" in s.body for s in at.success)


def test_every_chart_and_table_is_drawn(at):
    assert len(at.get("plotly_chart")) == 3  # steps, −log p and the gradient
    for key in ("lab-steps", "lab-routes", "lab-overflow"):
        assert len(table_text(at, key)) >= 3


def test_the_step_table_shows_every_number_with_its_sign(at):
    wt = walkthrough([0.2, 0.1, -0.1], 0)
    shown = table_text(at, "lab-steps")
    assert list(shown["log probs"]) == [fmt.number(v, ".6g") for v in wt.log_probs]
    assert all(cell.startswith("-") for cell in shown["log probs"])  # every sign survives
    assert list(shown["∂loss/∂z"]) == [fmt.number(v, ".6g") for v in wt.grad_formula]


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


@pytest.mark.parametrize(
    "text, message",
    [
        ("0.2, banana, -0.1", "not a number"),
        ("7", "2 to 10 logits"),
        (", ".join(["1"] * 11), "2 to 10 logits"),
        ("", "type the logits"),
        ("1, inf", "not a finite number"),
    ],
)
def test_bad_logits_get_a_clear_message(at, text, message):
    at.text_input(key="lab.logits").set_value(text).run()
    assert not at.exception
    errors = " ".join(e.body for e in at.error)
    assert "Cannot read the logits" in errors and message in errors
    assert not at.metric  # nothing half-computed is shown


def test_full_width_commas_from_a_chinese_keyboard_are_read(at):
    at.text_input(key="lab.logits").set_value("0.2，0.1，-0.1").run()
    assert metric(at, "Cross-entropy loss") == "0.9729"


def test_the_overflow_table_shows_nan_and_inf_as_such(at):
    assert any("overflows" in e.body for e in at.error), "the default huge logits show the naive formula failing"
    shown = table_text(at, "lab-overflow")
    z = [1000.0, 0.0, -1000.0]
    assert list(shown["exp(z)"]) == ["inf", "1", "0"]
    assert list(shown["naive exp(z) / Σ exp(z)"]) == [fmt.number(v, ".6g") for v in naive_softmax(z)]
    assert "nan" in list(shown["naive exp(z) / Σ exp(z)"]) and "None" not in shown.to_string()
    assert list(shown["stable softmax"]) == [fmt.number(v, ".6g") for v in softmax(z)]
    at.text_input(key="lab.huge_logits").set_value("1, 2, 3").run()
    assert not [e.body for e in at.error if "overflows" in e.body]


def test_a_certain_answer_costs_zero_not_minus_zero(at):
    at.text_input(key="lab.logits").set_value("1000, 0").run()
    assert metric(at, "Cross-entropy loss") == "0.0000"
    routes = table_text(at, "lab-routes")
    assert not any(cell.startswith("-0.000") for cell in routes["loss"])
    assert np.isclose(walkthrough([1000, 0], 0).loss, 0.0)


def test_decimal_commas_between_semicolons_are_read_and_what_was_read_is_shown(at):
    at.text_input(key="lab.logits").set_value("0,2; 0,1; -0,1").run()
    assert not at.exception
    assert "Read as 3 logits: z = [0.2, 0.1, -0.1]" in texts(at, "caption")
    assert metric(at, "Cross-entropy loss") == "0.9729"  # the lecture's example, typed the European way
    at.text_input(key="lab.logits").set_value("0,2, 0,1, -0,1").run()  # ambiguous: six numbers, and it says so
    assert "Read as 6 logits: z = [0, 2, 0, 1, 0, 1]" in texts(at, "caption")
