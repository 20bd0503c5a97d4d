"""The Teacher page in a real Chromium: the passcode gate, the room live, the class board, a lesson link.

The teacher and a student are two browsers (two Playwright contexts: their own cookies and
localStorage). The student trains and shares a run under a nickname; the teacher sees it
train (the room panel is refreshed by the server, no click) and finds it on the class board;
a lesson link made on the Teacher page opens for the student with its settings fixed.
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
    table_rows,
    unmarked,
    visible,
    watch_problems,
)

pytestmark = pytest.mark.browser

SMALL_RUN = "/Train?hidden=32&epochs=2&log_every=10"
NICKNAME = "Ada-e2e"
PASSWORD = "input[type=password]"


def unlock(page, base_url: str, passcode: str) -> None:
    page.goto(f"{base_url}/Teacher")
    page.locator(PASSWORD).fill(passcode, timeout=FIRST_VISIT_MS)
    page.get_by_role("button", name=en("teacher.unlock")).click()
    page.get_by_role("tab", name=en("teacher.tab_room")).wait_for(timeout=60_000)


def room_tabs(page):
    return page.get_by_role("tab").filter(
        has_text=re.compile(
            "|".join(re.escape(en(k)) for k in ("teacher.tab_room", "teacher.tab_board", "teacher.tab_lessons"))
        )
    )


def press_right(page, slider_key: str, times: int) -> str:
    """Move a slider's thumb ``times`` steps right with the keyboard; returns the value it shows."""
    thumb = page.locator(f".st-key-{slider_key} input[type=range]")
    thumb.focus()
    for _ in range(times):
        page.keyboard.press("ArrowRight")
    return thumb.get_attribute("aria-valuetext")


@pytest.mark.timeout(120)
def test_without_the_passcode_nothing_of_the_room_shows(streamlit_server, page):
    page.goto(f"{streamlit_server.url}/Teacher")
    page.locator(PASSWORD).wait_for(timeout=FIRST_VISIT_MS)
    settled(page)
    assert room_tabs(page).count() == 0
    assert page.locator(".st-key-teacher-jobs, .st-key-teacher-board, .st-key-teacher-make_link").count() == 0
    assert page.get_by_text(en("teacher.connected")).count() == 0

    page.locator(PASSWORD).fill("not-the-passcode")
    page.get_by_role("button", name=en("teacher.unlock")).click()
    page.get_by_text(en("teacher.wrong_passcode")).wait_for(timeout=30_000)
    assert room_tabs(page).count() == 0
    assert page.locator(".st-key-teacher-jobs, .st-key-teacher-board, .st-key-teacher-make_link").count() == 0
    assert exceptions(page).count() == 0


