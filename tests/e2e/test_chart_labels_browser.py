"""Charts in a real Chromium: what plotly draws on top of a value label never hides it."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import FIRST_VISIT_MS, settled, visible

pytestmark = pytest.mark.browser

GRADIENT = ".st-key-lab-gradient_chart .js-plotly-plot"

# Each bar's value label and each autograd marker as screen boxes.
BOXES_JS = """(gd) => {
    const box = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
    return {
        labels: [...gd.querySelectorAll('.barlayer .bartext')].map(box),
        markers: [...gd.querySelectorAll('.scatterlayer path.point')].map(box),
    };
}"""


def overlap(a, b) -> float:
    """Area in px² that two boxes [left, top, right, bottom] share."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return max(width, 0) * max(height, 0)


@pytest.mark.timeout(180)
def test_the_gradient_charts_autograd_markers_leave_its_value_labels_readable(streamlit_server, page):
    page.goto(f"{streamlit_server.url}/Softmax_Lab")
    chart = visible(page, GRADIENT)
    chart.wait_for(timeout=FIRST_VISIT_MS)
    settled(page)
    chart.scroll_into_view_if_needed()
    boxes = chart.evaluate(BOXES_JS)
    assert len(boxes["labels"]) == 3 and len(boxes["markers"]) == 3, boxes  # the lecture's three logits
    covered = [
        (label, marker) for label in boxes["labels"] for marker in boxes["markers"] if overlap(label, marker) > 0
    ]
    assert not covered, f"autograd markers cover value labels: {covered}"
