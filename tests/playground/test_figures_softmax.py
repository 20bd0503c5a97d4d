"""Softmax figures and the Draw page's helpers: the pictures show the numbers they claim to."""

import math

import numpy as np
import pytest
import torch

from core.models import build_model
from core.softmax import walkthrough
from playground import default_model
from playground.draw import max_entropy, model_logits, parse_logits, predict
from playground.figures import softmax as figs


def values(trace_array) -> np.ndarray:
    return np.asarray(trace_array, dtype=np.float64)


# ---- figures ------------------------------------------------------------------------------


def test_probs_bars_highlight_the_winner_and_label_percentages():
    probs = np.array([0.05, 0.1, 0.6, 0.25])
    bar = figs.probs_bar_figure(probs).data[0]
    np.testing.assert_allclose(values(bar.y), probs)
    assert list(bar.x) == ["0", "1", "2", "3"]
    colors = list(bar.marker.color)
    assert colors[2] == figs.WINNER_COLOR and colors.count(figs.WINNER_COLOR) == 1
    assert list(bar.text) == ["5.0%", "10.0%", "60.0%", "25.0%"]


def test_step_bars_show_every_walkthrough_step():
    wt = walkthrough([0.2, 0.1, -0.1], target=1, temperature=2.0)
    figure = figs.step_bars_figure(wt)
    assert len(figure.data) == 5
    for trace, expected in zip(figure.data, [wt.z_scaled, wt.shifted, wt.exp, wt.probs, wt.log_probs]):
        np.testing.assert_allclose(values(trace.y), expected)
    assert figure.data[0].marker.color[1] == figs.TARGET_COLOR


def test_neg_log_curve_is_minus_log_p_and_marks_the_current_point():
    figure = figs.neg_log_figure(0.378)
    curve, point = figure.data
    np.testing.assert_allclose(values(curve.y), -np.log(values(curve.x)))
    assert values(curve.y)[-1] == pytest.approx(0.0)  # p = 1 costs nothing
    assert values(curve.y)[0] > 6  # p → 0 costs without bound
    assert values(point.y)[0] == pytest.approx(-math.log(0.378))


def test_neg_log_curve_survives_p_zero():
    figure = figs.neg_log_figure(0.0)
    assert np.isfinite(values(figure.data[1].y)).all()


def test_gradient_bars_are_probs_minus_one_hot_and_autograd_agrees():
    wt = walkthrough([1.0, -2.0, 0.5], target=2)
    bars, autograd = figs.gradient_figure(wt).data
    np.testing.assert_allclose(values(bars.y), wt.probs - np.eye(3)[2])
    np.testing.assert_allclose(values(autograd.y), values(bars.y), atol=1e-12)


def test_pixel_heatmap_keeps_the_values_for_hover():
    image = np.arange(28 * 28, dtype=np.float32).reshape(28, 28) / 784
    heatmap = figs.pixel_heatmap(image).data[0]
    np.testing.assert_allclose(np.asarray(heatmap.z), image, rtol=1e-6)
    assert "%{z" in heatmap.hovertemplate


def test_tables_hold_the_walkthrough_numbers():
    wt = walkthrough([0.2, 0.1, -0.1], target=0)
    table = figs.walkthrough_table(wt)
    assert list(table.index) == [0, 1, 2]
    np.testing.assert_allclose(table["probs"], wt.probs)
    routes = figs.routes_table(wt)
    assert len(routes) == 4
    assert routes["loss"].round(4).eq(0.9729).all()
    assert routes["difference from −log p"].abs().max() < 1e-6


def test_overflow_table_puts_naive_nan_next_to_the_stable_softmax():
    z = [1000.0, 0.0, -1000.0]
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(z) / np.exp(z).sum()
    table = figs.overflow_table(z, naive, [1.0, 0.0, 0.0])
    assert math.isinf(table["exp(z)"][0]) and math.isnan(table["naive exp(z) / Σ exp(z)"][0])


# ---- the Draw page's helpers -----------------------------------------------------------------


def black_canvas(size=280):
    canvas = np.zeros((size, size, 4), dtype=np.uint8)
    canvas[..., 3] = 255
    return canvas


def test_predict_is_the_models_softmax_of_the_preprocessed_drawing():
    torch.manual_seed(0)
    model = build_model(default_model.DEFAULT_SPEC, seed=0).eval()
    canvas = black_canvas()
    canvas[40:240, 130:150, :3] = 255  # a "1"
    result = predict(model, canvas)
    with torch.no_grad():
        logits = model(result.steps.tensor.reshape(1, 1, 28, 28))[0].double()
    np.testing.assert_allclose(result.logits, logits.numpy(), rtol=1e-6)
    np.testing.assert_allclose(result.probs, torch.softmax(logits, 0).numpy(), rtol=1e-6)
    assert result.prediction == int(logits.argmax())
    assert result.probs.sum() == pytest.approx(1.0)
    assert 0 <= result.entropy <= max_entropy() + 1e-9


def test_predict_returns_none_for_an_empty_canvas():
    model = build_model(default_model.DEFAULT_SPEC, seed=0).eval()
    assert predict(model, None) is None
    assert predict(model, black_canvas()) is None


def test_model_logits_are_ten_float64_numbers():
    model = build_model(default_model.DEFAULT_SPEC, seed=0)
    logits = model_logits(model, torch.zeros(1, 28, 28))
    assert logits.shape == (10,) and logits.dtype == np.float64


@pytest.mark.parametrize("text, expected", [
    ("0.2, 0.1, -0.1", [0.2, 0.1, -0.1]),
    ("[0.2 0.1 −0.1]", [0.2, 0.1, -0.1]),
    ("1;2", [1.0, 2.0]),
])
def test_parse_logits_reads_numbers(text, expected):
    assert parse_logits(text) == expected


@pytest.mark.parametrize("text, message", [
    ("", "type the logits"), ("1", "2 to 10"), ("1, x", "not a number"), ("1, nan", "finite"),
    (",".join("1" * 11), "2 to 10"),
])
def test_parse_logits_explains_bad_input(text, message):
    with pytest.raises(ValueError, match=message):
        parse_logits(text)


def test_default_config_sees_about_120k_samples():
    assert default_model.default_config(60_000).epochs == 2
    assert default_model.default_config(6_000).epochs == 20
    with pytest.raises(ValueError):
        default_model.default_config(0)


def test_default_model_is_shared_read_only():
    model = default_model.freeze(build_model(default_model.DEFAULT_SPEC, seed=0).train())
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
