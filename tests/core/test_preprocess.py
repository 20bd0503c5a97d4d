"""core.preprocess: canvas drawings → MNIST digits, checked on real MNIST digits re-drawn on a canvas."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.data import MNIST_MEAN, MNIST_STD, load_mnist_split, normalize
from core.models import ModelSpec, build_model
from core.preprocess import INK_THRESHOLD, canvas_to_mnist, canvas_to_mnist_steps
from core.training import TrainConfig, evaluate, fit

CANVAS = 280
SCHEMES = ("white_on_black", "black_on_white", "black_on_transparent", "white_on_transparent", "red_on_grey")


# --------------------------------------------------------------------------- drawing on a fake canvas


def draw(ink28: np.ndarray, size: int, top: int, left: int, crisp: float | None = None) -> np.ndarray:
    """An MNIST digit (uint8 [28, 28]) scaled to size×size at (top, left) on the canvas: ink uint8 [280, 280].

    ``crisp`` turns the soft upscaled strokes into pen-like ones with a short anti-aliased edge;
    its value is where the edge sits (lower → thicker strokes).
    """
    x = torch.from_numpy(ink28).float().div(255).reshape(1, 1, 28, 28)
    y = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).reshape(size, size)
    if crisp is not None:
        y = ((y - crisp) * 4 + 0.5).clamp(0, 1)
    ink = np.zeros((CANVAS, CANVAS), dtype=np.float32)
    ink[top : top + size, left : left + size] = y.numpy()
    return (ink * 255).round().astype(np.uint8)


def to_rgba(ink: np.ndarray, scheme: str) -> np.ndarray:
    """What streamlit-drawable-canvas returns for this ink, [H, W, 4] uint8."""
    rgba = np.zeros((*ink.shape, 4), dtype=np.uint8)
    a = ink.astype(np.float32) / 255
    if scheme == "white_on_black":  # background_color="#000": alpha is 255 everywhere
        rgba[..., :3] = ink[..., None]
        rgba[..., 3] = 255
    elif scheme == "black_on_white":
        rgba[..., :3] = 255 - ink[..., None]
        rgba[..., 3] = 255
    elif scheme == "black_on_transparent":  # no background: (0, 0, 0, 0) around the strokes
        rgba[..., 3] = ink
    elif scheme == "white_on_transparent":  # stroke colour unpremultiplied, coverage in alpha
        rgba[..., :3] = np.where(ink > 0, 255, 0)[..., None]
        rgba[..., 3] = ink
    elif scheme == "red_on_grey":  # a low-contrast pen: ink must be found whatever the colours
        background, pen = np.array([90, 90, 90]), np.array([250, 40, 40])
        rgba[..., :3] = np.round(background + a[..., None] * (pen - background)).astype(np.uint8)
        rgba[..., 3] = 255
    else:
        raise AssertionError(scheme)
    return rgba


@pytest.fixture(scope="module")
def mnist_test():
    split = load_mnist_split(train=False, sources=("subset",))
    return split.images.numpy(), split.labels.numpy()


# --------------------------------------------------------------------------- the recipe


def test_output_looks_like_mnist(mnist_test):
    images, _ = mnist_test
    steps = canvas_to_mnist_steps(to_rgba(draw(images[0], 150, 40, 70), "white_on_black"))
    x = steps.centred
    assert x.dtype == np.float32 and x.shape == (28, 28)
    assert x.min() >= 0.0 and x.max() == pytest.approx(1.0)
    rows, cols = np.flatnonzero(x.any(axis=1)), np.flatnonzero(x.any(axis=0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 == 20  # longer side 20 px
    mass = x.sum()
    centre = (x.sum(axis=1) @ np.arange(28) / mass, x.sum(axis=0) @ np.arange(28) / mass)
    assert centre == pytest.approx((14.0, 14.0), abs=0.5)  # centre of mass in the middle, whole pixels


def test_a_real_mnist_digit_comes_back_as_itself(mnist_test):
    """MNIST digits were made by this recipe, so one drawn at its own size is (nearly) a fixed point."""
    images, _ = mnist_test
    for image in images[::10]:
        rgba = np.zeros((CANVAS, CANVAS, 4), dtype=np.uint8)
        rgba[100:128, 30:58, 3] = image
        difference = np.abs(canvas_to_mnist(rgba) - image / 255)
        # Only pixels fainter than the ink threshold at the digit's very edge may be left out.
        assert difference.max() <= INK_THRESHOLD and difference.mean() < 0.002


def test_steps_show_every_intermediate_with_its_shape():
    ink = np.zeros((CANVAS, CANVAS), dtype=np.uint8)
    ink[40:240, 100:120] = 255  # a tall bar: a "1", 200×20 px
    steps = canvas_to_mnist_steps(to_rgba(ink, "white_on_black"))
    assert steps.bbox == (40, 100, 240, 120)
    assert steps.shapes == {
        "canvas": (280, 280, 4),
        "ink": (280, 280),
        "cropped": (200, 20),
        "resized": (20, 2),
        "centred": (28, 28),
        "tensor": (1, 28, 28),
    }
    top, left = steps.offset
    np.testing.assert_array_equal(steps.centred[top : top + 20, left : left + 2], steps.resized)
    assert steps.centred.sum() == pytest.approx(steps.resized.sum())
    assert steps.tensor.dtype == torch.float32
    np.testing.assert_allclose(steps.tensor[0].numpy(), (steps.centred - MNIST_MEAN) / MNIST_STD, atol=1e-6)
    # The same input the model gets from core.data for an MNIST image with these pixels.
    as_uint8 = torch.from_numpy(np.round(steps.centred * 255).astype(np.uint8))[None]
    np.testing.assert_allclose(steps.tensor.numpy(), normalize(as_uint8)[0].numpy(), atol=0.01)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_colour_scheme_gives_the_same_digit(mnist_test, scheme):
    images, _ = mnist_test
    ink = draw(images[3], 180, 50, 20, crisp=0.4)
    reference = canvas_to_mnist(to_rgba(ink, "white_on_black"))
    np.testing.assert_allclose(canvas_to_mnist(to_rgba(ink, scheme)), reference, atol=0.01)


def test_strokes_that_touch_the_border_keep_the_background(mnist_test):
    images, _ = mnist_test
    ink = draw(images[5], CANVAS, 0, 0)  # the whole canvas
    ink[:, :6] = 255  # and a stroke down the whole left edge
    for scheme in ("white_on_black", "black_on_white", "black_on_transparent"):
        steps = canvas_to_mnist_steps(to_rgba(ink, scheme))
        np.testing.assert_allclose(steps.ink, ink / 255, atol=1.5 / 255)  # ink as drawn, background 0
        assert steps.bbox[1] == 0  # the stroke on the edge is part of the digit


# --------------------------------------------------------------------------- nothing drawn


@pytest.mark.parametrize(
    "canvas",
    [
        None,  # before the first stroke
        np.zeros((CANVAS, CANVAS, 4), dtype=np.uint8),  # reset, transparent background
        np.dstack([np.zeros((CANVAS, CANVAS, 3), np.uint8), np.full((CANVAS, CANVAS), 255, np.uint8)]),  # reset, black
        np.full((CANVAS, CANVAS, 4), 255, dtype=np.uint8),  # reset, white
        np.full((50, 70, 4), 200, dtype=np.uint8),  # any size, any colour
        np.zeros((1, 1, 4), dtype=np.uint8),
    ],
    ids=["none", "transparent", "black", "white", "grey-small", "one-pixel"],
)
def test_nothing_drawn_is_none(canvas):
    assert canvas_to_mnist(canvas) is None
    assert canvas_to_mnist_steps(canvas) is None


def test_faint_specks_are_not_a_drawing_but_a_dot_is():
    rgba = np.dstack([np.zeros((CANVAS, CANVAS, 3), np.uint8), np.full((CANVAS, CANVAS), 255, np.uint8)])
    rng = np.random.default_rng(0)
    rgba[..., :3] = rng.integers(0, 20, size=(CANVAS, CANVAS, 1))  # noise below 10% of full contrast
    assert canvas_to_mnist(rgba) is None
    rgba[100:110, 200:210, :3] = 255
    x = canvas_to_mnist(rgba)
    assert x is not None and x.max() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((28, 28, 2), np.uint8), "H×W×4"),
        (np.zeros((784,), np.uint8), "H×W×4"),
        (np.zeros((0, 10, 4), np.uint8), "empty"),
        (np.zeros((28, 28, 4), np.float32), "uint8"),
        (np.full((28, 28, 4), 300, np.int32), "uint8"),
        ("not an image", "H×W×4"),
    ],
)
def test_bad_arrays_get_a_readable_message(bad, message):
    with pytest.raises(ValueError, match=message):
        canvas_to_mnist(bad)


# --------------------------------------------------------------------------- position and size


def test_the_same_digit_in_each_corner_gives_the_same_image(mnist_test):
    images, _ = mnist_test
    corners = [(0, 0), (0, CANVAS - 100), (CANVAS - 100, 0), (CANVAS - 100, CANVAS - 100), (90, 90)]
    for image in images[:10]:
        outputs = [canvas_to_mnist(to_rgba(draw(image, 100, *corner), "white_on_black")) for corner in corners]
        for other in outputs[1:]:
            np.testing.assert_allclose(other, outputs[0], atol=1e-6)


def test_several_sizes_give_nearly_the_same_image(mnist_test):
    images, _ = mnist_test
    placements = [(60, 0, 0), (100, 180, 180), (160, 0, 120), (250, 30, 30)]  # (size, top, left)
    correlations = []
    for image in images[::100]:
        outputs = [canvas_to_mnist(to_rgba(draw(image, *p), "black_on_white")) for p in placements]
        for a, b in itertools.combinations(outputs, 2):
            # Whole-pixel centring can land a digit one pixel apart: the images stay close anyway.
            assert np.abs(a - b).mean() < 0.1
            correlations.append(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    assert min(correlations) > 0.7 and np.mean(correlations) > 0.9


# --------------------------------------------------------------------------- recognition


@pytest.fixture(scope="module")
def trained_model():
    """A small MLP trained on the shipped subset (the recipe is under test, not the lecture's net)."""
    train = load_mnist_split(train=True, sources=("subset",))
    test = load_mnist_split(train=False, sources=("subset",))
    model = build_model(ModelSpec(hidden_sizes=(128,)), seed=0)
    config = TrainConfig(epochs=8, batch_size=64, lr=0.05, momentum=0.5, seed=0)
    fit(model, config, (normalize(train.images), train.labels), (normalize(test.images), test.labels), device="cpu")
    return model


def accuracy(model, images01: list[np.ndarray], labels: np.ndarray) -> float:
    X = torch.from_numpy((np.stack(images01) - MNIST_MEAN) / MNIST_STD).float().reshape(-1, 1, 28, 28)
    return evaluate(model, X, torch.from_numpy(labels).long())[1]


def whole_canvas_resize(ink: np.ndarray) -> np.ndarray:
    """The common shortcut: the whole 280×280 canvas shrunk to 28×28 (anti-aliased)."""
    x = torch.from_numpy(ink).float().div(255).reshape(1, 1, *ink.shape)
    return F.interpolate(x, size=(28, 28), mode="bilinear", antialias=True).reshape(28, 28).numpy()


def test_redrawn_digits_are_recognised_as_well_as_mnist_itself(trained_model, mnist_test, record_property):
    """MNIST test digits re-drawn at random sizes (60–250 px) and places on a 280×280 canvas.

    White soft strokes on an opaque black canvas, and pen-like strokes of random thickness on
    a transparent one: both must stay within 3 points of the plain test-set accuracy, while
    shrinking the whole canvas to 28×28 must be far worse.
    """
    images, labels = mnist_test
    rng = np.random.default_rng(0)
    plain = accuracy(trained_model, [image / 255 for image in images], labels)

    recipe = {"white_on_black": [], "black_on_transparent": []}
    naive = []
    for image in images:
        for scheme in recipe:
            size = int(rng.integers(60, 251))
            top, left = rng.integers(0, CANVAS - size + 1, size=2)
            crisp = None if scheme == "white_on_black" else float(rng.uniform(0.25, 0.75))
            ink = draw(image, size, int(top), int(left), crisp)
            recipe[scheme].append(canvas_to_mnist(to_rgba(ink, scheme)))
            if scheme == "white_on_black":
                naive.append(whole_canvas_resize(ink))

    results = {scheme: accuracy(trained_model, drawn, labels) for scheme, drawn in recipe.items()}
    results["whole canvas resized"] = accuracy(trained_model, naive, labels)
    for name, value in {"plain MNIST test": plain, **results}.items():
        record_property(f"accuracy {name}", round(value, 4))
    summary = f"plain {plain:.1%}, " + ", ".join(f"{k} {v:.1%}" for k, v in results.items())

    assert plain > 0.85, summary  # the model is good enough for the comparison to mean something
    assert abs(results["white_on_black"] - plain) <= 0.03, summary
    assert abs(results["black_on_transparent"] - plain) <= 0.03, summary
    assert results["whole canvas resized"] < plain - 0.4, summary


def test_rgb_grey_and_non_contiguous_arrays_work_too(mnist_test):
    images, _ = mnist_test
    ink = draw(images[7], 120, 20, 150)
    reference = canvas_to_mnist(to_rgba(ink, "white_on_black"))
    np.testing.assert_allclose(canvas_to_mnist(255 - ink), reference, atol=1e-6)  # grey H×W, dark ink
    np.testing.assert_allclose(canvas_to_mnist(np.repeat(ink[..., None], 3, axis=2)), reference, atol=1e-6)
    padded = to_rgba(np.pad(ink, ((0, 0), (0, 280))), "black_on_white")[:, :280]  # a view, not contiguous
    assert not padded.flags.c_contiguous
    np.testing.assert_allclose(canvas_to_mnist(padded), reference, atol=1e-6)
