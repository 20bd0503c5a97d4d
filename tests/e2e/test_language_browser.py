"""The two languages in a real Chromium: every page opened with ``?lang=zh``, the sidebar's switch
there and back, and a run that stays when the language changes.

What the reader sees is compared with the catalogues (`playground/locales/*.toml`): the tab's
title, the sidebar's page names, a chart's axis title as plotly drew it in the SVG, the status
line of a finished run. A screenshot of the Train page in Chinese becomes docs/img/zh_train.png
with ``UPDATE_SCREENSHOTS=1``.
"""

from __future__ import annotations

import re

import pytest

from playground import nav
from tests.e2e.helpers import (
    FIRST_VISIT_MS,
    PAGE_PATHS,
    en,
    exceptions,
    screenshot,
    settled,
    visible,
    wait_until,
    watch_problems,
)
from tests.e2e.test_pages_browser import READY

pytestmark = pytest.mark.browser

PAGE_KEYS = [key for key, _, _ in nav.PAGES]  # the same lecture order as PAGE_PATHS
SHORT_RUN = "hidden=128-64&epochs=3&log_every=10&momentum=0.9"  # a shared link: seconds on the subset
SIDEBAR_LINKS = "[data-testid=stSidebar] [data-testid=stPageLink]"
CJK = re.compile(r"[\u4e00-\u9fff]")


def zh(key: str, **params) -> str:
    """The Chinese catalogue's text for ``key`` (raw: markdown marks such as ** are kept)."""
    from playground.i18n import plain, using

    with using("zh"):
        return plain(key, **params)


def text(key: str, lang: str, **params) -> str:
    return (zh if lang == "zh" else en)(key, **params)


def open_page(page, url: str, path: str) -> None:
    page.goto(url)
    page.locator(READY[path]).first.wait_for(state="visible", timeout=FIRST_VISIT_MS)
    settled(page, timeout=FIRST_VISIT_MS)


def sidebar_names(page) -> list[str]:
    """The sidebar's page links as the reader sees them (each link's icon left out)."""
    links = page.locator(SIDEBAR_LINKS)
    return [links.nth(i).inner_text().strip() for i in range(links.count())]


def sidebar_is_in(page, lang: str) -> bool:
    names = sidebar_names(page)
    wanted = [text(f"pages.{key}.nav", lang) for key in PAGE_KEYS]
    return len(names) == len(wanted) and all(name.endswith(label) for name, label in zip(names, wanted))


def axis_titles(page, chart: str) -> list[str]:
    """The axis titles plotly drew into the SVG of the chart in container ``chart``."""
    svg = visible(page, f".st-key-{chart} .js-plotly-plot")
    svg.wait_for(timeout=60_000)
    return sorted(
        svg.evaluate(
            "(plot) => [...plot.querySelectorAll('.xtitle, .ytitle, .y2title')].map(t => t.textContent.trim())"
        )
    )


def switch_language(page, lang: str) -> None:
    """Press the sidebar's switch (English / 中文) and wait until the sidebar speaks ``lang``."""
    from playground.i18n import LANGUAGE_NAMES

    page.locator("[data-testid=stSidebar] button", has_text=LANGUAGE_NAMES[lang]).click()
    wait_until(page, lambda: sidebar_is_in(page, lang), f"the sidebar in {lang}")
    settled(page)
    assert f"lang={lang}" in page.url


@pytest.mark.timeout(300)
def test_every_page_opens_in_chinese_with_its_title_and_the_sidebar_in_chinese(streamlit_server, page):
    problems = watch_problems(page)
    assert len(PAGE_PATHS) == len(PAGE_KEYS)
    for path, key in zip(PAGE_PATHS, PAGE_KEYS):
        open_page(page, f"{streamlit_server.url}/{path}?lang=zh", path)
        name = path or "Home"
        assert exceptions(page).count() == 0, f"{name}: {exceptions(page).first.inner_text()}"
        assert page.title() == zh(f"pages.{key}.tab"), name
        wait_until(page, lambda: sidebar_is_in(page, "zh"), f"{name}: the sidebar in Chinese")
        heading = visible(page, "[data-testid=stMain] h1").inner_text()
        assert CJK.search(heading), f"{name}: the title {heading!r} is not Chinese"
        screenshot(page, f"zh_page_{name}.png")
    assert not problems, problems


@pytest.mark.timeout(240)
def test_the_sidebar_switch_changes_the_page_to_english_and_back(streamlit_server, page):
    problems = watch_problems(page)
    open_page(page, f"{streamlit_server.url}/Softmax_Lab?lang=zh", "Softmax_Lab")
    chart = "lab-neglog_chart"  # the loss against p[target]: both axes have titles
    for step, lang in enumerate(("zh", "en", "zh")):
        if step:
            switch_language(page, lang)
        wait_until(page, lambda lang=lang: sidebar_is_in(page, lang), f"the sidebar in {lang}")  # drawn after the title
        assert page.title() == text("pages.softmax.tab", lang)
        wanted = sorted([text("figures.p_target", lang), text("figures.neg_log_p", lang)])
        wait_until(page, lambda wanted=wanted: axis_titles(page, chart) == wanted, f"the axis titles {wanted}")
        title = visible(page, "[data-testid=stMain] h1").inner_text()
        assert bool(CJK.search(title)) == (lang == "zh"), title
    assert exceptions(page).count() == 0
    assert not problems, problems


