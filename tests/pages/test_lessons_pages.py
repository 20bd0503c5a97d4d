"""Lesson links under AppTest: a teacher's prepared Train or Momentum page, opened by a student with
``?lesson=<code>`` — its values applied, its locked controls fixed, the room's budget still kept."""

import pytest

from core import momentum as mo
from playground import fmt, lessons
from playground.room import get_room
from tests.pages.conftest import metric, student_of, texts, wait_for_run, widget_keys

W = "train.w."
M = "momentum."


def train_lesson(room=None, **overrides):
    values = {"hidden_sizes": [32], "lr": 0.1, "momentum": 0.9, "epochs": 2, "batch_size": 64}
    values.update(overrides.pop("values", {}))
    locked = overrides.pop("locked", ["lr", "momentum"])
    return lessons.create(
        room or get_room(), "train", overrides.pop("title", "Who finds the best momentum?"), values, locked
    )


def test_a_train_lesson_applies_its_values_and_fixes_the_locked_controls(open_page):
    lesson = train_lesson()
    at = open_page("3_Train", query={"lesson": lesson.code})
    banner = texts(at, "info")
    assert "Lesson: Who finds the best momentum? — your teacher" in banner and "2 of the settings are fixed" in banner
    keys = widget_keys(at)
    assert W + "lr" not in keys and W + "momentum" not in keys  # locked: not drawn at all
    captions = texts(at, "caption")
    assert "Learning rate (log scale): 0.1 — set by the lesson" in captions
    assert "Momentum: 0.9 — set by the lesson" in captions
    assert at.number_input(key=W + "epochs").value == 2  # free: the lesson's value, still editable
    assert [at.number_input(key=W + f"hidden.{i}").value for i in range(at.number_input(key=W + "depth").value)] == [32]

    at.number_input(key=W + "epochs").set_value(1).run()
    assert at.number_input(key=W + "epochs").value == 1
    assert W + "lr" not in widget_keys(at) and "Lesson:" in texts(at, "info")  # a click does not end the lesson
    assert at.query_params["lesson"] == lesson.code  # the link still reopens it
    at.run()  # a rerun does not apply the lesson again over the student's choice
    assert at.number_input(key=W + "epochs").value == 1
    at.button(key="train.start").click().run()
    entry = wait_for_run(at)
    config = entry.job.config
    assert (config.lr, config.momentum, config.epochs, config.batch_size) == (0.1, 0.9, 1, 64)
    assert entry.details["spec"].hidden_sizes == (32,)
    assert W + "lr" not in widget_keys(at)  # still fixed after the run


@pytest.mark.parametrize("code", ["zzzzzzzz", "abc", "../../etc", "ZZZZZZZZ%00"])
def test_an_unknown_or_tampered_lesson_code_opens_the_usual_train_page(open_page, code):
    at = open_page("3_Train", query={"lesson": code})
    assert not at.exception
    assert "This lesson link is not known on this server" in texts(at, "warning")
    assert "Lesson:" not in texts(at, "info")
    assert at.select_slider(key=W + "lr").value == 0.01 and at.slider(key=W + "momentum").value == 0.5
    assert at.number_input(key=W + "epochs").value == 10


def test_a_lesson_for_another_page_says_where_it_belongs(open_page):
    lesson = lessons.create(get_room(), "momentum", "Saddle", {"surface": "saddle"}, ["surface"])
    at = open_page("3_Train", query={"lesson": lesson.code})
    assert "This lesson belongs to the Momentum page" in texts(at, "warning")
    assert W + "lr" in widget_keys(at)


def test_a_lesson_asking_more_epochs_than_the_room_allows_is_capped_before_the_run(
    open_page, install_room, monkeypatch
):
    monkeypatch.setenv("SOFTMAX_PLAYGROUND_MAX_EPOCHS", "1")
    room = install_room()
    lesson = train_lesson(room, values={"epochs": 20}, locked=["epochs", "lr"])
    at = open_page("3_Train", query={"lesson": lesson.code})
    assert W + "epochs" not in widget_keys(at)
    assert "This room allows at most 1 epochs per run, so this run trains 1 instead of 20." in texts(at, "info")
    assert not at.button(key="train.start").disabled
    at.button(key="train.start").click().run()
    entry = wait_for_run(at)
    assert entry.job.config.epochs == 1 and len(entry.job.snapshot().history.epochs) == 1
    assert room.job_of(student_of(at), "train") is entry