@pytest.mark.timeout(300)
def test_a_shared_run_reaches_the_board_and_a_lesson_link_fixes_settings(streamlit_server, new_context):
    base, passcode = streamlit_server.url, streamlit_server.passcode
    teacher_context, student_context = new_context(), new_context()
    addresses: list[str] = []
    for browser_context in (teacher_context, student_context):
        browser_context.on("request", lambda request: addresses.append(request.url))
    teacher = teacher_context.new_page()
    problems = watch_problems(teacher)
    unlock(teacher, base, passcode)

    # the student trains a small run; the teacher's room panel shows it without a click
    student = student_context.new_page()
    student.goto(base + SMALL_RUN)
    visible(student, ".st-key-train-start button").click(timeout=FIRST_VISIT_MS)
    student.get_by_text(re.compile(r"Finished 2 epochs")).first.wait_for(timeout=120_000)
    run_name = "MLP 32 ReLU · SGD lr 0.01 m 0.5"  # train_run.run_name of the link's settings
    teacher.locator(".st-key-teacher-jobs td", has_text=run_name).first.wait_for(timeout=60_000)
    teacher_row = teacher.locator(".st-key-teacher-jobs tr", has_text=run_name).first
    teacher_row.locator("td", has_text=en("teacher.status.finished")).wait_for(timeout=60_000)

    # shared under a nickname from the Compare tab
    student.get_by_role("tab", name=en("train.tab_compare")).click()
    student.locator(".st-key-train-compare-nickname input").fill(NICKNAME)
    student.locator(".st-key-train-compare-nickname input").press("Enter")
    share = student.locator(".st-key-train-compare-share button")
    share.wait_for(timeout=30_000)
    from playwright.sync_api import expect

    expect(share).to_be_enabled(timeout=30_000)
    share.click()
    student.get_by_text(unmarked(en("share.shared_as", nickname=NICKNAME))).wait_for(timeout=30_000)

    # the class board is drawn when the page runs: the teacher opens it again (a new session, still
    # unlocked in this browser: no passcode to type)
    teacher.goto(f"{base}/Teacher")
    teacher.get_by_role("tab", name=en("teacher.tab_room")).wait_for(timeout=60_000)
    teacher.get_by_role("tab", name=en("teacher.tab_board")).click()
    header, rows = table_rows(teacher, "teacher-board")
    nicknames = [row[header.index(en("teacher.col.nickname"))] for row in rows]
    assert NICKNAME in nicknames
    shared = rows[nicknames.index(NICKNAME)]
    assert shared[header.index(en("teacher.col.run"))] == run_name
    visible(teacher, ".st-key-teacher-board_chart .js-plotly-plot").wait_for(timeout=30_000)
    screenshot(teacher, "teacher.png", "teacher.png")

    # a lesson link for the Train page: lr 0.1 and momentum 0.9 fixed, students may change the epochs
    teacher.get_by_role("tab", name=en("teacher.tab_lessons")).click()
    assert press_right(teacher, "teacher-lesson-lr", 4) == "0.1"  # 0.01 → 0.02 → 0.03 → 0.05 → 0.1
    teacher.locator(".st-key-teacher-lesson-lr [data-testid=stSliderThumbValue]", has_text="0.1").wait_for(
        timeout=30_000
    )
    press_right(teacher, "teacher-lesson-momentum", 40)  # 0.5 → 0.9 in steps of 0.01
    teacher.locator(".st-key-teacher-lesson-momentum [data-testid=stSliderThumbValue]", has_text="0.90").wait_for(
        timeout=30_000
    )
    settled(teacher)
    free = teacher.locator(".st-key-teacher-free-train input")
    free.click()
    free.press_sequentially(en("settings.epochs.label"))  # the list narrows to that one option
    teacher.get_by_role("option", name=en("settings.epochs.label"), exact=True).wait_for(timeout=30_000)
    free.press("Enter")
    teacher.keyboard.press("Escape")
    teacher.locator(".st-key-teacher-free-train", has_text=en("settings.epochs.label")).wait_for(timeout=30_000)
    teacher.locator(".st-key-teacher-lesson_title input").fill("Who finds the best momentum?")
    teacher.locator(".st-key-teacher-lesson_title input").press("Enter")
    settled(teacher)
    teacher.locator(".st-key-teacher-make_link button").click()
    teacher.get_by_text(re.compile(r"Lesson \w+ is ready")).wait_for(timeout=30_000)
    teacher.locator("[data-testid=stCode]", has_text=f"{base}/Train?lesson=").first.wait_for(timeout=30_000)
    settled(teacher)
    links = [text.strip() for text in teacher.locator("[data-testid=stCode]").all_inner_texts()]
    mine = [link for link in links if link.startswith(f"{base}/Train?lesson=")]
    assert mine, f"no lesson link for this server among {links}"

    pupil = student_context.new_page()
    pupil.goto(mine[0])
    visible(pupil, ".st-key-train-start button").wait_for(timeout=FIRST_VISIT_MS)
    settled(pupil)
    for name, shown in (("lr", "0.1"), ("momentum", "0.9")):
        caption = unmarked(en("controls.locked", label=en(f"settings.{name}.label"), value=shown))
        pupil.get_by_text(caption).wait_for(timeout=30_000)
        assert pupil.locator(f".st-key-train-w-{name}").count() == 0, f"the locked {name} can still be changed"
    assert "lr=0.1" in pupil.url and "momentum=0.9" in pupil.url

    epochs = pupil.locator(".st-key-train-w-epochs input")  # the free control
    assert epochs.is_editable()
    epochs.fill("2")
    epochs.press("Enter")
    pupil.wait_for_url(re.compile(r"[?&]epochs=2(&|$)"), timeout=30_000)
    settled(pupil)
    assert epochs.input_value() == "2"
    # after a rerun the lesson still holds: the locked controls stay hidden
    assert pupil.locator(".st-key-train-w-lr").count() == 0 and pupil.locator(".st-key-train-w-momentum").count() == 0
    assert exceptions(pupil).count() == 0

    for page in (teacher, student, pupil):
        addresses.append(page.url)
    addresses.extend(links)
    leaked = [address for address in addresses if passcode in address]
    assert not leaked, f"the passcode is in a URL: {leaked}"
    assert exceptions(teacher).count() == 0
    assert not problems, problems
