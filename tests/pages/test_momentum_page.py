"""The momentum lab under AppTest: the race, the worked update rule, presets, divergence, the bridge to MNIST."""

import time

import numpy as np
import pytest

from core import momentum as mo
from playground import fmt, i18n, nav
from playground.figures.momentum import UPDATE_COLUMNS, pair_text
from playground.room import get_room
from playground.settings import TrainSettings
from playground.train_run import TRAIN
from tests.pages.conftest import (
    figure,
    student_of,
    table_text,
    texts,
    values,
    wait_for_run,
)

P = "momentum."


@pytest.fixture
def at(open_page):
    return open_page("4_Momentum")


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def trace(spec, name) -> dict:
    return next(t for t in spec["data"] if t.get("name") == name)


def english(key: str, **params) -> str:
    with i18n.using("en"):
        return i18n.plain(key, **params)


def momentum_by_hand(grad, start, lr, gamma, k):
    """The lecture's rule written out: v ← γ·v + η·∇L, θ ← θ − v; returns [(θ_t, v_t)] for t = 1..k."""
    theta, v, out = np.array(start, dtype=float), np.zeros(2), []
    for _ in range(k):
        v = gamma * v + lr * grad(theta)
        theta = theta - v
        out.append((theta, v))
    return out


def quadratic_grad(theta):
    return np.array([0.2 * theta[0], 4 * theta[1]])  # ∇(0.1x² + 2y²)


def test_the_page_opens_on_the_elongated_quadratic_with_both_racers(at):
    surface = mo.QUADRATIC
    assert at.selectbox(key=P + "surface").value == "quadratic"
    assert (at.number_input(key=P + "x0").value, at.number_input(key=P + "y0").value) == surface.start
    assert (
        at.select_slider(key=P + "lr").value,
        at.slider(key=P + "gamma").value,
        at.slider(key=P + "steps").value,
    ) == (surface.lr, surface.gamma, surface.steps)
    shown = metrics(at)
    assert set(shown) == {"Final loss · gradient descent", "Final loss · momentum"}
    gd, mom = mo.race(surface, ("gd", "momentum"), surface.start, surface.lr, surface.gamma, surface.steps)
    assert shown["Final loss · gradient descent"] == fmt.number(gd.final_loss, ".4g")
    assert shown["Final loss · momentum"] == fmt.number(mom.final_loss, ".4g")
    assert len(at.get("plotly_chart")) == 2
    assert not at.warning


def test_the_effective_step_size_is_lr_over_one_minus_gamma(at):
    assert "η / (1 − γ) = 0.4 / (1 − 0.5) = 0.8" in texts(at, "caption")
    at.slider(key=P + "gamma").set_value(0.9)
    at.select_slider(key=P + "lr").set_value(0.1)
    at.run()
    captions = texts(at, "caption")
    assert f"0.1 / (1 − 0.9) = {0.1 / (1 - 0.9):.4g}" in captions
    assert "10× a plain gradient step" in captions


def test_changing_lr_gamma_and_steps_redraws_the_race(at):
    before = metrics(at)["Final loss · momentum"]
    at.select_slider(key=P + "lr").set_value(0.2)
    at.slider(key=P + "gamma").set_value(0.8)
    at.slider(key=P + "steps").set_value(25)
    at.run()
    assert not at.exception
    path = trace(figure(at, P + "contour"), "momentum")
    expected = mo.run_path(mo.QUADRATIC, "momentum", (-5.0, -2.0), 0.2, 0.8, 25)
    assert len(values(path["x"])) == 26  # the start and 25 steps
    np.testing.assert_allclose(values(path["x"]), expected.points[:, 0])
    np.testing.assert_allclose(values(path["y"]), expected.points[:, 1])
    shown = metrics(at)["Final loss · momentum"]
    assert shown == fmt.number(expected.final_loss, ".4g") != before
    np.testing.assert_allclose(values(trace(figure(at, P + "loss"), "momentum")["y"]), expected.losses)  # L* = 0
    assert figure(at, P + "loss")["layout"]["yaxis"]["type"] == "log"
    at.toggle(key=P + "log_y").set_value(False).run()
    assert figure(at, P + "loss")["layout"]["yaxis"]["type"] == "linear"


