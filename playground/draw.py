"""What the Draw page (and the softmax lab) compute between a stroke and the bars.

Per stroke: canvas RGBA → MNIST 28×28 (core.preprocess) → logits (the model) → softmax.
`predict` is that whole server-side path; bench/draw_latency.py times it against 20 ms.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import torch

from core.preprocess import PreprocessSteps, canvas_to_mnist_steps
from core.softmax import MAX_CLASSES, MIN_CLASSES, entropy, softmax


@dataclass(frozen=True)
class DrawPrediction:
    """One drawing's answer and everything the page shows behind it."""

    steps: PreprocessSteps  # the preprocessing, image by image
    logits: np.ndarray  # [10] float64, the model's raw output
    probs: np.ndarray  # [10] float64, softmax(logits), sums to 1
    prediction: int  # argmax
    entropy: float  # nats: 0 = certain, log 10 ≈ 2.30 = no idea

    @property
    def confidence(self) -> float:
        return float(self.probs[self.prediction])


def predict(model: torch.nn.Module, rgba) -> DrawPrediction | None:
    """The model's softmax for a canvas image, or None when nothing is drawn."""
    steps = canvas_to_mnist_steps(rgba)
    if steps is None:
        return None
    logits = model_logits(model, steps.tensor)  # [10]
    probs = softmax(logits)
    return DrawPrediction(steps, logits, probs, int(np.argmax(probs)), entropy(probs))


def model_logits(model: torch.nn.Module, image: torch.Tensor) -> np.ndarray:
    """Logits for one normalized image [1, 28, 28]: a batch of one through the model."""
    with torch.inference_mode():
        logits = model(image.unsqueeze(0))  # [1, 1, 28, 28] → [1, 10]
    return logits[0].double().numpy()  # [10]


def max_entropy(num_classes: int = 10) -> float:
    """log C: the entropy of a uniform softmax, the most unsure a model can be."""
    return math.log(num_classes)


def model_description(run) -> str:
    """One line saying which model predicts and how well it does on the test set."""
    accuracy = run.history.final_accuracy if run.history is not None else None
    score = f"{accuracy:.1%} test accuracy" if accuracy is not None else "test accuracy unknown"
    origin = {"trained": "trained in this session", "uploaded": "uploaded checkpoint",
              "default": "shared by every visitor"}.get(run.origin, run.origin)
    return f"**{run.name}** — {run.spec.label()}, {score} ({origin})"


# --------------------------------------------------------------------------- the lab's input

_SEPARATORS = re.compile(r"[,;\s]+")


def parse_logits(text: str) -> list[float]:
    """"0.2, 0.1, -0.1" → [0.2, 0.1, -0.1]; `ValueError` with a readable message otherwise."""
    cleaned = text.strip().strip("[]()").replace("−", "-")  # accept a pasted list and the minus sign
    parts = [p for p in _SEPARATORS.split(cleaned) if p]
    if not parts:
        raise ValueError("type the logits as numbers separated by commas, e.g. 0.2, 0.1, -0.1")
    values = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise ValueError(f"“{part}” is not a number; type the logits like 0.2, 0.1, -0.1") from None
        if not math.isfinite(value):
            raise ValueError(f"“{part}” is not a finite number")
        values.append(value)
    if not MIN_CLASSES <= len(values) <= MAX_CLASSES:
        raise ValueError(f"give {MIN_CLASSES} to {MAX_CLASSES} logits (one per class); got {len(values)}")
    return values
