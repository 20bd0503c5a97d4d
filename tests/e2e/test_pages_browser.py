"""Every page in a real Chromium: no exception, no page error, no clipped number; the sidebar;
the momentum rule's numbers.

The walk opens each page at a laptop's 1366×768 and at a phone's 390×844. For every cell of
every `st.table` on the page (the app's numeric tables, `playground.tables.show`) the text
must fit its cell (`scrollWidth <= clientWidth + 1`), and a right-aligned (numeric) cell must
not be empty. A screenshot of each page goes to tests/e2e/artifacts.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest

from tests.e2e.helpers import (
    DESKTOP,
    FIRST_VISIT_MS,
    PAGE_PATHS,
    PHONE,
    clipped_cells,
    exceptions,
    screenshot,
    settled,
    table_rows,
    visible,
    watch_problems,
)

pytestmark = pytest.mark.browser

# What tells that a page has drawn its main part (the rest of the script may still be running).
READY = {
    "": "[data-testid=stMain] [data-testid=stPageLink]",
    "Softmax_Lab": ".st-key-lab-steps table.sp-table",
    "MNIST_Data": ".st-key-data-stats table.sp-table",
    "Train": ".st-key-train-start button",
    "Momentum": ".st-key-momentum-updates table.sp-table",
    "Draw": ".st-key-draw_canvas canvas.upper-canvas",
    "Your_Own_Data": ".st-key-own-features table.sp-table",
    "Teacher": "input[type=password]",
}
# The sidebar in the lecture's order, and where each entry leads.
SIDEBAR = (
    ("Home", "/"),
    ("Softmax & cross-entropy", "/Softmax_Lab"),
    ("MNIST data", "/MNIST_Data"),
    ("Train", "/Train"),
    ("Momentum", "/Momentum"),
    ("Draw a digit", "/Draw"),
    ("Your own data", "/Your_Own_Data"),
    ("Teacher", "/Teacher"),
)


def open_page(page, base_url: str, path: str) -> None:
    page.goto(f"{base_url}/{path}")
    page.locator(READY[path]).first.wait_for(state="visible", timeout=FIRST_VISIT_MS)
    settled(page, timeout=FIRST_VISIT_MS)


def name_of(path: str) -> str:
    return path or "Home"


@pytest.mark.timeout(300)
def test_every_page_at_1366_by_768_has_no_error_and_no_clipped_number(streamlit_server, page):
    page.set_viewport_size(DESKTOP)
    problems = watch_problems(page)
    audited = {}
    for path in PAGE_PATHS:
        open_page(page, streamlit_server.url, path)
        if path == "Draw":  # a test image: the worked numbers' tables appear below the pad
            page.locator(".st-key-draw-test_random button").click()
            page.locator(".st-key-draw-numbers table.sp-table").wait_for(timeout=30_000)
            settled(page)
        assert exceptions(page).count() == 0, f"{name_of(path)}: {exceptions(page).first.inner_text()}"
        shown, bad = clipped_cells(page)
        assert not bad, f"{name_of(path)}: clipped or empty cells {bad[:8]}"
        audited[name_of(path)] = shown
        screenshot(page, f"page_{name_of(path)}_desktop.png")
    assert not problems, problems
    # the tables the walk must have looked at (a walk that found none would prove nothing)
    for name in ("Softmax_Lab", "MNIST_Data", "Train", "Momentum", "Draw", "Your_Own_Data"):
        assert audited[name] > 0, f"no table cell found on {name}"


@pytest.mark.timeout(240)
def test_every_page_renders_on_a_phone(streamlit_server, new_context):
    phone = new_context(viewport=dict(PHONE), is_mobile=True, has_touch=True).new_page()
    problems = watch_problems(phone)
    for path in PAGE_PATHS:
        open_page(phone, streamlit_server.url, path)
        assert exceptions(phone).count() == 0, f"{name_of(path)}: {exceptions(phone).first.inner_text()}"
        _, bad = clipped_cells(phone, scrolling_ok=True)  # a wide table scrolls sideways on a phone, never cuts
        assert not bad, f"{name_of(path)} on a phone: clipped or empty cells {bad[:8]}"
        screenshot(phone, f"page_{name_of(path)}_phone.png")
    assert not problems, problems


@pytest.mark.timeout(120)
def test_momentum_update_table_shows_core_numbers_digit_for_digit(streamlit_server, page):
    """Every sign and digit of the update table is `core.momentum.update_steps` as `pair_text` writes it."""
    from core import momentum as mo
    from playground import fmt
    from playground.figures.momentum import UPDATE_COLUMNS, pair_text

    open_page(page, streamlit_server.url, "Momentum")
    surface = mo.QUADRATIC  # the lab's first surface and its own start, lr and γ are the page's defaults
    lr_shown = page.locator(".st-key-momentum-lr [data-testid=stSliderThumbValue]").inner_text()
    gamma_shown = page.locator(".st-key-momentum-gamma [data-testid=stSliderThumbValue]").inner_text()
    x0_shown = page.locator(".st-key-momentum-x0 input").input_value()
    y0_shown = page.locator(".st-key-momentum-y0 input").input_value()
    k = int(page.locator(".st-key-momentum-table_steps input").input_value())
    assert (float(lr_shown), float(gamma_shown)) == (surface.lr, surface.gamma)
    assert (float(x0_shown), float(y0_shown)) == tuple(map(float, surface.start))

    rows = mo.update_steps(surface, surface.start, surface.lr, surface.gamma, k)
    expected = [
        [
            str(r.t),
            *(pair_text(v) for v in (r.theta_before, r.grad, r.momentum_term, r.gradient_term, r.v, r.theta)),
            fmt.number(r.loss, ".6g"),
        ]
        for r in rows
    ]
    header, body = table_rows(page, "momentum-updates")
    assert header == ["t", *UPDATE_COLUMNS, "L(θₜ)"]
    assert body == expected
    assert any("-" in cell for row in body for cell in row), "the defaults' updates have negative numbers to check"


@pytest.mark.timeout(120)
def test_sidebar_lists_the_pages_in_lecture_order_and_no_deploy_button(streamlit_server, page):
    open_page(page, streamlit_server.url, "")
    sidebar = page.locator("[data-testid=stSidebar]")
    links = sidebar.locator("[data-testid=stPageLink] a")
    labels = [text.strip().splitlines()[-1].strip() for text in links.all_inner_texts()]
    assert labels == [label for label, _ in SIDEBAR]
    hrefs = [links.nth(i).get_attribute("href") or "" for i in range(links.count())]
    paths = [urlsplit(urljoin(f"{streamlit_server.url}/", href)).path for href in hrefs]
    assert paths == [path for _, path in SIDEBAR]
    assert "streamlit app" not in sidebar.inner_text().lower()
    assert page.locator("[data-testid=stSidebarNav]").count() == 0  # Streamlit's own page list is hidden
    assert page.locator("[data-testid=stAppDeployButton]").count() == 0
    assert page.get_by_role("button", name=re.compile("deploy", re.IGNORECASE)).count() == 0

    visible(page, "[data-testid=stSidebar] [data-testid=stPageLink] a:has-text('Momentum')").click()
    page.wait_for_url(re.compile(r"/Momentum(\?|$)"), timeout=30_000)
    page.locator(READY["Momentum"]).wait_for(timeout=60_000)
