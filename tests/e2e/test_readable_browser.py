"""What a reader sees in a real Chromium: charts whose labels fit, a live curve on the first screen,
a pad nothing covers, and a page that works with the keyboard alone.

Sizes are read from the drawn SVG (text boxes, plot areas) and the page's layout, never from the
figure's JSON: what counts is what plotly and the browser made of it. Screenshots of every check
go to tests/e2e/artifacts/ (readable_*.png), to look at.
"""

from __future__ import annotations

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
    stop_run,
    visible,
    wait_until,
    watch_problems,
)

pytestmark = pytest.mark.browser

SHORT_RUN = "/Train?hidden=128-64&epochs=1&log_every=10"  # seconds on the shipped subset
LONG_RUN = "/Train?epochs=30&batch=4"  # still training while the test looks
START = ".st-key-train-start button"
CHART = ".st-key-train-live_chart .js-plotly-plot"
FINISHED = re.compile(r"Finished (\d+) epochs?\. Test accuracy")
CANVAS = ".st-key-draw_canvas canvas.upper-canvas"

# Every text element of a plotly chart in container ``key``: its box and font size as drawn.
TEXTS_JS = """(root, selector) => [...root.querySelectorAll(selector)]
    .filter(t => t.getClientRects().length > 0 && t.textContent.trim())
    .map(t => { const r = t.getBoundingClientRect();
                return {text: t.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom,
                        width: r.width, height: r.height, font: parseFloat(getComputedStyle(t).fontSize)}; })"""


