"""Server-side work per stroke on the Draw page, against its 20 ms budget.

Per stroke the server decodes the canvas's PNG, preprocesses it (MNIST's recipe), runs the
model on one digit and takes the softmax. This times each part and the whole `predict`, on a
280×280 canvas holding an MNIST-like digit, with the lecture's MLP and the CNN, on one thread.

    python -m bench.draw_latency
"""

from __future__ import annotations

import base64
import io
import statistics
import time

import numpy as np
import torch
from PIL import Image

from core.models import ModelSpec, build_model
from core.preprocess import canvas_to_mnist_steps
from core.softmax import softmax
from playground.draw import canvas_input, decode_canvas_png, model_logits, predict

BUDGET_MS = 20.0
REPEATS = 200


def sample_canvas(size: int = 280) -> np.ndarray:
    """A white '0' drawn with a thick pen on a black RGBA canvas, as the page receives it."""
    rows, cols = np.mgrid[0:size, 0:size]
    r = np.hypot((rows - size * 0.5) / (size * 0.33), (cols - size * 0.5) / (size * 0.22))
    ink = (np.abs(r - 1.0) < 0.12).astype(np.uint8) * 255  # an elliptic ring
    canvas = np.zeros((size, size, 4), dtype=np.uint8)
    canvas[..., :3] = ink[..., None]
    canvas[..., 3] = 255
    return canvas


def png_data_url(rgba: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def decode(url: str) -> np.ndarray:
    """What the Draw page does with the canvas's value: the PNG, size-checked, as RGBA."""
    _, encoded = url.split(";base64,", 1)
    return decode_canvas_png(base64.b64decode(encoded))


def median_ms(fn, repeats: int = REPEATS) -> float:
    for _ in range(10):  # warm up caches and torch's first-call overheads
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    torch.set_num_threads(1)
    canvas = sample_canvas()
    url = png_data_url(canvas)
    steps = canvas_to_mnist_steps(canvas)
    print(f"Draw page, server work per stroke (median of {REPEATS}, 1 thread, budget {BUDGET_MS:.0f} ms)")
    print(f"{'part':<50}{'ms':>8}{'of budget':>12}")
    rows = [
        ("PNG data URL → RGBA array (decode)", median_ms(lambda: decode(url))),
        ("preprocess (canvas_to_mnist_steps)", median_ms(lambda: canvas_to_mnist_steps(canvas))),
    ]
    totals = {}
    for spec in (ModelSpec(), ModelSpec(kind="cnn")):
        model = build_model(spec, seed=0).eval()
        logits = model_logits(model, steps.tensor)
        rows.append((f"forward, {spec.label()}", median_ms(lambda m=model: model_logits(m, steps.tensor))))
        rows.append(("softmax of 10 logits", median_ms(lambda z=logits: softmax(z))))
        totals[spec.label()] = median_ms(lambda m=model: predict(m, canvas_input(decode(url))))
    for name, ms in rows:
        print(f"{name:<50}{ms:>8.3f}{ms / BUDGET_MS:>11.1%}")
    print()
    for label, ms in totals.items():
        verdict = "within" if ms < BUDGET_MS else "OVER"
        print(f"decode + predict, {label}: {ms:.2f} ms = {ms / BUDGET_MS:.2f}× the 20 ms budget ({verdict})")


if __name__ == "__main__":
    main()
