"""The momentum lab under AppTest: the race, the worked update rule, presets, divergence, the bridge to MNIST."""

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import momentum as mo
from playground.settings import TrainSettings

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "5_Momentum.py")
HOME = str(ROOT / "streamlit_app.py")
P = "momentum."


@pytest.fixture
def at():
    app = AppTest.from_file(PAGE, default_timeout=60)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def figure(at, key) -> dict:
    charts = [c for c in at.get("plotly_chart") if key in c.proto.id]
    assert charts, f"no plotly chart {key}"
    return json.loads(charts[0].proto.spec)


def trace(spec, name) -> dict:
    return next(t for t in spec["data"] if t.get("name") == name)


def values(data) -> np.ndarray:
    """Plotly ≥ 6 sends NumPy arrays base64-encoded as {"dtype", "bdata"}; lists stay lists."""
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
    return np.asarray(data)


def frame_with(at, column):
    return next(d.value for d in at.dataframe if column in d.value.columns)


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
    assert at.selectbox(key=P + "surface").value == "quadratic"
    assert (at.number_input(key=P + "x0").value, at.number_input(key=P + "y0").value) == (-5.0, -2.0)
    shown = metrics(at)
    assert set(shown) == {"Final loss · gradient descent", "Final loss · momentum"}
    gd, mom = mo.race(mo.QUADRATIC, ("gd", "momentum"), (-5.0, -2.0), 0.4, 0.5, 40)
    assert shown["Final loss · gradient descent"] == f"{gd.final_loss:.4g}"
    assert shown["Final loss · momentum"] == f"{mom.final_loss:.4g}"
    assert len(at.get("plotly_chart")) == 2
    assert not at.warning


def test_the_effective_step_size_is_lr_over_one_minus_gamma(at):
    captions = [c.value for c in at.caption]
    assert any("η / (1 − γ) = 0.4 / (1 − 0.5) = **0.8**" in c for c in captions)
    at.slider(key=P + "gamma").set_value(0.9).run()
    at.select_slider(key=P + "lr").set_value(0.1).run()
    captions = [c.value for c in at.caption]
    assert any(f"0.1 / (1 − 0.9) = **{0.1 / (1 - 0.9):.4g}**" in c for c in captions)
    assert any("10× a plain gradient step" in c for c in captions)


def test_changing_lr_gamma_and_steps_redraws_the_race(at):
    before_metrics, before_path = metrics(at), trace(figure(at, "contour"), "momentum")
    at.select_slider(key=P + "lr").set_value(0.2).run()
    at.slider(key=P + "gamma").set_value(0.8).run()
    at.slider(key=P + "steps").set_value(25).run()
    assert not at.exception
    path = trace(figure(at, "contour"), "momentum")
    assert len(values(path["x"])) == 26 != len(values(before_path["x"]))  # start + 25 steps (was 40)
    expected = mo.run_path(mo.QUADRATIC, "momentum", (-5.0, -2.0), 0.2, 0.8, 25)
    np.testing.assert_allclose(values(path["x"]), expected.points[:, 0])
    np.testing.assert_allclose(values(path["y"]), expected.points[:, 1])
    shown = metrics(at)["Final loss · momentum"]
    assert shown == f"{expected.final_loss:.4g}" != before_metrics["Final loss · momentum"]
    loss_curve = trace(figure(at, "loss"), "momentum")
    np.testing.assert_allclose(values(loss_curve["y"]), expected.losses)  # L* = 0 here
    assert figure(at, "loss")["layout"]["yaxis"]["type"] == "log"
    at.toggle(key=P + "log_y").set_value(False).run()
    assert figure(at, "loss")["layout"]["yaxis"]["type"] == "linear"


def test_changing_the_surface_brings_its_own_start_and_lr(at):
    at.selectbox(key=P + "surface").set_value("rosenbrock").run()
    assert not at.exception
    assert at.select_slider(key=P + "lr").value == mo.ROSENBROCK.lr
    assert (at.number_input(key=P + "x0").value, at.number_input(key=P + "y0").value) == mo.ROSENBROCK.start
    spec = figure(at, "contour")
    assert list(values(trace(spec, "minimum")["x"])) == [1.0]
    gd = mo.run_path(mo.ROSENBROCK, "gd", mo.ROSENBROCK.start, mo.ROSENBROCK.lr, mo.ROSENBROCK.gamma,
                     mo.ROSENBROCK.steps)
    assert metrics(at)["Final loss · gradient descent"] == f"{gd.final_loss:.4g}"
    at.number_input(key=P + "x0").set_value(0.5).run()  # a start point of the user's own
    assert list(values(trace(figure(at, "contour"), "start")["x"])) == [0.5]


