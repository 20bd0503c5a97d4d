"""The Train page under AppTest: the lecture's controls, short runs on the room, the runs kept for the
student, uploads, links, the room's budget and the look inside a run."""

import io
import pickle
import re
from fractions import Fraction
from itertools import pairwise

import pytest
import torch

from core import training
from core.checkpoint import checkpoint_bytes
from core.data import MnistLoadError
from core.jobs import TrainingJob
from core.limits import estimate_seconds
from core.models import ModelSpec, build_model
from core.training import TrainConfig
from playground import fmt, runs
from playground.room import get_room
from playground.settings import TrainSettings
from playground.train_run import START_REQUEST_KEY, TRAIN
from tests.pages.conftest import (
    TRAIN_W as W,
)
from tests.pages.conftest import (
    configure_train,
    figure,
    metric,
    poll,
    show_tab,
    student_of,
    table_text,
    texts,
    train,
    values,
    wait_for_run,
    widget_keys,
)

FINAL_METRIC = "Test accuracy (final model)"


@pytest.fixture
def at(open_page):
    return open_page("3_Train")


def kept_runs(at) -> list:
    return runs.list_runs(student_of(at), get_room())


def status_box(at) -> str:
    """The status line above the live curve, as the reader sees it."""
    lines = [
        line
        for line in texts(at, "success", "warning", "error").splitlines()
        if "Test accuracy" in line or "Diverged" in line or "Stopped" in line
    ]
    assert lines, f"no status line on the page: {texts(at)}"
    return lines[0]


def mistakes_caption(at) -> str:
    [caption] = [
        c for c in texts(at, "caption").splitlines() if re.search(r"mistakes? (on the test set|of this kind)", c)
    ]
    return caption


# ---- the controls and the architecture -------------------------------------------------------------


def test_defaults_are_the_lecture_and_the_architecture_counts_its_parameters(at):
    assert at.number_input(key=W + "depth").value == 4
    assert [at.number_input(key=W + f"hidden.{i}").value for i in range(4)] == [512, 256, 128, 64]
    assert at.radio(key=W + "kind").value == "mlp"
    assert at.radio(key=W + "activation").value == "relu"
    assert at.radio(key=W + "optimizer").value == "sgd"
    assert at.select_slider(key=W + "lr").value == 0.01
    assert at.slider(key=W + "momentum").value == 0.5
    assert at.number_input(key=W + "batch_size").value == 64
    assert at.number_input(key=W + "epochs").value == 10
    assert at.number_input(key=W + "log_every").value == 300
    sizes = [784, 512, 256, 128, 64, 10]
    by_hand = sum(n_in * n_out + n_out for n_in, n_out in pairwise(sizes))  # weights + biases
    assert by_hand == 575_050
    table = table_text(at, "train-architecture")
    assert list(table["parameters"]) == [f"{n_in * n_out + n_out:,}" for n_in, n_out in pairwise(sizes)] + [
        f"{by_hand:,}"
    ]
    assert f"{by_hand:,} parameters to learn." in texts(at, "caption")
    assert not at.error


def test_the_architecture_follows_the_layers_and_the_cnn(at):
    at.number_input(key=W + "depth").set_value(2).run()
    at.number_input(key=W + "hidden.1").set_value(10).run()
    table = table_text(at, "train-architecture")
    assert list(table["parameters"]) == [
        f"{n:,}" for n in (784 * 512 + 512, 512 * 10 + 10, 10 * 10 + 10, 401_920 + 5_130 + 110)
    ]
    at.radio(key=W + "kind").set_value("cnn").run()
    assert table_text(at, "train-architecture")["parameters"].iloc[-1] == f"{260 + 5_020 + 3_210:,}"  # conv1, conv2, fc
    assert W + "depth" not in widget_keys(at)  # the CNN has no hidden sizes to choose


def test_risky_settings_get_advice_next_to_the_control(at):
    at.select_slider(key=W + "lr").set_value(0.5)
    at.slider(key=W + "momentum").set_value(0.9)
    at.run()
    assert "lr / (1 − momentum) = 5" in texts(at, "caption")
    at.radio(key=W + "optimizer").set_value("adam").run()
    assert at.slider(key=W + "momentum").disabled  # momentum means nothing to Adam here
    assert "Adam usually works" in texts(at, "caption")


