"""The Train page's figures and tables, built from hand-made histories and real models."""

import numpy as np
import pytest

from core.models import ModelSpec, build_model, layer_table
from core.training import EpochStats, History, LossPoint, TrainConfig
from playground import i18n, runs, tables
from playground.figures import palette
from playground.figures import training as figs


@pytest.fixture(autouse=True)
def english():
    with i18n.using("en"):
        yield


def history(epochs=2, per_epoch=10, log_every=5, accuracies=None):
    accuracies = accuracies or [0.8 + 0.05 * e for e in range(1, epochs + 1)]
    h = History()
    step = 0
    for e in range(1, epochs + 1):
        for _ in range(per_epoch // log_every):
            step += log_every
            h.running_loss.append(LossPoint(step, step / per_epoch, 2.0 / step))
        h.epochs.append(EpochStats(e, 1.0 / e, 0.9 / e, accuracies[e - 1], 0.5))
    h.steps = step
    return h


# ---- the live curve -----------------------------------------------------------------------------


def test_loss_figure_plots_running_loss_test_loss_and_accuracy_on_a_second_axis():
    fig = figs.loss_figure(history(), epochs=10)
    loss, test_loss, accuracy = fig.data
    assert list(loss.x) == [0.5, 1.0, 1.5, 2.0] and list(loss.y) == [2 / 5, 2 / 10, 2 / 15, 2 / 20]
    assert list(loss.customdata) == [5, 10, 15, 20]  # the step, on hover
    assert list(test_loss.x) == [1, 2] and list(test_loss.y) == [0.9, 0.45]
    assert list(accuracy.y) == pytest.approx([85.0, 90.0]) and accuracy.yaxis == "y2"
    assert fig.layout.xaxis.range[1] >= 10  # room for the whole run while it trains
    assert [t.name for t in fig.data] == ["training loss (running)", "test loss", "test accuracy"]


def test_loss_figure_of_an_empty_history_still_draws():
    fig = figs.loss_figure(History(), epochs=3)
    assert all(len(trace.x) == 0 for trace in fig.data)
    assert list(fig.layout.yaxis2.range) == [0.0, 100.0]


def test_every_epoch_is_labelled_when_the_labels_fit_the_axis():
    run = figs.loss_figure(history(epochs=10), epochs=10).data[2]
    assert "text" in run.mode
    assert list(run.text) == [f"{100 * s:.1f}%" for s in (0.8 + 0.05 * e for e in range(1, 11))]


def test_accuracy_labels_closer_than_a_tenth_of_the_axis_are_thinned_from_the_newest_back():
    paused = figs.loss_figure(history(epochs=5, accuracies=[0.9] * 5), epochs=50).data[2]  # 50 epochs, at 5
    assert list(paused.text) == ["", "", "", "", "90.0%"]  # one label, the newest: five would overlap
    assert len(paused.y) == 5  # the points stay, only the labels go
    longer = figs.loss_figure(history(epochs=12, accuracies=[0.9] * 12), epochs=50).data[2]
    assert [e + 1 for e, text in enumerate(longer.text) if text] == [2, 7, 12]  # five epochs apart
    done = figs.loss_figure(history(epochs=50, accuracies=[0.9] * 50), epochs=50).data[2]
    assert sum(bool(text) for text in done.text) == figs.ACCURACY_LABELS


def test_spaced_labels_keep_every_point_far_enough_apart():
    xs = [0.5, 1.0, 1.2, 3.0, 3.1, 6.0]
    shown = figs.spaced_labels(xs, [str(x) for x in xs], span=10, most=10)  # one unit apart at least
    assert shown == ["", "", "1.2", "", "3.1", "6.0"]


def test_the_accuracy_axis_zooms_to_the_data():
    fig = figs.loss_figure(history(epochs=3, accuracies=[0.89, 0.95, 0.98]), epochs=10)
    low, high = fig.layout.yaxis2.range
    assert 80 < low <= 87 and high >= 100  # a 89 → 98 % climb is not a flat line at the top
    assert low == 85.0


@pytest.mark.parametrize(
    "values, expected",
    [
        ([], [0.0, 100.0]),
        ([float("nan")], [0.0, 100.0]),
        ([89.0, 98.0], [85.0, 101.8]),  # 12 % of the span above 100 %: room for a label at 100 %
        ([10.0, 60.0], [5.0, 111.4]),
        ([1.0], [0.0, 112.0]),
        ([99.9], [90.0, 101.2]),  # never so zoomed that a point of accuracy fills the chart
        ([97.0, float("nan")], [90.0, 101.2]),
    ],
)
def test_accuracy_range(values, expected):
    assert figs.accuracy_range(values) == pytest.approx(expected)


@pytest.mark.parametrize(
    "axis_range, ticks",
    [
        ([85.0, 101.8], [85, 90, 95, 100]),
        ([90.0, 101.2], [90, 92, 94, 96, 98, 100]),
        ([0.0, 112.0], [0, 20, 40, 60, 80, 100]),
        ([5.0, 111.4], [20, 40, 60, 80, 100]),
        ([45.0, 106.6], [50, 60, 70, 80, 90, 100]),
    ],
)
def test_accuracy_ticks_are_round_and_stop_at_100(axis_range, ticks):
    assert figs.accuracy_ticks(axis_range) == ticks


def test_every_accuracy_axis_has_round_ticks_and_room_above_100():
    """Never 85, 88.39, 91.78 …: the ticks are multiples of one nice step; and a run at 100 %
    (wine's held-out rows) keeps its line and labels inside the plot, under the legend."""
    for accuracies in ([0.85, 0.9, 0.97], [1.0, 1.0, 1.0], [0.2, 0.6], [0.999]):
        fig = figs.loss_figure(history(epochs=len(accuracies), accuracies=accuracies), epochs=5)
        axis = fig.layout.yaxis2
        ticks = list(axis.tickvals)
        assert axis.tickmode == "array" and ticks[-1] == 100 and len(ticks) <= figs.MOST_TICKS
        steps = {round(b - a, 6) for a, b in zip(ticks, ticks[1:])}
        assert len(steps) == 1 and steps.pop() in figs.NICE_STEPS
        assert list(axis.ticktext) == [f"{v:g}" for v in ticks]
        low, high = axis.range
        assert (high - 100) / (high - low) >= 0.1  # head-room for the label above a point at 100 %
        assert fig.layout.legend.y >= 1 and fig.layout.legend.yanchor == "bottom"  # the legend sits above


def test_every_accuracy_fits_inside_its_axis_with_room_below():
    for low in (0.0, 3.0, 47.5, 88.0, 92.0, 99.99):
        bottom, top = figs.accuracy_range([low, 100.0])
        assert bottom <= max(0.0, low - 2) and top > 100.0
        assert bottom % figs.ACCURACY_FLOOR_STEP == 0 and bottom <= 90.0


# ---- comparing runs ---------------------------------------------------------------------------------


def test_compare_figure_by_step_places_epoch_ends_at_their_steps():
    a, b = history(per_epoch=10), history(per_epoch=20, log_every=10)
    fig = figs.compare_figure([("a", a), ("b", b)], by="step")
    loss_a, acc_a, loss_b, acc_b = fig.data
    assert list(acc_a.x) == [10, 20] and list(acc_b.x) == [20, 40]
    assert list(loss_b.x) == [10, 20, 30, 40]
    assert loss_a.line.color == acc_a.line.color != loss_b.line.color
    by_epoch = figs.compare_figure([("a", a), ("b", b)], by="epoch")
    assert list(by_epoch.data[1].x) == [1, 2] == list(by_epoch.data[3].x)
    assert list(by_epoch.data[0].x) == [0.5, 1.0, 1.5, 2.0]
    with pytest.raises(ValueError):
        figs.compare_figure([], by="time")


def test_compare_figure_zooms_accuracy_to_every_run():
    fig = figs.compare_figure([("a", history(accuracies=[0.91, 0.95])), ("b", history(accuracies=[0.60, 0.7]))])
    assert list(fig.layout.yaxis2.range) == pytest.approx([55.0, 105.4])


def test_run_names_typed_by_students_are_not_read_as_html():
    assert figs.label("<b>x</b>") == "&lt;b&gt;x&lt;/b&gt;"
    assert figs.label('<a href="http://x">y</a>') == "&lt;a href=&quot;http://x&quot;&gt;y&lt;/a&gt;"
    fig = figs.compare_figure([("<b>bold</b> & co", history())])
    assert fig.data[0].name == "&lt;b&gt;bold&lt;/b&gt; &amp; co"
    assert "<b>" not in fig.data[0].hovertemplate


# ---- the confusion matrix ------------------------------------------------------------------------------


def mnist_confusion():
    confusion = np.eye(10, dtype=int) * 90
    confusion[4, 9] = 7  # fours taken for nines
    confusion[3, 5] = 3
    return confusion


def cell_counts(fig) -> np.ndarray:
    """What the two heatmaps draw, cell by cell (each cell is drawn by exactly one of them)."""
    correct, mistakes = (np.asarray(trace.z, dtype=float) for trace in fig.data[:2])
    assert not (np.isfinite(correct) & np.isfinite(mistakes)).any()
    assert (np.isfinite(correct) | np.isfinite(mistakes)).all()
    return np.where(np.isfinite(correct), correct, mistakes)


def test_confusion_figure_draws_every_count_as_text():
    confusion = mnist_confusion()
    fig = figs.confusion_figure(confusion.tolist())
    correct, mistakes = fig.data
    assert np.array_equal(cell_counts(fig), confusion)
    assert np.isfinite(np.asarray(correct.z, dtype=float)).sum() == 10  # the diagonal: green
    assert correct.texttemplate == mistakes.texttemplate == "%{z}"  # zeros off the diagonal too
    assert (correct.zmax, mistakes.zmax) == (90, 7)  # each part on its own scale: a 3 stays visible


@pytest.mark.parametrize("largest", [90, 980, 1135, 9999])
def test_confusion_cells_are_sized_for_their_counts(largest):
    """Four-digit counts (MNIST's 1,135 ones) fit their cells: the figure's rows, and the width a
    page gives it (``confusion_min_width``), leave each cell room for the digits at the font used."""
    confusion = np.eye(10, dtype=int) * largest
    fig = figs.confusion_figure(confusion)
    font = fig.data[0].textfont.size
    needed = len(str(max(largest, 1000))) * figs.DIGIT_EM * font + 8  # the digits and a little air
    cell = figs.confusion_cell_px(confusion)
    assert font >= 12 and cell >= needed
    plot_height = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    assert plot_height / 10 >= 0.9 * cell  # rows as tall as the cells are wide, about
    assert (figs.confusion_min_width(confusion) - 90) / 10 >= cell
    assert fig.data[0].textfont.color == fig.data[1].textfont.color == palette.TEXT


def test_confusion_axes_hold_exactly_the_classes():
    """Numeric names on a numeric axis once grew phantom −1 and 10 rows."""
    names = [str(d) for d in range(10)]
    fig = figs.confusion_figure(mnist_confusion())
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        assert axis.type == "category"
        assert list(axis.categoryarray) == names
    for trace in fig.data:
        assert list(trace.x) == names and list(trace.y) == names
    assert fig.layout.yaxis.autorange == "reversed"  # true class 0 on top, like the matrix


def test_confusion_figure_names_a_tables_classes():
    confusion = [[10, 0, 0], [0, 9, 1], [0, 2, 8]]
    fig = figs.confusion_figure(confusion, ["setosa", "versicolor", "virginica"])
    assert list(fig.layout.xaxis.categoryarray) == ["setosa", "versicolor", "virginica"]
    assert np.array_equal(cell_counts(fig), confusion)
    assert fig.data[1].zmax == 2
    with pytest.raises(ValueError, match="needs 3 class names"):
        figs.confusion_figure(confusion, ["a", "b"])


def test_confusion_class_names_are_escaped():
    fig = figs.confusion_figure([[1, 0], [0, 1]], ["<b>a</b>", "b&c"])
    assert list(fig.layout.xaxis.categoryarray) == ["&lt;b&gt;a&lt;/b&gt;", "b&amp;c"]


def test_selectable_cells_carry_true_and_predicted():
    fig = figs.confusion_figure(mnist_confusion(), selectable=True)
    cells = fig.data[2]
    assert len(cells.x) == 100 and fig.layout.clickmode == "event+select"
    counts = mnist_confusion()
    for x, y, custom in zip(cells.x, cells.y, cells.customdata):
        assert [int(y), int(x), counts[int(y)][int(x)]] == custom  # true, predicted, the cell's count
        point = {"x": x, "y": y, "customdata": list(custom), "curve_number": 2}
        assert figs.selected_cell({"selection": {"points": [point]}}) == (int(y), int(x))
    # plotly drops the clicks on a trace whose hoverinfo is "skip": the markers hover with the cell's words
    assert cells.hoverinfo != "skip" and "%{customdata[2]}" in cells.hovertemplate
    assert isinstance(cells.customdata, tuple | list)  # not an array, which reaches plotly.js typed


def test_selected_cell_reads_a_typed_array_row_as_json_writes_it():
    event = {"selection": {"points": [{"customdata": {"0": 9, "1": 4, "2": 14}, "x": "4", "y": "9"}]}}
    assert figs.selected_cell(event) == (9, 4)


@pytest.mark.parametrize(
    "event",
    [
        {"selection": {"points": [{"x": "9", "y": "4", "curve_number": 1}]}},  # a heatmap cell: no customdata
        {"selection": {"points": []}},
        {"selection": {}},
        {},
        None,
    ],
)
def test_selected_cell_is_none_without_a_marker(event):
    assert figs.selected_cell(event) is None


def test_selected_cell_takes_the_first_marker_among_the_points():
    event = {"selection": {"points": [{"x": "1"}, {"customdata": [3, 5]}, {"customdata": [1, 1]}]}}
    assert figs.selected_cell(event) == (3, 5)


# ---- per digit and the mistakes -------------------------------------------------------------------------


def test_per_class_figure_labels_all_ten_digits():
    fig = figs.per_class_figure([1.0, 0.5] + [0.9] * 8)
    bar = fig.data[0]
    assert list(bar.y)[:2] == [100.0, 50.0]
    assert list(bar.text)[:2] == ["100.0", "50.0"]
    digits = [str(d) for d in range(10)]
    assert fig.layout.xaxis.type == "category"
    assert list(fig.layout.xaxis.tickvals) == digits and list(fig.layout.xaxis.ticktext) == digits
    assert list(fig.layout.yaxis.range) == pytest.approx([45.0, 106.6])  # zoomed to the worst digit
    assert fig.data[0].constraintext == "none"  # plotly would shrink the labels to the bars' width
    assert fig.data[0].textfont.size >= 12


def gallery(k, cols=4):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(k, 28, 28), dtype=np.uint8)
    probs = np.full((k, 10), 0.01)
    probs[:, 7] = 0.91
    true = [int(i % 7) for i in range(k)]
    return figs.gallery_figure(images, probs, true=true, pred=[7] * k, cols=cols), images, true


