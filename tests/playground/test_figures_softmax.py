"""Softmax figures and tables, and the Draw page's helpers: the pictures show the numbers they claim to."""

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from core.models import build_model
from core.softmax import SoftmaxError, naive_softmax, parse_logits, softmax, walkthrough
from playground import default_model, draw, i18n, tables
from playground.draw import (
    CANVAS_SIZE,
    DrawError,
    canvas_input,
    decode_canvas_png,
    model_logits,
    predict,
)
from playground.draw_pad import max_entropy, probs_bars_html
from playground.figures import softmax as figs


@pytest.fixture(autouse=True)
def english():
    with i18n.using("en"):
        yield


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


def test_probs_bars_name_a_tables_classes_as_plain_text():
    bar = figs.probs_bar_figure([0.3, 0.7], labels=["<i>setosa</i>", "a&b"]).data[0]
    assert list(bar.x) == ["&lt;i&gt;setosa&lt;/i&gt;", "a&amp;b"]


def test_a_static_probs_figure_drops_the_hover_machinery():
    figure = figs.probs_bar_figure([0.5, 0.5], static=True)
    assert figure.layout.hovermode is False and figure.layout.dragmode is False


def html_bars(page: str) -> list[tuple[int, float, str, float, str]]:
    """(class, data-p, label, height %, colour) of each bar in the Draw pad's HTML bars."""
    import re

    found = re.findall(
        r'data-class="(\d+)" data-p="([^"]+)"><span class="sp-bar-p">([^<]*)</span>'
        r'<div class="sp-bar" style="height:([0-9.]+)%;background:([^"]+)"',
        page,
    )
    return [(int(c), float(p), label, float(h), color) for c, p, label, h, color in found]


def test_the_pads_html_bars_are_as_tall_as_their_probabilities():
    probs = torch.softmax(torch.tensor([0.2, 3.1, -1.0, 0.0, 0.5, 1.5, -2.0, 0.1, 2.2, 0.3]), 0).double().numpy()
    bars = html_bars(probs_bars_html(probs, "softmax(logits)"))
    assert [c for c, *_ in bars] == list(range(10))
    np.testing.assert_array_equal([p for _, p, *_ in bars], probs)  # exact, for the tests that read them
    for c, p, label, height, color in bars:
        assert label == f"{p:.1%}" and abs(height - 100 * p) <= 0.005
        assert color == (figs.WINNER_COLOR if c == int(np.argmax(probs)) else figs.BAR_COLOR)


def test_empty_html_bars_have_no_labels_and_no_winner():
    bars = html_bars(probs_bars_html(np.zeros(10), "softmax(logits)", empty=True))
    assert len(bars) == 10 and all(
        label == "" and height == 0 and color == figs.BAR_COLOR for _, _, label, height, color in bars
    )


def test_html_bars_escape_the_title_and_speak_their_numbers():
    page = probs_bars_html([0.25, 0.75], "<b>p</b> & q")
    assert "<b>p</b>" not in page and "&lt;b&gt;p&lt;/b&gt; &amp; q" in page
    assert 'aria-label="&lt;b&gt;p&lt;/b&gt; &amp; q — 0: 25.0%, 1: 75.0%"' in page


def test_step_bars_show_every_walkthrough_step():
    wt = walkthrough([0.2, 0.1, -0.1], target=1, temperature=2.0)
    figure = figs.step_bars_figure(wt)
    assert len(figure.data) == 5
    for trace, expected in zip(figure.data, [wt.z_scaled, wt.shifted, wt.exp, wt.probs, wt.log_probs]):
        np.testing.assert_allclose(values(trace.y), expected)
    assert figure.data[0].marker.color[1] == figs.TARGET_COLOR
    assert figure.layout.annotations[0].text == "z / T"
    assert figs.step_bars_figure(walkthrough([0.2, 0.1], 0)).layout.annotations[0].text == "z"


def test_neg_log_curve_is_minus_log_p_and_marks_the_current_point():
    figure = figs.neg_log_figure(0.378)
    curve, point = figure.data
    np.testing.assert_allclose(values(curve.y), -np.log(values(curve.x)))
    assert values(curve.y)[-1] == pytest.approx(0.0)  # p = 1 costs nothing
    assert values(curve.y)[0] > 6  # p → 0 costs without bound
    assert values(point.y)[0] == pytest.approx(-math.log(0.378))
    assert point.text[0] == f"p = 0.3780, loss = {-math.log(0.378):.4f}"