# ---- a run, from Train to Compare runs -------------------------------------------------------------


def test_a_short_run_trains_to_the_end_and_the_status_and_metric_show_one_accuracy(at):
    configure_train(at, depth=1, size=32, epochs=1)
    entry = train(at)
    snap = entry.job.snapshot()
    assert snap.status == "finished" and len(snap.history.epochs) == 1
    [run] = kept_runs(at)
    accuracy = run.history.final_accuracy
    assert run.accuracy == accuracy and 0.5 < accuracy <= 1.0  # one epoch of a small MLP learns something real
    assert metric(at, FINAL_METRIC) == fmt.percent(accuracy)
    status = status_box(at)
    assert f"Test accuracy {fmt.percent(accuracy)}" in status and "Finished 1 epoch." in status
    assert f"Added to your runs as {run.name}" in status
    assert run.name == "MLP 32 ReLU · SGD lr 0.01 m 0.5"
    assert not at.button(key="train.start").disabled  # the next run may start
    live = figure(at, "train.live_chart")
    assert [trace["name"] for trace in live["data"]] == ["training loss (running)", "test loss", "test accuracy"]
    assert list(values(live["data"][2]["y"])) == pytest.approx([100 * a for a in snap.history.test_accuracy])

    show_tab(at, "compare")
    listed = table_text(at, "train-runs-table")
    assert list(listed["name"]) == [run.name] and list(listed["accuracy %"]) == [f"{100 * accuracy:.2f}"]
    assert list(listed["✏️"]) == ["✏️"]  # the first run is the model the Draw page predicts with
    assert runs.active_run(student_of(at), get_room()).id == run.id
    assert at.multiselect(key="train.compare.overlay").value == [run.id]
    curves = figure(at, "train.compare.chart")
    assert [trace["name"] for trace in curves["data"]] == [run.name, run.name]  # its loss and its accuracy
    assert list(values(curves["data"][1]["y"])) == pytest.approx([100 * a for a in run.history.test_accuracy])


def test_train_pressed_with_a_change_the_page_has_not_drawn_yet_trains_with_that_change(at):
    """A click that cuts short the run of a change (a student quick on the keyboard, a loaded laptop)
    reaches the server with both: the run must use the new value, not the last drawn page's."""
    configure_train(at, depth=1, size=32, epochs=10)
    at.number_input(key=W + "epochs").set_value(1)
    at.button(key="train.start").click().run()  # the change and the click in one rerun
    assert not at.exception, [e.value for e in at.exception]
    entry = wait_for_run(at, "train", 120)
    assert entry.job.config.epochs == 1 and len(entry.job.snapshot().history.epochs) == 1


def test_a_run_stopped_mid_epoch_reports_the_accuracy_of_the_model_it_keeps(at):
    # the lecture's network in batches of one: an epoch is 6,000 steps (seconds), so Stop lands inside the first
    configure_train(at, depth=4, size=512, epochs=2, batch_size=1)
    at.button(key="train.start").click().run()
    entry = get_room().job_of(student_of(at), "train")
    poll(lambda: entry.job.snapshot().step > 0, 60, "the first batches")
    at.run()
    assert at.button(key="train.start").disabled  # one run at a time per student
    [progress] = at.get("progress")
    assert "epoch 1/2" in progress.proto.text and "images/s" in progress.proto.text
    at.button(key=W + "stop").click().run()
    entry = wait_for_run(at)
    snap = entry.job.snapshot()
    assert snap.status == "stopped" and 0 < snap.step < 6_000 and not snap.history.epochs  # mid-epoch
    [run] = kept_runs(at)
    accuracy = run.history.final_accuracy
    assert accuracy is not None and run.history.steps == snap.step
    assert metric(at, FINAL_METRIC) == fmt.percent(accuracy)
    status = status_box(at)
    assert f"Stopped at step {snap.step:,}" in status and f"as it was: {fmt.percent(accuracy)}" in status
    assert f"Added to your runs as {run.name}" in status


