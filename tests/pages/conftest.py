"""AppTest fixtures for the pages: each test opens the real app and switches to its page.

Pages link to each other through the sidebar, which Streamlit resolves against the entry
script, so a page is never run alone: ``open_page("3_Train")`` starts at ``streamlit_app.py``
(the home page) and switches, as a student's click would. Every test gets a fresh student id,
and the jobs it started are stopped afterwards.
"""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from playground import i18n, identity
from playground.room import get_room

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "streamlit_app.py")


def new_app(student: str | None = None, lang: str = "en", timeout: float = 60) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.session_state[identity.SESSION_KEY] = student or identity.new_id()
    at.query_params["lang"] = lang
    return at


def show_tab(at: AppTest, tab: str) -> AppTest:
    """Open the Train page's tab ``tab`` ("training", "compare" or "inside") as a click on it would,
    and run the page: only the open tab runs."""
    lang = at.query_params.get("lang", "en")
    lang = lang[0] if isinstance(lang, list) else lang
    at.session_state["train.view"] = i18n.catalogue(lang)[f"train.tab_{tab}"]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
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
    """``open_page("1_Softmax_Lab", lang="zh")`` → an AppTest on that page, already run.

    ``query`` is the page's own query string, as a shared link or a lesson link opens it.
    """
    made: list[AppTest] = []

    def make(
        page: str, lang: str = "en", student: str | None = None, check: bool = True, query: dict[str, str] | None = None
    ) -> AppTest:
        at = new_app(student, lang)
        if query:
            at.query_params.update(query)
        at = switch(at, page)
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


def html_tables(at_or_block) -> list[pd.DataFrame]:
    """Every ``playground.tables`` table drawn under this app or block, as the reader sees its cells."""
    from playground.tables import read_html_table

    return [read_html_table(h.proto.body) for h in at_or_block.get("html") if 'class="sp-table' in h.proto.body]


def table_text(at: AppTest, key: str) -> pd.DataFrame:
    """The cells of the ``playground.tables`` table under ``key``, as the reader sees them."""
    found = html_tables(block(at, key))
    assert found, f"no table inside {key!r}"
    return found[0]


# --------------------------------------------------------------------------- reading the page


def shown(text: str) -> str:
    """Markdown as the reader sees it: no bold markers, and the app's escapes (``\\.``, ``\\[``) undone."""
    return re.sub(r"\\(.)", r"\1", re.sub(r"(?<!\\)\*\*", "", str(text)))


def texts(at: AppTest, *kinds: str) -> str:
    """Every body of these element kinds (default: alerts, markdown and captions), unescaped, joined."""
    kinds = kinds or ("info", "success", "warning", "error", "markdown", "caption")
    return "\n".join(shown(getattr(e, "value", "")) for kind in kinds for e in at.get(kind))


def figure(at: AppTest, key: str) -> dict:
    """The plotly spec the browser gets for the chart drawn with ``key``."""
    charts = [c for c in at.get("plotly_chart") if c.proto.id.endswith(key)]
    assert charts, f"no plotly chart {key!r}; charts: {[c.proto.id for c in at.get('plotly_chart')]}"
    return json.loads(charts[0].proto.spec)


def has_chart(at: AppTest, key: str) -> bool:
    return any(c.proto.id.endswith(key) for c in at.get("plotly_chart"))


def values(data) -> np.ndarray:
    """A plotly array: plotly ≥ 6 sends NumPy arrays base64-encoded as {"dtype", "bdata", "shape"}."""
    if isinstance(data, dict):
        flat = np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
        if data.get("shape"):
            flat = flat.reshape([int(s) for s in str(data["shape"]).split(",")])
        return flat
    return np.asarray(data)


def widget_keys(at: AppTest) -> set[str]:
    """The keys of every widget drawn on the page."""
    found, pending = set(), [at._tree]
    while pending:
        node = pending.pop()
        key = getattr(node, "key", None)
        if key and type(node).__name__ != "Block":
            found.add(key)
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            pending.extend(children.values())
    return found


def student_of(at: AppTest) -> str:
    return at.session_state[identity.SESSION_KEY]


def poll(condition, timeout: float, what: str):
    """Wait for ``condition()`` to be truthy (a background job's progress), failing after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# --------------------------------------------------------------------------- runs on the room


def wait_for_run(at: AppTest, page: str = "train", timeout: float = 120):
    """Wait until this student's job on ``page`` ended and was filed, then rerun the page."""
    entry = get_room().job_of(student_of(at), page)
    assert entry is not None, f"no job on {page!r} for this student"
    assert entry.job.wait(timeout), f"the {page} job did not end within {timeout} s"
    assert entry.filed.wait(5), "the room did not file the run"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return entry


def configure_train(at: AppTest, *, depth: int = 1, size: int = 32, epochs: int = 1, **others) -> AppTest:
    """Small, quick Train settings through the controls, in one rerun (the tests check the page, not MNIST)."""
    at.number_input(key=TRAIN_W + "depth").set_value(depth)
    if depth:
        at.number_input(key=TRAIN_W + "hidden.0").set_value(size)
    at.number_input(key=TRAIN_W + "epochs").set_value(epochs)
    for name, value in others.items():
        widget = {
            "lr": at.select_slider,
            "momentum": at.slider,
            "kind": at.radio,
            "activation": at.radio,
            "optimizer": at.radio,
        }.get(name, at.number_input)
        widget(key=TRAIN_W + name).set_value(value)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def train(at: AppTest, timeout: float = 120):
    """Press Train and wait for the run to end and be kept; returns the room's job entry."""
    assert not at.button(key="train.start").disabled, texts(at, "error")
    at.button(key="train.start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return wait_for_run(at, "train", timeout)


TRAIN_W = "train.w."
