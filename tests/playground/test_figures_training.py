"""The Train page's figures and tables, built from hand-made histories and real models."""

import numpy as np
import pytest

from core.models import ModelSpec, build_model, layer_table
from core.training import EpochStats, History, LossPoint, TrainConfig
from playground.figures import training as figs
from playground.session import Run


def history(epochs=2, per_epoch=10, log_every=5, accuracy0=0.8):
    h = History()
    step = 0
    for e in range(1, epochs + 1):
        for _ in range(per_epoch // log_every):
            step += log_every
            h.running_loss.append(LossPoint(step, step / per_epoch, 2.0 / step))
        h.epochs.append(EpochStats(e, 1.0 / e, 0.9 / e, accuracy0 + 0.05 * e, 0.5))
    h.steps = step
    return h


def test_loss_figure_plots_running_loss_test_loss_and_accuracy_on_a_second_axis():
    h = history()
    fig = figs.loss_figure(h, epochs=10)
    loss, test_loss, accuracy = fig.data
    assert list(loss.x) == [0.5, 1.0, 1.5, 2.0] and list(loss.y) == [2 / 5, 2 / 10, 2 / 15, 2 / 20]
    assert list(test_loss.x) == [1, 2] and list(test_loss.y) == [0.9, 0.45]
    assert list(accuracy.y) == pytest.approx([85.0, 90.0]) and accuracy.yaxis == "y2"
    assert fig.layout.xaxis.range[1] >= 10  # room for the whole run while it trains


def test_loss_figure_of_an_empty_history_still_draws():
    fig = figs.loss_figure(History(), epochs=3)
    assert all(len(trace.x) == 0 for trace in fig.data)


def test_compare_figure_by_step_places_epoch_ends_at_their_steps():
    a, b = history(per_epoch=10), history(per_epoch=20, log_every=10)
    fig = figs.compare_figure([("a", a), ("b", b)], by="step")
    loss_a, acc_a, loss_b, acc_b = fig.data
    assert list(acc_a.x) == [10, 20] and list(acc_b.x) == [20, 40]
    assert loss_a.line.color == acc_a.line.color != loss_b.line.color
    by_epoch = figs.compare_figure([("a", a), ("b", b)], by="epoch")
    assert list(by_epoch.data[1].x) == [1, 2] == list(by_epoch.data[3].x)
    with pytest.raises(ValueError):
        figs.compare_figure([], by="time")


def test_confusion_figure_keeps_counts_and_scales_colour_to_the_largest_mistake():
    confusion = np.eye(10, dtype=int) * 90
    confusion[4, 9] = 7  # fours taken for nines
    confusion[3, 5] = 3
    fig = figs.confusion_figure(confusion.tolist())
    heatmap, cells = fig.data
    assert np.array_equal(np.array(heatmap.z), confusion)
    assert heatmap.zmax == 7
    assert len(cells.x) == 100  # one clickable marker per cell
    index = list(zip(cells.y, cells.x)).index((4, 9))
    assert list(cells.customdata[index]) == [4, 9]


@pytest.mark.parametrize("event, cell", [
    ({"selection": {"points": [{"x": 9, "y": 4, "curve_number": 1}]}}, (4, 9)),
    ({"selection": {"points": []}}, None),
    ({}, None),
    (None, None),
])
def test_selected_cell_reads_true_and_predicted_from_a_click(event, cell):
    assert figs.selected_cell(event) == cell


def test_gallery_colours_true_green_and_guess_red():
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    probs = np.full((3, 10), 0.01)
    probs[:, 7] = 0.91
    fig = figs.gallery_figure(images, probs, true=[1, 2, 3], pred=[7, 7, 7], cols=2)
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(bars) == 3
    assert bars[0].marker.color[1] == "#2ca02c" and bars[0].marker.color[7] == "#d62728"
    titles = [a.text for a in fig.layout.annotations]
    assert "true 1 → 7 (91%)" in titles


def test_weights_figure_draws_ten_templates_for_softmax_regression():
    model = build_model(ModelSpec(hidden_sizes=()), seed=0)
    weights = model.linears[0].weight.detach().numpy()  # [10, 784]
    fig = figs.weights_figure(weights, [f"digit {c}" for c in range(10)], cols=5)
    assert len(fig.data) == 10
    first = np.array(fig.data[0].z)
    assert first.shape == (28, 28)
    assert np.allclose(first[::-1].ravel(), weights[0])  # flipped only for plotly's upward y axis


def test_weights_figure_draws_cnn_filters_and_rejects_non_squares():
    cnn = build_model(ModelSpec(kind="cnn"), seed=0)
    fig = figs.weights_figure(cnn.conv1.weight.detach().numpy(), cols=10)  # [10, 1, 5, 5]
    assert np.array(fig.data[0].z).shape == (5, 5)
    with pytest.raises(ValueError, match="square"):
        figs.weights_figure(np.zeros((2, 10)))


def test_architecture_frame_adds_a_total_that_matches_the_model():
    spec = ModelSpec()
    frame = figs.architecture_frame(layer_table(spec))
    model = build_model(spec, seed=0)
    assert frame["parameters"].iloc[-1] == sum(p.numel() for p in model.parameters())
    assert list(frame["output"].iloc[:-1]) == ["512", "256", "128", "64", "10"]
    assert figs.architecture_chain(spec) == "784 → 512 → 256 → 128 → 64 → 10"
    assert figs.architecture_chain(ModelSpec(hidden_sizes=())) == "784 → 10"


def make_run(run_id, kind="mlp", accuracy=0.9, momentum=0.5):
    spec = ModelSpec(kind=kind, hidden_sizes=(16,) if kind == "mlp" else ())
    h = History()
    if accuracy is not None:
        h.epochs.append(EpochStats(1, 0.3, 0.3, accuracy, 2.0))
    return Run(id=run_id, name=f"run {run_id}", spec=spec, config=TrainConfig(momentum=momentum),
               history=h, model=build_model(spec, seed=0))


def test_runs_frame_lists_settings_and_results():
    frame = figs.runs_frame([make_run("r1", momentum=0.0), make_run("r2", kind="cnn", accuracy=0.98)])
    assert list(frame["momentum"]) == [0.0, 0.5]
    assert list(frame["accuracy %"]) == [90.0, 98.0]
    assert list(frame["params"]) == [784 * 16 + 16 + 16 * 10 + 10, 260 + 5020 + 3210]
    assert list(frame["sizes"]) == ["16", "conv"]


def test_best_by_kind_picks_the_most_accurate_of_each_kind():
    runs = [make_run("a", accuracy=0.90), make_run("b", accuracy=0.95), make_run("c", "cnn", 0.97),
            make_run("d", accuracy=None)]
    best = figs.best_by_kind(runs)
    assert best["mlp"].id == "b" and best["cnn"].id == "c"


def test_per_class_figure_shows_percentages():
    fig = figs.per_class_figure([1.0, 0.5] + [0.9] * 8)
    assert list(fig.data[0].y)[:2] == [100.0, 50.0]
    assert fig.layout.yaxis.range == (40.0, 101)  # starts 10 points below the worst digit
