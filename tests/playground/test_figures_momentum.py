"""The momentum lab's figures and tables: what they draw is the paths' own numbers."""

import numpy as np
import pytest
import torch

from core import momentum as mo
from playground import i18n, tables
from playground.figures import momentum as figs


@pytest.fixture(autouse=True)
def english():
    with i18n.using("en"):
        yield


@pytest.fixture
def race():
    surface = mo.QUADRATIC
    paths = mo.race(surface, ("gd", "momentum", "adam"), surface.start, 0.4, 0.5, 30)
    return surface, paths


def traces_named(figure, prefix):
    return [t for t in figure.data if (t.name or "").startswith(prefix)]


def test_contour_figure_draws_every_path_the_start_and_the_minimum(race):
    surface, paths = race
    figure = figs.contour_figure(surface, paths, grid=40)
    contour = figure.data[0]
    assert contour.type == "contour"
    _, _, values = mo.surface_grid(surface, 40)
    np.testing.assert_allclose(np.asarray(contour.customdata), values)  # hover shows the loss itself
    np.testing.assert_allclose(np.asarray(contour.z), np.log10(values - surface.min_value + figs.CONTOUR_FLOOR))
    for path in paths:
        (trace,) = [t for t in figure.data if t.name == figs.optimizer_name(path.optimizer)]
        np.testing.assert_array_equal(trace.x, path.points[:, 0])
        np.testing.assert_array_equal(trace.y, path.points[:, 1])
        np.testing.assert_array_equal(np.asarray(trace.customdata)[:, 1], path.losses)
        assert trace.line.color == figs.path_color(path.optimizer)
    (start,) = traces_named(figure, "start")
    assert (start.x[0], start.y[0]) == surface.start
    (minimum,) = traces_named(figure, "minimum")
    assert list(zip(minimum.x, minimum.y)) == list(surface.minima)
    assert not traces_named(figure, "saddle")  # the quadratic has none
    assert list(figure.layout.xaxis.range) == list(surface.box[:2])
    assert list(figure.layout.yaxis.range) == list(surface.box[2:])
    assert figure.layout.yaxis.scaleanchor == "x"  # one scale for x and y


def test_the_saddle_surface_marks_its_saddle_and_both_minima():
    surface = mo.SADDLE
    paths = mo.race(surface, ("gd", "momentum"), surface.start, surface.lr, surface.gamma, 20)
    figure = figs.contour_figure(surface, paths, grid=30)
    (saddle,) = traces_named(figure, "saddle point")
    assert (saddle.x[0], saddle.y[0]) == (0.0, 0.0)
    assert len(traces_named(figure, "minimum")[0].x) == 2
    assert np.isfinite(np.asarray(figure.data[0].z)).all()  # L − L* ≥ 0 even though L* < 0


def test_loss_figure_plots_the_gap_to_the_minimum_on_a_log_axis(race):
    surface, paths = race
    figure = figs.loss_figure(surface, paths)
    assert figure.layout.yaxis.type == "log"
    momentum = traces_named(figure, "momentum")[0]
    expected = np.maximum(paths[1].losses - surface.min_value, figs.LOG_FLOOR)
    np.testing.assert_allclose(momentum.y, expected)
    np.testing.assert_array_equal(momentum.x, np.arange(31))
    linear = figs.loss_figure(surface, paths, log_y=False)
    assert linear.layout.yaxis.type == "linear"
    np.testing.assert_allclose(traces_named(linear, "momentum")[0].y, paths[1].losses)


def test_a_diverged_path_says_so_in_the_legend():
    paths = mo.race(mo.QUADRATIC, ("gd",), (-5.0, -2.0), 1.0, 0.0, 100)
    assert paths[0].diverged
    names = [t.name for t in figs.contour_figure(mo.QUADRATIC, paths, grid=20).data]
    assert f"gradient descent (diverged at step {paths[0].diverged_at})" in names
    assert figs.loss_figure(mo.QUADRATIC, paths).data[0].name.endswith(f"step {paths[0].diverged_at})")