def test_gallery_colours_true_green_and_guess_red():
    fig, images, _ = gallery(3, cols=2)
    bars = [t for t in fig.data if t.type == "bar"]
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    assert len(bars) == len(heatmaps) == 3
    assert bars[1].marker.color[1] == palette.CORRECT and bars[1].marker.color[7] == palette.WRONG
    assert list(bars[0].y) == pytest.approx([0.01] * 7 + [0.91] + [0.01] * 2)
    np.testing.assert_array_equal(np.asarray(heatmaps[2].z)[::-1], images[2])  # flipped for plotly's y axis
    titles = [a.text for a in fig.layout.annotations if a.text]
    assert titles == ["true 0 → 7<br>(91%)", "true 1 → 7<br>(91%)", "true 2 → 7<br>(91%)"]


@pytest.mark.parametrize("k, cols", [(3, 2), (8, 4), (12, 4), (40, 4), (50, 5)])
def test_gallery_titles_never_land_on_the_bars_or_their_tick_labels_above(k, cols):
    fig, _, _ = gallery(k, cols)
    plot_px = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    title_px = 2 * 1.25 * fig.layout.annotations[0].font.size  # two lines
    tick_px = 1.25 * figs.GALLERY_TICK_FONT + 4  # the digits under each bar chart, and their offset
    bar_axes = []
    for trace in fig.data:
        if trace.type == "bar":
            x_axis = fig.layout["xaxis" + trace.xaxis[1:]]
            y_axis = fig.layout["yaxis" + trace.yaxis[1:]]
            bar_axes.append((x_axis.domain, y_axis.domain))
    titles = [a for a in fig.layout.annotations if a.text]
    assert len(titles) == k
    for title in titles:
        bottom, top = title.y, title.y + title_px / plot_px  # the text sits on top of its image
        assert top <= 1.0 + fig.layout.margin.t / plot_px
        for (x0, x1), (y0, y1) in bar_axes:
            if x0 <= title.x <= x1:
                below_ticks = y0 - tick_px / plot_px
                assert top <= below_ticks or bottom >= y1, (title.text, title.y, (y0, y1))


