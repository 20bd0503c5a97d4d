"""The Teacher page stays unlocked across a reload (F5) in the same browser, and only there.

The unlock is kept as a signed, expiring token in a cookie of that browser, never the passcode
and never in a URL; another browser (another student) still meets the passcode field.
"""

from __future__ import annotations

import pytest

from tests.e2e.helpers import FIRST_VISIT_MS, en, settled
from tests.e2e.test_teacher_browser import PASSWORD, room_tabs, unlock

pytestmark = pytest.mark.browser


@pytest.mark.timeout(180)
def test_a_reload_keeps_the_teacher_page_unlocked_without_the_passcode_anywhere(streamlit_server, new_context):
    teacher = new_context().new_page()
    unlock(teacher, streamlit_server.url, streamlit_server.passcode)
    settled(teacher)
    teacher.reload()  # F5: a new Streamlit session
    teacher.get_by_role("tab", name=en("teacher.tab_room")).wait_for(timeout=FIRST_VISIT_MS)
    assert teacher.locator(PASSWORD).count() == 0
    cookies = teacher.context.cookies()
    kept = [c for c in cookies if c["name"] == "sp_teacher"]
    assert kept and kept[0]["expires"] > 0, cookies  # it expires
    assert all(streamlit_server.passcode not in c["value"] for c in cookies)
    assert streamlit_server.passcode not in teacher.url

    stranger = new_context().new_page()  # another browser never shares it
    stranger.goto(f"{streamlit_server.url}/Teacher")
    stranger.locator(PASSWORD).wait_for(timeout=FIRST_VISIT_MS)
    settled(stranger)
    assert room_tabs(stranger).count() == 0

    stranger.context.add_cookies([{**kept[0], "value": kept[0]["value"][:-4] + "0000"}])  # a forged token
    stranger.reload()
    stranger.locator(PASSWORD).wait_for(timeout=FIRST_VISIT_MS)
    settled(stranger)
    assert room_tabs(stranger).count() == 0