def test_runs_are_renamed_used_on_draw_and_deleted(at):
    configure_train(at, depth=0, epochs=1, momentum=0.0)
    train(at)
    at.slider(key=W + "momentum").set_value(0.9).run()
    train(at)
    first, second = kept_runs(at)
    assert (first.config.momentum, second.config.momentum) == (0.0, 0.9)
    show_tab(at, "compare")
    listed = table_text(at, "train-runs-table")
    assert list(listed["name"]) == [first.name, second.name] and list(listed["momentum"]) == ["0", "0.9"]
    assert list(listed["✏️"]) == ["", "✏️"]  # the newest run predicts on Draw until the student picks one
    assert at.multiselect(key="train.compare.overlay").value == [first.id, second.id]  # new runs join the overlay
    at.radio(key="train.compare.by").set_value("step").run()
    by_step = figure(at, "train.compare.chart")
    assert max(values(by_step["data"][0]["x"])) == first.history.steps  # one epoch of 94 batches

    at.selectbox(key="train.compare.run").set_value(second.id).run()
    at.text_input(key=f"train.compare.name.{second.id}").set_value("momentum 0.9").run()
    at.button(key="train.compare.rename").click().run()
    assert [r.name for r in kept_runs(at)] == [first.name, "momentum 0.9"]
    assert "momentum 0.9" in list(table_text(at, "train-runs-table")["name"])

    at.selectbox(key="train.compare.run").set_value(first.id).run()
    at.button(key="train.compare.activate").click().run()
    active = runs.active_run(student_of(at), get_room())
    assert active.id == first.id and runs.picked_run(student_of(at), get_room())
    assert list(table_text(at, "train-runs-table")["✏️"]) == ["✏️", ""]

    at.selectbox(key="train.compare.run").set_value(second.id).run()
    at.button(key="train.compare.delete").click().run()
    assert [r.id for r in kept_runs(at)] == [first.id]
    assert list(table_text(at, "train-runs-table")["name"]) == [first.name]


def test_a_start_request_from_another_page_starts_one_run_with_its_settings(open_page):
    at = open_page("1_Softmax_Lab")
    sent = TrainSettings(hidden_sizes=(16,), epochs=1, lr=0.1, momentum=0.9)
    at.session_state[TRAIN.settings_key] = sent
    at.session_state[START_REQUEST_KEY] = sent
    at.switch_page("pages/3_Train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    entry = get_room().job_of(student_of(at), "train")
    assert (entry.details["settings"].lr, entry.details["settings"].momentum) == (0.1, 0.9)
    assert at.select_slider(key=W + "lr").value == 0.1  # the controls show what trains
    wait_for_run(at)
    assert START_REQUEST_KEY not in at.session_state
    assert get_room().job_of(student_of(at), "train") is entry  # used once, not again on the next rerun
    assert len(kept_runs(at)) == 1


def test_a_start_request_while_training_only_fills_in_the_settings(at):
    configure_train(at, depth=4, size=512, epochs=2, batch_size=1)  # seconds per epoch: still training below
    at.button(key="train.start").click().run()
    running = get_room().job_of(student_of(at), "train")
    at.session_state[START_REQUEST_KEY] = TrainSettings(lr=0.1, momentum=0.9)
    at.run()
    assert get_room().job_of(student_of(at), "train") is running
    assert "already training for you" in texts(at, "warning")


def test_divergence_is_reported_with_the_step_and_a_hint_and_no_run_is_kept(at):
    configure_train(at, depth=2, size=256, epochs=1, lr=10.0, momentum=0.99)
    entry = train(at)
    assert entry.job.snapshot().status == "diverged"
    error = texts(at, "error")
    assert "Diverged at step" in error and "divide it by 10" in error
    assert kept_runs(at) == []  # NaN weights are not kept
    assert FINAL_METRIC not in [m.label for m in at.metric]


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
    at = open_page("3_Train")
    configure_train(at, depth=0, epochs=1)
    at.button(key="train.start").click().run()
    assert "number 1 in line" in texts(at, "info")
    room.scheduler.stop(blocker)
    assert blocker.wait(30)
    wait_for_run(at)
    assert len(kept_runs(at)) == 1 and metric(at, FINAL_METRIC)


# ---- checkpoints ------------------------------------------------------------------------------------


def upload(at, name: str, data: bytes):
    show_tab(at, "compare")  # where a kept run is uploaded
    at.file_uploader(key="train.upload").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, [e.value for e in at.exception]


def test_a_downloaded_checkpoint_restored_by_upload_appears_as_a_run(at):
    configure_train(at, depth=0, epochs=1)
    train(at)
    [trained] = kept_runs(at)
    upload(at, "softmax.pt", runs.download_bytes(trained))  # the file the Download button serves
    trained_again, restored = kept_runs(at)
    assert trained_again.id == trained.id
    assert restored.origin == "uploaded" and restored.name == "softmax"
    assert restored.spec == trained.spec and restored.config == trained.config
    assert restored.history.confusion == trained.history.confusion  # same weights, same test set
    assert "Restored softmax from softmax.pt" in texts(at, "success")
    assert list(table_text(at, "train-runs-table")["name"]) == [trained.name, "softmax"]
    at.run()
    assert len(kept_runs(at)) == 2  # the same upload is not restored twice


def foreign_pickle_checkpoint() -> bytes:
    """A PyTorch file holding an object that is not a tensor: weights_only loading refuses it."""
    buffer = io.BytesIO()
    torch.save({"format": "softmax-playground", "weights": {"w": torch.zeros(2)}, "extra": Fraction(1, 3)}, buffer)
    return buffer.getvalue()


def iris_checkpoint() -> bytes:
    spec = ModelSpec(hidden_sizes=(4,), in_features=4, num_classes=3)
    return checkpoint_bytes(build_model(spec, seed=0), spec, TrainConfig())


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("notes.pt", b"this is not a checkpoint", "not a PyTorch file"),
        ("bare.pt", pickle.dumps({"weights": [1, 2, 3]}), "bare pickle"),
        ("crafted.pt", foreign_pickle_checkpoint(), "fractions.Fraction"),
        ("iris.pt", iris_checkpoint(), "not an MNIST digit classifier"),
    ],
)
def test_a_refused_checkpoint_says_why_without_torch_internals(at, name, data, reason):
    upload(at, name, data)
    error = texts(at, "error")
    assert f"Could not use {name}" in error and reason in error and "Nothing was changed" in error
    assert "weights_only" not in error and "weights_only" not in texts(at)  # torch's advice to load unsafely
    assert kept_runs(at) == []


