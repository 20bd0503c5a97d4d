"""The look inside one input: the figures draw the activations, units and gradients core.insight computed."""

import numpy as np
import pytest
import torch

from core import insight
from core.models import ModelSpec, build_model
from playground import i18n
from playground.figures import inside as figs
from playground.figures import palette


@pytest.fixture(autouse=True)
def english():
    with i18n.using("en"):
        yield


@pytest.fixture(scope="module")
def digit(mnist):
    return mnist.test_X[0]  # [1, 28, 28], normalized


def heatmaps(figure):
    return [t for t in figure.data if t.type == "heatmap"]


def shown_values(trace) -> np.ndarray:
    """A heatmap's cells as the image they draw (plotly's y axis points up, so images are flipped)."""
    return np.asarray(trace.z, dtype=np.float64)[::-1]


@pytest.mark.parametrize("units, shape", [(512, (16, 32)), (64, (4, 16)), (300, (10, 32)), (8, (1, 8)), (1, (1, 1))])
def test_a_layer_is_drawn_as_a_near_square_grid(units, shape):
    values = np.arange(units, dtype=np.float64)
    grid = figs._grid(values)
    assert grid.shape == shape
    np.testing.assert_array_equal(grid.ravel()[:units], values)  # in order, row by row
    assert np.isnan(grid.ravel()[units:]).all()  # the padding is blank, not a unit at 0


def test_mlp_layers_figure_draws_every_hidden_layer_and_the_logits(digit):
    model = build_model(ModelSpec(hidden_sizes=(64, 32)), seed=0).eval()
    anatomy = insight.activations(model, digit)
    figure = figs.mlp_layers_figure(anatomy)
    layers = heatmaps(figure)
    assert len(layers) == 2
    for trace, layer in zip(layers, anatomy.layers):
        z = np.asarray(trace.z, dtype=np.float64).ravel()
        np.testing.assert_allclose(z[: layer.values.size], layer.values, rtol=1e-6)
        assert np.asarray(trace.customdata).ravel()[: layer.values.size].tolist() == list(range(layer.values.size))
    titles = [a.text for a in figure.layout.annotations]
    zeros = anatomy.layers[0].zero_count
    assert titles == [
        f"hidden layer 1: 64 units, {zeros} of them 0",
        f"hidden layer 2: 32 units, {anatomy.layers[1].zero_count} of them 0",
        "logits z (10)",
    ]
    (bars,) = [t for t in figure.data if t.type == "bar"]
    with torch.no_grad():
        logits = model(digit.unsqueeze(0))[0].numpy()
    np.testing.assert_allclose(np.asarray(bars.y, dtype=np.float64), logits, rtol=1e-5)
    colors = list(bars.marker.color)
    assert colors[int(logits.argmax())] == palette.VERMILLION and colors.count(palette.VERMILLION) == 1


def test_softmax_regression_has_only_its_logits(digit):
    model = build_model(ModelSpec(hidden_sizes=()), seed=0).eval()
    figure = figs.mlp_layers_figure(insight.activations(model, digit))
    assert heatmaps(figure) == [] and [a.text for a in figure.layout.annotations] == ["logits z (10)"]


@pytest.mark.parametrize("stage, channels", [("conv1", 10), ("pool1", 10), ("conv2", 20), ("pool2", 20)])
def test_cnn_maps_figure_draws_each_channel_of_a_stage(digit, stage, channels):
    model = build_model(ModelSpec(kind="cnn"), seed=0).eval()
    anatomy = insight.activations(model, digit)
    layer = next(layer for layer in anatomy.layers if layer.name == stage)
    figure = figs.cnn_maps_figure(anatomy, stage)
    maps = heatmaps(figure)
    assert len(maps) == channels
    for c, trace in enumerate(maps):
        np.testing.assert_allclose(shown_values(trace), layer.values[c], rtol=1e-6)
    limit = float(np.abs(layer.values).max())
    assert maps[0].zmax == pytest.approx(limit)
    assert maps[0].zmin == pytest.approx(-limit if layer.kind == "conv" else 0.0)
    assert [a.text for a in figure.layout.annotations] == [str(c) for c in range(channels)]


def test_units_figure_shows_each_units_weights_and_what_it_made_of_the_input(digit):
    model = build_model(ModelSpec(hidden_sizes=(32,)), seed=0).eval()
    units = insight.first_layer_units(model, digit, k=4)
    figure = figs.units_figure(units, digit[0].numpy())
    maps = heatmaps(figure)
    assert len(maps) == 8
    weights = model.linears[0].weight.detach().numpy()
    pixels = digit.reshape(784).numpy()
    for trace, unit in zip(maps[0::2], units):  # the top row: the weights
        np.testing.assert_allclose(shown_values(trace), weights[unit.index].reshape(28, 28))
    for trace, unit in zip(maps[1::2], units):  # below each: the input times the weights
        np.testing.assert_allclose(shown_values(trace), (pixels * weights[unit.index]).reshape(28, 28), rtol=1e-6)
    titles = [a.text for a in figure.layout.annotations]
    assert titles[:4] == [f"unit {u.index}: {u.post_activation:.2f}" for u in units]
    assert titles[4:] == ["input × weights"] * 4


def test_saliency_figure_shows_the_input_and_the_gradient_of_the_logit(digit):
    model = build_model(ModelSpec(hidden_sizes=(32,)), seed=0).eval()
    grad = insight.saliency(model, digit, target=3)
    x = digit.clone().unsqueeze(0).requires_grad_(True)
    model(x)[0, 3].backward()
    np.testing.assert_allclose(grad, x.grad.reshape(28, 28).numpy(), rtol=1e-5, atol=1e-8)
    image = np.clip(digit[0].numpy() * 0.3081 + 0.1307, 0, 1)
    figure = figs.saliency_figure(image, grad, target=3)
    shown_image, shown_grad = heatmaps(figure)
    np.testing.assert_allclose(shown_values(shown_image), image, rtol=1e-6)
    np.testing.assert_allclose(shown_values(shown_grad), grad, rtol=1e-6)
    limit = float(np.abs(grad).max())
    assert (shown_grad.zmin, shown_grad.zmax) == (pytest.approx(-limit), pytest.approx(limit))  # 0 is white
    assert figure.layout.annotations[1].text == "∂ logit[3] / ∂ pixel"
