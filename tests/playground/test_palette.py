"""Charts everyone can read: one colour-blind-safe palette, text contrast of at least 4.5:1, and a
text alternative on every figure any builder returns, in both languages."""

from __future__ import annotations

import inspect
import re

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from core import insight, transforms
from core import momentum as mo
from core.models import ModelSpec, build_model
from core.softmax import walkthrough
from core.training import EpochStats, History, LossPoint
from playground import i18n
from playground.figures import data, inside, momentum, palette, softmax, tabular, training

MODULES = (training, softmax, data, momentum, inside, tabular)


def history(accuracies=(0.9, 0.95)) -> History:
    h = History()
    for e, accuracy in enumerate(accuracies, start=1):
        h.running_loss.append(LossPoint(10 * e, e, 1.0 / e))
        h.epochs.append(EpochStats(e, 1.0 / e, 0.9 / e, accuracy, 0.5))
    h.steps = 10 * len(accuracies)
    return h


def every_figure() -> dict[str, go.Figure]:
    """One figure from every builder of every figure module, built from small plain inputs."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    probs = np.full((3, 10), 0.02)
    probs[:, 7] = 0.82
    wt = walkthrough([2.0, 1.0, -1.0], target=0)
    stats = transforms.pixel_stats(images)
    before = transforms.pixel_histogram(stats.byte_counts, 16)
    surface = mo.QUADRATIC
    paths = mo.race(surface, ("gd", "momentum"), surface.start, 0.4, 0.5, 20)
    mlp = build_model(ModelSpec(hidden_sizes=(32,)), seed=0).eval()
    cnn = build_model(ModelSpec(kind="cnn"), seed=0).eval()
    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, 8:20, 12:16] = 2.0
    confusion = np.eye(10, dtype=int) * 1135
    confusion[4, 9] = 17
    return {
        "training.loss_figure": training.loss_figure(history(), epochs=5),
        "training.compare_figure": training.compare_figure([("a", history()), ("b", history((0.5, 0.7)))]),
        "training.per_class_figure": training.per_class_figure([0.99] * 9 + [0.9]),
        "training.confusion_figure": training.confusion_figure(confusion, selectable=True),
        "training.gallery_figure": training.gallery_figure(images[:3], probs, [1, 2, 3], [7, 7, 7]),
        "training.weights_figure": training.weights_figure(rng.normal(size=(10, 784))),
        "softmax.probs_bar_figure": softmax.probs_bar_figure([0.7, 0.2, 0.1]),
        "softmax.step_bars_figure": softmax.step_bars_figure(wt),
        "softmax.neg_log_figure": softmax.neg_log_figure(0.3),
        "softmax.gradient_figure": softmax.gradient_figure(wt),
        "softmax.pixel_heatmap": softmax.pixel_heatmap(np.zeros((28, 28))),
        "data.image_grid_figure": data.image_grid_figure(images, list(range(6)), [0, 1, 2, 3, 4, 5], picked=2),
        "data.class_counts_figure": data.class_counts_figure([600] * 10, [100] * 10, picked=3),
        "data.pixel_values_figure": data.pixel_values_figure(images[0], 0, 255),
        "data.flat_vector_figure": data.flat_vector_figure(images[0].reshape(-1) / 255),
        "data.histograms_figure": data.histograms_figure(before, transforms.normalized_histogram(before), stats),
        "momentum.contour_figure": momentum.contour_figure(surface, paths, grid=20),
        "momentum.loss_figure": momentum.loss_figure(surface, paths),
        "inside.mlp_layers_figure": inside.mlp_layers_figure(insight.activations(mlp, x)),
        "inside.cnn_maps_figure": inside.cnn_maps_figure(insight.activations(cnn, x), "conv1"),
        "inside.units_figure": inside.units_figure(insight.first_layer_units(mlp, x, k=3), x[0, 0].numpy()),
        "inside.saliency_figure": inside.saliency_figure(x[0, 0].numpy(), insight.saliency(mlp, x, 3), 3),
        "tabular.live_loss_figure": tabular.live_loss_figure(history((1.0, 1.0)), epochs=2),
    }


def figure_builders() -> set[str]:
    """Every public function of the figure modules that says it returns a plotly figure."""
    found = set()
    for module in MODULES:
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and not name.startswith("_"):
                if "Figure" in str(inspect.signature(function).return_annotation):
                    found.add(f"{module.__name__.rsplit('.', 1)[-1]}.{name}")
    return found


def test_the_check_builds_every_figure_builder():
    assert figure_builders() == set(every_figure())


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_figure_has_a_text_alternative_in_the_readers_language(lang):
    with i18n.using(lang):
        figures = every_figure()
    for name, fig in figures.items():
        text = palette.summary(fig)
        assert len(text) > 12, f"{name} has no text alternative: {text!r}"
        assert "{" not in text and "nan" not in text, f"{name}: {text!r}"
        has_chinese = bool(re.search(r"[\u4e00-\u9fff]", text))
        assert has_chinese == (lang == "zh"), f"{name} in {lang}: {text!r}"


def test_contrast_follows_wcag():
    assert palette.contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert palette.contrast("#FFFFFF", "#FFFFFF") == pytest.approx(1.0)
    assert palette.contrast("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)  # WCAG's own borderline grey
    assert palette.contrast("#D55E00", "#FFFFFF") < 4.5 < palette.contrast(palette.TEXT_ACCENT, "#FFFFFF")
    with pytest.raises(ValueError):
        palette.luminance("red")


def test_every_text_colour_reads_at_4_5_to_1_on_its_background():
    for text, backgrounds in palette.TEXT_COLOURS.items():
        for background in backgrounds:
            assert palette.contrast(text, background) >= 4.5, (text, background)


def colours_in(fig: go.Figure) -> tuple[set[str], set[str]]:
    """(text colours, mark colours) that a figure sets explicitly, upper-cased."""
    found_text, found_marks = set(), set()
    plain = fig.to_plotly_json()

    def walk(node, path=""):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value, path)
        elif isinstance(node, str) and "color" in path and re.fullmatch(r"#[0-9a-fA-F]{6}", node):
            where = found_text if "font" in path else found_marks
            where.add(node.upper())

    walk(plain["data"], "data")
    walk(
        {k: v for k, v in plain["layout"].items() if k != "template"}, "layout"
    )  # plotly's own template is overridden by Streamlit's theme
    return found_text, found_marks


def test_every_chart_text_colour_is_one_whose_contrast_is_checked():
    allowed = {c.upper() for c in palette.TEXT_COLOURS}
    for name, fig in every_figure().items():
        texts, _ = colours_in(fig)
        assert texts <= allowed, f"{name} writes text in {texts - allowed}"


def test_no_chart_puts_red_next_to_green():
    """plotly's and matplotlib's default reds and greens, which deuteranopes cannot tell apart, are gone."""
    banned = {"#D62728", "#2CA02C", "#FB6A4A", "#74C476", "#FF7F0E", "#1F77B4", "#9467BD"}
    for name, fig in every_figure().items():
        texts, marks = colours_in(fig)
        assert not (texts | marks) & banned, f"{name} uses {(texts | marks) & banned}"


def test_runs_differ_by_dash_and_marker_not_only_by_colour():
    styles = [palette.series_style(i) for i in range(6)]
    assert len({s.dash for s in styles}) == 6 and len({s.marker for s in styles}) == 6
    fig = training.compare_figure([("a", history()), ("b", history()), ("c", history())])
    accuracy = [t for t in fig.data if "markers" in t.mode]
    assert len({t.line.dash for t in accuracy}) == 3 and len({t.marker.symbol for t in accuracy}) == 3
    live = training.loss_figure(history())
    assert len({t.line.dash for t in live.data}) == 3  # loss, test loss and accuracy by line style too


def test_a_guess_is_hatched_as_well_as_coloured():
    probs = np.full((1, 10), 0.02)
    probs[0, 7] = 0.82
    fig = training.gallery_figure(np.zeros((1, 28, 28), np.uint8), probs, [1], [7])
    bar = next(t for t in fig.data if t.type == "bar")
    assert bar.marker.pattern.shape[7] == palette.WRONG_PATTERN and not bar.marker.pattern.shape[1]
    assert bar.marker.color[7] == palette.WRONG and bar.marker.color[1] == palette.CORRECT