def test_a_lesson_whose_run_the_room_cannot_afford_is_refused_before_it_starts(open_page, install_room, monkeypatch):
    monkeypatch.setenv("SOFTMAX_PLAYGROUND_RUN_MINUTES", "1")
    room = install_room()
    lesson = train_lesson(room, values={"hidden_sizes": [4096, 4096], "epochs": 20}, locked=["hidden_sizes", "epochs"])
    at = open_page("3_Train", query={"lesson": lesson.code})
    assert at.button(key="train.start").disabled
    assert "This run cannot start here" in texts(at, "error")
    assert room.job_of(student_of(at), "train") is None


# ---- the momentum lab ------------------------------------------------------------------------------


def momentum_lesson(**values):
    chosen = {"surface": "saddle", "x0": 2.0, "y0": 0.001, "lr": 0.1, "gamma": 0.8, "steps": 60, "extra": []}
    chosen.update(values)
    return lessons.create(get_room(), "momentum", "Through the saddle", chosen, ["surface", "lr", "gamma"])


def test_a_momentum_lesson_applies_its_values_and_fixes_the_locked_controls(open_page):
    lesson = momentum_lesson()
    at = open_page("4_Momentum", query={"lesson": lesson.code})
    assert "Lesson: Through the saddle — your teacher" in texts(at, "info") and "3 of the settings are fixed" in texts(
        at, "info"
    )
    keys = widget_keys(at)
    assert not {M + "surface", M + "lr", M + "gamma", M + "preset"} & keys  # no preset may change them either
    captions = texts(at, "caption")
    assert "Loss surface: Saddle point — set by the lesson" in captions
    assert "Learning rate η (log scale): 0.1 — set by the lesson" in captions
    assert "Momentum γ: 0.8 — set by the lesson" in captions
    assert (at.number_input(key=M + "x0").value, at.number_input(key=M + "y0").value) == (2.0, 0.001)
    assert at.slider(key=M + "steps").value == 60

    at.number_input(key=M + "x0").set_value(1.5).run()  # a free control stays the student's
    saddle = mo.get_surface("saddle")
    gd, mom = mo.race(saddle, ("gd", "momentum"), (1.5, 0.001), 0.1, 0.8, 60)
    assert metric(at, "Final loss · momentum") == fmt.number(mom.final_loss, ".4g")
    assert metric(at, "Final loss · gradient descent") == fmt.number(gd.final_loss, ".4g")
    assert "η / (1 − γ) = 0.1 / (1 − 0.8) = 0.5" in captions


def test_a_momentum_lesson_value_that_does_not_fit_gets_a_note_and_the_usual_value(open_page):
    lesson = momentum_lesson(steps=5000, x0=99.0)
    at = open_page("4_Momentum", query={"lesson": lesson.code})
    notes = texts(at, "warning")
    assert "The lesson's value for steps does not fit this lab" in notes
    assert "The lesson's value for x0 does not fit this lab" in notes
    assert at.slider(key=M + "steps").value == mo.QUADRATIC.steps  # the lab's usual value, not 5000
    assert 5000 not in [s.value for s in at.slider]


@pytest.mark.parametrize("code", ["zzzzzzzz", "<b>x</b>"])
def test_an_unknown_momentum_lesson_opens_the_usual_lab(open_page, code):
    at = open_page("4_Momentum", query={"lesson": code})
    assert "This lesson link is not known on this server" in texts(at, "warning")
    assert at.selectbox(key=M + "surface").value == "quadratic"
    assert at.select_slider(key=M + "lr").value == mo.QUADRATIC.lr
    assert M + "preset" in widget_keys(at)