# ---- links ---------------------------------------------------------------------------------------


def test_a_shared_link_prefills_the_controls_and_the_url_follows_them(open_page):
    at = open_page("3_Train", query={"lr": "0.1", "momentum": "0.9", "hidden": "64-32", "act": "tanh", "epochs": "3"})
    assert at.select_slider(key=W + "lr").value == 0.1
    assert at.slider(key=W + "momentum").value == 0.9
    assert at.number_input(key=W + "depth").value == 2
    assert [at.number_input(key=W + f"hidden.{i}").value for i in range(2)] == [64, 32]
    assert at.radio(key=W + "activation").value == "tanh"
    assert at.number_input(key=W + "epochs").value == 3
    assert "The link's settings" not in texts(at, "warning")  # a good link needs no note
    at.slider(key=W + "momentum").set_value(0.0).run()
    assert at.query_params["momentum"] == "0" and at.query_params["hidden"] == "64-32"


def test_a_bad_link_value_gets_a_note_and_falls_back(open_page):
    at = open_page("3_Train", query={"lr": "fast", "batch": "0"})
    notes = texts(at, "warning")
    assert "The link's settings: `lr=fast` is not a number; using 0.01." in notes
    assert "`batch=0` is outside 1…4096; using 1." in notes
    assert at.select_slider(key=W + "lr").value == 0.01
    assert at.number_input(key=W + "batch_size").value == 1
    at.run()
    assert "The link's settings" not in texts(at, "warning")  # said once, not on every rerun


def test_zero_sized_layers_in_a_link_give_the_default_sizes_and_a_note(open_page):
    at = open_page("3_Train", query={"hidden": "0,0,0"})
    assert [at.number_input(key=W + f"hidden.{i}").value for i in range(4)] == [512, 256, 128, 64]
    assert "`hidden=0,0,0`: a hidden layer needs 1…4096 units" in texts(at, "warning")
    assert f"{575_050:,} parameters to learn." in texts(at, "caption")


# ---- the room's budget ------------------------------------------------------------------------------


