"""playground.store_errors: a store that cannot be reached is said on the page, not as a traceback."""

import sqlite3
import textwrap

from streamlit.testing.v1 import AppTest

from core.store import RunStore
from playground.i18n import plain

SCRIPT = """
import streamlit as st
from core.store import RunStore
from playground import store_errors

store_errors.install()
st.write("before the store")
if st.query_params.get("fail") == "other":
    raise RuntimeError("a bug, not the store")
store = RunStore({path!r}, timeout=0.1)
store.save_lesson("train", {{}}, ())  # a write: waits 0.1 s for the lock another process holds
st.write("after the store")
"""


def page(tmp_path, path) -> AppTest:
    script = tmp_path / "store_page.py"
    script.write_text(textwrap.dedent(SCRIPT.format(path=str(path))), encoding="utf-8")
    return AppTest.from_file(str(script), default_timeout=30)


def texts(at: AppTest) -> list[str]:
    return [element.value for element in at.markdown]


def test_a_store_held_by_another_process_is_a_warning_with_a_retry_not_a_traceback(tmp_path):
    path = tmp_path / "runs.db"
    RunStore(path).close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock past the busy timeout
    try:
        at = page(tmp_path, path).run()
        assert not at.exception
        assert [w.value for w in at.warning] == [plain("store_status.unavailable")]
        assert [b.label for b in at.button] == [plain("store_status.try_again")]
        assert texts(at) == ["before the store"]  # the page stopped where the store was needed
    finally:
        other.execute("ROLLBACK")
        other.close()
    at.button[0].click().run()  # the store is back: trying again finishes the page
    assert not at.exception and not at.warning
    assert texts(at) == ["before the store", "after the store"]


def test_any_other_error_keeps_streamlits_own_display(tmp_path):
    at = page(tmp_path, tmp_path / "runs.db")
    at.query_params["fail"] = "other"
    at.run()
    assert at.exception and "a bug, not the store" in at.exception[0].value
    assert not at.warning
