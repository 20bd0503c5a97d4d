"""The Train page under AppTest: controls, live training on the shipped subset, runs, uploads."""

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.models import ModelSpec, build_model
from playground import jobs
from playground.resources import get_training_queue

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "1_Train.py")
W = "train.w."


@pytest.fixture
def at():
    app = AppTest.from_file(PAGE, default_timeout=60)
    yield app
    page_job = app.session_state["train.job"] if "train.job" in app.session_state else None
    if page_job is not None:  # never leave a training thread behind
        page_job.job.stop()
        page_job.job.wait(timeout=30)


def configure(at, depth=1, size=32, epochs=2, log_every=20, **others):
    """A small, quick model: the tests exercise the page, not the lecture's accuracy."""
    at.number_input(key=W + "depth").set_value(depth).run()
    if depth:
        at.number_input(key=W + "hidden.0").set_value(size).run()
    at.number_input(key=W + "epochs").set_value(epochs).run()
    at.number_input(key=W + "log_every").set_value(log_every).run()
    for name, value in others.items():
        widget = {"lr": at.select_slider, "momentum": at.slider}.get(name, at.number_input)
        widget(key=W + name).set_value(value).run()
    return at


def page_job(at):
    return at.session_state["train.job"]


def train_to_the_end(at, timeout=120):
    at.button(key="train.start").click().run()
    job = page_job(at).job
    assert job.wait(timeout), "training did not end in time"
    at.run()  # the fragment sees the end, collects the run and reruns the page
    at.run()
    assert not at.exception
    return page_job(at)


def figure(at, key):
    chart = [c for c in at.get("plotly_chart") if c.proto.id.endswith(key) or key in c.proto.id]
    assert chart, f"no plotly chart {key}"
    return json.loads(chart[0].proto.spec)


def runs(at):
    return list(at.session_state["playground.runs"].values()) if "playground.runs" in at.session_state else []


def test_defaults_are_the_lecture_and_the_architecture_counts_its_parameters(at):
    at.run()
    assert not at.exception
    assert [at.number_input(key=W + f"hidden.{i}").value for i in range(4)] == [512, 256, 128, 64]
    assert at.radio(key=W + "activation").value == "relu"
    assert at.select_slider(key=W + "lr").value == 0.01
    assert at.slider(key=W + "momentum").value == 0.5
    assert at.number_input(key=W + "batch_size").value == 64
    assert at.number_input(key=W + "epochs").value == 10
    assert at.number_input(key=W + "log_every").value == 300
    sizes = [784, 512, 256, 128, 64, 10]
    by_hand = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))
    assert by_hand == 575_050
    assert f"{by_hand:,} parameters to learn." in [c.value for c in at.caption]


def test_architecture_updates_as_layers_change(at):
    at.run()
    at.number_input(key=W + "depth").set_value(2).run()
    at.number_input(key=W + "hidden.1").set_value(10).run()
    table = at.dataframe[0].value
    assert list(table["parameters"]) == [784 * 512 + 512, 512 * 10 + 10, 10 * 10 + 10, 401_920 + 5_130 + 110]
    at.radio(key=W + "kind").set_value("cnn").run()
    assert at.dataframe[0].value["parameters"].iloc[-1] == 260 + 5_020 + 3_210  # conv1, conv2, fc
    assert W + "depth" not in [w.key for w in at.number_input]


def test_settings_live_in_the_url_and_a_link_prefills_the_controls(at):
    at.query_params.update({"lr": "0.1", "momentum": "0.9", "hidden": "64-32", "act": "tanh", "epochs": "3"})
    at.run()
    assert at.select_slider(key=W + "lr").value == 0.1
    assert at.slider(key=W + "momentum").value == 0.9
    assert [at.number_input(key=W + f"hidden.{i}").value for i in range(2)] == [64, 32]
    assert at.radio(key=W + "activation").value == "tanh"
    assert at.number_input(key=W + "epochs").value == 3
    at.slider(key=W + "momentum").set_value(0.0).run()
    assert at.query_params["momentum"] == "0" and at.query_params["hidden"] == "64-32"


def test_a_broken_link_is_explained_and_falls_back(at):
    at.query_params.update({"lr": "fast", "batch": "0"})
    at.run()
    warnings = " ".join(w.value for w in at.warning)
    assert "`lr=fast` is not a number" in warnings and "`batch=0` is outside" in warnings
    assert at.select_slider(key=W + "lr").value == 0.01
    assert at.number_input(key=W + "batch_size").value == 1


def test_risky_settings_get_advice_next_to_the_control(at):
    at.run()
    at.select_slider(key=W + "lr").set_value(0.5).run()
    at.slider(key=W + "momentum").set_value(0.9).run()
    assert any("lr / (1 − momentum) = 5" in c.value for c in at.caption)
    at.radio(key=W + "optimizer").set_value("adam").run()
    assert at.slider(key=W + "momentum").disabled
    assert any("Adam usually works" in c.value for c in at.caption)


