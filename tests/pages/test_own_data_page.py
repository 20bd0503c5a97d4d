"""The "Your own data" page under AppTest: the iris demo, training to the end, uploads, bad input."""

import json
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from playground.resources import get_training_queue

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "6_Your_Own_Data.py")
P = "own."


@pytest.fixture
def at():
    app = AppTest.from_file(PAGE, default_timeout=60)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    yield app
    own = app.session_state[P + "job"] if P + "job" in app.session_state else None
    if own is not None:  # never leave a training thread behind
        own.job.stop()
        own.job.wait(timeout=30)


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def figure(at, key):
    charts = [c for c in at.get("plotly_chart") if c.proto.id.endswith(key)]
    assert charts, f"no plotly chart {key}"
    return json.loads(charts[0].proto.spec)


def frame(at, column):
    """The one table with this column (AppTest does not expose a dataframe's key)."""
    [table] = [d.value for d in at.dataframe if column in d.value.columns]
    return table


def train_to_the_end(at, timeout=60):
    at.button(key=P + "train").click().run()
    own = at.session_state[P + "job"]
    assert own.job.wait(timeout), "training did not end in time"
    at.run()  # the live panel sees the end and reruns the page
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return own


def upload(at, name: str, data: bytes):
    at.radio(key=P + "source").set_value("upload").run()
    at.file_uploader(key=P + "upload").set_value((name, data, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]


def test_the_iris_demo_shows_its_classes_and_features(at):
    assert at.radio(key=P + "source").value == "demo"
    assert at.selectbox(key=P + "target").value == "species"
    shown = metrics(at)
    assert (shown["Rows"], shown["Features"], shown["Classes"]) == ("150", "4", "3")
    classes = frame(at, "share %")
    assert classes["class"].tolist() == ["setosa", "versicolor", "virginica"] and classes["rows"].tolist() == [50] * 3
    features = frame(at, "std")
    assert features["feature"].tolist() == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert features["mean"].iloc[2] == pytest.approx(3.758, abs=1e-3)  # iris petal length, the textbook mean
    assert not at.error


def test_training_runs_to_the_end_and_shows_every_result(at):
    own = train_to_the_end(at)
    history = own.snapshot().history
    assert own.snapshot().status == "finished" and len(history.epochs) == 100
    assert metrics(at)["Held-out accuracy"] == f"{100 * history.final_accuracy:.1f}%"
    assert metrics(at)["Held-out rows"] == "30"
    assert any("Finished 100 epochs. Held-out accuracy" in s.value for s in at.success)

    confusion = figure(at, P + "confusion")
    correct, mistakes = confusion["data"]
    assert correct["x"] == ["setosa", "versicolor", "virginica"]
    cells = np.where(np.isnan(np.array(correct["z"], dtype=float)), np.array(mistakes["z"], dtype=float),
                     np.array(correct["z"], dtype=float))
    assert cells.tolist() == history.confusion

    probs = frame(at, "predicted class")
    p_columns = ["p(setosa)", "p(versicolor)", "p(virginica)"]
    assert len(probs) == 30 and np.allclose(probs[p_columns].sum(axis=1), 1, atol=1e-5)
    assert probs["correct"].mean() == pytest.approx(history.final_accuracy)
    [download] = at.get("download_button")
    assert "held-out rows" in download.proto.label
    at.radio(key=P + "download_rows").set_value("all").run()
    assert "all rows" in at.get("download_button")[0].proto.label

    live = figure(at, P + "live_chart")
    assert [t["name"] for t in live["data"]] == ["training loss (running)", "held-out loss", "held-out accuracy"]
    assert len(live["data"][0]["y"]) == 400  # 8 batches per epoch, a point every 2, 100 epochs
    assert not at.button(key=P + "train").disabled


def test_stop_keeps_the_model_trained_so_far(at):
    at.number_input(key=P + "epochs").set_value(1000).run()
    at.button(key=P + "train").click().run()
    own = at.session_state[P + "job"]
    deadline = time.time() + 30
    while not own.snapshot().history.epochs and time.time() < deadline:
        time.sleep(0.05)
    at.run()
    assert at.button(key=P + "train").disabled  # one run at a time
    assert at.get("progress") and "epoch" in at.get("progress")[0].proto.text
    at.button(key=P + "stop").click().run()
    assert own.job.wait(10), "Stop did not stop the job"
    at.run()
    at.run()
    snap = own.snapshot()
    assert snap.status == "stopped" and 0 < snap.step < snap.total_steps
    assert any("Stopped at step" in w.value for w in at.warning)
    assert "Held-out accuracy" in metrics(at)


def test_a_queued_run_says_so_and_starts_when_the_slot_frees(at):
    queue = get_training_queue()  # the page's queue: one per process, shared with the Train page
    blocker = object()
    assert queue.acquire(blocker)
    try:
        at.button(key=P + "train").click().run()
        time.sleep(0.3)
        at.run()
        assert any("Queued" in i.value and "number 1 in line" in i.value for i in at.info)
    finally:
        queue.release(blocker)
    assert at.session_state[P + "job"].job.wait(60)


def test_a_column_of_measurements_as_target_is_explained(at):
    at.selectbox(key=P + "target").set_value("sepal_length").run()
    [error] = [e.value for e in at.error]
    assert error.startswith("Cannot train on this table:") and "fewer than 2 rows" in error
    assert not [b for b in at.button if b.key == P + "train"]  # nothing to train on
    at.selectbox(key=P + "target").set_value("species").run()
    assert not at.error and metrics(at)["Classes"] == "3"


def test_too_large_steps_are_warned_about_and_divergence_is_explained(at):
    at.select_slider(key=P + "lr").set_value(10.0).run()
    at.slider(key=P + "momentum").set_value(0.99).run()
    assert any("lr / (1 − momentum) = 1e+03" in c.value for c in at.caption)
    own = train_to_the_end(at)
    assert own.snapshot().status == "diverged"
    [error] = [e.value for e in at.error]
    assert "Diverged at step" in error and "Divide the learning rate by 10" in error
    assert "Held-out accuracy" not in metrics(at)  # NaN weights give no results


def test_a_bad_upload_is_explained_and_the_page_stays_usable(at):
    upload(at, "notes.csv", b"PK\x03\x04" + bytes(64))
    [error] = [e.value for e in at.error]
    assert "Cannot use notes.csv" in error and "Excel workbook" in error
    at.radio(key=P + "source").set_value("demo").run()
    assert not at.error and metrics(at)["Rows"] == "150"


def test_an_uploaded_table_with_gaps_offers_to_drop_them_and_trains(at):
    rng = np.random.default_rng(0)
    rows = [f"{x:.3f},{y:.3f},{'low' if x + y < 0 else 'high'}" for x, y in rng.standard_normal((60, 2))]
    rows[5] = ",0.5,low"
    upload(at, "points.csv", ("x,y,label\n" + "\n".join(rows) + "\n").encode())
    [error] = [e.value for e in at.error]
    assert "Missing values in x (empty cells per column: 1)" in error
    at.checkbox(key=P + "drop_missing").check().run()
    assert not at.error and metrics(at)["Rows"] == "59"
    assert any("Left out 1 row(s) with missing values" in i.value for i in at.info)
    own = train_to_the_end(at)
    assert own.data.num_rows == 59 and own.source == "points.csv · target label"
    assert 5 not in frame(at, "predicted class")["row"].tolist()


def test_the_tab_close_hook_covers_the_pages_jobs(at, monkeypatch):
    from playground import jobs

    registered = []
    monkeypatch.setattr(jobs, "register_job", registered.append)
    at.button(key=P + "train").click().run()
    assert registered == [at.session_state[P + "job"].job]


def test_register_job_puts_the_job_where_the_tab_close_hook_looks():
    def script():
        import streamlit as st

        from playground import jobs

        class FakeJob:
            done, stopped = False, False

            def stop(self):
                self.stopped = True

        job = FakeJob()
        jobs.register_job(job)
        jobs._release(jobs._session_jobs())  # what on_release does when the tab closes
        st.session_state["stopped"] = job.stopped

    app = AppTest.from_function(script, default_timeout=30)
    app.run()
    assert not app.exception and app.session_state["stopped"]


def test_the_controls_keep_their_values_across_a_visit_to_another_page():
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    app.run()
    app.switch_page("pages/6_Your_Own_Data.py").run()
    app.number_input(key=P + "epochs").set_value(30).run()
    app.radio(key=P + "optimizer").set_value("adam").run()
    app.switch_page("pages/3_Softmax_Lab.py").run()
    assert P + "epochs" not in app.session_state  # Streamlit forgets the widgets of a page left behind
    app.switch_page("pages/6_Your_Own_Data.py").run()
    assert not app.exception
    assert app.number_input(key=P + "epochs").value == 30 and app.radio(key=P + "optimizer").value == "adam"


def test_a_small_held_out_part_explains_what_one_mistake_costs():
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    at.button(key="own.train").click().run()
    job = at.session_state["own.job"].job
    assert job.wait(60)
    for _ in range(3):
        at.run()
    assert any("each mistake costs 3.3 points" in c.value for c in at.caption), [c.value for c in at.caption]
