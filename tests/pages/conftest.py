"""AppTest fixtures for the pages: each test opens the real app and switches to its page.

Pages link to each other through the sidebar, which Streamlit resolves against the entry
script, so a page is never run alone: ``open_page("3_Train")`` starts at ``streamlit_app.py``
(the home page) and switches, as a student's click would. Every test gets a fresh student id,
and the jobs it started are stopped afterwards.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

import pytest
from streamlit.testing.v1 import AppTest

from playground import identity
from playground.room import get_room

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "streamlit_app.py")


def new_app(student: str | None = None, lang: str = "en", timeout: float = 60) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.session_state[identity.SESSION_KEY] = student or identity.new_id()
    at.query_params["lang"] = lang
    return at


def switch(at: AppTest, page: str) -> AppTest:
    """Run ``pages/<page>.py`` in this app (the home page first, as a visit would)."""
    if not getattr(at, "_has_run_home", False):
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        at._has_run_home = True
    at.switch_page(f"pages/{page}.py").run()
    return at


@pytest.fixture
def open_page():
    """``open_page("1_Softmax_Lab", lang="zh")`` → an AppTest on that page, already run."""
    made: list[AppTest] = []

    def make(page: str, lang: str = "en", student: str | None = None, check: bool = True) -> AppTest:
        at = switch(new_app(student, lang), page)
        if check:
            assert not at.exception, [e.value for e in at.exception]
        made.append(at)
        return at

    yield make
    room = get_room()
    for at in made:
        student = at.session_state[identity.SESSION_KEY]
        for entry in room.all_jobs():
            if entry.student == student and not entry.job.done:
                room.stop(entry)
                entry.job.wait(30)


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; metrics: {[m.label for m in at.metric]}"
    return values[0]


def block(at: AppTest, key: str):
    """The container drawn with ``key`` (``st.container(key=...)``), searched through the whole page."""
    pending = [at._tree]
    while pending:
        node = pending.pop()
        if getattr(node, "key", None) == key and type(node).__name__ == "Block":
            return node
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            pending.extend(children.values())
    raise AssertionError(f"no container {key!r} on the page")


def table_text(at: AppTest, key: str) -> pd.DataFrame:
    """The cells of the ``playground.tables`` table under ``key``, as the reader sees them
    (``st.table`` reads markdown, so the app escapes every cell; this undoes that)."""
    found = block(at, key).get("table")
    assert found, f"no table inside {key!r}"
    shown = found[0].value
    text = shown.map(lambda cell: re.sub(r"\\(.)", r"\1", str(cell)))
    text.columns = [re.sub(r"\\(.)", r"\1", str(c)) for c in shown.columns]
    return text