# Each plotly chart of the page and the text alternative read right after it (playground.charts).
SUMMARIES_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.getClientRects().length)
    .map(plot => {
        const own = plot.closest('[data-testid=stElementContainer]');
        const next = own && own.nextElementSibling;
        const text = next && next.querySelector('.sp-chart-summary');
        const box = next ? next.getBoundingClientRect() : null;
        const position = next ? getComputedStyle(next).position : '';
        return {summary: text ? text.textContent : '', hidden: position === 'absolute' && box.height <= 1,
                position, size: box && [box.width, box.height]};
    })"""


def chart(page, key: str):
    found = visible(page, f".st-key-{key} .js-plotly-plot")
    found.wait_for(timeout=60_000)
    return found


def texts(page, key: str, selector: str) -> list[dict]:
    return chart(page, key).evaluate(TEXTS_JS, selector)


def overlap(a: dict, b: dict) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


def train_a_short_run(page, base_url: str) -> None:
    page.goto(base_url + SHORT_RUN)
    visible(page, START).click(timeout=FIRST_VISIT_MS)
    page.get_by_text(FINISHED).first.wait_for(timeout=180_000)
    settled(page)


def open_tab(page, key: str, lang: str = "en") -> None:
    from playground.i18n import plain, using

    with using(lang):
        name = plain(key)
    page.get_by_role("tab", name=name).click()
    settled(page)


def check_look_inside(page, where: str) -> None:
    """Per-digit labels readable, confusion counts with room for four digits, gallery titles clear of the bars."""
    labels = texts(page, "train-inside-per_class", "g.bartext text, text.bartext")
    assert len(labels) == 10, labels
    small = [label for label in labels if label["height"] < 10]  # plotly shrinks text by a transform: the box counts
    assert not small, (
        f"{where}: per-digit accuracy labels under 10 px tall: {[(s['text'], s['height']) for s in small]}"
    )

    confusion = chart(page, "train-inside-confusion")
    plot_width = confusion.evaluate("(root) => root.querySelector('.nsewdrag').getBoundingClientRect().width")
    cell = plot_width / 10
    counts = texts(page, "train-inside-confusion", ".heatmaplayer text, g.hm text, text.textpoint")
    assert counts, f"{where}: no count drawn on the confusion matrix"
    font = max(c["font"] for c in counts)
    four_digits = 4 * 0.62 * font + 4  # "1135" (a digit is about 0.6 em) and a little air
    assert cell >= four_digits, (
        f"{where}: cells {cell:.0f} px wide, a four-digit count at {font} px needs {four_digits:.0f}"
    )
    assert font >= 11, f"{where}: counts at {font} px"
    spilled = [c for c in counts if c["width"] > cell - 2]
    assert not spilled, f"{where}: counts wider than their cells ({cell:.0f} px): {spilled[:3]}"

    gallery = chart(page, "train-inside-gallery")
    gallery.scroll_into_view_if_needed()
    titles = texts(page, "train-inside-gallery", "g.annotation-text-g text, .annotation text")
    ticks = texts(page, "train-inside-gallery", ".xaxislayer-above text")
    assert titles and ticks, f"{where}: gallery without titles or tick labels"
    hits = [(a["text"], b["text"]) for a in titles for b in ticks if overlap(a, b)]
    assert not hits, f"{where}: gallery titles on the tick labels of the bars above: {hits[:5]}"
    crowded = [(a["text"], b["text"]) for a in titles for b in titles if a is not b and overlap(a, b)]
    assert not crowded, f"{where}: gallery titles run into each other: {crowded[:3]}"


@pytest.mark.timeout(420)
def test_look_inside_reads_on_a_laptop_and_a_phone_in_both_languages(streamlit_server, page):
    problems = watch_problems(page)
    train_a_short_run(page, streamlit_server.url)
    open_tab(page, "train.tab_inside")
    chart(page, "train-inside-confusion").scroll_into_view_if_needed()
    screenshot(page, "readable_inside_desktop.png")
    check_look_inside(page, "1366×768, English")
    summaries = page.evaluate(SUMMARIES_JS)
    assert summaries and all(s["summary"] for s in summaries), f"charts without a text alternative: {summaries}"
    assert all(s["hidden"] for s in summaries), f"a text alternative takes room on the page: {summaries}"

    page.set_viewport_size(PHONE)
    page.goto(f"{streamlit_server.url}/Train?lang=zh")
    visible(page, START).wait_for(timeout=60_000)
    open_tab(page, "train.tab_inside", "zh")
    chart(page, "train-inside-gallery").scroll_into_view_if_needed()
    screenshot(page, "readable_inside_phone_zh.png")
    check_look_inside(page, "phone, Chinese")
    assert exceptions(page).count() == 0
    assert not problems, problems


def chart_top(page) -> float:
    found = visible(page, CHART)
    found.wait_for(timeout=60_000)
    return page.evaluate(
        "(selector) => [...document.querySelectorAll(selector)].find(e => e.getClientRects().length)"
        ".getBoundingClientRect().top",
        CHART,
    )


@pytest.mark.timeout(300)
def test_the_live_curve_is_on_the_first_screen_while_a_run_trains(streamlit_server, new_context):
    for viewport, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = new_context(viewport=dict(viewport)).new_page()
        page.goto(streamlit_server.url + LONG_RUN)
        visible(page, START).click(timeout=FIRST_VISIT_MS)
        try:
            visible(page, "[data-testid=stProgress]").wait_for(timeout=60_000)
            settled(page)
            top = chart_top(page)
            screenshot(page, f"readable_train_{name}.png")
            # at least the upper half of the curve (360 px tall) is in view without scrolling
            assert top <= viewport["height"] - 180, f"{name}: the live curve starts at {top:.0f} px"
        finally:
            stop_run(page)


@pytest.mark.timeout(420)
def test_train_after_set_up_a_cnn_run_shows_the_curve(streamlit_server, page):
    train_a_short_run(page, streamlit_server.url)
    open_tab(page, "train.tab_inside")
    visible(page, ".st-key-train-setup_cnn button").click()
    settled(page)
    assert page.locator(".st-key-train-w-kind input[type=radio]:checked").count() in (0, 1)
    visible(page, START).click()
    try:
        selected = page.get_by_role("tab", selected=True)
        wait_until(page, lambda: selected.inner_text().strip() == en("train.tab_training"), "the Training tab open")
        visible(page, "[data-testid=stProgress]").wait_for(timeout=60_000)
        visible(page, CHART).wait_for(timeout=60_000)  # the curve is on the tab shown
        screenshot(page, "readable_train_cnn.png")
    finally:
        stop_run(page)


# ---- Draw -----------------------------------------------------------------------------------


def open_draw(page, base_url: str) -> None:
    page.goto(f"{base_url}/Draw")
    page.locator(CANVAS).wait_for(state="visible", timeout=FIRST_VISIT_MS)
    settled(page)


COVERED_JS = """(canvasSelector) => {
    const covered = [];
    for (const metric of document.querySelectorAll('.st-key-draw-prediction [data-testid=stMetric]')) {
        const r = metric.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) continue;  // a hidden copy Streamlit keeps is not on screen
        for (const [fx, fy] of [[0.25, 0.3], [0.5, 0.5], [0.75, 0.7]]) {
            const x = r.left + fx * r.width, y = r.top + fy * r.height;
            const hit = document.elementFromPoint(x, y);
            if (!hit || !metric.contains(hit)) covered.push([metric.innerText.split('\\n')[0], hit && hit.className]);
        }
    }
    return covered;
}"""


@pytest.mark.timeout(240)
def test_the_canvas_toolbar_never_covers_the_answer_and_a_test_image_shows_in_the_pad(streamlit_server, page):
    problems = watch_problems(page)
    open_draw(page, streamlit_server.url)
    canvas = page.locator(CANVAS)
    box = canvas.bounding_box()
    for u, v in ((0.5, 0.5), (0.9, 0.1), (0.1, 0.1)):  # hovering the pad, its corners too
        page.mouse.move(box["x"] + u * box["width"], box["y"] + v * box["height"])
        page.wait_for_timeout(400)  # the toolbar fades in after 0.1 s, in 0.15 s
        covered = page.evaluate(COVERED_JS, CANVAS)
        assert not covered, f"something covers Prediction/Probability/Entropy while the pad is hovered: {covered}"
    screenshot(page, "readable_draw_hover.png")

    page.locator(".st-key-draw-test_random button").click()
    true_digit = page.locator("[data-testid=stMetric]", has_text=en("draw.true_digit"))
    true_digit.wait_for(timeout=30_000)
    settled(page)
    page.locator(CANVAS).evaluate("""(canvas) => {
        const box = canvas.getBoundingClientRect();
        const header = document.querySelector('[data-testid=stHeader]').getBoundingClientRect();
        if (box.top < header.bottom || box.bottom > window.innerHeight) canvas.scrollIntoView({block: 'end'});
    }""")  # the whole pad below Streamlit's header: the picture of it is the pad alone
    overlay = visible(page, ".st-key-draw-pad-canvas .sp-pad-overlay img")
    overlay.wait_for(timeout=30_000)
    pad, shown = page.locator(CANVAS).bounding_box(), overlay.bounding_box()
    assert all(abs(pad[k] - shown[k]) <= 2 for k in ("x", "y", "width", "height")), (
        f"image {shown} not on the pad {pad}"
    )
    shot = page.screenshot(clip=pad)
    assert light_share(shot) > 0.03, "the pad stays black while the bars answer for a test image"
    screenshot(page, "readable_draw_test_image.png")

    # a stroke goes through the picture to the canvas, and the drawing is the input again
    page.mouse.move(pad["x"] + 0.5 * pad["width"], pad["y"] + 0.2 * pad["height"])
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(pad["x"] + 0.5 * pad["width"], pad["y"] + (0.2 + 0.06 * step) * pad["height"], steps=3)
    page.mouse.up()
    page.locator(".sp-pad-overlay").wait_for(state="detached", timeout=30_000)
    true_digit.wait_for(state="detached", timeout=30_000)
    assert exceptions(page).count() == 0
    assert not problems, problems


def light_share(png: bytes) -> float:
    import io

    import numpy as np
    from PIL import Image

    return float((np.asarray(Image.open(io.BytesIO(png)).convert("L")) > 128).mean())


# ---- the keyboard alone ------------------------------------------------------------------------


FOCUSED_JS = """() => {
    const e = document.activeElement;
    if (!e || e === document.body) return null;
    const owner = e.closest('[class*="st-key-"]');
    const key = owner ? [...owner.classList].find(k => k.startsWith('st-key-')) : '';
    const r = e.getBoundingClientRect();
    return {key, tag: e.tagName, role: e.getAttribute('role') || '', type: e.type || '',
            visible: r.width > 0 && r.height > 0};
}"""


def tab_until(page, key: str, tag: str | None = None, limit: int = 120) -> list[dict]:
    """Press Tab until the focus is on a ``tag`` element (any, by default) inside container ``key``;
    returns every element focused on the way."""
    walked = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED_JS)
        walked.append(focused)
        if focused and focused["key"] == f"st-key-{key}" and (tag is None or focused["tag"] == tag):
            return walked
    raise AssertionError(f"{limit} Tabs never reached {key}: {[w and (w['key'], w['tag']) for w in walked[-15:]]}")


@pytest.mark.timeout(300)
def test_train_works_with_the_keyboard_alone(streamlit_server, page):
    problems = watch_problems(page)
    page.goto(f"{streamlit_server.url}/Train?hidden=32&log_every=10")
    visible(page, START).wait_for(timeout=FIRST_VISIT_MS)
    settled(page)
    page.locator("h1").first.click()  # start from the page's title, not the address bar

    walked = tab_until(page, "train-w-epochs", "INPUT")
    hidden = [w for w in walked if w and not w["visible"]]
    assert not hidden, f"Tab stops on elements nobody sees: {hidden}"
    page.keyboard.press("Control+A")
    page.keyboard.type("1")
    page.keyboard.press("ArrowUp")  # 2 epochs
    page.keyboard.press("Enter")
    # The page's answer to the change (its URL then says 2 epochs), before walking on: `settled` alone
    # can look before that run has begun, and the Tabs then ran while the page was being redrawn.
    wait_until(page, lambda: "epochs=2" in page.url, "the page ran with 2 epochs")
    settled(page)
    assert page.locator(".st-key-train-w-epochs input").input_value() == "2"

    walked = tab_until(page, "train-start", "BUTTON")
    assert page.evaluate("() => document.activeElement.tagName") == "BUTTON"
    page.keyboard.press("Enter")
    try:
        page.get_by_text(FINISHED).first.wait_for(timeout=180_000)
        assert re.search(r"Finished 2 epochs", page.get_by_text(FINISHED).first.inner_text())
    finally:
        stop_run(page)

    page.keyboard.press("Shift+Tab")  # back to the controls: a radio is chosen with the arrows
    tab_until(page, "train-w-optimizer", "INPUT")
    checked = ".st-key-train-w-optimizer label:has(input:checked)"
    before = page.locator(checked).inner_text()
    page.keyboard.press("ArrowRight")
    wait_until(page, lambda: page.locator(checked).inner_text() != before, "another optimizer chosen by the arrows")
    assert exceptions(page).count() == 0
    assert not problems, problems
