"""The Train page in a real Chromium: a short run's curve and accuracy, the Compare tab, runs that outlive a tab.

Runs belong to the browser (a student id kept in localStorage and a cookie), not to a tab: a
reload, a second tab, a cut connection or a closed tab leave the run where it is. Every run
that is still training when a test ends is stopped, so the next test has the machine.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.helpers import (
    FIRST_VISIT_MS,
    en,
    progress_step,
    screenshot,
    stop_run,
    unmarked,
    visible,
    wait_for_progress_beyond,
    wait_until,
    watch_problems,
)

pytestmark = pytest.mark.browser

SHORT_RUN = "/Train?hidden=128-64&epochs=3&log_every=10&momentum=0.9"  # a shared link: seconds on the subset
# 30 epochs of batches of 4 on the lecture's MLP: a minute or more on a laptop core, so it is
# still training when the test looks again (it is stopped at the end).
LONG_RUN = "/Train?epochs=30&batch=4"
START = ".st-key-train-start button"
CHART = ".st-key-train-live_chart .js-plotly-plot"
FINAL_METRIC = "[data-testid=stMetric]"
FINISHED = re.compile(r"Finished (\d+) epochs\. Test accuracy (\d+\.\d+%)")


def start_training(page, base_url: str, link: str) -> None:
    page.goto(base_url + link)
    visible(page, START).click(timeout=FIRST_VISIT_MS)


def wait_until_finished(page, epochs: int) -> str:
    """The finished status's accuracy text (e.g. "91.40%") once the run has ended."""
    status = page.get_by_text(FINISHED).first
    status.wait_for(timeout=180_000)
    found = FINISHED.search(status.inner_text())
    assert int(found.group(1)) == epochs
    return found.group(2)


def open_compare_tab(page) -> None:
    page.get_by_role("tab", name=en("train.tab_compare")).click()


def run_names_in_compare_table(page) -> list[str]:
    table = visible(page, ".st-key-train-runs-table table.sp-table")
    table.wait_for(timeout=30_000)
    column = en("runs.col.name")
    return table.evaluate(
        """(table, column) => {
        const names = [...table.querySelectorAll('thead th')].map(c => c.innerText.trim());
        const at = names.indexOf(column);
        return [...table.querySelectorAll('tbody tr')].map(r => [...r.querySelectorAll('td')][at].innerText.trim());
    }""",
        column,
    )


def curve_is_drawn(page) -> None:
    chart = visible(page, CHART)
    chart.wait_for(timeout=60_000)
    assert chart.locator("path.js-line").count() >= 2, "no loss line in the chart"


@pytest.mark.timeout(240)
def test_one_short_run_draws_the_curve_and_the_compare_tab_shows_whole_labels(streamlit_server, page):
    problems = watch_problems(page)
    page.goto(streamlit_server.url + SHORT_RUN)
    visible(page, START).wait_for(timeout=FIRST_VISIT_MS)
    assert page.locator(".st-key-train-w-hidden-1 input").input_value() == "64"  # the link filled it in

    visible(page, START).click()
    accuracy = wait_until_finished(page, 3)
    metric = page.locator(FINAL_METRIC, has_text=en("train.metric_final"))
    metric.wait_for(timeout=30_000)
    assert metric.locator("[data-testid=stMetricValue]").inner_text() == accuracy  # one number, one source
    assert 50 < float(accuracy.rstrip("%")) <= 100
    chart = visible(page, CHART)
    # the running loss is a drawn line, and the test accuracy has one marker per epoch
    assert chart.locator("path.js-line").count() >= 2
    markers = [
        chart.locator(".scatterlayer .trace").nth(i).locator("path.point").count()
        for i in range(chart.locator(".scatterlayer .trace").count())
    ]
    assert 3 in markers, f"no trace with one marker per epoch: {markers}"
    assert visible(page, START).is_enabled()  # ready for the next run
    chart.scroll_into_view_if_needed()
    screenshot(page, "train.png", "train.png")

    open_compare_tab(page)
    buttons = page.locator(".st-key-train-manage-buttons")
    buttons.wait_for(timeout=30_000)
    for key in ("compare.rename", "compare.use_on_draw", "compare.download", "compare.delete"):
        label = en(key)
        button = buttons.locator("button >> visible=true", has_text=label).first
        text = button.locator("[data-testid=stMarkdownContainer]")
        assert text.inner_text().strip() == label
        scroll, client = text.evaluate("(e) => [e.scrollWidth, e.clientWidth]")
        assert client > 0 and scroll <= client, f"{label!r} is cut: {scroll} px of text in {client} px"
    screenshot(page, "train_compare.png")
    assert not problems, problems


@pytest.mark.timeout(240)
def test_a_run_is_back_after_a_reload_and_in_a_second_tab(streamlit_server, context):
    page = context.new_page()
    start_training(page, streamlit_server.url, SHORT_RUN)
    accuracy = wait_until_finished(page, 3)
    name = "MLP 128-64 ReLU · SGD lr 0.01 m 0.9"  # train_run.run_name of the link's settings
    assert unmarked(en("train.status.kept", name=name)) in page.get_by_text(FINISHED).first.inner_text()

    page.reload()  # F5: a new Streamlit session, the same browser
    page.get_by_text(FINISHED).first.wait_for(timeout=FIRST_VISIT_MS)
    assert FINISHED.search(page.get_by_text(FINISHED).first.inner_text()).group(2) == accuracy
    curve_is_drawn(page)
    open_compare_tab(page)
    assert run_names_in_compare_table(page) == [name]

    second = context.new_page()  # another tab of the same browser: the same student
    second.goto(f"{streamlit_server.url}/Train")
    visible(second, START).wait_for(timeout=FIRST_VISIT_MS)
    open_compare_tab(second)
    assert run_names_in_compare_table(second) == [name]


