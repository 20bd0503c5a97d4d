"""The protocol client against a real `streamlit run`: which run answers an action.

A tab's reader stamps each message when it reads it. When the client's event loop is busy (a
classroom of clients in one process on a loaded machine), messages that reached the socket
before an action are read, and stamped, after it.
"""

import time

import pytest

from bench.stclient import StreamlitClient
from tests.bench.helpers import run_in_own_loop

pytestmark = pytest.mark.timeout(180)


async def reopen_while_a_run_is_under_way(base_url: str):
    client = StreamlitClient("reopen", timeout=30)
    await client.connect(base_url)
    try:
        await client.open_page("")
        await client.click("slow")  # a run of about two seconds
        # The loop is busy (not awaiting): the slow run's new_session reaches the socket but is
        # read only after the next action was sent.
        time.sleep(1.0)
        reopened = await client.open_page("", timeout=20)  # Streamlit stops the slow run for this one
        slow, *_ = [r for r in client.runs if not r.is_fragment and r.started_at >= reopened.sent_at]
        return reopened, slow, client.texts()
    finally:
        await client.close()


def test_a_run_that_a_later_run_replaced_is_followed_to_that_run(serve_app):
    """Streamlit ends a run it stops for a newer one without a script_finished; the client must
    not wait for it (it did: 'no a app run to finish within 90 s' in the classroom benchmark)."""
    base_url = serve_app("slow_button.py")
    reopened, slow, texts = run_in_own_loop(reopen_while_a_run_is_under_way, base_url)
    assert slow.run_id != reopened.run_id and slow.status == "replaced"
    assert reopened.status == "ok" and "done" in texts and not any(t.startswith("step") for t in texts)


async def switch_after_a_run_that_ended_unread(base_url: str):
    client = StreamlitClient("switch", timeout=30)
    await client.connect(base_url)
    try:
        await client.open_page("")
        await client.click("slow")
        time.sleep(4.0)  # busy: the slow run starts and ends on the server, none of it read yet
        switched = await client.open_page("other", timeout=20)
        return switched, client.page("other").page_script_hash, client.texts()
    finally:
        await client.close()


def test_a_page_switch_is_answered_by_a_run_of_the_new_page(serve_app):
    """The page left finished a run just before the switch, read only after it: that run is not
    the new page's (the client returned it, and the next step found the old page's elements)."""
    base_url = serve_app("slow_button.py")
    switched, other_hash, texts = run_in_own_loop(switch_after_a_run_that_ended_unread, base_url)
    assert switched.page_script_hash == other_hash and switched.status == "ok"
    assert "on the other page" in texts and "done" not in texts