def test_changing_the_surface_brings_its_own_start_and_lr(at):
    at.selectbox(key=P + "surface").set_value("rosenbrock").run()
    assert not at.exception
    surface = mo.ROSENBROCK
    assert at.select_slider(key=P + "lr").value == surface.lr
    assert (at.number_input(key=P + "x0").value, at.number_input(key=P + "y0").value) == surface.start
    assert list(values(trace(figure(at, P + "contour"), "minimum")["x"])) == [1.0]
    gd = mo.run_path(surface, "gd", surface.start, surface.lr, surface.gamma, surface.steps)
    assert metrics(at)["Final loss · gradient descent"] == fmt.number(gd.final_loss, ".4g")
    at.number_input(key=P + "x0").set_value(0.5).run()  # a start point of the user's own
    assert list(values(trace(figure(at, P + "contour"), "start")["x"])) == [0.5]


@pytest.mark.parametrize(
    "surface, start, lr, gamma",
    [
        ("quadratic", None, 0.4, 0.7),  # the lecture's example with γ = 0.7
        ("saddle", None, 0.1, 0.9),  # a start next to the saddle: tiny numbers, signs on both sides
        ("quadratic", (5.5, -2.9), 0.45, 0.95),  # overshooting: every sign flips from row to row
    ],
)
def test_the_update_table_shows_every_digit_and_sign_of_the_update_rule(at, surface, start, lr, gamma):
    at.selectbox(key=P + "surface").set_value(surface).run()
    if start is not None:
        at.number_input(key=P + "x0").set_value(start[0])
        at.number_input(key=P + "y0").set_value(start[1])
    at.select_slider(key=P + "lr").set_value(lr)
    at.slider(key=P + "gamma").set_value(gamma)
    at.number_input(key=P + "table_steps").set_value(12)
    at.run()
    assert not at.exception
    chosen = mo.get_surface(surface)
    begin = start if start is not None else chosen.start
    rows = mo.update_steps(chosen, begin, lr, gamma, 12)
    table = table_text(at, "momentum-updates")
    assert list(table["t"]) == [str(r.t) for r in rows] == [str(t) for t in range(1, 13)]
    for shown, row in zip(table.to_dict("records"), rows):
        vectors = (row.theta_before, row.grad, row.momentum_term, row.gradient_term, row.v, row.theta)
        for column, vector in zip(UPDATE_COLUMNS, vectors):
            assert shown[column] == pair_text(vector), (row.t, column)
        assert shown["L(θₜ)"] == fmt.number(row.loss, ".6g")
    assert any(cell.startswith("-") for cell in table["θₜ"]), "no negative coordinate: the signs are untested"
    if surface == "quadratic":  # and the same numbers from the rule written out by hand
        by_hand = momentum_by_hand(quadratic_grad, begin, lr, gamma, 12)
        for shown, (theta, v) in zip(table.to_dict("records"), by_hand):
            for column, vector in (("vₜ", v), ("θₜ", theta)):
                cell = [float(part) for part in shown[column].split(", ")]
                np.testing.assert_allclose(cell, vector, rtol=1e-5, atol=1e-12)
                assert [c < 0 for c in cell] == [x < 0 for x in vector]


def test_the_worked_update_is_the_rule_by_hand(at):
    at.slider(key=P + "gamma").set_value(0.7).run()
    # the first step written out: ∇L(−5, −2) = (−1, −8), v₁ = 0.4·∇L = (−0.4, −3.2), θ₁ = (−4.6, 1.2)
    worked = texts(at, "markdown")
    assert "v₁ = γ·v₀ + η·∇L(θ₀) = 0.7·[0, 0] + 0.4·[-1, -8] = [0, 0] + [-0.4, -3.2] = [-0.4, -3.2]" in worked
    assert "θ₁ = θ₀ − v₁ = [-5, -2] − [-0.4, -3.2] = [-4.6, 1.2]" in worked
    at.number_input(key=P + "worked_t").set_value(2).run()
    (theta1, v1), (theta2, v2) = momentum_by_hand(quadratic_grad, (-5, -2), 0.4, 0.7, 2)
    worked = texts(at, "markdown")
    assert f"at θ₁ = [{pair_text(theta1)}]" in worked
    assert f"v₂ = γ·v₁ + η·∇L(θ₁) = 0.7·[{pair_text(v1)}] + 0.4·[{pair_text(quadratic_grad(theta1))}]" in worked
    assert f"= [{pair_text(0.7 * v1)}] + [{pair_text(0.4 * quadratic_grad(theta1))}] = [{pair_text(v2)}]" in worked
    assert f"θ₂ = θ₁ − v₂ = [{pair_text(theta1)}] − [{pair_text(v2)}] = [{pair_text(theta2)}]" in worked
    at.number_input(key=P + "table_steps").set_value(1).run()  # fewer rows than the step being worked out
    assert not at.exception and at.number_input(key=P + "worked_t").value == 1
    assert len(table_text(at, "momentum-updates")) == 1