def test_the_rooms_epoch_cap_trains_one_epoch_and_the_limits_are_shown(open_page, install_room, monkeypatch):
    monkeypatch.setenv("SOFTMAX_PLAYGROUND_MAX_EPOCHS", "1")
    room = install_room()  # reads its limits from the environment
    assert room.limits.max_epochs == 1
    at = open_page("3_Train")
    assert "at most 1 epochs" in texts(at, "caption")  # the limits caption
    # the control keeps its own range: the plan says what it caps (the next test)
    configure_train(at, depth=1, size=32, epochs=1)
    at.session_state[START_REQUEST_KEY] = TrainSettings(hidden_sizes=(32,), epochs=10)  # asks the lecture's 10
    at.run()
    entry = wait_for_run(at)
    assert entry.job.config.epochs == 1 and len(entry.job.snapshot().history.epochs) == 1
    assert "Finished 1 epoch." in status_box(at)


def test_a_run_asking_ten_epochs_in_a_one_epoch_room_shows_the_capped_message(open_page, install_room, monkeypatch):
    monkeypatch.setenv("SOFTMAX_PLAYGROUND_MAX_EPOCHS", "1")
    install_room()
    at = open_page("3_Train", query={"hidden": "32", "epochs": "10"})
    assert "This room allows at most 1 epochs per run, so this run trains 1 instead of 10." in texts(at, "info")


def test_a_run_beyond_the_rooms_minutes_is_refused_before_it_starts(open_page, install_room, monkeypatch):
    monkeypatch.setenv("SOFTMAX_PLAYGROUND_RUN_MINUTES", "1")
    room = install_room()
    at = open_page("3_Train")
    at.number_input(key=W + "depth").set_value(2).run()
    configure_train(at, depth=2, size=4096, epochs=20, **{"hidden.1": 4096})
    mnist = room.mnist()
    minutes = (
        estimate_seconds(
            ModelSpec(hidden_sizes=(4096, 4096)),
            TrainConfig(epochs=20),
            len(mnist.train_labels),
            len(mnist.test_labels),
        )
        / 60
    )
    assert minutes > 2
    assert at.button(key="train.start").disabled
    refusal = texts(at, "error")
    assert "This run cannot start here" in refusal
    shown = re.search(r"about ([\d.]+) minutes of training, and this room allows 1 minutes per run", refusal)
    assert shown and abs(float(shown.group(1)) - minutes) <= 0.05 + 0.5 * (minutes >= 10)
    assert "1 minutes of training" in texts(at, "caption")  # the limits caption says the budget
    configure_train(at, depth=1, size=32, epochs=1)  # a small run fits again
    assert not at.button(key="train.start").disabled and "cannot start" not in texts(at, "error")


def test_a_refusal_in_a_room_of_seconds_does_not_say_about_0_minutes(open_page, install_room, monkeypatch):
    monkeypatch.setenv("SOFTMAX_PLAYGROUND_RUN_MINUTES", "0.1")
    install_room()
    at = open_page("3_Train")
    configure_train(at, depth=2, size=4096, epochs=5)  # 784-4096-256-10: about 0.16 minutes
    refusal = texts(at, "error")
    assert "This run cannot start here" in refusal and at.button(key="train.start").disabled
    assert "about 0 minutes" not in refusal


# ---- look inside -----------------------------------------------------------------------------------


def test_look_inside_a_run_charts_it_and_offers_a_cnn_run(at):
    configure_train(at, depth=0, epochs=1)
    train(at)
    [run] = kept_runs(at)
    history = run.history
    show_tab(at, "inside")
    confusion = figure(at, "train.inside.confusion")
    shown = [[0] * 10 for _ in range(10)]
    for trace in confusion["data"][:2]:  # correct answers and mistakes, each on its own colour scale
        for i, row in enumerate(trace["z"]):
            for j, cell in enumerate(row):
                if cell is not None:
                    shown[i][j] = int(cell)
    assert shown == history.confusion
    per_class = figure(at, "train.inside.per_class")
    assert list(values(per_class["data"][0]["y"])) == pytest.approx([100 * a for a in history.per_class_accuracy])
    weights = figure(at, "train.inside.weights")
    assert [a["text"] for a in weights["layout"]["annotations"]] == [f"digit {c}" for c in range(10)]

    at.button(key="train.setup_cnn").click().run()
    assert not at.exception
    assert at.radio(key=W + "kind").value == "cnn" and at.number_input(key=W + "epochs").value == 3
    assert W + "depth" not in widget_keys(at)
    assert at.query_params["model"] == "cnn" and at.query_params["epochs"] == "3"


