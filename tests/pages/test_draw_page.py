"""The Draw page under AppTest: the canvas is fed through session state, as the browser would.

The canvas component (streamlit-drawable-canvas) keeps its value in ``session_state["draw_canvas"]``
as ``{"drawing": {"raw": <fabric json>, "data": <PNG data URL>}, ...}``; the page reads the PNG
bytes of that data URL. The tests write such a state and rerun the page.
"""

import base64
import io
import math
import re

import numpy as np
import pytest
import streamlit
import torch
from PIL import Image

from core import insight
from core.checkpoint import checkpoint_bytes
from core.models import ModelSpec, build_model
from playground import draw, fmt, runs
from playground.default_model import DefaultState
from playground.room import get_room
from tests.pages.conftest import (
    configure_train,
    figure,
    has_chart,
    metric,
    poll,
    show_tab,
    student_of,
    texts,
    train,
    values,
    widget_keys,
)

CANVAS_KEY = "draw_canvas"
SIZE = draw.CANVAS_SIZE
HINT = "Draw a digit on the black pad"


def png_bytes(rgba: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def canvas_state(png: bytes) -> dict:
    """What the canvas component stores after a stroke: the drawing as a PNG data URL."""
    url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return {"drawing": {"raw": {"objects": [], "background": "#000000"}, "data": url}, "backgroundFit": None}


def on_black_canvas(digit_28: np.ndarray, scale: int = 6, top: int = 40, left: int = 70) -> np.ndarray:
    """An MNIST digit (uint8 28×28, white on black) drawn larger somewhere on a black 280×280 canvas."""
    canvas = np.zeros((SIZE, SIZE, 4), dtype=np.uint8)
    canvas[..., 3] = 255
    big = np.kron(digit_28, np.ones((scale, scale), dtype=np.uint8))  # [28·s, 28·s]
    h, w = big.shape
    for c in range(3):
        canvas[top : top + h, left : left + w, c] = big
    return canvas


def blank_canvas() -> np.ndarray:
    canvas = np.zeros((SIZE, SIZE, 4), dtype=np.uint8)
    canvas[..., 3] = 255  # what the toolbar's Clear sends: all background
    return canvas


def draw_on(at, rgba: np.ndarray | None = None, png: bytes | None = None):
    at.session_state[CANVAS_KEY] = canvas_state(png if png is not None else png_bytes(rgba))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def mnist_digit(index: int) -> np.ndarray:
    return get_room().mnist().test_images[index].numpy()


def nothing_predicted(at) -> bool:
    """Before a drawing: the answer line shows dashes and the bars are empty (and stay in place)."""
    dashes = all(m.value == "—" for m in at.metric) and len(at.metric) == 3
    labels = [h.proto.body for h in at.get("html") if 'class="sp-bars"' in h.proto.body]
    return dashes and len(labels) == 1 and "%</span>" not in labels[0]


def bar_probs(at) -> np.ndarray:
    """The probabilities the pad's bars show: each bar's exact ``data-p``, and its height and label
    must say the same."""
    bars = [h.proto.body for h in at.get("html") if 'class="sp-bars"' in h.proto.body]
    assert len(bars) == 1, f"{len(bars)} bar charts on the pad"
    found = re.findall(
        r'data-p="([^"]+)"><span class="sp-bar-p">([^<]*)</span><div class="sp-bar" '
        r'style="height:([0-9.]+)%',
        bars[0],
    )
    assert len(found) == 10, bars[0]
    probs = np.array([float(p) for p, _, _ in found])
    for p, shown, height in found:
        assert shown == (f"{float(p):.1%}" if shown else "") and abs(float(height) - 100 * float(p)) <= 0.005
    return probs


def model_line(at) -> str:
    lines = [line for line in texts(at, "caption").splitlines() if line.startswith("Predicting with")]
    assert lines, texts(at)
    return lines[0]


def expected(model, rgba: np.ndarray) -> draw.DrawPrediction:
    """The server's whole path for this canvas, called directly."""
    return draw.predict(model, draw.canvas_input(draw.decode_canvas_png(png_bytes(rgba))))


def worked_loss(at) -> tuple[int, float]:
    """(target, loss) from the worked numbers line: "… loss = −log p[7] = 0.0123 …"."""
    found = re.search(r"loss = −log p\[(\d)\] = ([0-9.]+)", texts(at, "markdown"))
    assert found, texts(at, "markdown")
    return int(found.group(1)), float(found.group(2))


@pytest.fixture(scope="module")
def default_model():
    """The shared default model, trained once per machine (the first Draw visit waits for it)."""
    room = get_room()
    room.default_model.prepare()
    state = poll(lambda: (s := room.default_model.state()).ready and s, 240, "the default model")
    return state.model


@pytest.fixture
def at(open_page, default_model):
    page = open_page("5_Draw")
    assert "Predicting with the default model" in model_line(page)
    return page


# ---- the canvas ---------------------------------------------------------------------------------


def test_the_empty_canvas_shows_a_hint_and_the_default_model(at):
    assert HINT in texts(at, "info")
    assert not at.error and nothing_predicted(at)
    line = model_line(at)
    assert "default model" in line and "% test accuracy" in line
    history = get_room().default_model.state().history
    assert fmt.percent(history.final_accuracy, 1) in line


def test_drawn_digits_are_predicted_as_the_servers_path_says(at, default_model):
    rng = np.random.default_rng(1)
    labels = get_room().mnist().test_labels
    right = 0
    for index in range(10):
        # a different size and place for every digit: the page's preprocessing must undo it
        scale = int(rng.integers(3, 10))  # 84 to 252 px
        top, left = rng.integers(0, SIZE - 28 * scale + 1, size=2)
        rgba = on_black_canvas(mnist_digit(index), scale=scale, top=int(top), left=int(left))
        draw_on(at, rgba)
        answer = expected(default_model, rgba)
        assert metric(at, "Prediction") == str(answer.prediction)
        assert metric(at, "Its probability") == fmt.percent(answer.confidence, 1)
        assert metric(at, "Entropy") == f"{answer.entropy:.2f} nats"
        np.testing.assert_allclose(bar_probs(at), answer.probs, atol=1e-9)
        assert abs(bar_probs(at).sum() - 1) < 1e-6
        right += answer.prediction == int(labels[index])
    assert "tensor C×H×W = 1×28×28" in texts(at, "caption")  # the preprocessing steps, with their shapes
    assert right >= 8, f"only {right} of 10 MNIST test digits drawn on the canvas were recognised"


def test_a_scribble_still_gets_probabilities_and_an_entropy(at):
    rng = np.random.default_rng(0)
    scribble = blank_canvas()
    scribble[..., :3] = (rng.random((SIZE, SIZE, 1)) > 0.7) * 255
    draw_on(at, scribble)
    assert abs(bar_probs(at).sum() - 1) < 1e-6
    entropy = float(metric(at, "Entropy").split()[0])
    assert 0 <= entropy <= math.log(10) + 1e-6


def test_a_blank_canvas_goes_back_to_the_hint(at):
    draw_on(at, on_black_canvas(mnist_digit(0)))
    assert at.metric and HINT not in texts(at, "info")
    draw_on(at, blank_canvas())
    assert nothing_predicted(at) and HINT in texts(at, "info")
    assert not has_chart(at, "draw.saliency")  # nothing below the pad either


def test_temperature_redraws_the_softmax_of_z_over_t(at, default_model):
    rgba = on_black_canvas(mnist_digit(0))
    draw_on(at, rgba)
    assert not has_chart(at, "draw.temperature_chart")
    at.slider(key="draw.temperature").set_value(3.0).run()
    logits = torch.from_numpy(expected(default_model, rgba).logits)
    np.testing.assert_allclose(
        values(figure(at, "draw.temperature_chart")["data"][0]["y"]).astype(float),
        torch.softmax(logits / 3.0, dim=0).numpy(),
        atol=1e-9,
    )


@pytest.mark.parametrize(
    "png, reason",
    [
        (png_bytes(np.zeros((2000, 2000, 4), dtype=np.uint8)), "it is 2000×2000 pixels, but the canvas is 280×280"),
        (b"GIF89a" + bytes(200), "it is not a PNG image"),
    ],
)
def test_canvas_data_that_is_not_the_canvas_is_refused_before_decoding(at, monkeypatch, png, reason):
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    draw_on(at, png=png)
    assert f"This drawing could not be read: {reason}." in texts(at, "error")
    assert not opened, "the PNG was decoded before its size was checked"
    assert nothing_predicted(at) and HINT in texts(at, "info")


# ---- the true label and the worked numbers --------------------------------------------------------


def test_the_true_label_follows_the_prediction_until_the_student_picks_one(at, default_model):
    labels = get_room().mnist().test_labels
    first, second = 0, next(i for i in range(1, 200) if int(labels[i]) != int(labels[0]))
    predictions = []
    for index in (first, second):
        rgba = on_black_canvas(mnist_digit(index))
        draw_on(at, rgba)
        answer = expected(default_model, rgba)
        predictions.append(answer.prediction)
        assert at.segmented_control(key="draw.true_pick").value == answer.prediction
        assert f"Following the prediction ({answer.prediction})" in texts(at, "caption")
        target, loss = worked_loss(at)
        assert target == answer.prediction
        by_torch = torch.nn.functional.cross_entropy(
            torch.from_numpy(answer.logits)[None], torch.tensor([target])
        ).item()
        assert loss == pytest.approx(by_torch, abs=1e-4)
    assert predictions[0] != predictions[1], "two drawings with the same prediction test nothing"

    other = (predictions[1] + 3) % 10
    at.segmented_control(key="draw.true_pick").set_value(other).run()
    assert at.segmented_control(key="draw.true_pick").value == other
    target, loss = worked_loss(at)
    answer = expected(default_model, on_black_canvas(mnist_digit(second)))
    assert target == other and loss == pytest.approx(-math.log(answer.probs[other]), abs=1e-4)
    assert "Following the prediction" not in texts(at, "caption")
    assert "The three routes agree" in texts(at, "caption")


def test_try_a_test_image_puts_it_in_the_pipeline_with_its_true_label(at, default_model):
    mnist = get_room().mnist()

    def shown_test_image() -> int:
        found = re.search(r"MNIST test image #(\d+) \(labelled (\d)\)", texts(at, "caption"))
        assert found, texts(at, "caption")
        index, label = int(found.group(1)), int(found.group(2))
        assert label == int(mnist.test_labels[index])
        answer = draw.predict(default_model, draw.test_input(mnist.test_images, mnist.test_labels, index))
        assert metric(at, "Prediction") == str(answer.prediction)
        np.testing.assert_allclose(bar_probs(at), answer.probs, atol=1e-9)
        assert metric(at, "True digit") == str(label)
        assert at.segmented_control(key="draw.true_pick").value == label  # preselected for the loss
        assert worked_loss(at)[0] == label
        return index

    at.button(key="draw.test_random").click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown_test_image()

    at.selectbox(key="draw.test_digit").set_value(3).run()
    at.button(key="draw.test_digit_button").click().run()
    assert int(mnist.test_labels[shown_test_image()]) == 3

    history = get_room().default_model.state().history
    assert not at.button(key="draw.test_mistake").disabled
    at.button(key="draw.test_mistake").click().run()
    index = shown_test_image()
    assert index in history.misclassified[:50]  # one of the model's most confident mistakes
    assert metric(at, "Prediction") != metric(at, "True digit")


# ---- the preprocessing and the look inside ----------------------------------------------------------


def test_the_preprocessing_images_are_square_boxes_of_one_width(at, monkeypatch):
    drawn = []
    real_image = streamlit.image

    def spy(image, *args, **kwargs):
        drawn.append((np.asarray(image), kwargs.get("width"), kwargs.get("caption")))
        return real_image(image, *args, **kwargs)

    monkeypatch.setattr(streamlit, "image", spy)
    rgba = on_black_canvas(mnist_digit(0), scale=5, top=10, left=120)  # a box taller or wider than square
    draw_on(at, rgba)
    steps = draw.canvas_input(rgba).steps
    assert [caption.split(":")[0] for _, _, caption in drawn] == ["drawn", "cropped", "20 px", "centred"]
    assert len({width for _, width, _ in drawn}) == 1 and drawn[0][1]  # one fixed width for every step
    for (image, _, _), step in zip(drawn, (steps.ink, steps.cropped, steps.resized, steps.centred)):
        h, w = step.shape
        side = max(h, w)
        assert image.shape == (side, side)  # padded to a square, the step's own shape kept inside
        top, left = (side - h) // 2, (side - w) // 2
        np.testing.assert_allclose(image[top : top + h, left : left + w], np.clip(step, 0, 1))
        assert image.sum() == pytest.approx(np.clip(step, 0, 1).sum())  # the padding is black
    assert steps.cropped.shape[0] != steps.cropped.shape[1]
    assert [i.captions[0].split(":")[0] for i in at.get("image")] == ["drawn", "cropped", "20 px", "centred"]


def test_the_default_model_failing_is_explained(open_page, monkeypatch):
    room = get_room()
    monkeypatch.setattr(room.default_model, "state", lambda: DefaultState("failed", error=RuntimeError("x")))
    at = open_page("5_Draw")
    assert "The default model could not be prepared: x." in texts(at, "error")
    assert "Train a model on the Train page or upload a checkpoint instead" in texts(at, "error")
    assert not at.metric
    assert "draw.upload" in widget_keys(at)  # the way out is still there


def test_the_look_inside_renders_for_an_mlp_and_a_cnn_run(open_page):
    at = open_page("3_Train")
    configure_train(at, depth=1, size=32, epochs=1)
    train(at)
    at.switch_page("pages/5_Draw.py").run()
    [mlp_run] = runs.list_runs(student_of(at), get_room())
    assert mlp_run.name in model_line(at)
    rgba = on_black_canvas(mnist_digit(0))
    draw_on(at, rgba)
    assert has_chart(at, "draw.layers") and has_chart(at, "draw.units") and not has_chart(at, "draw.maps")
    tensor = draw.canvas_input(rgba).tensor
    predicted = int(metric(at, "Prediction"))
    assert at.selectbox(key="draw.why").value == predicted
    other = (predicted + 1) % 10
    at.selectbox(key="draw.why").set_value(other).run()
    saliency = figure(at, "draw.saliency")
    np.testing.assert_allclose(
        values(saliency["data"][1]["z"]).astype(float),
        insight.saliency(mlp_run.model, tensor, other)[::-1],
        rtol=1e-5,
        atol=1e-7,
    )
    assert f"∂ logit[{other}] / ∂ pixel" in [a["text"] for a in saliency["layout"]["annotations"]]

    at.switch_page("pages/3_Train.py").run()
    configure_train(at, epochs=1, kind="cnn")
    train(at)
    at.switch_page("pages/5_Draw.py").run()
    cnn_run = runs.list_runs(student_of(at), get_room())[-1]
    assert cnn_run.spec.kind == "cnn" and cnn_run.name in model_line(at)
    draw_on(at, rgba)
    assert has_chart(at, "draw.maps") and not has_chart(at, "draw.layers")
    first_stage = figure(at, "draw.maps")
    at.segmented_control(key="draw.stage").set_value("pool2").run()
    assert not at.exception and figure(at, "draw.maps") != first_stage
    assert has_chart(at, "draw.saliency")


# ---- which model predicts ------------------------------------------------------------------------


def test_draw_predicts_with_the_newest_run_unless_the_student_picks_one(open_page):
    at = open_page("3_Train")
    configure_train(at, depth=0, epochs=1, momentum=0.0)
    train(at)
    at.slider(key="train.w.momentum").set_value(0.9).run()
    train(at)
    first, second = runs.list_runs(student_of(at), get_room())

    at.switch_page("pages/5_Draw.py").run()
    assert f"Predicting with {second.name} —" in model_line(at)
    assert at.selectbox(key="draw.model").value == "newest"
    rgba = on_black_canvas(mnist_digit(0))
    draw_on(at, rgba)
    np.testing.assert_allclose(bar_probs(at), expected(second.model, rgba).probs, atol=1e-9)

    at.selectbox(key="draw.model").set_value(first.id).run()
    assert f"Predicting with {first.name} —" in model_line(at)
    np.testing.assert_allclose(bar_probs(at), expected(first.model, rgba).probs, atol=1e-9)

    at.switch_page("pages/3_Train.py").run()
    at.slider(key="train.w.momentum").set_value(0.5).run()
    train(at)
    third = runs.list_runs(student_of(at), get_room())[-1]
    at.switch_page("pages/5_Draw.py").run()
    assert f"Predicting with {first.name} —" in model_line(at)  # the student's pick stays
    assert at.selectbox(key="draw.model").value == first.id

    at.selectbox(key="draw.model").set_value("newest").run()
    assert f"Predicting with {third.name} —" in model_line(at)
    at.switch_page("pages/3_Train.py").run()
    at.slider(key="train.w.momentum").set_value(0.2).run()
    train(at)
    fourth = runs.list_runs(student_of(at), get_room())[-1]
    at.switch_page("pages/5_Draw.py").run()
    assert f"Predicting with {fourth.name} —" in model_line(at)  # "always my newest run" follows new runs


def untrained_checkpoint() -> bytes:
    spec = ModelSpec(hidden_sizes=(16,))
    return checkpoint_bytes(build_model(spec, seed=0), spec)  # about 10% on the test set: a guess


def test_a_far_worse_model_the_student_picks_is_flagged(at):
    at.file_uploader(key="draw.upload").set_value(("guess.pt", untrained_checkpoint(), "application/octet-stream"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    [run] = runs.list_runs(student_of(at), get_room())
    assert "Predicting with guess —" in model_line(at)  # picked by uploading it: it predicts
    default = get_room().default_accuracy()
    warning = texts(at, "warning")
    assert f"guess reaches only {fmt.percent(run.accuracy, 1)} on the test set" in warning
    assert f"far below the default model's {fmt.percent(default, 1)}" in warning


def test_a_far_worse_newest_run_leaves_draw_on_the_default_model_and_says_so(open_page, default_model):
    at = show_tab(open_page("3_Train"), "compare")
    at.file_uploader(key="train.upload").set_value(("guess.pt", untrained_checkpoint(), "application/octet-stream"))
    at.run()  # Train's upload adds a run without making it Draw's model: the app chooses
    assert not at.exception, [e.value for e in at.exception]
    [run] = runs.list_runs(student_of(at), get_room())
    at.switch_page("pages/5_Draw.py").run()
    assert "Predicting with the default model" in model_line(at)
    assert at.selectbox(key="draw.model").value == "newest"
    info = texts(at, "info")
    assert f"Your newest run guess ({fmt.percent(run.accuracy, 1)}) is far below the model predicting here" in info
    at.selectbox(key="draw.model").set_value(run.id).run()  # picked on purpose: it predicts, with a warning
    assert "Predicting with guess —" in model_line(at) and "reaches only" in texts(at, "warning")
    at.selectbox(key="draw.model").set_value("newest").run()  # the app chooses again: the default model
    assert "Predicting with the default model" in model_line(at)


def test_a_bad_upload_is_explained_and_the_model_stays(at):
    at.file_uploader(key="draw.upload").set_value(("notes.pt", b"not a checkpoint at all", "application/octet-stream"))
    at.run()
    assert not at.exception
    errors = texts(at, "error")
    assert "Could not use notes.pt" in errors and "Nothing was changed" in errors
    assert runs.list_runs(student_of(at), get_room()) == []
    assert "default model" in model_line(at)


def test_an_uploaded_checkpoint_becomes_the_predicting_model(at):
    spec = ModelSpec(hidden_sizes=(16,))
    data = checkpoint_bytes(build_model(spec, seed=0), spec)
    at.file_uploader(key="draw.upload").set_value(("tiny.pt", data, "application/octet-stream"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Now predicting with tiny from tiny.pt" in texts(at, "success")
    line = model_line(at)
    assert "Predicting with tiny — MLP 784-16-10" in line
    [run] = runs.list_runs(student_of(at), get_room())
    assert run.origin == "uploaded" and runs.active_run(student_of(at), get_room()).id == run.id
    rgba = on_black_canvas(mnist_digit(0))
    draw_on(at, rgba)
    # the page now predicts with the uploaded (untrained) weights, not the default model
    np.testing.assert_allclose(bar_probs(at), expected(run.model, rgba).probs, atol=1e-9)