def test_train_shows_progress_and_a_curve_then_stop_keeps_the_model(at):
    at.run()
    configure(at, depth=4, size=512, epochs=50, log_every=10)  # long enough to watch and stop
    at.button(key="train.start").click().run()
    job = page_job(at).job
    deadline = time.time() + 60
    while not page_job(at).snapshot().history.epochs and time.time() < deadline:
        time.sleep(0.2)
    at.run()  # one refresh of the page while it trains
    assert at.button(key="train.start").disabled  # one job per session
    progress = at.get("progress")
    assert progress and "epoch" in progress[0].proto.text and "samples/s" in progress[0].proto.text
    curve = figure(at, "train.live_chart")
    names = [trace["name"] for trace in curve["data"]]
    assert names == ["training loss (running)", "test loss", "test accuracy"]
    assert len(curve["data"][0]["y"]) >= 9 and len(curve["data"][2]["y"]) >= 1  # 94 batches / 10

    at.button(key="train.stop").click().run()
    assert job.wait(10), "Stop did not stop the job within a batch"
    at.run()
    at.run()
    snap = page_job(at).snapshot()
    assert snap.status == "stopped" and 0 < snap.step < snap.total_steps
    kept = runs(at)
    assert len(kept) == 1 and kept[0].history.steps == snap.step and not kept[0].model.training
    assert any("Stopped at step" in w.value and "kept" in w.value for w in at.warning)
    assert not at.button(key="train.start").disabled


def test_a_finished_run_reports_accuracy_and_joins_the_run_list(at):
    at.run()
    configure(at, depth=1, size=32, epochs=2)
    train_to_the_end(at)
    [run] = runs(at)
    accuracy = run.history.test_accuracy[-1]
    assert 0.5 < accuracy <= 1.0  # 2 epochs of a small MLP on the subset learn something real
    assert any(f"{accuracy:.2%}" in s.value and run.name in s.value for s in at.success)
    assert at.metric[0].value == f"{100 * accuracy:.2f}%"
    assert at.session_state["playground.active_run"] == run.id  # the first run is the active model


def test_a_queued_job_says_its_place_and_starts_when_the_slot_frees(at):
    queue = get_training_queue()  # the page's queue: st.cache_resource is one per process
    blocker = object()
    assert queue.acquire(blocker)
    try:
        at.run()
        configure(at, depth=0, epochs=1)
        at.button(key="train.start").click().run()
        time.sleep(0.3)
        at.run()
        assert any("Queued" in i.value and "number 1 in line" in i.value for i in at.info)
    finally:
        queue.release(blocker)
    assert page_job(at).job.wait(60)
    at.run()
    at.run()
    assert len(runs(at)) == 1


def test_divergence_is_reported_with_the_step_and_a_hint(at):
    at.run()
    configure(at, depth=2, size=256, epochs=1, lr=10.0, momentum=0.99)
    train_to_the_end(at)
    assert page_job(at).snapshot().status == "diverged"
    [error] = [e.value for e in at.error]
    assert "Diverged at step" in error and "Divide the learning rate by 10" in error
    assert runs(at) == []  # NaN weights are not kept as a run


def test_two_runs_are_compared_renamed_activated_and_deleted(at):
    at.run()
    configure(at, depth=0, epochs=2, momentum=0.0)
    train_to_the_end(at)
    at.slider(key=W + "momentum").set_value(0.9).run()
    train_to_the_end(at)
    first, second = runs(at)
    assert (first.config.momentum, second.config.momentum) == (0.0, 0.9)

    [table] = [d.value for d in at.dataframe if "momentum" in d.value.columns]
    assert list(table["momentum"]) == [0.0, 0.9] and list(table["epochs"]) == [2, 2]
    assert list(table["accuracy %"]) == [round(100 * r.history.test_accuracy[-1], 2) for r in (first, second)]
    assert at.multiselect(key="train.compare").value == [first.id, second.id]
    by_epoch = figure(at, "train.compare_chart")
    assert len(by_epoch["data"]) == 4  # a loss and an accuracy curve per run
    at.radio(key="train.compare_by").set_value("step").run()
    by_step = figure(at, "train.compare_chart")
    assert by_step["data"][0]["x"][-1] == first.history.steps  # 2 epochs of 94 batches

    at.selectbox(key="train.manage_id").set_value(second.id).run()
    at.text_input(key=f"train.rename.{second.id}").set_value("momentum 0.9").run()
    at.button(key="train.rename_btn").click().run()
    assert second.name == "momentum 0.9"
    at.button(key="train.activate").click().run()
    assert at.session_state["playground.active_run"] == second.id
    at.button(key="train.delete").click().run()
    assert [r.id for r in runs(at)] == [first.id]
    assert at.session_state["playground.active_run"] == first.id


def test_a_bad_checkpoint_upload_is_explained_and_changes_nothing(at):
    at.run()
    at.file_uploader(key="train.upload").set_value(("notes.pt", b"this is not a checkpoint", "application/octet-stream"))
    at.run()
    [error] = [e.value for e in at.error]
    assert "Could not restore notes.pt" in error and "not a PyTorch archive" in error
    assert runs(at) == []