def test_neg_log_curve_survives_p_zero():
    figure = figs.neg_log_figure(0.0)
    assert np.isfinite(values(figure.data[1].y)).all()
    assert figure.layout.yaxis.range[1] >= values(figure.data[1].y)[0]  # the point stays on the chart


def test_gradient_bars_are_probs_minus_one_hot_and_autograd_agrees():
    wt = walkthrough([1.0, -2.0, 0.5], target=2)
    bars, autograd = figs.gradient_figure(wt).data
    np.testing.assert_allclose(values(bars.y), wt.probs - np.eye(3)[2])
    z = torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float64, requires_grad=True)
    torch.nn.functional.cross_entropy(z, torch.tensor([2])).backward()
    np.testing.assert_allclose(values(autograd.y), z.grad[0].numpy(), atol=1e-12)
    assert list(bars.text) == [f"{g:+.4f}" for g in wt.grad_formula]
    assert bars.marker.color[2] == figs.GRAD_DOWN_COLOR  # the target's gradient is negative: raised


def test_pixel_heatmap_keeps_the_values_for_hover():
    image = np.arange(28 * 28, dtype=np.float32).reshape(28, 28) / 784
    heatmap = figs.pixel_heatmap(image).data[0]
    np.testing.assert_allclose(np.asarray(heatmap.z), image, rtol=1e-6)
    assert "%{z" in heatmap.hovertemplate


# ---- tables -----------------------------------------------------------------------------------------


def test_walkthrough_table_holds_every_step():
    wt = walkthrough([0.2, 0.1, -0.1], target=0)
    table = figs.walkthrough_table(wt)
    assert list(table["class"]) == [0, 1, 2]
    for column, expected in [
        ("z", wt.z),
        ("z / T", wt.z_scaled),
        ("z/T − max", wt.shifted),
        ("exp", wt.exp),
        ("probs", wt.probs),
        ("log probs", wt.log_probs),
        ("∂loss/∂z", wt.grad_formula),
    ]:
        np.testing.assert_allclose(table[column], expected)
    assert list(table["one-hot y"]) == [1, 0, 0]
    np.testing.assert_allclose(table["probs"], torch.softmax(torch.tensor([0.2, 0.1, -0.1]), 0).numpy(), rtol=1e-6)


def test_routes_table_gives_the_lectures_0_9729_by_every_route():
    wt = walkthrough([0.2, 0.1, -0.1], target=0)
    routes = figs.routes_table(wt)
    assert len(routes) == 4
    assert routes["loss"].round(4).eq(0.9729).all()
    assert routes["difference from −log p"].abs().max() < 1e-6
    assert list(routes["route"]) == list(wt.losses)


def test_overflow_table_puts_naive_nan_next_to_the_stable_softmax():
    z = [1000.0, 0.0, -1000.0]
    naive = naive_softmax(z)
    table = figs.overflow_table(z, naive, softmax(z))
    assert math.isinf(table["exp(z)"][0]) and table["exp(z)"][2] == 0.0
    assert math.isnan(table["naive exp(z) / Σ exp(z)"][0])
    assert table["stable softmax"].tolist() == pytest.approx([1.0, 0.0, 0.0])
    shown = tables.text_frame(table, {"z": "g", "exp(z)": ".6g", "naive exp(z) / Σ exp(z)": ".6g"})
    assert (
        shown["exp(z)"].iloc[0] == "inf" and shown["naive exp(z) / Σ exp(z)"].iloc[0] == "nan"
    )  # spelled out, not blank


# ---- parsing typed logits --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0.2, 0.1, -0.1", [0.2, 0.1, -0.1]),
        ("[0.2 0.1 −0.1]", [0.2, 0.1, -0.1]),
        ("1;2", [1.0, 2.0]),
        ("0,2; 0,1; -0,1", [0.2, 0.1, -0.1]),  # ';' between the values: the commas are decimal commas
        ("0,2；0,1；−0,1", [0.2, 0.1, -0.1]),
        ("1,5; 2; 3", [1.5, 2.0, 3.0]),
        ("0,2, 0,1", [0.0, 2.0, 0.0, 1.0]),  # commas alone separate: the page shows what it read
    ],
)
def test_parse_logits_reads_numbers(text, expected):
    assert parse_logits(text) == expected