def test_a_divergent_lr_is_a_warning_not_a_traceback(at):
    at.select_slider(key=P + "lr").set_value(1.0).run()  # 1 − 1·4 = −3 along y: blows up within steps
    assert not at.exception
    warnings = texts(at, "warning")
    assert "gradient descent diverged at step" in warnings and "momentum diverged at step" in warnings
    assert "Try a smaller lr" in warnings
    assert set(metrics(at)) == {"Final loss · gradient descent", "Final loss · momentum"}  # still drawn
    # lr 5, γ 0.99: GD's y goes −2 → 38 → −722, and L = 2y² passes 1e6 at step 2; momentum's second
    # step is damped by its first velocity (y = −682.4, L ≈ 9.3e5), its third lands at y ≈ 12252.
    at.select_slider(key=P + "lr").set_value(5.0)
    at.slider(key=P + "gamma").set_value(0.99)
    at.run()
    warnings = texts(at, "warning")
    assert "gradient descent diverged at step 2" in warnings and "momentum diverged at step 3" in warnings
    assert "η / (1 − γ) = 500" in warnings


def test_a_first_step_that_already_diverges_leaves_nothing_to_work_out(at):
    at.selectbox(key=P + "surface").set_value("rosenbrock").run()
    at.select_slider(key=P + "lr").set_value(5.0).run()  # x: −1.2 + 5·215.6 ≈ 1077, L ≈ 1.3e14
    assert not at.exception
    assert "first update already diverged" in texts(at, "warning")
    with pytest.raises(AssertionError):
        table_text(at, "momentum-updates")


@pytest.mark.parametrize("preset", mo.PRESETS, ids=lambda p: p.key)
def test_each_preset_sets_the_controls_and_tells_its_story(at, preset):
    at.selectbox(key=P + "preset").set_value(preset.key).run()
    assert not at.exception
    assert at.selectbox(key=P + "surface").value == preset.surface
    assert (at.number_input(key=P + "x0").value, at.number_input(key=P + "y0").value) == preset.start
    assert at.select_slider(key=P + "lr").value == preset.lr
    assert (at.slider(key=P + "gamma").value, at.slider(key=P + "steps").value) == (preset.gamma, preset.steps)
    story = texts(at, "info")
    assert english(f"momentum.preset.{preset.key}.title") in story
    assert english(f"momentum.preset.{preset.key}.lesson") in story
    assert "changed the settings" not in story
    paths = mo.race(
        mo.get_surface(preset.surface), ("gd", "momentum"), preset.start, preset.lr, preset.gamma, preset.steps
    )
    assert metrics(at)["Final loss · momentum"] == fmt.number(paths[1].final_loss, ".4g")


def test_a_preset_changed_by_hand_says_so_and_another_surface_is_custom(at):
    at.selectbox(key=P + "preset").set_value("too_much").run()
    summary = table_text(at, "momentum-summary").set_index("optimizer")
    assert int(summary.loc["momentum", "steps uphill"]) > 0 == int(summary.loc["gradient descent", "steps uphill"])
    at.slider(key=P + "gamma").set_value(0.5).run()
    assert "changed the settings" in texts(at, "info")
    at.selectbox(key=P + "preset").set_value("saddle").run()
    assert at.selectbox(key=P + "surface").value == "saddle"
    assert "saddle point" in [t.get("name") for t in figure(at, P + "contour")["data"]]
    at.selectbox(key=P + "surface").set_value("plateau").run()  # a surface of one's own: back to custom
    assert at.selectbox(key=P + "preset").value == "custom"


def test_nesterov_and_adam_join_the_race(at):
    at.multiselect(key=P + "extra").set_value(["nesterov", "adam"]).run()
    assert not at.exception
    assert {"Final loss · Nesterov", "Final loss · Adam"} <= set(metrics(at))
    names = [t.get("name", "") for t in figure(at, P + "loss")["data"]]
    assert any(n.startswith("Nesterov") for n in names) and "Adam" in names