# ---- first-layer weights and the architecture ----------------------------------------------------------------


def test_weights_figure_draws_ten_templates_for_softmax_regression():
    model = build_model(ModelSpec(hidden_sizes=()), seed=0)
    weights = model.linears[0].weight.detach().numpy()  # [10, 784]
    fig = figs.weights_figure(weights, [f"digit {c}" for c in range(10)], cols=5)
    assert len(fig.data) == 10
    first = np.array(fig.data[0].z)
    assert first.shape == (28, 28)
    assert np.allclose(first[::-1].ravel(), weights[0])  # flipped only for plotly's upward y axis
    limit = float(np.abs(weights).max())
    assert all((t.zmin, t.zmax) == (-limit, limit) for t in fig.data)  # one colour scale for all
    assert [a.text for a in fig.layout.annotations] == [f"digit {c}" for c in range(10)]


def test_weights_figure_draws_cnn_filters_and_rejects_non_squares():
    cnn = build_model(ModelSpec(kind="cnn"), seed=0)
    fig = figs.weights_figure(cnn.conv1.weight.detach().numpy(), cols=10)  # [10, 1, 5, 5]
    assert np.array(fig.data[0].z).shape == (5, 5)
    assert fig.layout.annotations[3].text == "unit 3"
    with pytest.raises(ValueError, match="square"):
        figs.weights_figure(np.zeros((2, 10)))


