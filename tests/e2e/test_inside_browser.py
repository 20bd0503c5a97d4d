"""Train → Look inside in a real Chromium: a click on a confusion-matrix cell picks the mistakes shown.

AppTest cannot click a plotly chart; only a browser shows whether plotly sends the click to
Streamlit at all (an invisible marker with ``hoverinfo="skip"`` receives no click).
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.helpers import FIRST_VISIT_MS, en, settled, visible, wait_until

pytestmark = pytest.mark.browser

ONE_EPOCH = "/Train?hidden=64&epochs=1&log_every=10"  # seconds on the subset, with mistakes to show
START = ".st-key-train-start button"
FINISHED = re.compile(r"Finished 1 epoch")
CONFUSION = ".st-key-train-inside-confusion .js-plotly-plot"
GALLERY = ".st-key-train-inside-gallery .js-plotly-plot"
MISTAKE_TITLE = re.compile(r"true (\d) → (\d)\b")  # the title breaks its line before the percentage


def mistakes_matrix(page) -> list[list[float | None]]:
    """The off-diagonal counts the figure holds (the mistakes trace; None on the diagonal)."""
    return visible(page, CONFUSION).evaluate(
        "(gd) => gd.data.find(trace => trace.type === 'heatmap' && trace.name === 'mistakes').z"
    )


def gallery_pairs(page) -> list[tuple[int, int]]:
    """(true, predicted) of every mistake in the gallery, read from its titles."""
    titles = visible(page, GALLERY).locator(".annotation-text").evaluate_all("(texts) => texts.map(t => t.textContent)")
    return [
        tuple(int(d) for d in MISTAKE_TITLE.search(title).groups()) for title in titles if MISTAKE_TITLE.search(title)
    ]


def click_cell(page, true: int, pred: int) -> None:
    """A real mouse click at the centre of the cell (true, pred), where the page's user would click."""
    chart = visible(page, CONFUSION)
    chart.scroll_into_view_if_needed()
    x, y = chart.evaluate(
        """(gd, cell) => {
            const layout = gd._fullLayout, box = gd.getBoundingClientRect();
            return [box.left + layout.xaxis._offset + layout.xaxis.d2p(String(cell[1])),
                    box.top + layout.yaxis._offset + layout.yaxis.d2p(String(cell[0]))];
        }""",
        [true, pred],
    )
    page.mouse.click(x, y)


@pytest.mark.timeout(300)
def test_clicking_a_confusion_cell_shows_those_mistakes(streamlit_server, page):
    page.goto(streamlit_server.url + ONE_EPOCH)
    visible(page, START).click(timeout=FIRST_VISIT_MS)
    page.get_by_text(FINISHED).first.wait_for(timeout=180_000)
    page.get_by_role("tab", name=en("train.tab_inside")).click()
    visible(page, CONFUSION).wait_for(timeout=60_000)
    settled(page)
    before = gallery_pairs(page)
    assert len({pair for pair in before}) > 1, f"the unfiltered gallery shows one kind of mistake only: {before}"

    counts = mistakes_matrix(page)
    cells = [(counts[i][j], i, j) for i in range(10) for j in range(10) if i != j and counts[i][j]]
    _, true, pred = max(cells)  # the most frequent mistake: the cell a student would click
    click_cell(page, true, pred)

    def filtered():
        pairs = gallery_pairs(page)
        return pairs if pairs and set(pairs) == {(true, pred)} else None

    shown = wait_until(page, filtered, f"the gallery shows only true {true} → {pred}", timeout_s=30)
    assert len(shown) == min(int(counts[true][pred]), 12)
    for key, digit in (("true", true), ("pred", pred)):  # the choices below the matrix follow the click
        assert visible(page, f".st-key-train-inside-{key} input").input_value() == str(digit)
