"""The momentum lab's figures and tables: what they draw is the paths' own numbers."""

import numpy as np
import pytest

from core import momentum as mo
from playground.figures import momentum as figs


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
    xs, ys, values = mo.surface_grid(surface, 40)
    np.testing.assert_allclose(np.asarray(contour.customdata), values)  # hover shows the loss itself
    np.testing.assert_allclose(np.asarray(contour.z), np.log10(values + figs.CONTOUR_FLOOR))
    for path in paths:
        (trace,) = traces_named(figure, path.label)
        np.testing.assert_array_equal(trace.x, path.points[:, 0])
        np.testing.assert_array_equal(trace.y, path.points[:, 1])
        assert trace.line.color == figs.path_color(path.optimizer)
    (start,) = traces_named(figure, "start")
    assert (start.x[0], start.y[0]) == surface.start
    (minimum,) = traces_named(figure, "minimum")
    assert list(zip(minimum.x, minimum.y)) == list(surface.minima)
    assert not traces_named(figure, "saddle")  # the quadratic has none
    assert list(figure.layout.xaxis.range) == list(surface.box[:2])
    assert list(figure.layout.yaxis.range) == list(surface.box[2:])


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


def test_update_table_holds_the_worked_numbers():
    rows = mo.update_steps(mo.QUADRATIC, (-5.0, -2.0), 0.4, 0.5, 4)
    table = figs.update_table(rows)
    assert list(table.index) == [1, 2, 3, 4]
    for row in rows:
        line = table.loc[row.t]
        assert (line["θₜ₋₁ x"], line["θₜ₋₁ y"]) == tuple(row.theta_before)
        # the columns add up the way the rule says: vₜ = γ·vₜ₋₁ + η·∇L, θₜ = θₜ₋₁ − vₜ
        assert line["vₜ x"] == pytest.approx(line["γ·vₜ₋₁ x"] + line["η·∇L x"])
        assert line["vₜ y"] == pytest.approx(line["γ·vₜ₋₁ y"] + line["η·∇L y"])
        assert line["θₜ x"] == pytest.approx(line["θₜ₋₁ x"] - line["vₜ x"])
        assert line["η·∇L y"] == pytest.approx(0.4 * line["∇L y"])
        assert line["L(θₜ)"] == pytest.approx(0.1 * line["θₜ x"] ** 2 + 2 * line["θₜ y"] ** 2)


def test_summary_table_reports_each_optimizer(race):
    surface, paths = race
    table = figs.summary_table(surface, paths)
    assert list(table.index) == ["gradient descent", "momentum", "Adam"]
    assert table.loc["momentum", "final loss"] == paths[1].final_loss
    assert table.loc["gradient descent", "y reversals"] == mo.reversals(paths[0], 1)
    assert table.loc["momentum", "steps uphill"] == mo.loss_increases(paths[1])
    assert table.loc["gradient descent", "diverged at step"] == "—"