def test_architecture_frame_adds_a_total_that_matches_the_model():
    spec = ModelSpec()
    frame = figs.architecture_frame(layer_table(spec))
    model = build_model(spec, seed=0)
    assert list(frame.columns) == ["layer", "what it does", "input", "output", "parameters"]
    assert frame["parameters"].iloc[-1] == sum(p.numel() for p in model.parameters())
    assert frame["layer"].iloc[-1] == "total"
    assert list(frame["output"].iloc[:-1]) == ["512", "256", "128", "64", "10"]
    assert list(frame["what it does"].iloc[:-1]) == ["Linear + ReLU"] * 4 + ["Linear (logits)"]
    assert figs.architecture_chain(spec) == "784 → 512 → 256 → 128 → 64 → 10"
    assert figs.architecture_chain(ModelSpec(hidden_sizes=())) == "784 → 10"


def test_architecture_frame_of_the_cnn():
    spec = ModelSpec(kind="cnn")
    frame = figs.architecture_frame(layer_table(spec))
    assert frame["parameters"].iloc[-1] == sum(p.numel() for p in build_model(spec, seed=0).parameters())
    kinds = list(frame["what it does"])
    assert "Conv 5×5, 10 filters" in kinds and "Conv 5×5, 20 filters" in kinds and "Flatten" in kinds