def test_update_table_holds_one_pair_per_cell():
    rows = mo.update_steps(mo.QUADRATIC, (-5.0, -2.0), 0.4, 0.5, 4)
    table = figs.update_table(rows)
    assert list(table.columns) == ["t", *figs.UPDATE_COLUMNS, "L(θₜ)"]
    assert list(table["t"]) == [1, 2, 3, 4]
    for row, (_, line) in zip(rows, table.iterrows()):
        for column in figs.UPDATE_COLUMNS:
            assert isinstance(line[column], tuple) and len(line[column]) == 2
        assert line["θₜ₋₁"] == tuple(row.theta_before)
        v, momentum_term, gradient_term = (np.array(line[c]) for c in ("vₜ", "γ·vₜ₋₁", "η·∇L"))
        # the columns add up the way the rule says: vₜ = γ·vₜ₋₁ + η·∇L, θₜ = θₜ₋₁ − vₜ
        np.testing.assert_allclose(v, momentum_term + gradient_term)
        np.testing.assert_allclose(np.array(line["θₜ"]), np.array(line["θₜ₋₁"]) - v)
        np.testing.assert_allclose(gradient_term, 0.4 * np.array(line["∇L(θₜ₋₁)"]))
        x, y = line["θₜ"]
        assert line["L(θₜ)"] == pytest.approx(0.1 * x**2 + 2 * y**2)


def test_the_update_rule_is_pytorchs_sgd_with_momentum():
    """The lecture's v ← γv + η∇L, θ ← θ − v visits the same points as torch.optim.SGD(momentum=γ)."""
    rows = mo.update_steps(mo.QUADRATIC, (-5.0, -2.0), 0.4, 0.5, 6)
    theta = torch.tensor([-5.0, -2.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=0.4, momentum=0.5)
    for row in rows:
        optimizer.zero_grad()
        (0.1 * theta[0] ** 2 + 2 * theta[1] ** 2).backward()
        optimizer.step()
        np.testing.assert_allclose(theta.detach().numpy(), row.theta, rtol=1e-12)


def test_pairs_are_printed_with_every_sign():
    assert figs.pair_text((-4.413912, 0.8827821)) == "-4.41391, 0.882782"
    assert figs.pair_text((-0.0, -1e-20)) == "0, -1e-20"  # no "-0", but a tiny negative keeps its sign
    assert figs.pair_text((float("nan"), float("-inf"))) == "nan, -inf"
    rows = mo.update_steps(mo.QUADRATIC, (-5.0, -2.0), 0.4, 0.5, 3)
    shown = tables.text_frame(figs.update_table(rows), figs.UPDATE_FORMATS)
    assert shown["θₜ₋₁"].iloc[0] == "-5, -2"
    assert shown["∇L(θₜ₋₁)"].iloc[0] == "-1, -8"  # ∇L = (0.2 x, 4 y)
    assert shown["L(θₜ)"].iloc[0] == f"{rows[0].loss:.6g}"


def test_summary_table_reports_each_optimizer(race):
    surface, paths = race
    table = figs.summary_table(surface, paths).set_index("optimizer")
    assert list(table.index) == ["gradient descent", "momentum", "Adam"]
    assert table.loc["momentum", "final loss"] == paths[1].final_loss
    assert table.loc["momentum", "final (x, y)"] == tuple(paths[1].final_point)
    assert table.loc["gradient descent", "y reversals"] == mo.reversals(paths[0], 1)
    assert table.loc["momentum", "steps uphill"] == mo.loss_increases(paths[1])
    assert table.loc["gradient descent", "diverged at step"] == "—"
    reached = mo.steps_to_reach(paths[1], surface.min_value, figs.CONVERGED_WITHIN)
    assert table.loc["momentum", "steps to L − L* ≤ 0.001"] == ("—" if reached is None else str(reached))
    shown = tables.text_frame(figs.summary_table(surface, paths), figs.summary_formats())
    assert shown["final loss"].iloc[1] == f"{paths[1].final_loss:.4g}"
