"""The three lab pages in a real Chromium: what a student clicks, end to end.

- MNIST data lab: the grid, the transform table down to `[1, 784]`, the live statistics.
- Momentum lab: the race is drawn; the send button opens the Train page and starts a run there.
- Your own data: the iris demo trains to a held-out accuracy; a malformed upload gets a message.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"


def screenshot(page, artifacts_dir, name: str) -> None:
    """Into the test artifacts; into the README's pictures too under `make screenshots`."""
    page.screenshot(path=str(artifacts_dir / name))
    if os.environ.get("UPDATE_SCREENSHOTS"):
        IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifacts_dir / name, IMAGES / name)


def base_url(server) -> str:
    return str(getattr(server, "url", server)).rstrip("/")


def visible_chart(page, key: str):
    # while a fragment or the page reruns, Streamlit may briefly keep the previous chart hidden
    return page.locator(f".st-key-{key} .js-plotly-plot >> visible=true").first


def test_mnist_data_lab_shows_images_the_transform_and_the_statistics(streamlit_server, page):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{base_url(streamlit_server)}/MNIST_Data")
    visible_chart(page, "data-grid").wait_for(timeout=90_000)
    assert page.get_by_text(re.compile("subset")).first.is_visible()
    visible_chart(page, "data-pixels").wait_for(timeout=30_000)  # one image's 28×28 values
    visible_chart(page, "data-vector").wait_for(timeout=30_000)  # x.view(-1, 784)
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=30_000)  # the step table
    # the table is drawn on a canvas; its accessible cells carry the text
    page.locator('td[data-testid^="glide-cell"]', has_text="[1, 784]").first.wait_for(state="attached", timeout=30_000)
    page.get_by_text("0.1307").first.wait_for(timeout=30_000)  # the lecture's constant beside the live one
    visible_chart(page, "data-histograms").wait_for(timeout=30_000)
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0

    page.locator(".st-key-data-next button").click()
    page.get_by_text(re.compile(r"#(3[2-9]|[4-9]\d)\b")).first.wait_for(timeout=30_000)  # page 2 of the grid
    assert errors.count() == 0


def test_momentum_lab_sends_lr_and_gamma_to_a_new_training_run(streamlit_server, page, artifacts_dir):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{base_url(streamlit_server)}/Momentum")
    visible_chart(page, "momentum-contour").wait_for(timeout=90_000)
    visible_chart(page, "momentum-contour").scroll_into_view_if_needed()
    screenshot(page, artifacts_dir, "momentum.png")
    send = page.locator(".st-key-momentum-send button")
    label = send.inner_text()
    lr, gamma = re.search(r"lr ([0-9.e-]+) and momentum ([0-9.]+)", label).groups()

    send.click()
    page.wait_for_url(re.compile(r"/Train\?"), timeout=60_000)
    assert f"lr={lr}" in page.url and f"momentum={gamma}" in page.url
    # a run started by itself: the Stop button while it trains, or its end (it may diverge at a large lr)
    started = page.locator(".st-key-train-stop").or_(page.get_by_text(re.compile(r"Finished|Diverged")))
    started.first.wait_for(timeout=60_000)
    stop = page.locator(".st-key-train-stop button >> visible=true")
    if stop.count():  # leave the server's training slot free for the next test
        stop.first.click()
        page.get_by_text(re.compile(r"Stopped|Finished|Diverged")).first.wait_for(timeout=30_000)


def test_own_data_trains_the_iris_demo_and_refuses_a_malformed_upload(streamlit_server, page, tmp_path, artifacts_dir):
    page.set_viewport_size({"width": 1400, "height": 1100})
    page.goto(f"{base_url(streamlit_server)}/Your_Own_Data")
    train = page.locator(".st-key-own-train button")
    train.wait_for(timeout=90_000)
    train.click()
    metric = page.locator('[data-testid="stMetric"]', has_text="Held-out accuracy").first
    metric.wait_for(timeout=120_000)
    value = metric.locator('[data-testid="stMetricValue"]').inner_text()
    assert 50 <= float(value.rstrip("%")) <= 100
    page.locator(".st-key-own-download button").wait_for(timeout=30_000)
    visible_chart(page, "own-confusion").wait_for(timeout=30_000)
    visible_chart(page, "own-confusion").scroll_into_view_if_needed()
    screenshot(page, artifacts_dir, "own_data.png")

    page.locator(".st-key-own-source").get_by_text("Upload a CSV").click()
    bad = tmp_path / "broken.csv"
    bad.write_bytes(b"\x00\x01\x02\x03 not a table \xff\xfe" * 50)
    page.locator(".st-key-own-upload input[type=file]").set_input_files(str(bad))
    page.locator('[data-testid="stAlertContentError"]').first.wait_for(timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0
