"""The Draw page under AppTest: the canvas is fed through session state, as the browser would.

The canvas component (streamlit-drawable-canvas 0.13.0) keeps its value in
`session_state[<key>]` as `{"drawing": {"raw": <fabric json>, "data": <PNG data URL>}, ...}`;
`CanvasResult.image_data` decodes that PNG. The tests write such a state and rerun the page.
"""

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.checkpoint import save_checkpoint
from core.models import ModelSpec, build_model
from playground.draw import predict
from playground.resources import get_mnist

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "2_Draw.py")
CANVAS_KEY = "draw_canvas"
SIZE = 280


def canvas_state(rgba: np.ndarray) -> dict:
    """What the canvas component stores after a stroke: the drawing as a PNG data URL."""
    buffer = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"drawing": {"raw": {"objects": [], "background": "#000000"}, "data": url}, "backgroundFit": None}


def on_black_canvas(digit_28: np.ndarray, scale: int = 6, top: int = 40, left: int = 70) -> np.ndarray:
    """An MNIST digit (uint8 28×28, white on black) drawn larger somewhere on a black 280×280 canvas."""
    canvas = np.zeros((SIZE, SIZE, 4), dtype=np.uint8)
    canvas[..., 3] = 255
    big = np.kron(digit_28, np.ones((scale, scale), dtype=np.uint8))  # [28·s, 28·s]
    h, w = big.shape
    for c in range(3):
        canvas[top:top + h, left:left + w, c] = big
    return canvas


def draw(at: AppTest, rgba: np.ndarray) -> AppTest:
    at.session_state[CANVAS_KEY] = canvas_state(rgba)
    return at.run()


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; metrics: {[m.label for m in at.metric]}"
    return values[0]


def bar_chart_probs(at: AppTest) -> list[float]:
    """The y values of the softmax bar chart the page sent to the browser."""
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    bars = [c for c in charts if c["data"] and c["data"][0].get("type") == "bar"]
    assert bars, "no bar chart on the page"
    return plotly_values(bars[0]["data"][0]["y"])


def plotly_values(values) -> list[float]:
    """Plotly ≥ 6 sends NumPy arrays base64-encoded as {"dtype", "bdata"}; lists stay lists."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"])).tolist()
    return list(values)


def session_runs(at: AppTest) -> list:
    return list(at.session_state["playground.runs"].values()) if "playground.runs" in at.session_state else []


def shown_text(at: AppTest) -> str:
    return " ".join(e.body for e in [*at.info, *at.error, *at.success, *at.markdown, *at.caption])


@pytest.fixture
def at():
    app = AppTest.from_file(PAGE, default_timeout=180)  # the first run trains the default model
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_empty_canvas_shows_a_hint_and_the_default_model(at):
    assert "Draw a digit on the black pad" in shown_text(at)
    assert not at.error and not at.metric
    model_line = " ".join(i.body for i in at.info if "Predicting with" in i.body)
    assert "default model" in model_line and "% test accuracy" in model_line


def test_drawn_digits_are_recognised_and_charted(at):
    mnist = get_mnist()
    images, labels = mnist.test_images[:10].numpy(), mnist.test_labels[:10].tolist()
    rng = np.random.default_rng(1)
    right = 0
    for image, label in zip(images, labels):
        # a different size and place for every digit: the page's preprocessing must undo it
        scale = int(rng.integers(3, 10))  # 84 to 252 px
        top, left = rng.integers(0, SIZE - 28 * scale + 1, size=2)
        draw(at, on_black_canvas(image, scale=scale, top=int(top), left=int(left)))
        assert not at.exception, [e.value for e in at.exception]
        predicted = int(metric(at, "Prediction"))
        probs = bar_chart_probs(at)
        assert len(probs) == 10 and abs(sum(probs) - 1) < 1e-6
        assert int(np.argmax(probs)) == predicted
        right += predicted == label
    captions = " ".join(c.value for c in at.caption)
    assert "tensor C×H×W = 1×28×28" in captions  # the preprocessing steps, with their shapes
    assert len(at.get("image")) == 4  # drawn, cropped, 20 px, centred
    assert right >= 8, f"only {right} of 10 MNIST test digits drawn on the canvas were recognised"


def test_a_scribble_still_gets_probabilities_and_an_entropy(at):
    rng = np.random.default_rng(0)
    scribble = np.zeros((SIZE, SIZE, 4), dtype=np.uint8)
    scribble[..., 3] = 255
    scribble[..., :3] = (rng.random((SIZE, SIZE, 1)) > 0.7) * 255
    draw(at, scribble)
    assert not at.exception
    assert abs(sum(bar_chart_probs(at)) - 1) < 1e-6
    entropy = float(metric(at, "Entropy").split()[0])
    assert 0 <= entropy <= np.log(10) + 1e-6


def test_reset_canvas_goes_back_to_the_hint(at):
    draw(at, on_black_canvas(get_mnist().test_images[0].numpy()))
    assert at.metric
    blank = np.zeros((SIZE, SIZE, 4), dtype=np.uint8)
    blank[..., 3] = 255  # what the toolbar's reset sends: all background, not None
    draw(at, blank)
    assert not at.exception and not at.metric
    assert "Draw a digit on the black pad" in shown_text(at)


def test_true_label_and_temperature_change_the_worked_numbers(at):
    draw(at, on_black_canvas(get_mnist().test_images[0].numpy()))
    predicted = int(metric(at, "Prediction"))
    assert f"−log p[{predicted}]" in shown_text(at)  # the true label defaults to the prediction
    other = (predicted + 1) % 10
    at.selectbox(key="draw.true_label").set_value(other).run()
    assert f"−log p[{other}]" in shown_text(at)
    assert "The three routes agree" in shown_text(at)
    charts_before = len(at.get("plotly_chart"))
    at.slider(key="draw.temperature").set_value(3.0).run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == charts_before + 1  # softmax(z / 3) appears


def test_a_bad_upload_is_explained_and_the_model_stays(at):
    at.file_uploader(key="draw.upload").set_value(("notes.pt", b"not a checkpoint at all", "application/octet-stream"))
    at.run()
    assert not at.exception
    errors = " ".join(e.body for e in at.error)
    assert "Could not use notes.pt" in errors and "Nothing was changed" in errors
    assert session_runs(at) == []
    assert any("default model" in i.body for i in at.info)


def test_an_uploaded_checkpoint_becomes_the_predicting_model(at, tmp_path):
    spec = ModelSpec(hidden_sizes=(16,))
    path = tmp_path / "tiny.pt"
    save_checkpoint(path, build_model(spec, seed=0), spec)
    at.file_uploader(key="draw.upload").set_value(("tiny.pt", path.read_bytes(), "application/octet-stream"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    model_line = " ".join(i.body for i in at.info if "Predicting with" in i.body)
    assert "tiny (uploaded)" in model_line and "MLP 784-16-10" in model_line
    rgba = on_black_canvas(get_mnist().test_images[0].numpy())
    draw(at, rgba)
    # the page now predicts with the uploaded (untrained) weights, not the default model
    run = session_runs(at)[0]
    assert run.origin == "uploaded" and at.session_state["playground.active_run"] == run.id
    expected = predict(run.model, rgba).probs
    np.testing.assert_allclose(bar_chart_probs(at), expected, atol=1e-9)