def test_the_step_table_is_the_update_rule_by_hand(at):
    at.slider(key=P + "gamma").set_value(0.7).run()
    table = frame_with(at, "vₜ x")
    assert list(table.index) == [1, 2, 3, 4, 5]
    for t, (theta, v) in enumerate(momentum_by_hand(quadratic_grad, (-5, -2), 0.4, 0.7, 5), start=1):
        np.testing.assert_allclose([table.loc[t, "vₜ x"], table.loc[t, "vₜ y"]], v, rtol=1e-12)
        np.testing.assert_allclose([table.loc[t, "θₜ x"], table.loc[t, "θₜ y"]], theta, rtol=1e-12)
    # the first step written out: ∇L(−5, −2) = (−1, −8), v₁ = 0.4·∇L = (−0.4, −3.2), θ₁ = (−4.6, 1.2)
    worked = " ".join(m.value for m in at.markdown)
    assert "**[-0.4, -3.2]**" in worked and "**[-4.6, 1.2]**" in worked
    at.number_input(key=P + "worked_t").set_value(2).run()
    (theta2, v2) = momentum_by_hand(quadratic_grad, (-5, -2), 0.4, 0.7, 2)[1]
    worked = " ".join(m.value for m in at.markdown)
    assert f"**[{v2[0]:.6g}, {v2[1]:.6g}]**" in worked and f"**[{theta2[0]:.6g}, {theta2[1]:.6g}]**" in worked
    at.number_input(key=P + "table_steps").set_value(12).run()
    assert len(frame_with(at, "vₜ x")) == 12
    at.number_input(key=P + "table_steps").set_value(1).run()  # fewer rows than the step being worked out
    assert not at.exception and at.number_input(key=P + "worked_t").value == 1


def test_a_divergent_lr_is_a_warning_not_a_traceback(at):
    at.select_slider(key=P + "lr").set_value(1.0).run()  # 1 − 1·4 = −3 along y: blows up within steps
    assert not at.exception
    warnings = " ".join(w.body for w in at.warning)
    assert "gradient descent diverged at step" in warnings and "momentum diverged at step" in warnings
    assert "Try a smaller lr" in warnings
    assert set(metrics(at)) == {"Final loss · gradient descent", "Final loss · momentum"}  # still drawn
    # lr 5, γ 0.99: GD's y goes −2 → 38 → −722, and L = 2y² passes 1e6 at step 2; momentum's second
    # step is damped by its first velocity (y = −682.4, L ≈ 9.3e5), its third lands at y ≈ 12252.
    at.select_slider(key=P + "lr").set_value(5.0).run()
    at.slider(key=P + "gamma").set_value(0.99).run()
    warnings = " ".join(w.body for w in at.warning)
    assert "**gradient descent diverged at step 2**" in warnings and "**momentum diverged at step 3**" in warnings
    assert "η / (1 − γ) = 500" in warnings


def test_a_first_step_that_already_diverges_leaves_nothing_to_work_out(at):
    at.selectbox(key=P + "surface").set_value("rosenbrock").run()
    at.select_slider(key=P + "lr").set_value(5.0).run()  # x: −1.2 + 5·215.6 ≈ 1077, L ≈ 1.3e14
    assert not at.exception
    assert any("first update already diverged" in w.body for w in at.warning)
    assert not any("vₜ x" in d.value.columns for d in at.dataframe)


def test_presets_set_the_controls_and_explain_the_effect(at):
    at.selectbox(key=P + "preset").set_value("too_much").run()
    assert not at.exception
    assert at.slider(key=P + "gamma").value == 0.99 and at.slider(key=P + "steps").value == 200
    lesson = mo.get_preset("too_much").lesson
    assert any(lesson in i.body for i in at.info)
    summary = frame_with(at, "steps uphill")
    assert summary.loc["momentum", "steps uphill"] > 0 == summary.loc["gradient descent", "steps uphill"]
    at.slider(key=P + "gamma").set_value(0.5).run()
    assert any("changed the settings" in i.body for i in at.info)
    at.selectbox(key=P + "preset").set_value("saddle").run()
    assert at.selectbox(key=P + "surface").value == "saddle"
    assert "saddle point" in [t.get("name") for t in figure(at, "contour")["data"]]
    at.selectbox(key=P + "surface").set_value("plateau").run()  # a surface of one's own: back to custom
    assert at.selectbox(key=P + "preset").value == "custom"


