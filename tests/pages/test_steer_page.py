"""Steering on the Train page under AppTest: Pause, Step and the live change through the page's own
buttons, the 99% CNN preset, and lessons that leave the run controls to students or hide them."""

from playground import lessons
from playground.room import get_room
from tests.pages.conftest import configure_train, poll, student_of, texts, wait_for_run, widget_keys

W = "train.w."
S = "train.steer."


def started(at, **settings):
    configure_train(at, epochs=50, batch_size=1, **settings)  # batches of one: minutes, stopped by the test
    at.button(key="train.start").click().run()
    entry = get_room().job_of(student_of(at), "train")
    poll(lambda: entry.job.snapshot().step > 0, 60, "the first batches")
    at.run()
    return entry


def test_pause_step_change_and_resume_through_the_page(open_page):
    at = open_page("3_Train")
    entry = started(at)
    assert S + "pause" in widget_keys(at) and S + "resume" not in widget_keys(at)
    at.button(key=S + "pause").click().run()
    poll(lambda: entry.job.idle, 30, "the run to park")
    at.run()
    step = entry.job.snapshot().step
    assert f"Paused at step {step:,}" in texts(at, "info")
    at.button(key=S + "step_batch").click().run()
    poll(lambda: entry.job.snapshot().step == step + 1 and entry.job.idle, 30, "one batch")
    at.run()
    [lr] = [k for k in widget_keys(at) if k.startswith(S + "lr.")]
    at.select_slider(key=lr).set_value(0.1)
    at.button(key=S + "apply").click().run()
    poll(lambda: entry.job.snapshot().history.changes, 30, "the change to be applied")
    [change] = entry.job.snapshot().history.changes
    assert (change.step, change.name, change.value) == (step + 1, "lr", 0.1)
    at.run()
    at.button(key=S + "resume").click().run()
    poll(lambda: entry.job.snapshot().step > step + 3, 30, "training after Resume")
    at.run()
    at.button(key=W + "stop").click().run()
    wait_for_run(at)
    assert S + "pause" not in widget_keys(at)


def test_a_lesson_can_hide_the_run_controls_and_the_live_lr(open_page):
    values = {"hidden_sizes": [32], "lr": 0.01, "momentum": 0.5, "epochs": 50, "batch_size": 1, "steer": True}
    lesson = lessons.create(get_room(), "train", "Watch only", values, ["steer", "lr"])
    at = open_page("3_Train", query={"lesson": lesson.code})
    at.button(key="train.start").click().run()
    entry = get_room().job_of(student_of(at), "train")
    poll(lambda: entry.job.snapshot().step > 0, 60, "the first batches")
    at.run()
    keys = widget_keys(at)
    assert S + "pause" not in keys and not [k for k in keys if k.startswith(S + "lr.")]
    assert [k for k in keys if k.startswith(S + "momentum.")]  # free in this lesson: still offered live
    assert "train.setup_cnn2" not in keys  # a lesson's settings are not swapped for a preset
    at.button(key=W + "stop").click().run()
    wait_for_run(at)


def test_a_lesson_that_leaves_the_run_controls_free_offers_pause(open_page):
    values = {"hidden_sizes": [32], "epochs": 50, "batch_size": 1, "steer": True}
    lesson = lessons.create(get_room(), "train", "Pause at epoch 2, double the lr", values, ["hidden_sizes"])
    at = open_page("3_Train", query={"lesson": lesson.code})
    at.button(key="train.start").click().run()
    entry = get_room().job_of(student_of(at), "train")
    poll(lambda: entry.job.snapshot().step > 0, 60, "the first batches")
    at.run()
    assert S + "pause" in widget_keys(at)
    at.button(key=W + "stop").click().run()
    wait_for_run(at)


def test_the_99_percent_cnn_preset_fills_in_its_settings_and_the_url(open_page):
    at = open_page("3_Train")
    at.button(key="train.setup_cnn2").click().run()
    assert at.radio(key=W + "kind").value == "cnn2"
    assert at.radio(key=W + "optimizer").value == "adam" and at.radio(key=W + "schedule").value == "onecycle"
    assert at.number_input(key=W + "batch_size").value == 256 and at.number_input(key=W + "epochs").value == 2
    assert at.query_params["model"] == "cnn2" and at.query_params["sched"] == "onecycle"
    assert "CNN conv24-conv32-256-10 ReLU" in texts(at, "markdown")
