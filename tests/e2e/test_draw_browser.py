"""A real browser draws digits on the Draw page — with a mouse, and with a finger on a phone — and reads the answer.

The canvas (streamlit-drawable-canvas) lives in an open shadow root that Playwright's CSS
engine pierces (`.st-key-draw_canvas canvas.upper-canvas`). Mouse strokes go through
Playwright's mouse; touch strokes are sent as touch events through the DevTools protocol
(`Input.dispatchTouchEvent`), as a phone's touchscreen sends them. The page's own Clear
button (`.st-key-draw-pad-tools`, always shown, unlike the canvas's hover toolbar) empties the pad.
"""

from __future__ import annotations

import io
import math
import re

import pytest

from tests.e2e.helpers import (
    DESKTOP,
    FIRST_VISIT_MS,
    PHONE,
    en,
    exceptions,
    screenshot,
    settled,
    visible,
    watch_problems,
)

pytestmark = pytest.mark.browser

CANVAS = ".st-key-draw_canvas canvas.upper-canvas"
PREDICTED_DIGIT = ".st-key-draw-predicted-digit [data-testid=stMetricValue]"
PREDICTION_METRIC = ".st-key-draw-predicted-digit [data-testid=stMetric]"
BAR_LABELS = ".st-key-draw-probs .sp-bar-p"  # one per class: empty until something is predicted
CLEAR = ".st-key-draw-pad-tools button[data-tool=clear]"
UNDO = ".st-key-draw-pad-tools button[data-tool=undo]"
SCROLLED = """() => [window.scrollY, document.scrollingElement.scrollTop,
                     document.querySelector('[data-testid=stMain]').scrollTop]"""


def hint(page):
    return page.get_by_text(en("draw.hint")).first


def open_draw(page, base_url: str) -> None:
    page.goto(f"{base_url}/Draw")
    page.locator(CANVAS).wait_for(state="visible", timeout=FIRST_VISIT_MS)
    hint(page).wait_for(state="visible", timeout=FIRST_VISIT_MS)
    settled(page)


def canvas_box(page) -> dict:
    """Where the pad is, scrolled (as a reader would) until all of it is on screen below Streamlit's header."""
    page.locator(CANVAS).evaluate("""(canvas) => {
        const box = canvas.getBoundingClientRect();
        const header = document.querySelector('[data-testid=stHeader]').getBoundingClientRect();
        if (box.top < header.bottom || box.bottom > window.innerHeight) {
            canvas.scrollIntoView({block: 'end', inline: 'nearest'});
        }
    }""")
    box = page.locator(CANVAS).bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100, f"canvas not laid out: {box}"
    return box


# Strokes in the canvas's own coordinates (0..1 across, 0..1 down).
def one_stroke() -> list[tuple[float, float]]:
    return [(0.5, 0.15 + 0.7 * t / 10) for t in range(11)]


def zero_stroke() -> list[tuple[float, float]]:
    angles = [2 * math.pi * k / 40 for k in range(42)]  # a little past a full circle: a closed loop
    return [(0.5 + 0.22 * math.sin(a), 0.5 - 0.33 * math.cos(a)) for a in angles]


def seven_stroke() -> list[tuple[float, float]]:
    top = [(0.25 + 0.5 * t / 6, 0.2) for t in range(7)]  # the bar, left to right
    down = [(0.75 - 0.3 * t / 8, 0.2 + 0.65 * t / 8) for t in range(1, 9)]  # then down to the lower left
    return top + down


def on_canvas(box: dict, stroke: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(box["x"] + box["width"] * u, box["y"] + box["height"] * v) for u, v in stroke]


def mouse_stroke(page, stroke) -> None:
    points = on_canvas(canvas_box(page), stroke)
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y, steps=4)
    page.mouse.up()


