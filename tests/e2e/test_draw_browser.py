"""A real browser draws a `1` and a `0` on the Draw page and reads the softmax's answer.

Headless Chromium (Debian's) drives `streamlit run`: mouse strokes on the canvas, which lives
in an open shadow root that Playwright's CSS engine pierces (`.st-key-draw_canvas canvas.upper-canvas`).
"""

import math
import os
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
README_SCREENSHOT = ROOT / "docs" / "img" / "draw.png"
CANVAS = ".st-key-draw_canvas canvas.upper-canvas"
PREDICTED_DIGIT = ".st-key-draw-predicted-digit [data-testid='stMetricValue']"
BAR_CHART = ".st-key-draw-probs .js-plotly-plot"
RESET = ".st-key-draw_canvas button[aria-label='Reset canvas & history']"
HINT = "text=Draw a digit on the black pad"
FIRST_VISIT_TIMEOUT_MS = 180_000  # cold start + the default model trained on the spot


def stroke(page, points, steps_between=4):
    """Press, move through `points` (page coordinates), release: one pen stroke."""
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y, steps=steps_between)
    page.mouse.up()


def canvas_box(page):
    box = page.locator(CANVAS).bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100, f"canvas not laid out: {box}"
    return box


def draw_one(page):
    box = canvas_box(page)
    x = box["x"] + box["width"] * 0.5
    stroke(page, [(x, box["y"] + box["height"] * (0.15 + 0.7 * t / 10)) for t in range(11)])


def draw_zero(page):
    box = canvas_box(page)
    cx, cy = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5
    rx, ry = box["width"] * 0.22, box["height"] * 0.33
    angles = [2 * math.pi * k / 40 for k in range(42)]  # a little past full circle: a closed loop
    stroke(page, [(cx + rx * math.sin(a), cy - ry * math.cos(a)) for a in angles], steps_between=2)


def ink_fraction(page) -> float:
    """Share of the canvas's on-screen pixels that are light: the drawing is still shown."""
    import io

    import numpy as np
    from PIL import Image

    shot = Image.open(io.BytesIO(page.locator(CANVAS).screenshot())).convert("L")
    return float((np.asarray(shot) > 128).mean())


def expect_prediction(page, digit: str):
    from playwright.sync_api import expect

    expect(page.locator(PREDICTED_DIGIT)).to_have_text(digit, timeout=30_000)
    expect(page.locator(BAR_CHART)).to_be_visible(timeout=30_000)
    # ten bars, one highlighted: the plotly chart has really been drawn
    expect(page.locator(f"{BAR_CHART} g.point")).to_have_count(10, timeout=30_000)


def test_drawing_a_one_and_a_zero_predicts_them(page, streamlit_server, artifacts_dir):
    page.goto(f"{streamlit_server}/Draw")
    page.locator(CANVAS).wait_for(state="visible", timeout=FIRST_VISIT_TIMEOUT_MS)
    page.locator(HINT).wait_for(state="visible", timeout=FIRST_VISIT_TIMEOUT_MS)
    blank = ink_fraction(page)  # the empty pad (the toolbar over it has light pixels too)

    draw_one(page)
    expect_prediction(page, "1")
    page.wait_for_timeout(1_500)
    # the rerun after the stroke must not remount the canvas and wipe what was drawn
    assert ink_fraction(page) > blank + 0.02, "the drawing vanished from the canvas after the prediction"
    page.screenshot(path=str(artifacts_dir / "draw_1.png"))

    page.locator(RESET).click()
    page.locator(HINT).wait_for(state="visible", timeout=30_000)

    draw_zero(page)
    expect_prediction(page, "0")
    page.wait_for_timeout(1_500)  # let the bar chart's transition settle for the picture
    assert ink_fraction(page) > blank + 0.02, "the drawing vanished from the canvas after the prediction"
    shot = artifacts_dir / "draw_0.png"
    page.screenshot(path=str(shot))
    if os.environ.get("UPDATE_SCREENSHOTS"):  # `make screenshots` refreshes the README's picture
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, README_SCREENSHOT)
