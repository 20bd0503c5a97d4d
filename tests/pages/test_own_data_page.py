"""The "Your own data" page under AppTest: the iris demo trained to the end, uploads good and bad,
a replaced table, a title line, and file names that try to be markdown."""

import gzip

import numpy as np
import pytest

from core.jobs import TrainingJob
from core.models import ModelSpec, build_model
from core.training import TrainConfig
from playground import csv_reading as reading
from playground import fmt, i18n
from playground.room import get_room
from tests.pages.conftest import (
    figure,
    metric,
    poll,
    student_of,
    table_text,
    texts,
    values,
    wait_for_run,
    widget_keys,
)

P = "own."


@pytest.fixture
def at(open_page):
    return open_page("6_Your_Own_Data")


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def train_to_the_end(at, timeout=120):
    assert not at.button(key=P + "train").disabled
    at.button(key=P + "train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return wait_for_run(at, "own", timeout)


def upload(at, name: str, data: bytes):
    if at.radio(key=P + "source").value != "upload":
        at.radio(key=P + "source").set_value("upload").run()
    at.file_uploader(key=P + "upload").set_value((name, data, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]


def points_csv(rows: int = 60, seed: int = 0, header: str = "x,y,label", first_column=None) -> bytes:
    """Two numeric features and a text class that depends on them: an easy table to learn."""
    rng = np.random.default_rng(seed)
    lines = [header]
    for i, (x, y) in enumerate(rng.standard_normal((rows, 2))):
        cells = [f"{x:.3f}", f"{y:.3f}", "low" if x + y < 0 else "high"]
        if first_column is not None:
            cells.insert(0, first_column(i))
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode()


def english_error(data: bytes, name: str) -> tuple[str, str]:
    """(code, English message as the reader sees it) of the reader's refusal of this file."""
    with pytest.raises(reading.CsvError) as refused:
        reading.read_csv_upload(data, name)
    with i18n.using("en"):
        return refused.value.code, i18n.error_text(refused.value, markdown=False)


# ---- the demo ------------------------------------------------------------------------------------


def test_the_iris_demo_shows_its_classes_and_features(at):
    assert at.radio(key=P + "source").value == "demo"
    assert at.selectbox(key=P + "target").value == "species"
    shown = metrics(at)
    assert (shown["Rows"], shown["Features"], shown["Classes"]) == ("150", "4", "3")
    classes = table_text(at, "own-classes")
    assert list(classes["class"]) == ["setosa", "versicolor", "virginica"] and list(classes["rows"]) == ["50"] * 3
    features = table_text(at, "own-features")
    assert list(features["feature"]) == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    iris = reading.iris_demo()
    assert list(features["mean"]) == [fmt.number(iris[c].mean(), ".4g") for c in features["feature"]]
    assert features["mean"].iloc[2] == "3.759"  # iris petal length: 563.7 cm over 150 flowers
    assert not at.error


def test_the_iris_demo_trains_with_its_defaults_and_shows_held_out_results(at):
    entry = train_to_the_end(at)
    snap = entry.job.snapshot()
    history = snap.history
    assert snap.status == "finished" and len(history.epochs) == 100 == at.number_input(key="own.w.epochs").value
    assert metric(at, "Held-out accuracy") == fmt.percent(history.final_accuracy, 1)
    assert metric(at, "Held-out rows") == "45"  # 30 % of every class held out
    assert metric(at, "Mistakes") == str(history.misclassified_total)
    assert history.final_accuracy > 0.85
    assert f"Finished 100 epochs. Held-out accuracy {fmt.percent(history.final_accuracy)}" in texts(at, "success")
    assert "each mistake costs 2.2 points" in texts(at, "caption")

    confusion = figure(at, P + "confusion")
    correct, mistakes = confusion["data"][:2]
    assert correct["x"] == ["setosa", "versicolor", "virginica"]
    cells = np.where(
        np.isnan(np.array(correct["z"], dtype=float)),
        np.array(mistakes["z"], dtype=float),
        np.array(correct["z"], dtype=float),
    )
    assert cells.tolist() == history.confusion

    probs = table_text(at, "own-probs")
    p_columns = ["p(setosa)", "p(versicolor)", "p(virginica)"]
    assert len(probs) == 45
    assert np.allclose(probs[p_columns].astype(float).sum(axis=1), 1, atol=2e-3)  # three decimals each
    assert (probs["correct"] == "✓").mean() == pytest.approx(history.final_accuracy)
    assert all(
        (row["predicted class"] == row["true class"]) == (row["correct"] == "✓") for row in probs.to_dict("records")
    )
    [download] = at.get("download_button")
    assert "held" in download.proto.label and "out rows only" in download.proto.label
    at.radio(key=P + "download_rows").set_value("all").run()
    assert "all rows" in at.get("download_button")[0].proto.label

    live = figure(at, P + "live_chart")
    assert [t["name"] for t in live["data"]] == ["training loss (running)", "held-out loss", "held-out accuracy"]
    assert len(values(live["data"][0]["y"])) == 400  # 7 batches per epoch, a point every 2 … 100 epochs
    assert not at.button(key=P + "train").disabled
    [kept] = [r for r in get_room().store.list_runs(student_of(at), history=False)]
    assert kept.meta["dataset"] == "table" and kept.accuracy == history.final_accuracy


def test_train_pressed_with_a_change_the_page_has_not_drawn_yet_trains_with_that_change(at):
    at.number_input(key="own.w.epochs").set_value(3)
    at.button(key=P + "train").click().run()  # the change and the click in one rerun, as a quick click sends them
    assert not at.exception, [e.value for e in at.exception]
    entry = wait_for_run(at, "own", 120)
    assert entry.job.config.epochs == 3 and len(entry.job.snapshot().history.epochs) == 3


def test_a_column_of_measurements_as_target_is_explained(at):
    at.selectbox(key=P + "target").set_value("sepal_length").run()
    error = texts(at, "error")
    assert error.startswith("Cannot train on this table:") and "Is this column really a category?" in error
    assert P + "train" not in widget_keys(at)  # nothing to train on
    at.selectbox(key=P + "target").set_value("species").run()
    assert not at.error and metrics(at)["Classes"] == "3"


def test_too_large_steps_are_warned_about_and_divergence_is_explained(at):
    at.select_slider(key="own.w.lr").set_value(10.0)
    at.slider(key="own.w.momentum").set_value(0.99)
    at.number_input(key="own.w.epochs").set_value(20)
    at.run()
    assert "lr / (1 − momentum) = 1e+03" in texts(at, "caption")
    entry = train_to_the_end(at)
    assert entry.job.snapshot().status == "diverged"
    error = texts(at, "error")
    assert "Diverged at step" in error and "Divide the learning rate by 10" in error
    assert "Held-out accuracy" not in metrics(at)  # NaN weights give no results


# ---- uploads -------------------------------------------------------------------------------------


BAD_FILES = [
    ("empty.csv", b"   \n", "csv.empty"),
    ("book.csv", b"PK\x03\x04" + bytes(64), "csv.zip"),
    ("old.csv", b"\xd0\xcf\x11\xe0" + bytes(64), "csv.xls"),
    ("paper.csv", b"%PDF-1.7\n" + bytes(64), "csv.pdf"),
    ("packed.csv", gzip.compress(b"a,b,label\n1,2,x\n"), "csv.gzip"),
    ("blob.csv", bytes(range(256)) * 4, "csv.binary"),
    ("ragged.csv", b"a,b,label\n1,2,x\n3,4,y\n5,6,z,7,8\n", "csv.ragged"),
    ("header.csv", b"a,b,label\n", "csv.no_data_rows"),
    ("one.csv", b"x\n1\n2\n3\n", "csv.one_column"),
    ("words.csv", b"a,b\nx,y\nz,w\n", "csv.no_numeric"),
    (
        "wide.csv",
        (",".join(f"c{i}" for i in range(2_000)) + "\n" + ",".join("1" for _ in range(2_000)) + "\n").encode(),
        "csv.too_many_columns",
    ),
    ("big.csv", b"a,b\n" + b"1,2\n" * (4 * 2**20 + 1), "csv.too_large"),
]


@pytest.mark.parametrize("name, data, code", BAD_FILES, ids=[code for *_, code in BAD_FILES])
def test_each_bad_upload_gets_its_message_and_the_page_stays_usable(at, name, data, code):
    found, message = english_error(data, name)
    assert found == code
    upload(at, name, data)
    error = texts(at, "error")
    assert f"This file cannot be used: {message}" in error
    assert P + "train" not in widget_keys(at) and "Rows" not in metrics(at)
    at.radio(key=P + "source").set_value("demo").run()
    assert not at.error and metrics(at)["Rows"] == "150"


def test_a_file_name_that_is_markdown_is_shown_as_text(at):
    name = "[click](http://evil.example).csv"
    upload(at, name, b"PK\x03\x04" + bytes(64))  # refused: its name is in the message
    bodies = [e.proto.body for e in at.error]
    assert any("\\[click\\]" in body for body in bodies)
    assert not any("](http" in body for body in bodies)

    upload(at, name, points_csv())  # accepted: its name is in the run's name and status
    entry = train_to_the_end(at)
    assert entry.name.startswith(name)
    bodies = [e.proto.body for kind in ("success", "info", "warning", "error") for e in at.get(kind)]
    bodies += [e.value for kind in ("markdown", "caption") for e in at.get(kind)]
    assert any("\\[click\\]" in body for body in bodies)
    assert not any("](http" in body for body in bodies), [b for b in bodies if "](http" in b]


def test_an_uploaded_table_with_gaps_offers_to_drop_them_and_trains(at):
    lines = points_csv().decode().splitlines()
    lines[6] = "," + lines[6].split(",", 1)[1]  # row 5: no x
    upload(at, "points.csv", ("\n".join(lines) + "\n").encode())
    error = texts(at, "error")
    assert "missing values in x (empty cells per column: 1)" in error
    at.checkbox(key=P + "drop_missing").check().run()
    assert not at.error and metrics(at)["Rows"] == "59"
    assert "Left out 1 row with missing values; 59 remain." in texts(at, "info")
    entry = train_to_the_end(at)
    table = entry.details["table"]
    assert table.data.num_rows == 59 and entry.name == "points.csv · target label"
    assert "6" not in list(table_text(at, "own-probs")["row"])  # the dropped row (numbered from 1) is not there


def test_replacing_the_csv_guesses_the_new_tables_target_and_hides_the_old_results(at):
    upload(at, "first.csv", points_csv(header="id,x,y,label", first_column=lambda i: str(i + 1)))
    assert at.selectbox(key=P + "target").value == "label"  # a running id is never the guess
    at.selectbox(key=P + "target").set_value("id").run()  # the student looks at another column…
    at.selectbox(key=P + "target").set_value("label").run()  # … and trains on the class
    entry = train_to_the_end(at)
    assert "Held-out accuracy" in metrics(at)

    second = points_csv(rows=80, seed=1, header="id,x,y,species", first_column=lambda i: f"{1000 + 7 * i}")
    upload(at, "second.csv", second)
    assert at.selectbox(key=P + "target").value == "species"
    assert metrics(at)["Rows"] == "80"
    assert "Held-out accuracy" not in metrics(at)  # the first table's results are not this one's
    assert f"The last run ({entry.name}) was trained on another table" in texts(at, "info")
    with pytest.raises(AssertionError):
        table_text(at, "own-probs")


def test_replacing_the_csv_after_picking_a_shared_column_still_guesses_again(at):
    upload(at, "first.csv", points_csv(header="id,x,y,group", first_column=lambda i: f"{500 - i}"))
    at.selectbox(key=P + "target").set_value("id").run()
    upload(
        at, "second.csv", points_csv(rows=70, seed=2, header="id,x,y,species", first_column=lambda i: f"{3 * i + 2}")
    )
    assert at.selectbox(key=P + "target").value == "species"  # not the first table's choice "id"


def sklearn_counts_csv() -> bytes:
    """scikit-learn's format: a first line of counts (rows, features, class names), then rows without a header."""
    rng = np.random.default_rng(3)
    rows = [",".join(f"{v:.3f}" for v in x) + f",{int(x[0] > 0) + int(x[1] > 0)}" for x in rng.standard_normal((60, 4))]
    return ("60,4,low,middle,high\n" + "\n".join(rows) + "\n").encode()


@pytest.mark.parametrize(
    "name, data, code, target, note",
    [
        (
            "titled.csv",
            b"Measurements from the lab\n" + points_csv(),
            "csv.short_first_line",
            "label",
            "Skipped the first line (1 fields): Measurements from the lab",
        ),
        (
            "counts.csv",
            sklearn_counts_csv(),
            "csv.counts_first_line",
            "y",
            (
                "Skipped scikit-learn's counts line (60,4,low,middle,high); the file has no column names, "
                "so the columns are called x1, x2, x3, x4, y."
            ),
        ),
    ],
)
def test_a_first_line_that_is_not_the_header_offers_to_skip_it_and_reads_the_rest(at, name, data, code, target, note):
    found, message = english_error(data, name)
    assert found == code
    upload(at, name, data)
    assert f"This file cannot be used: {message}" in texts(at, "error")
    assert at.checkbox(key=P + "skip_first_line").label == "Skip the first line and read the rest"
    at.checkbox(key=P + "skip_first_line").check().run()
    assert not at.exception and not at.error
    assert metrics(at)["Rows"] == "60" and at.selectbox(key=P + "target").value == target
    assert note in texts(at, "info")
    train_to_the_end(at)
    assert "Held-out accuracy" in metrics(at)


def test_stop_keeps_the_model_trained_so_far(at):
    at.number_input(key="own.w.epochs").set_value(1000)
    at.number_input(key="own.w.batch_size").set_value(1)  # 105 batches an epoch: many seconds to the end
    at.run()
    at.button(key=P + "train").click().run()
    entry = get_room().job_of(student_of(at), "own")
    poll(lambda: entry.job.snapshot().history.epochs, 30, "a first epoch")
    at.run()
    assert at.button(key=P + "train").disabled  # one run at a time
    [progress] = at.get("progress")
    assert "epoch" in progress.proto.text and "rows/s" in progress.proto.text
    at.button(key="own.w.stop").click().run()
    wait_for_run(at, "own")
    snap = entry.job.snapshot()
    assert snap.status == "stopped" and 0 < snap.step < snap.total_steps
    assert f"Stopped at step {snap.step:,}" in texts(at, "warning")
    assert metric(at, "Held-out accuracy") == fmt.percent(snap.history.final_accuracy, 1)


def test_a_queued_run_says_its_place_and_starts_when_a_place_frees(open_page, install_room):
    room = install_room()
    room.scheduler.max_active = 1
    mnist = room.mnist()
    blocker = TrainingJob(
        build_model(ModelSpec(hidden_sizes=(32,)), seed=0),
        TrainConfig(epochs=50, batch_size=1),
        mnist.train,
        mnist.test,
        device="cpu",
    )
    room.scheduler.submit(blocker)
    at = open_page("6_Your_Own_Data")
    at.button(key=P + "train").click().run()
    assert "number 1 in line" in texts(at, "info")
    room.scheduler.stop(blocker)
    assert blocker.wait(30)
    wait_for_run(at, "own")
    assert "Held-out accuracy" in metrics(at)


def test_the_controls_keep_their_values_across_a_visit_to_another_page(at):
    at.number_input(key="own.w.epochs").set_value(30).run()
    at.radio(key="own.w.optimizer").set_value("adam").run()
    at.switch_page("pages/1_Softmax_Lab.py").run()
    at.switch_page("pages/6_Your_Own_Data.py").run()
    assert not at.exception
    assert at.number_input(key="own.w.epochs").value == 30 and at.radio(key="own.w.optimizer").value == "adam"


def test_an_upload_is_still_used_after_a_visit_to_another_page(at):
    upload(at, "points.csv", points_csv())
    at.switch_page("pages/1_Softmax_Lab.py").run()
    at.switch_page("pages/6_Your_Own_Data.py").run()
    assert not at.exception
    assert "Still using points.csv" in texts(at, "caption") and metrics(at)["Rows"] == "60"