# ---- the run table -----------------------------------------------------------------------------------------


def stored_run(room, name, spec, config, accuracy):
    record, _ = room.store.add_run(
        "ada",
        name=name,
        origin="trained",
        status="finished",
        spec=spec.to_dict(),
        config=config.to_dict(),
        history={},
        accuracy=accuracy,
        weights=b"w",
    )
    return runs.Run(record, room)


def test_runs_frame_lists_settings_and_results(room):
    listed = [
        stored_run(room, "plain", ModelSpec(hidden_sizes=(16,)), TrainConfig(momentum=0.0), 0.9),
        stored_run(room, "cnn", ModelSpec(kind="cnn"), TrainConfig(optimizer="adam", lr=0.001, momentum=0.0), 0.98),
        stored_run(room, "regression", ModelSpec(hidden_sizes=()), TrainConfig(batch_size=128, epochs=3), None),
    ]
    frame = figs.runs_frame(listed)
    assert list(frame["name"]) == ["plain", "cnn", "regression"]
    assert list(frame["hidden layers"]) == ["16", ModelSpec(kind="cnn").label(), "none (softmax regression)"]
    assert list(frame["parameters"]) == [784 * 16 + 16 + 16 * 10 + 10, 260 + 5020 + 3210, 7850]
    assert list(frame["optimizer"]) == ["SGD + momentum", "Adam", "SGD + momentum"]
    assert frame["momentum"].iloc[0] == 0.0 and frame["momentum"].isna().iloc[1]  # Adam has none
    assert list(frame["batch"]) == [64, 64, 128] and list(frame["epochs"]) == [10, 10, 3]
    assert frame["accuracy %"].iloc[:2].tolist() == pytest.approx([90.0, 98.0])
    assert frame["accuracy %"].isna().iloc[2]


