"""Wide tables on a laptop's screen (1366×768): the column that matters is in view without scrolling.

Compare runs exists to compare accuracies; the per-row softmax table on Your own data exists to
show the probabilities. The accuracy column (with the run's name, lr and momentum) and every
class's probability must be inside the window, not behind a sideways scroll that no one sees;
iris's table fits whole.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.helpers import FIRST_VISIT_MS, en, settled, visible

pytestmark = pytest.mark.browser

ONE_EPOCH = "/Train?hidden=64&epochs=1&log_every=10"
FINISHED = re.compile(r"Finished 1 epoch")

# For the table in container `key`: the viewport's width, the table's own place (its scrolling
# wrapper), and each header cell's text with its left and right edge on the screen.
TABLE_GEOMETRY_JS = """(wrap) => {
    const box = wrap.getBoundingClientRect();
    return {
        viewport: window.innerWidth,
        place: {left: box.left, right: box.right, scroll: wrap.scrollWidth, client: wrap.clientWidth},
        headers: [...wrap.querySelectorAll('thead th')].map(th => {
            const r = th.getBoundingClientRect();
            return {text: th.innerText.trim(), left: r.left, right: r.right};
        }),
    };
}"""


def table_geometry(page, key: str) -> dict:
    wrap = visible(page, f".st-key-{key} .sp-table-wrap")
    wrap.wait_for(timeout=60_000)
    return wrap.evaluate(TABLE_GEOMETRY_JS)


def assert_in_view(geometry: dict, column: str) -> None:
    """The column's header lies inside the table's place and the window, scrolled to its start."""
    place = geometry["place"]
    [header] = [h for h in geometry["headers"] if h["text"] == column]
    assert place["left"] - 1 <= header["left"] and header["right"] <= place["right"] + 1, (column, geometry)
    assert header["right"] <= geometry["viewport"], (column, geometry)


def assert_fits(geometry: dict) -> None:
    place = geometry["place"]
    assert place["scroll"] <= place["client"] + 1, f"the table scrolls sideways: {geometry}"


@pytest.mark.timeout(300)
def test_compare_runs_shows_the_accuracy_column_at_1366(streamlit_server, page):
    page.goto(streamlit_server.url + ONE_EPOCH)
    visible(page, ".st-key-train-start button").click(timeout=FIRST_VISIT_MS)
    page.get_by_text(FINISHED).first.wait_for(timeout=180_000)
    page.get_by_role("tab", name=en("train.tab_compare")).click()
    settled(page)
    geometry = table_geometry(page, "train-runs-table")
    names = [h["text"] for h in geometry["headers"]]
    accuracy = en("runs.col.accuracy")
    assert names.index(accuracy) < names.index(en("runs.col.params")), names  # what matters comes first
    for column in (en("runs.col.name"), accuracy, "lr", en("runs.col.momentum")):
        assert_in_view(geometry, column)  # the run, its score and the lecture's two knobs beside Train's controls


@pytest.mark.timeout(300)
def test_own_data_shows_every_class_probability_of_iris_at_1366(streamlit_server, page):
    page.goto(f"{streamlit_server.url}/Your_Own_Data")
    visible(page, ".st-key-own-train button").click(timeout=FIRST_VISIT_MS)
    page.locator("[data-testid=stMetric]", has_text=en("own.held_out_accuracy")).first.wait_for(timeout=180_000)
    settled(page)
    geometry = table_geometry(page, "own-probs")
    names = [h["text"] for h in geometry["headers"]]
    assert names.index("p(virginica)") < names.index("sepal_length"), names  # the softmax before the features
    for column in ("p(setosa)", "p(versicolor)", "p(virginica)"):
        assert_in_view(geometry, column)
    assert_fits(geometry)  # iris's four features too
