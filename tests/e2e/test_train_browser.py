"""The Train page in a real Chromium: train one short run, watch the curve and the accuracy appear.

Uses the `streamlit_server` and `page` fixtures of tests/e2e/conftest.py, and saves a
screenshot (the README's docs/img/train.png with UPDATE_SCREENSHOTS=1).
"""

import os
import re
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "img" / "train.png"


def base_url(server) -> str:
    return str(getattr(server, "url", server)).rstrip("/")


def test_one_short_run_draws_the_loss_curve_and_the_accuracy(streamlit_server, page, artifacts_dir):
    page.set_viewport_size({"width": 1440, "height": 1100})
    # a shared link: a small MLP, 3 epochs, a point every 10 batches
    page.goto(f"{base_url(streamlit_server)}/Train?hidden=128-64&epochs=3&log_every=10&momentum=0.9")
    start = page.locator(".st-key-train-start button")
    start.wait_for(timeout=90_000)
    assert page.locator(".st-key-train-w-hidden-1 input").input_value() == "64"  # the link prefilled it

    start.click()
    page.locator(".st-key-train-stop").wait_for(timeout=60_000)  # training, and the Stop button is live
    # while a fragment reruns Streamlit may briefly keep the previous chart, hidden: take the visible one
    chart_selector = ".st-key-train-live_chart .js-plotly-plot >> visible=true"
    page.locator(chart_selector).first.wait_for(timeout=60_000)

    finished = page.get_by_text(re.compile(r"Finished 3 epochs\. Test accuracy \d+\.\d+%")).first
    finished.wait_for(timeout=180_000)
    accuracy = float(re.search(r"Test accuracy (\d+\.\d+)%", finished.inner_text()).group(1))
    assert 50 < accuracy <= 100

    metric = page.locator('[data-testid="stMetricValue"]').first
    assert metric.inner_text() == f"{accuracy:.2f}%"
    chart = page.locator(chart_selector).first
    # the running loss is a drawn line, and the accuracy curve has one marker per epoch
    assert chart.locator("path.js-line").count() >= 2
    assert chart.locator(".scatterlayer .trace").nth(2).locator("path.point").count() == 3
    assert page.locator(".st-key-train-start button").is_enabled()  # ready for the next run

    page.screenshot(path=str(artifacts_dir / "train.png"))
    if os.environ.get("UPDATE_SCREENSHOTS"):  # `make screenshots` refreshes the README's picture
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifacts_dir / "train.png", SCREENSHOT)


def test_closing_the_tab_stops_its_training_and_frees_the_queue(streamlit_server, page):
    """One job trains at a time per server; an abandoned tab must not keep the slot."""
    base = base_url(streamlit_server)
    page.goto(f"{base}/Train?epochs=50&batch=16")  # the lecture's MLP, 50 epochs of small batches: minutes
    page.locator(".st-key-train-start button").click(timeout=90_000)
    page.locator(".st-key-train-stop").wait_for(timeout=60_000)
    page.wait_for_timeout(1_000)
    other = page.context.new_page()  # another tab: a Streamlit session of its own
    page.close()  # the websocket closes; Streamlit keeps the session, the on_release hook stops the job

    other.goto(f"{base}/Train?hidden=none&epochs=1")
    other.locator(".st-key-train-start button").click(timeout=90_000)
    try:
        other.get_by_text(re.compile(r"Finished 1 epochs")).first.wait_for(timeout=30_000)
    finally:
        other.close()