def test_the_lr_sent_to_mnist_is_snapped_to_the_train_pages_grid(at):
    # 0.4 is not on the Train page's 1-2-3-5 grid: 0.5 is nearer than 0.3 on a log scale
    assert "will be sent as 0.5" in texts(at, "info")
    assert at.button(key=P + "send").proto.label == "Train on MNIST with lr 0.5 and momentum 0.5"
    at.select_slider(key=P + "lr").set_value(0.2).run()  # on the grid: sent as is
    assert "will be sent as" not in texts(at, "info")
    assert at.button(key=P + "send").proto.label.startswith("Train on MNIST with lr 0.2 ")


def test_the_send_button_goes_to_train_and_starts_a_run_with_this_lr_and_momentum(at):
    # a tiny network, so that the run the Train page starts is quick; the other settings must survive
    at.session_state[TRAIN.settings_key] = TrainSettings(hidden_sizes=(8,), epochs=1, optimizer="adam")
    at.slider(key=P + "gamma").set_value(0.9).run()
    at.button(key=P + "send").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Train and watch it learn" in at.title[0].value  # now on the Train page
    assert at.select_slider(key="train.w.lr").value == 0.5 and at.slider(key="train.w.momentum").value == 0.9
    assert at.radio(key="train.w.optimizer").value == "sgd"
    entry = get_room().job_of(student_of(at), "train")
    assert entry is not None, "the Train page did not start the run"
    settings = entry.details["settings"]
    assert (settings.lr, settings.momentum, settings.optimizer) == (0.5, 0.9, "sgd")
    assert (settings.hidden_sizes, settings.epochs) == ((8,), 1)
    assert entry.job.config.lr == 0.5 and entry.job.config.momentum == 0.9
    wait_for_run(at)
    assert entry.job.snapshot().status == "finished"
    assert nav.GOING_TO_KEY not in at.session_state  # arrived


def test_a_switch_overtaken_by_a_rerun_of_the_page_left_goes_on_to_train(at):
    """The tab asked for a rerun of Momentum while the switch to Train was queued: Streamlit ran
    Momentum again. That run must carry on to Train, and only once."""
    at.session_state[TRAIN.settings_key] = TrainSettings(hidden_sizes=(8,), epochs=1)
    params = {"lang": "en", "lr": "0.5", "momentum": "0.9", "opt": "sgd"}
    at.session_state[nav.GOING_TO_KEY] = ("train", params, time.monotonic())
    at.run()  # the rerun of the page being left
    assert not at.exception, [e.value for e in at.exception]
    assert "Train and watch it learn" in at.title[0].value
    assert nav.GOING_TO_KEY not in at.session_state
    at.switch_page("pages/4_Momentum.py").run()  # arrived: a later visit to Momentum stays there
    assert "Momentum" in at.title[0].value


def test_a_switch_that_never_arrived_is_not_replayed_later(at):
    at.session_state[nav.GOING_TO_KEY] = ("train", {"lang": "en"}, time.monotonic() - nav.GOING_TO_S - 1)
    at.run()
    assert "Momentum" in at.title[0].value and nav.GOING_TO_KEY not in at.session_state


def test_the_lab_keeps_its_settings_while_the_user_visits_another_page(at):
    at.selectbox(key=P + "preset").set_value("saddle").run()
    at.slider(key=P + "gamma").set_value(0.8).run()
    at.multiselect(key=P + "extra").set_value(["adam"]).run()
    shown = metrics(at)
    at.switch_page("pages/1_Softmax_Lab.py").run()
    at.switch_page("pages/4_Momentum.py").run()
    assert not at.exception
    assert at.selectbox(key=P + "surface").value == "saddle" and at.slider(key=P + "gamma").value == 0.8
    assert at.multiselect(key=P + "extra").value == ["adam"]
    assert metrics(at) == shown


def test_settings_the_train_page_cannot_use_are_explained(at):
    at.session_state[TRAIN.settings_key] = TrainSettings(hidden_sizes=(0,))  # broken elsewhere on the Train page
    at.button(key=P + "send").click().run()
    assert not at.exception
    errors = texts(at, "error")
    assert "The Train page cannot use these settings" in errors and "hidden layer 1" in errors
    assert at.session_state[TRAIN.settings_key].hidden_sizes == (0,)  # nothing was changed
    assert get_room().job_of(student_of(at), "train") is None
    assert metrics(at)  # still on the lab