@pytest.mark.timeout(240)
def test_a_30_epoch_run_survives_a_cut_connection(streamlit_server, context):
    page = context.new_page()
    start_training(page, streamlit_server.url, LONG_RUN)
    try:
        before, epochs = progress_step(page)
        assert epochs == 30
        before = wait_for_progress_beyond(page, before)  # training, and the page hears of it

        context.set_offline(True)  # the Wi-Fi drops for about five seconds (the scenario, not a synchronisation)
        page.wait_for_timeout(1_000)  # what was already on its way has arrived
        frozen = page.locator("[data-testid=stProgress] >> visible=true").first.inner_text()
        page.wait_for_timeout(4_000)
        assert page.locator("[data-testid=stProgress] >> visible=true").first.inner_text() == frozen, (
            "the page kept hearing from the server: the connection was not cut"
        )
        context.set_offline(False)

        # Streamlit finds the server again by itself; the same run is still training, further on
        page.locator("[data-testid=stApp][data-test-connection-state=CONNECTED]").wait_for(timeout=60_000)
        after = wait_for_progress_beyond(page, before, timeout_s=90)
        assert after > before
        assert progress_step(page)[1] == 30
        assert not visible(page, START).is_enabled()  # the run is still this student's, still busy
    finally:
        stop_run(page)
    page.get_by_text(re.compile(r"Stopped at step [\d,]+")).first.wait_for(timeout=60_000)


@pytest.mark.timeout(240)
def test_closing_the_tab_does_not_stop_the_run(streamlit_server, context, new_context):
    """The student closes the tab mid-run; the room sees them gone; the run trains on and is there in a new tab."""
    teacher = new_context().new_page()
    teacher.goto(f"{streamlit_server.url}/Teacher")
    teacher.locator("input[type=password]").fill(streamlit_server.passcode)
    teacher.get_by_role("button", name=en("teacher.unlock")).click()
    connected = teacher.locator("[data-testid=stMetric]", has_text=en("teacher.connected"))
    connected.wait_for(timeout=60_000)

    page = context.new_page()
    start_training(page, streamlit_server.url, LONG_RUN)
    try:
        step_at_close = wait_for_progress_beyond(page, 0)

        def count() -> int:
            return int(connected.locator("[data-testid=stMetricValue]").inner_text().replace(",", ""))

        # the room panel is refreshed by the server while a run trains: it sees the student here, then gone
        with_student = wait_until(
            teacher,
            lambda: count() if count() >= 2 else None,
            "the teacher's room panel counts the teacher and the student",
        )
        page.close()
        wait_until(teacher, lambda: count() == with_student - 1, "the room sees the student's tab gone")
        training = teacher.locator(".st-key-teacher-jobs td", has_text=en("teacher.status.running"))
        assert training.count() >= 1, "the closed tab's run is no longer training"

        page = context.new_page()  # the student comes back
        page.goto(f"{streamlit_server.url}/Train")
        visible(page, "[data-testid=stProgress]").wait_for(timeout=FIRST_VISIT_MS)
        step_back, epochs = progress_step(page)
        assert epochs == 30 and step_back > step_at_close
        assert not visible(page, START).is_enabled()
    finally:
        stop_run(page)


@pytest.mark.timeout(240)
def test_a_run_is_stopped_and_kept_when_its_student_stays_away_past_the_window(
    short_reconnect_server, context, new_context
):
    """Away longer than the room's reconnect window (3 s here), the run stops and is kept; the student finds it so."""
    server = short_reconnect_server
    teacher = new_context().new_page()
    teacher.goto(f"{server.url}/Teacher")
    teacher.locator("input[type=password]").fill(server.passcode, timeout=FIRST_VISIT_MS)
    teacher.get_by_role("button", name=en("teacher.unlock")).click()
    teacher.get_by_role("tab", name=en("teacher.tab_room")).wait_for(timeout=60_000)

    page = context.new_page()
    start_training(page, server.url, LONG_RUN)
    try:
        wait_for_progress_beyond(page, 0)
        teacher.locator(".st-key-teacher-jobs td", has_text=en("teacher.status.running")).first.wait_for(timeout=60_000)
        page.close()  # the student leaves and does not come back in time
        # the reaper stops the run; the room panel (refreshed by the server) says so
        teacher.locator(".st-key-teacher-jobs td", has_text=en("teacher.status.stopped")).first.wait_for(timeout=60_000)
        assert teacher.locator(".st-key-teacher-jobs td", has_text=en("teacher.status.running")).count() == 0

        page = context.new_page()  # back, too late: the run is there, stopped where it was, and kept
        page.goto(f"{server.url}/Train")
        stopped = page.get_by_text(re.compile(r"Stopped at step [\d,]+")).first
        stopped.wait_for(timeout=FIRST_VISIT_MS)
        assert visible(page, START).is_enabled()
        open_compare_tab(page)
        assert run_names_in_compare_table(page) == ["MLP 512-256-128-64 ReLU · SGD lr 0.01 m 0.5"]
    finally:
        stop_run(page)