def test_nesterov_and_adam_join_the_race(at):
    at.multiselect(key=P + "extra").set_value(["nesterov", "adam"]).run()
    assert not at.exception
    assert {"Final loss · Nesterov", "Final loss · Adam"} <= set(metrics(at))
    names = [t.get("name", "") for t in figure(at, "loss")["data"]]
    assert any(n.startswith("Nesterov") for n in names) and "Adam" in names


def test_the_lr_sent_to_mnist_is_snapped_to_the_train_pages_grid(at):
    # 0.4 is not on the Train page's 1-2-3-5 grid: 0.5 is nearer than 0.3 on a log scale
    assert any("will be sent as **0.5**" in i.body for i in at.info)
    assert at.button(key=P + "send").proto.label == "Train on MNIST with lr 0.5 and momentum 0.5"
    at.select_slider(key=P + "lr").set_value(0.2).run()  # on the grid: sent as is
    assert not any("will be sent as" in i.body for i in at.info)
    assert at.button(key=P + "send").proto.label.startswith("Train on MNIST with lr 0.2 ")


@pytest.fixture
def app():
    """The whole app (home page first), so that the lab can switch to the Train page."""
    app = AppTest.from_file(HOME, default_timeout=60)
    yield app
    page_job = app.session_state["train.job"] if "train.job" in app.session_state else None
    if page_job is not None:  # never leave a training thread behind
        page_job.job.stop()
        page_job.job.wait(timeout=30)


def test_the_send_button_starts_a_train_run_with_this_lr_and_momentum(app):
    # a tiny network, so that the run the Train page starts is quick; the other settings must survive
    app.session_state["train.settings"] = TrainSettings(hidden_sizes=(8,), epochs=1, log_every=20, optimizer="adam")
    app.switch_page("pages/5_Momentum.py").run()
    app.slider(key=P + "gamma").set_value(0.9).run()
    app.button(key=P + "send").click().run()
    assert not app.exception, [e.value for e in app.exception]
    settings = app.session_state["train.settings"]
    assert (settings.lr, settings.momentum, settings.optimizer) == (0.5, 0.9, "sgd")
    assert (settings.hidden_sizes, settings.epochs) == ((8,), 1)
    assert any("Train" in t.value for t in app.title)  # now on the Train page
    job = app.session_state["train.job"]
    assert (job.settings.lr, job.settings.momentum) == (0.5, 0.9)  # and it started the run


def test_the_lab_keeps_its_settings_while_the_user_visits_another_page(app):
    app.switch_page("pages/5_Momentum.py").run()
    app.selectbox(key=P + "preset").set_value("saddle").run()
    app.slider(key=P + "gamma").set_value(0.8).run()
    app.multiselect(key=P + "extra").set_value(["adam"]).run()
    shown = metrics(app)
    app.switch_page("pages/3_Softmax_Lab.py").run()
    app.switch_page("pages/5_Momentum.py").run()
    assert not app.exception
    assert app.selectbox(key=P + "surface").value == "saddle" and app.slider(key=P + "gamma").value == 0.8
    assert app.multiselect(key=P + "extra").value == ["adam"]
    assert metrics(app) == shown


def test_settings_the_train_page_cannot_use_are_explained(app):
    app.session_state["train.settings"] = TrainSettings(hidden_sizes=(0,))  # broken elsewhere on the Train page
    app.switch_page("pages/5_Momentum.py").run()
    app.button(key=P + "send").click().run()
    assert not app.exception
    errors = " ".join(e.body for e in app.error)
    assert "The Train page cannot use these settings" in errors and "hidden layer 1" in errors
    assert app.session_state["train.settings"].hidden_sizes == (0,)  # nothing was changed
    assert "train.job" not in app.session_state
    assert metrics(app)  # still on the lab