def test_the_run_table_shows_a_dash_where_there_is_no_value(room):
    listed = [
        stored_run(room, "adam", ModelSpec(hidden_sizes=(16,)), TrainConfig(optimizer="adam", lr=0.001), None),
        stored_run(room, "sgd", ModelSpec(hidden_sizes=(16,)), TrainConfig(momentum=0.9), 0.9123),
    ]
    shown = tables.text_frame(figs.runs_frame(listed), {"momentum": "g", "accuracy %": ".2f"})
    assert shown["momentum"].tolist() == ["—", "0.9"]  # Adam has no momentum: not "nan"
    assert shown["accuracy %"].tolist() == ["—", "91.23"]
    assert figs.runs_frame([]).empty


def test_best_by_kind_picks_the_most_accurate_of_each_kind(room):
    mlp, cnn = ModelSpec(hidden_sizes=(16,)), ModelSpec(kind="cnn")
    listed = [
        stored_run(room, "a", mlp, TrainConfig(), 0.90),
        stored_run(room, "b", mlp, TrainConfig(), 0.95),
        stored_run(room, "c", cnn, TrainConfig(), 0.97),
        stored_run(room, "d", mlp, TrainConfig(), None),
    ]
    best = figs.best_by_kind(listed)
    assert best["mlp"].name == "b" and best["cnn"].name == "c"
    assert figs.best_by_kind(listed[3:]) == {}