@pytest.mark.parametrize(
    "text, code",
    [
        ("", "softmax.no_numbers"),
        ("1", "softmax.classes"),
        ("1, x", "softmax.not_a_number"),
        ("1, nan", "softmax.not_finite_text"),
        (",".join("1" * 11), "softmax.classes"),
    ],
)
def test_parse_logits_explains_bad_input(text, code):
    with pytest.raises(SoftmaxError) as caught:
        parse_logits(text)
    assert caught.value.code == code
    assert i18n.error_text(caught.value)  # the page can word it


# ---- the Draw page's helpers -------------------------------------------------------------------------


def black_canvas(size=CANVAS_SIZE):
    canvas = np.zeros((size, size, 4), dtype=np.uint8)
    canvas[..., 3] = 255
    return canvas


def png(rgba: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def test_predict_is_the_models_softmax_of_the_preprocessed_drawing():
    model = build_model(default_model.DEFAULT_SPEC, seed=0).eval()
    canvas = black_canvas()
    canvas[40:240, 130:150, :3] = 255  # a "1"
    drawn = canvas_input(canvas)
    assert drawn.source == "canvas" and drawn.tensor.shape == (1, 28, 28)
    result = predict(model, drawn)
    with torch.no_grad():
        logits = model(drawn.tensor.reshape(1, 1, 28, 28))[0].double()
    np.testing.assert_allclose(result.logits, logits.numpy(), rtol=1e-6)
    np.testing.assert_allclose(result.probs, torch.softmax(logits, 0).numpy(), rtol=1e-6)
    assert result.prediction == int(logits.argmax())
    assert result.confidence == result.probs[result.prediction]
    assert result.probs.sum() == pytest.approx(1.0)
    assert 0 <= result.entropy <= max_entropy() + 1e-9
    assert max_entropy() == pytest.approx(math.log(10))


def test_an_empty_canvas_is_no_input():
    assert canvas_input(black_canvas()) is None


def test_the_same_drawing_has_the_same_key():
    canvas = black_canvas()
    canvas[60:220, 100:180, :3] = 255
    other = black_canvas()
    other[60:220, 40:60, :3] = 255
    assert canvas_input(canvas).key == canvas_input(canvas.copy()).key != canvas_input(other).key


def test_a_test_image_is_normalized_like_training(mnist):
    drawn = draw.test_input(mnist.test_images, mnist.test_labels, 5)
    assert drawn.key == "test:5" and drawn.test_label == int(mnist.test_labels[5])
    torch.testing.assert_close(drawn.tensor, mnist.test_X[5])  # exactly what the model was scored on


def test_model_logits_are_ten_float64_numbers():
    model = build_model(default_model.DEFAULT_SPEC, seed=0)
    logits = model_logits(model, torch.zeros(1, 28, 28))
    assert logits.shape == (10,) and logits.dtype == np.float64


def test_the_canvas_png_is_decoded_after_its_size_is_checked():
    canvas = black_canvas()
    canvas[10:20, 10:20, :3] = 255
    np.testing.assert_array_equal(decode_canvas_png(png(canvas)), canvas)
    with pytest.raises(DrawError) as caught:
        decode_canvas_png(png(black_canvas(size=4000)))  # a few KB that would unpack to 64 MB
    assert caught.value.code == "draw.wrong_size" and caught.value.params["found_width"] == 4000
    with pytest.raises(DrawError) as caught:
        decode_canvas_png(b"GIF89a" + bytes(100))
    assert caught.value.code == "draw.not_png"
    with pytest.raises(DrawError) as caught:
        decode_canvas_png(png(canvas) + bytes(3 * 2**20))
    assert caught.value.code == "draw.too_large"


def test_default_config_sees_about_120k_samples():
    assert default_model.default_config(60_000).epochs == 2
    assert default_model.default_config(6_000).epochs == 20
    assert default_model.default_config(6_000).optimizer == "adam"
    with pytest.raises(ValueError):
        default_model.default_config(0)