@pytest.mark.timeout(300)
def test_a_run_trained_in_english_is_still_there_in_chinese(streamlit_server, page):
    problems = watch_problems(page)
    open_page(page, f"{streamlit_server.url}/Train?{SHORT_RUN}&lang=en", "Train")
    visible(page, ".st-key-train-start button").click()
    finished = re.compile(r"Finished 3 epochs\. Test accuracy (\d+\.\d+%)")
    status = page.get_by_text(finished).first
    status.wait_for(timeout=180_000)
    accuracy = finished.search(status.inner_text()).group(1)
    chart = "train-live_chart"
    english_axes = sorted([en("figures.epoch"), en("figures.cross_entropy"), en("figures.test_accuracy_percent")])
    wait_until(page, lambda: axis_titles(page, chart) == english_axes, "the curve's English axis titles")

    switch_language(page, "zh")
    # the status line as the reader sees it: no bold marks, and its leading emoji left out
    done = zh("train.status.finished", epochs=3, accuracy=accuracy).replace("**", "").removeprefix("✅ ")
    page.get_by_text(done).first.wait_for(timeout=60_000)  # the same run, the same accuracy, in Chinese
    chinese_axes = sorted([zh("figures.epoch"), zh("figures.cross_entropy"), zh("figures.test_accuracy_percent")])
    wait_until(page, lambda: axis_titles(page, chart) == chinese_axes, "the curve's Chinese axis titles")
    svg = visible(page, f".st-key-{chart} .js-plotly-plot")
    assert svg.locator("path.js-line").count() >= 2, "the loss curve is gone"
    legend = svg.evaluate("(plot) => [...plot.querySelectorAll('.legendtext')].map(t => t.textContent.trim())")
    assert legend == [zh("figures.training_loss"), zh("figures.test_loss"), zh("figures.test_accuracy")]
    assert page.locator("[data-testid=stMetric]", has_text=zh("train.metric_final")).count() == 1
    svg.evaluate("(plot) => plot.scrollIntoView({block: 'center'})")  # the status line and the whole curve
    screenshot(page, "zh_train.png", "zh_train.png")

    page.get_by_role("tab", name=zh("train.tab_compare")).click()
    table = visible(page, ".st-key-train-runs-table table.sp-table")
    table.wait_for(timeout=30_000)
    assert zh("runs.col.name") in table.locator("thead").inner_text()
    assert table.locator("tbody tr").count() == 1  # the run trained in English, kept across the switch
    assert exceptions(page).count() == 0
    assert not problems, problems


def checked_label(page, control: str) -> str | None:
    """The label of the radio option shown chosen in the Train control ``control`` (None: none is)."""
    return page.evaluate(
        """(key) => {
        const chosen = [...document.querySelectorAll(`.st-key-train-w-${key} label`)]
            .filter(label => label.getClientRects().length > 0)  // not a stale copy kept during a rerun
            .find(label => label.querySelector('input[type=radio]')?.checked);
        return chosen ? chosen.innerText.trim() : null;
    }""",
        control,
    )


@pytest.mark.timeout(240)
def test_the_controls_keep_their_choices_across_the_switch(streamlit_server, page):
    """The browser keeps a radio's choice by its label: after the switch it must be shown under the
    new label, and the next click elsewhere must not turn the student's CNN back into the MLP."""
    problems = watch_problems(page)
    open_page(page, f"{streamlit_server.url}/Train?lang=en", "Train")
    for control, value in (("kind", "cnn"), ("optimizer", "adam")):
        label = en(f"choice.{control}.{value}")
        page.locator(f".st-key-train-w-{control} label >> visible=true", has_text=label).first.click()
        settled(page)
        assert checked_label(page, control) == en(f"choice.{control}.{value}")

    switch_language(page, "zh")
    for control, value in (("kind", "cnn"), ("optimizer", "adam")):
        wanted = zh(f"choice.{control}.{value}")
        wait_until(page, lambda c=control, w=wanted: checked_label(page, c) == w, f"{wanted} shown chosen")
    seed = page.locator(".st-key-train-w-seed input")
    seed.fill("3")
    seed.press("Enter")
    wait_until(page, lambda: "seed=3" in page.url, "the new seed in the link")
    settled(page)
    assert "model=cnn" in page.url and "opt=adam" in page.url, page.url
    assert checked_label(page, "kind") == zh("choice.kind.cnn")
    assert exceptions(page).count() == 0
    assert not problems, problems
