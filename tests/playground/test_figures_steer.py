"""The steering figures and rules: change marks on the loss curve, the runs table's changes, the
open window of a paused run, the layer panel's figures, lesson rights and the 99% CNN's advice."""

import pytest

from core.layer_stats import Histogram, LayerPoint, LayerTrace
from core.training import Change, History, LossPoint
from playground import i18n, steer
from playground.figures import layers as layer_figs
from playground.figures import training as figs
from playground.settings import TrainSettings, advice, from_query_params, to_query_params


def history(changes=()):
    points = [LossPoint(step, step / 100, 2.0 - step / 1000) for step in (50, 100, 150, 200)]
    return History(running_loss=points, steps=200, changes=list(changes))


def test_each_change_is_a_vertical_line_with_its_new_value_at_its_epoch():
    with i18n.using("en"):
        fig = figs.loss_figure(history([Change(120, "lr", 0.02), Change(120, "momentum", 0.9), Change(180, "lr", 0.5)]))
    shapes, notes = fig.layout.shapes, fig.layout.annotations
    assert [(s.x0, s.x1, s.yref) for s in shapes] == [(1.2, 1.2, "paper"), (1.8, 1.8, "paper")]
    assert [n.text for n in notes] == ["lr 0.02, momentum 0.9", "lr 0.5"]


def test_changes_before_the_first_point_use_the_runs_steps_per_epoch():
    with i18n.using("en"):
        fig = figs.loss_figure(History(changes=[Change(0, "lr", 0.1)]), per_epoch=50)
    assert [s.x0 for s in fig.layout.shapes] == [0.0]
    assert figs.loss_figure(History(changes=[Change(0, "lr", 0.1)])).layout.shapes == ()  # nothing to place it by


def test_a_run_without_changes_has_no_marks_and_an_empty_cell():
    assert figs.loss_figure(history()).layout.shapes == ()
    assert figs.changes_text(history()) == "" and figs.changes_text(None) == ""


def test_the_runs_table_words_changes_in_the_readers_language():
    h = history([Change(1200, "lr", 0.02)])
    with i18n.using("en"):
        assert figs.changes_text(h) == "lr 0.02 @ 1,200"
    with i18n.using("zh"):
        assert figs.changes_text(h) == "学习率 0.02 @ 1,200"


def test_a_paused_runs_open_window_continues_the_curve():
    fig = figs.loss_figure(history(), window=LossPoint(203, 2.03, 1.5))
    extra = fig.data[-1]
    assert list(extra.x) == [2.0, 2.03] and list(extra.y) == [1.8, 1.5] and list(extra.customdata) == [200, 203]


def trace():
    points = [LayerPoint(step, (1e-4 * step, 0.0, 1.0), (1e-3, 2e-3, 0.0)) for step in (1, 20, 40)]
    hist = Histogram((1, 2, 3), (0.0, 1.0, 2.0, 3.0))
    from core.layer_stats import LayerHistograms

    return LayerTrace(("linears.0", "linears.1", "linears.2"), points, LayerHistograms(40, (hist,) * 3, (hist,) * 3))


def test_layer_curves_one_line_per_layer_and_measure_on_log_axes_zeros_left_out():
    with i18n.using("en"):
        fig = layer_figs.layer_curves_figure(trace())
    assert len(fig.data) == 6 and fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type == "log"
    assert [d.name for d in fig.data[::2]] == ["layer 1 (linears.0)", "layer 2 (linears.1)", "layer 3 (linears.2)"]
    assert list(fig.data[2].y) == [None, None, None]  # a zero gradient norm cannot sit on a log axis
    assert list(fig.data[0].y) == pytest.approx([1e-4, 2e-3, 4e-3])


def test_histogram_bars_sit_at_the_bin_centres():
    hist = trace().histograms
    fig = layer_figs.layer_histograms_figure(hist.weights[0], hist.grads[0])
    assert list(fig.data[0].x) == [0.5, 1.5, 2.5] and list(fig.data[0].y) == [1, 2, 3]


def test_lesson_locks_decide_the_steering_rights():
    assert steer.rights_for({}) == steer.Rights(True, True, True)
    assert steer.rights_for({"steer": True, "lr": 0.1}) == steer.Rights(run=False, lr=False, momentum=True)
    assert not steer.rights_for({"lr": 0.1, "momentum": 0.5}).change


def test_the_99_percent_cnn_gets_advice_until_adam_and_one_cycle_are_chosen():
    assert "kind" in advice(TrainSettings(kind="cnn2"))
    assert "kind" not in advice(TrainSettings(kind="cnn2", optimizer="adam", schedule="onecycle"))


def test_the_schedule_and_the_new_cnn_travel_in_links():
    settings = TrainSettings(kind="cnn2", optimizer="adam", schedule="onecycle", batch_size=256, epochs=2)
    params = to_query_params(settings)
    assert params["model"] == "cnn2" and params["sched"] == "onecycle"
    assert from_query_params(params) == (settings, [])
    assert settings.config().schedule == "onecycle" and settings.spec().kind == "cnn2"