def test_clicking_a_confusion_cell_shows_those_mistakes(at, monkeypatch):
    kept = 25  # fewer mistakes kept than made, so the cap shows in the caption
    monkeypatch.setattr(training, "MAX_MISCLASSIFIED", kept)
    configure_train(at, depth=0, epochs=1)
    train(at)
    history = kept_runs(at)[0].history
    assert len(history.misclassified) == kept < history.misclassified_total
    show_tab(at, "inside")
    caption = mistakes_caption(at)
    assert caption.startswith(f"The {kept} most confident of the {history.misclassified_total:,} mistakes")

    true, pred = history.misclassified_true[0], history.misclassified_pred[0]  # the most confident mistake
    click = {
        "selection": {
            "points": [{"customdata": [true, pred], "x": str(pred), "y": str(true)}],
            "point_indices": [true * 10 + pred],
            "box": [],
            "lasso": [],
        }
    }
    at.session_state["train.inside.confusion"] = click
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert (at.selectbox(key="train.inside.true").value, at.selectbox(key="train.inside.pred").value) == (true, pred)
    picked = [
        i for i, pair in enumerate(zip(history.misclassified_true, history.misclassified_pred)) if pair == (true, pred)
    ]
    mistakes = "mistake" if len(picked) == 1 else "mistakes"
    assert mistakes_caption(at).startswith(f"{len(picked)} {mistakes} of this kind among the {kept} kept")
    titles = [
        a["text"] for a in figure(at, "train.inside.gallery")["layout"]["annotations"] if "→" in a.get("text", "")
    ]
    assert titles and len(titles) == min(len(picked), 12)
    assert all(t.startswith(f"true {true} → {pred}<br>") for t in titles)
    bars = [trace for trace in figure(at, "train.inside.gallery")["data"] if trace["type"] == "bar"]
    for shown_bars, index in zip(bars, picked):  # each mistake's softmax, most confident first
        assert list(values(shown_bars["y"])) == pytest.approx(history.misclassified_probs[index])
    mnist = get_room().mnist()
    assert all(int(mnist.test_labels[history.misclassified[i]]) == true for i in picked)  # really that digit

    at.selectbox(key="train.inside.pred").set_value("any").run()  # the student widens the choice again
    assert all(
        t.startswith(f"true {true} → ")
        for t in [a["text"] for a in figure(at, "train.inside.gallery")["layout"]["annotations"] if "→" in a["text"]]
    )


# ---- no MNIST at all -------------------------------------------------------------------------------


def failing_loader():
    raise MnistLoadError("mnist.unavailable", split="training", failures="cache: gone")


@pytest.mark.parametrize("page", ["3_Train", "5_Draw"])
def test_no_mnist_gives_a_clear_message_not_a_traceback(open_page, install_room, page):
    install_room(loader=failing_loader)
    at = open_page(page)
    assert not at.exception
    assert "MNIST could not be loaded from any source" in texts(at, "error")
    assert "cache: gone" in " ".join(c.value for c in at.code)
    assert not at.get("plotly_chart") and "train.start" not in widget_keys(at)
    assert not at.metric and not [h for h in at.get("html") if "sp-bars" in h.proto.body]  # no pad to draw on


# ---- the accuracy metric's change ------------------------------------------------------------------------


def show_epoch_metric(accuracy, lang):
    import streamlit as st

    from playground import i18n
    from playground.train_run import accuracy_delta

    with i18n.using(lang):
        st.metric("accuracy", f"{accuracy[-1]:.2%}", delta=accuracy_delta(accuracy))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_drop_in_accuracy_shows_as_a_drop_and_a_rise_as_a_rise(lang):
    from streamlit.proto.Metric_pb2 import Metric as MetricProto
    from streamlit.testing.v1 import AppTest

    for accuracy, direction, color in (
        ([0.9500, 0.9482], MetricProto.MetricDirection.DOWN, MetricProto.MetricColor.RED),
        ([0.9482, 0.9500], MetricProto.MetricDirection.UP, MetricProto.MetricColor.GREEN),
    ):
        at = AppTest.from_function(show_epoch_metric, args=(accuracy, lang)).run()
        assert not at.exception, [e.value for e in at.exception]
        [shown] = at.metric
        assert shown.delta.startswith("-0.18" if direction == MetricProto.MetricDirection.DOWN else "+0.18")
        assert (shown.proto.direction, shown.proto.color) == (direction, color), shown.delta