def test_a_checkpoint_from_another_page_is_refused(at):
    import io

    from core.training import TrainConfig, save_checkpoint

    spec = ModelSpec(hidden_sizes=(4,), in_features=3, num_classes=2)  # e.g. a tabular model
    buffer = io.BytesIO()
    save_checkpoint(buffer, build_model(spec, seed=0), spec, TrainConfig())
    at.run()
    at.file_uploader(key="train.upload").set_value(("iris.pt", buffer.getvalue(), "application/octet-stream"))
    at.run()
    assert any("not an MNIST digit classifier" in e.value for e in at.error)
    assert runs(at) == []


def test_a_downloaded_checkpoint_restores_the_run(at):
    at.run()
    configure(at, depth=0, epochs=1)
    train_to_the_end(at)
    [trained] = runs(at)
    data = jobs.checkpoint_bytes(trained)  # what the Download button serves
    at.file_uploader(key="train.upload").set_value(("softmax.pt", data, "application/octet-stream"))
    at.run()
    trained_again, restored = runs(at)
    assert restored.origin == "uploaded" and restored.name == "softmax (uploaded)"
    assert restored.spec == trained.spec and restored.config == trained.config
    assert restored.history.confusion == trained.history.confusion  # same weights, same test set
    assert any("Restored" in s.value for s in at.success)
    at.run()
    assert len(runs(at)) == 2  # the same upload is not restored twice


def test_look_inside_shows_the_confusion_mistakes_and_class_templates(at):
    at.run()
    configure(at, depth=0, epochs=1)
    train_to_the_end(at)
    [run] = runs(at)
    history = run.history
    confusion = figure(at, "train.confusion")
    assert confusion["data"][0]["z"] == history.confusion
    per_class = figure(at, "train.per_class")
    assert per_class["data"][0]["y"] == pytest.approx([100 * a for a in history.per_class_accuracy])

    true, pred = history.misclassified_true[0], history.misclassified_pred[0]
    at.selectbox(key="train.pick_true").set_value(true).run()
    at.selectbox(key="train.pick_pred").set_value(pred).run()
    count = sum(1 for t, p in zip(history.misclassified_true, history.misclassified_pred) if (t, p) == (true, pred))
    assert count == history.confusion[true][pred]
    assert any(c.value.startswith(f"{count} such mistakes") for c in at.caption)
    gallery = figure(at, "train.gallery")
    first_bars = [t for t in gallery["data"] if t["type"] == "bar"][0]
    assert first_bars["y"] == pytest.approx(history.misclassified_probs[0])  # most confident first

    weights = figure(at, "train.weights")
    assert len(weights["data"]) == 10  # softmax regression: one template per digit
    titles = [a["text"] for a in weights["layout"]["annotations"]]
    assert titles == [f"digit {c}" for c in range(10)]


def test_closing_the_tab_stops_the_sessions_jobs():
    """What the session-scoped resource's on_release does when the websocket closes."""
    from core.training import TrainConfig, TrainingJob
    from playground.resources import get_mnist

    mnist = get_mnist()
    job = TrainingJob(build_model(ModelSpec(hidden_sizes=(32,)), seed=0), TrainConfig(epochs=50),
                      mnist.train, mnist.test).start()
    finished = TrainingJob(build_model(ModelSpec(hidden_sizes=()), seed=0), TrainConfig(epochs=1),
                           mnist.train, mnist.test).start()
    assert finished.wait(60)
    jobs._release(jobs._SessionJobs(jobs=[job, finished]))
    assert job.wait(10)
    assert job.snapshot().status == "stopped" and finished.snapshot().status == "finished"



def test_a_start_request_from_another_page_starts_one_run_with_its_settings(at):
    from playground.settings import START_REQUEST_KEY, TrainSettings

    sent = TrainSettings(hidden_sizes=(16,), epochs=1, log_every=20, lr=0.1, momentum=0.9)
    at.session_state["train.settings"] = sent
    at.session_state[START_REQUEST_KEY] = sent
    at.run()
    assert not at.exception
    started = page_job(at)
    assert (started.settings.lr, started.settings.momentum) == (0.1, 0.9)
    assert at.select_slider(key=W + "lr").value == 0.1  # the controls show what trains
    assert started.job.wait(60)
    at.run()
    assert START_REQUEST_KEY not in at.session_state
    assert page_job(at) is started  # the request was used once, not again on the next run


def test_a_start_request_while_training_only_fills_in_the_settings(at):
    from playground.settings import START_REQUEST_KEY, TrainSettings

    at.run()
    configure(at, epochs=20)
    at.button(key="train.start").click().run()
    running = page_job(at)
    at.session_state[START_REQUEST_KEY] = TrainSettings(lr=0.1, momentum=0.9)
    at.run()
    assert page_job(at) is running
    assert any("already training" in w.body for w in at.warning)
