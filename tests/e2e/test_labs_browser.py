"""The lab pages in a real Chromium: what a student clicks, end to end.

- MNIST data lab: the grid, the transform table down to `[1, 784]`, the live statistics.
- Momentum lab: the race is drawn; the send button opens the Train page and starts a run there.
- Your own data: the iris demo trains to a held-out accuracy; a binary "CSV" gets a message, not a traceback.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.helpers import (
    FIRST_VISIT_MS,
    en,
    exceptions,
    screenshot,
    settled,
    stop_run,
    table_rows,
    visible,
    watch_problems,
)

pytestmark = pytest.mark.browser


def chart(page, key: str):
    return visible(page, f".st-key-{key} .js-plotly-plot")


@pytest.mark.timeout(180)
def test_mnist_data_lab_shows_images_the_transform_and_the_statistics(streamlit_server, page):
    from core.data import MNIST_MEAN, MNIST_STD

    problems = watch_problems(page)
    page.goto(f"{streamlit_server.url}/MNIST_Data")
    chart(page, "data-grid").wait_for(timeout=FIRST_VISIT_MS)
    assert page.get_by_text(re.compile("subset")).first.is_visible()
    chart(page, "data-pixels").wait_for(timeout=30_000)  # one image's 28×28 values
    chart(page, "data-vector").wait_for(timeout=30_000)  # x.view(-1, 784)
    header, steps = table_rows(page, "data-steps")
    shapes = [row[header.index(en("data.col.shape"))] for row in steps]
    assert shapes[0] == "[28, 28, 1]" and shapes[-1] == "[1, 784]", shapes
    assert [row[header.index("dtype")] for row in steps][-1] == "float32"

    header, stats = table_rows(page, "data-stats")
    lecture = header.index(en("data.stats.lecture"))
    assert [row[lecture] for row in stats] == [f"{MNIST_MEAN:.4f}", f"{MNIST_STD:.4f}"]
    measured_mean = float(stats[0][header.index(en("data.stats.this_set"))])
    assert abs(measured_mean - MNIST_MEAN) < 0.01  # the subset's own pixels, close to the lecture's constant
    mean_metric = page.locator("[data-testid=stMetric]", has_text=en("data.metric_mean"))
    assert mean_metric.locator("[data-testid=stMetricValue]").inner_text() == f"{measured_mean:.4f}"
    chart(page, "data-histograms").wait_for(timeout=30_000)
    assert exceptions(page).count() == 0

    first_caption = page.get_by_text(re.compile(r"#0\b")).first
    first_caption.wait_for(timeout=30_000)
    page.locator(".st-key-data-next button").click()
    page.get_by_text(re.compile(r"#(3[2-9]|[4-9]\d)\b")).first.wait_for(timeout=30_000)  # page 2 of the grid
    settled(page)
    assert exceptions(page).count() == 0
    assert not problems, problems


@pytest.mark.timeout(240)
def test_momentum_lab_sends_lr_and_gamma_to_a_new_training_run(streamlit_server, page):
    page.goto(f"{streamlit_server.url}/Momentum")
    chart(page, "momentum-contour").wait_for(timeout=FIRST_VISIT_MS)
    settled(page)
    chart(page, "momentum-contour").scroll_into_view_if_needed()
    screenshot(page, "momentum.png", "momentum.png")
    send = visible(page, ".st-key-momentum-send button")
    lr, gamma = re.search(r"lr ([0-9.e-]+) and momentum ([0-9.]+)", send.inner_text()).groups()

    send.click()
    try:
        page.wait_for_url(re.compile(r"/Train\?"), timeout=60_000)
        assert f"lr={lr}" in page.url and f"momentum={gamma}" in page.url and "opt=sgd" in page.url
        # a run started by itself: its progress, its end (it may diverge at a large lr), or its place in
        # line while the other tests' runs share the machine
        started = page.locator("[data-testid=stProgress]").or_(
            page.get_by_text(re.compile(r"Finished|Diverged|Waiting for a place|Waiting to start"))
        )
        started.first.wait_for(timeout=60_000)
    finally:
        stop_run(page)
    assert exceptions(page).count() == 0


@pytest.mark.timeout(240)
def test_own_data_trains_the_iris_demo_and_refuses_a_binary_file(streamlit_server, page, tmp_path):
    page.set_viewport_size({"width": 1366, "height": 1000})
    page.goto(f"{streamlit_server.url}/Your_Own_Data")
    train = visible(page, ".st-key-own-train button")
    train.wait_for(timeout=FIRST_VISIT_MS)
    train.click()
    metric = page.locator("[data-testid=stMetric]", has_text=en("own.held_out_accuracy")).first
    metric.wait_for(timeout=120_000)
    value = metric.locator("[data-testid=stMetricValue]").inner_text()
    assert 50 <= float(value.rstrip("%")) <= 100
    page.locator(".st-key-own-download button").wait_for(timeout=30_000)
    chart(page, "own-confusion").wait_for(timeout=30_000)
    settled(page)
    chart(page, "own-confusion").scroll_into_view_if_needed()
    screenshot(page, "own_data.png", "own_data.png")

    page.locator(".st-key-own-source").get_by_text(en("own.source_upload")).click()
    binary = tmp_path / "photo.csv"
    binary.write_bytes(bytes(range(256)) * 40)  # not text at all, whatever its name says
    page.locator(".st-key-own-upload input[type=file]").set_input_files(str(binary))
    error = page.locator("[data-testid=stAlertContentError]").first
    error.wait_for(timeout=30_000)
    assert error.inner_text().strip()
    settled(page)
    assert exceptions(page).count() == 0
    assert "Traceback" not in page.locator("[data-testid=stMain]").inner_text()