def touch_stroke(page, cdp, stroke) -> list:
    """One finger down, along the stroke, up; returns the page's scroll positions during it
    (before the finger lifts)."""
    points = on_canvas(canvas_box(page), stroke)

    def send(kind: str, at=None) -> None:
        touch_points = [] if at is None else [{"x": at[0], "y": at[1], "radiusX": 4, "radiusY": 4, "force": 1, "id": 0}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": touch_points})

    send("touchStart", points[0])
    for a, b in zip(points, points[1:]):
        for s in range(1, 4):  # a finger moves smoothly: a few events between the stroke's points
            send("touchMove", (a[0] + (b[0] - a[0]) * s / 3, a[1] + (b[1] - a[1]) * s / 3))
    scrolled = page.evaluate(SCROLLED)
    send("touchEnd")
    return scrolled


def ink_fraction(page) -> float:
    """Share of the canvas's on-screen pixels that are light: the drawing is still shown."""
    import numpy as np
    from PIL import Image

    shot = Image.open(io.BytesIO(page.locator(CANVAS).screenshot())).convert("L")
    return float((np.asarray(shot) > 128).mean())


def expect_prediction(page, digit: str) -> None:
    from playwright.sync_api import expect

    expect(visible(page, PREDICTED_DIGIT)).to_have_text(digit, timeout=30_000)
    expect(page.locator(BAR_LABELS)).to_have_count(10, timeout=30_000)
    expect(page.locator(BAR_LABELS).nth(int(digit))).to_have_text(re.compile(r"^\d+\.\d%$"), timeout=30_000)
    settled(page)
    labels = page.locator(BAR_LABELS).all_inner_texts()
    shown = [float(label.rstrip("%")) for label in labels]
    assert max(shown) == shown[int(digit)] and abs(sum(shown) - 100) < 1.0, labels  # the bars agree with the digit


def clear_with_button(page, tap: bool = False) -> None:
    from playwright.sync_api import expect

    button = page.locator(CLEAR)
    assert button.inner_text().strip() == en("draw.clear")
    button.tap() if tap else button.click()
    hint(page).wait_for(state="visible", timeout=30_000)
    expect(visible(page, PREDICTED_DIGIT)).to_have_text("—", timeout=30_000)  # a dash until the next drawing
    assert not "".join(page.locator(BAR_LABELS).all_inner_texts()).strip(), "the old bars stayed after Clear"


@pytest.mark.timeout(240)
def test_drawing_a_one_and_a_zero_with_the_mouse_predicts_them(streamlit_server, page):
    problems = watch_problems(page)
    open_draw(page, streamlit_server.url)
    assert page.locator(UNDO).inner_text().strip() == en("draw.undo")
    blank = ink_fraction(page)  # the empty pad

    mouse_stroke(page, one_stroke())
    expect_prediction(page, "1")
    # the rerun after the stroke must not remount the canvas and wipe what was drawn
    assert ink_fraction(page) > blank + 0.02, "the drawing vanished from the canvas after the prediction"
    screenshot(page, "draw_1.png")

    clear_with_button(page)
    assert ink_fraction(page) < blank + 0.005, "Clear left ink on the pad"

    mouse_stroke(page, zero_stroke())
    expect_prediction(page, "0")
    assert ink_fraction(page) > blank + 0.02, "the drawing vanished from the canvas after the prediction"
    page.mouse.move(DESKTOP["width"] - 20, DESKTOP["height"] - 20)  # off the pad: no hover toolbar in the picture
    screenshot(page, "draw.png", "draw.png")

    inside = page.locator(".st-key-draw-layers .js-plotly-plot >> visible=true").first  # the look inside the MLP
    inside.wait_for(timeout=60_000)
    page.locator(".st-key-draw-saliency .js-plotly-plot >> visible=true").first.wait_for(timeout=60_000)
    page.locator("[data-testid=stHeading]", has_text=en("draw.inside_title")).evaluate(
        "(heading) => heading.scrollIntoView({block: 'start'})"
    )
    screenshot(page, "draw_inside.png", "draw_inside.png")
    assert exceptions(page).count() == 0
    assert not problems, problems


@pytest.mark.timeout(240)
def test_drawing_a_one_and_a_seven_with_a_finger_on_a_phone(streamlit_server, new_context):
    phone_context = new_context(viewport=dict(PHONE), has_touch=True, is_mobile=True, device_scale_factor=2)
    page = phone_context.new_page()
    problems = watch_problems(page)
    open_draw(page, streamlit_server.url)
    cdp = phone_context.new_cdp_session(page)

    for stroke, digit in ((one_stroke(), "1"), (seven_stroke(), "7")):
        box = canvas_box(page)
        assert 0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"], f"the canvas is wider than the phone: {box}"
        assert abs(box["width"] - box["height"]) < 1, f"the canvas is not square: {box}"
        before = page.evaluate(SCROLLED)
        during = touch_stroke(page, cdp, stroke)
        assert during == before, f"the page scrolled under the finger: {before} → {during}"
        expect_prediction(page, digit)
        metric = page.locator(PREDICTION_METRIC).bounding_box()
        header = page.locator("[data-testid=stHeader]").bounding_box()  # drawn over the top of the page
        assert (
            metric
            and metric["y"] >= header["y"] + header["height"]
            and metric["y"] + metric["height"] <= PHONE["height"]
        ), f"the prediction is not on screen while the pad is: {metric} (header {header})"
        box = page.locator(CANVAS).bounding_box()
        assert abs(box["width"] - box["height"]) < 1 and box["x"] + box["width"] <= PHONE["width"]
        screenshot(page, f"draw_phone_{digit}.png", "draw_phone.png" if digit == "7" else None)
        clear_with_button(page, tap=True)
    assert exceptions(page).count() == 0
    assert not problems, problems


@pytest.mark.timeout(180)
def test_a_test_image_is_predicted_without_drawing(streamlit_server, page):
    open_draw(page, streamlit_server.url)
    from playwright.sync_api import expect

    page.locator(".st-key-draw-test_random button").click()
    # What the student sees: Streamlit 1.67 can keep a replaced element as a hidden copy (display: none).
    expect(visible(page, PREDICTED_DIGIT)).to_have_text(re.compile(r"^\d$"), timeout=30_000)
    true_digit = visible(page, f"[data-testid=stMetric]:has-text('{en('draw.true_digit')}')")
    true_digit.wait_for(timeout=30_000)
    assert true_digit.locator("[data-testid=stMetricValue]").inner_text() in [str(d) for d in range(10)]
    assert hint(page).count() == 0 or not hint(page).is_visible()
    expect(page.locator(BAR_LABELS).first).to_have_text(re.compile(r"^\d+\.\d%$"), timeout=30_000)
    settled(page)
    # One pad in sight: a hidden copy Streamlit kept of an earlier answer line ("—") is not shown.
    assert page.locator(".st-key-draw-prediction >> visible=true").count() == 1
    assert page.locator(".st-key-draw_canvas >> visible=true").count() == 1
    assert exceptions(page).count() == 0
