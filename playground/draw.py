"""What the Draw page computes between a stroke and the bars — and for a test image instead of a stroke.

Per stroke: the canvas's PNG (checked before it is decoded) → RGBA → MNIST 28×28
(``core.preprocess``) → logits (the model) → softmax. ``predict`` is that whole server-side
path; ``bench/draw_latency.py`` times it. A test image skips the canvas and the preprocessing:
it is MNIST already.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch

from core.data import MNIST_MEAN, MNIST_STD
from core.errors import CodedError
from core.preprocess import PreprocessSteps, canvas_to_mnist_steps
from core.softmax import entropy, softmax
from playground.draw_pad import CANVAS_SIZE

MAX_PNG_BYTES = 2 * 2**20  # a 280×280 RGBA PNG is ~10 KB; anything near this is not our canvas
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class DrawError(CodedError, ValueError):
    """Canvas data that is not the canvas's own drawing: refused before it is decoded."""

    templates = MappingProxyType(
        {
            "draw.too_large": "the drawing is {size:,} bytes, more than a {width}×{height} canvas can send",
            "draw.not_png": "the drawing is not a PNG image",
            "draw.wrong_size": "the drawing is {found_width}×{found_height} pixels; the canvas is {width}×{height}",
        }
    )


def decode_canvas_png(png: bytes, width: int = CANVAS_SIZE, height: int = CANVAS_SIZE) -> np.ndarray:
    """The canvas's PNG as RGBA [H, W, 4] uint8, after checking that it really is the canvas's size.

    A crafted 10,000 × 10,000 PNG of a few kilobytes would otherwise cost seconds and 1.5 GB to
    decode: its header (IHDR, the first chunk) says how big it is, so that is read first.
    """
    if len(png) > MAX_PNG_BYTES:
        raise DrawError("draw.too_large", size=len(png), width=width, height=height)
    if not png.startswith(PNG_SIGNATURE) or png[12:16] != b"IHDR" or len(png) < 24:
        raise DrawError("draw.not_png")
    found_width, found_height = struct.unpack(">II", png[16:24])
    if (found_width, found_height) != (width, height):
        raise DrawError(
            "draw.wrong_size", found_width=found_width, found_height=found_height, width=width, height=height
        )
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGBA"))  # [H, W, 4] uint8


@dataclass(frozen=True)
class DrawInput:
    """What the model reads: a drawing (with its preprocessing) or an MNIST test image."""

    tensor: torch.Tensor  # [1, 28, 28] float32, normalized as in training
    image: np.ndarray  # [28, 28] float32 in [0, 1]: what the digit looks like to the model
    source: str  # "canvas" | "test"
    steps: PreprocessSteps | None = None  # the canvas's preprocessing, image by image
    test_index: int | None = None
    test_label: int | None = None

    @property
    def key(self) -> str:
        """Tells inputs apart: the same drawing is predicted once, however often the page reruns."""
        if self.source == "test":
            return f"test:{self.test_index}"
        return "canvas:" + hashlib.sha1(self.image.tobytes()).hexdigest()


def canvas_input(rgba) -> DrawInput | None:
    """The drawing through MNIST's own recipe; None when nothing is drawn."""
    steps = canvas_to_mnist_steps(rgba)
    if steps is None:
        return None
    return DrawInput(steps.tensor, steps.centred, "canvas", steps=steps)


def test_input(images: torch.Tensor, labels: torch.Tensor, index: int) -> DrawInput:
    """MNIST test image ``index`` as the model's input, its true label attached."""
    image = images[index].numpy().astype(np.float32) / 255.0  # [28, 28] in [0, 1]
    tensor = torch.from_numpy((image - MNIST_MEAN) / MNIST_STD).reshape(1, 28, 28)
    return DrawInput(tensor, image, "test", test_index=int(index), test_label=int(labels[index]))


@dataclass(frozen=True)
class DrawPrediction:
    """One input's answer."""

    logits: np.ndarray  # [10] float64, the model's raw output
    probs: np.ndarray  # [10] float64, softmax(logits), sums to 1
    prediction: int  # argmax
    entropy: float  # nats: 0 = certain, log 10 ≈ 2.30 = no idea

    @property
    def confidence(self) -> float:
        return float(self.probs[self.prediction])


def predict(model: torch.nn.Module, drawn: DrawInput) -> DrawPrediction:
    logits = model_logits(model, drawn.tensor)  # [10]
    probs = softmax(logits)
    return DrawPrediction(logits, probs, int(np.argmax(probs)), entropy(probs))


def model_logits(model: torch.nn.Module, image: torch.Tensor) -> np.ndarray:
    """Logits for one normalized image [1, 28, 28]: a batch of one through the model."""
    with torch.inference_mode():
        logits = model(image.unsqueeze(0))  # [1, 1, 28, 28] → [1, 10]
    return logits[0].double().numpy()  # [10]


def record_stroke_time(ms: float) -> None:
    """With the room's stats on (the benchmarks), the pad's own time per stroke, one JSON line each."""
    stats = os.environ.get("SOFTMAX_PLAYGROUND_STATS", "").strip()
    if stats:
        with open(Path(stats).with_name("draw-strokes.jsonl"), "a", encoding="utf-8") as out:
            out.write(json.dumps({"t": time.time(), "ms": round(ms, 3)}) + "\n")


def pick_test_image(labels: torch.Tensor, how: str, digit: int | None, history, rng: np.random.Generator) -> int:
    """A test index: any (``random``), one of a digit (``digit``), or a confident mistake (``mistake``)."""
    if how == "mistake" and history is not None and history.misclassified:
        top = history.misclassified[:50]  # the model's most confident mistakes, most confident first
        return int(top[rng.integers(len(top))])
    if how == "digit" and digit is not None:
        matching = np.flatnonzero(labels.numpy() == digit)
        if len(matching):
            return int(matching[rng.integers(len(matching))])
    return int(rng.integers(len(labels)))


OVERLAY_CSS = """<style>
.st-key-draw-pad-canvas { position: relative; }
.st-key-draw-pad-canvas [data-testid="stElementContainer"]:has(.sp-pad-overlay) {
  position: absolute; top: 0; left: 0; z-index: 15; pointer-events: none; width: auto;  /* the canvas is at 10 */
}
.sp-pad-overlay { pointer-events: none; }
.sp-pad-overlay img { display: block; width: %(size)dpx; height: %(size)dpx; image-rendering: pixelated; }
</style>"""


def test_image_overlay_html(image: np.ndarray, alt: str, size: int = CANVAS_SIZE) -> str:
    """A test image [28, 28] in [0, 1] as an <img> the size of the pad, white ink on black like a drawing.

    It lies over the canvas and lets the pointer through (``pointer-events: none``): a stroke still
    reaches the canvas, and its drawing replaces the test image.
    """
    from PIL import Image

    pixels = (np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0) * 255).round().astype(np.uint8)  # [28, 28]
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        OVERLAY_CSS % {"size": size}
        + f'<div class="sp-pad-overlay"><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}"></div>'
    )
