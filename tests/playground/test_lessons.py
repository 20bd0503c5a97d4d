"""Lesson links: kept in the room's store under a random code, opened on their own page, and read as
carefully as a shared link (out-of-range or mistyped values get the page's default and a note)."""

import io
import textwrap

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core import momentum as mo
from core.models import LECTURE_HIDDEN_SIZES
from playground import lessons, momentum_lab, train_run
from playground.room import replace_room
from playground.settings import EPOCHS_MAX


def lesson(values, locked=(), page="train"):
    return lessons.ActiveLesson("abcdefgh", page, "t", values, {name: values[name] for name in locked})


def test_a_lesson_is_kept_and_found_by_its_code(room, make_room):
    made = lessons.create(
        room, "train", "  Who finds the best momentum?  ", {"lr": 0.1, "momentum": 0.9}, ["momentum", "epochs"]
    )
    assert lessons.QUERY_KEY == "lesson" and len(made.code) == 8
    room.close()
    found = make_room().store.get_lesson(made.code)  # and a restarted server still knows it
    assert found.page == "train"
    assert found.settings == {"title": "Who finds the best momentum?", "values": {"lr": 0.1, "momentum": 0.9}}
    assert found.locked == ("momentum",)  # only values it holds can be locked


def test_lesson_titles_are_trimmed_and_codes_are_fresh(room):
    first = lessons.create(room, "momentum", "x" * 200, {}, [])
    second = lessons.create(room, "momentum", "x", {}, [])
    assert len(room.store.get_lesson(first.code).settings["title"]) == 80
    assert first.code != second.code


def test_lessons_prepare_only_their_pages(room):
    with pytest.raises(ValueError, match="train, momentum"):
        lessons.create(room, "draw", "t", {}, [])


def test_links_and_their_qr_code():
    url = lessons.link("http://192.168.1.20:8501/", "momentum", "abcdefgh", "zh")
    assert url == "http://192.168.1.20:8501/Momentum?lesson=abcdefgh&lang=zh"
    with Image.open(io.BytesIO(lessons.qr_png(url))) as image:
        assert image.format == "PNG" and image.width == image.height >= 200


# ---- the Train page's lesson values ---------------------------------------------------------------------


def test_a_train_lesson_reads_its_values_like_a_link():
    settings, notes, locked = train_run.lesson_settings(
        lesson(
            {"epochs": 500, "lr": 0.1, "momentum": 0.9, "hidden_sizes": [64, 32], "test_fraction": 0.4, "bogus": 1},
            locked=("epochs", "momentum", "test_fraction"),
        )
    )
    assert (settings.epochs, settings.lr, settings.momentum, settings.hidden_sizes) == (EPOCHS_MAX, 0.1, 0.9, (64, 32))
    (note,) = notes
    assert note.key == "url.outside" and note.params["used"] == EPOCHS_MAX
    assert locked == {"epochs": EPOCHS_MAX, "momentum": 0.9}  # locked values come back parsed; foreign ones not
    assert settings.errors() == []


def test_a_train_lesson_with_a_value_of_the_wrong_type_falls_back():
    settings, notes, locked = train_run.lesson_settings(
        lesson({"lr": "fast", "hidden_sizes": 64, "kind": "transformer", "epochs": 3}, locked=("lr", "kind"))
    )
    assert (settings.lr, settings.kind, settings.epochs) == (0.01, "mlp", 3)
    assert settings.hidden_sizes == (64,)
    assert sorted(n.key for n in notes) == ["url.not_choice", "url.not_number"]
    assert locked == {"lr": 0.01, "kind": "mlp"}


def test_an_empty_train_lesson_is_the_lecture():
    settings, notes, locked = train_run.lesson_settings(lesson({}))
    assert settings.hidden_sizes == LECTURE_HIDDEN_SIZES and notes == [] and locked == {}


# ---- the momentum lab's lesson values --------------------------------------------------------------------


def test_a_momentum_lesson_keeps_what_fits_the_lab():
    values, notes = momentum_lab.lesson_values(
        {
            "surface": "saddle",
            "x0": 0.5,
            "y0": -0.5,
            "gamma": 0.9,
            "steps": 100,
            "lr": mo.LAB_LR_GRID[3],
            "extra": ["adam", "rmsprop"],
        }
    )
    assert values == {
        "surface": "saddle",
        "x0": 0.5,
        "y0": -0.5,
        "gamma": 0.9,
        "steps": 100,
        "lr": mo.LAB_LR_GRID[3],
        "extra": ["adam"],
    }
    assert notes == []


def test_a_momentum_lesson_drops_bad_values_with_a_note():
    box = mo.SADDLE.box
    values, notes = momentum_lab.lesson_values(
        {
            "surface": "saddle",
            "x0": box[1] + 1,
            "y0": "high",
            "gamma": 1.5,
            "steps": 5000,
            "lr": 0.123456,
            "extra": "adam",
        }
    )
    assert values == {"surface": "saddle", "extra": []}
    assert len(notes) == 5
    assert all("does not fit this lab" in note for note in notes)
    named = {name for name in ("x0", "y0", "gamma", "steps", "lr") if any(f"for {name} " in n for n in notes)}
    assert named == {"x0", "y0", "gamma", "steps", "lr"}


def test_a_momentum_lesson_on_an_unknown_surface_uses_the_first_one():
    values, notes = momentum_lab.lesson_values({"surface": "moon", "steps": 1000})
    assert values == {"surface": mo.QUADRATIC.key}
    assert len(notes) == 2


# ---- opening a lesson link ---------------------------------------------------------------------------------


PAGE = """
import streamlit as st
from playground import lessons
from playground.room import get_room

found = lessons.show_banner(get_room(), "train")
st.session_state["found"] = found
st.session_state["first"] = lessons.applied_once(found) if found else None
"""


@pytest.fixture
def open_lesson(room, tmp_path):
    script = tmp_path / "lesson_page.py"
    script.write_text(textwrap.dedent(PAGE), encoding="utf-8")
    old = replace_room(room)

    def visit(code):
        at = AppTest.from_file(str(script), default_timeout=30)
        at.query_params["lesson"] = code
        at.query_params["lang"] = "en"
        return at.run()

    yield visit
    replace_room(old)


def test_a_lesson_link_opens_its_lesson_once(room, open_lesson):
    made = lessons.create(room, "train", "Momentum", {"momentum": 0.9, "lr": 0.1}, ["momentum"])
    at = open_lesson(made.code)
    assert not at.exception
    found = at.session_state["found"]
    assert (found.code, found.title, found.values, found.locked) == (
        made.code,
        "Momentum",
        {"momentum": 0.9, "lr": 0.1},
        {"momentum": 0.9},
    )
    assert "Momentum" in at.info[0].value and "1 setting is fixed" in at.info[0].value
    assert at.session_state["first"] is True
    at.run()
    assert at.session_state["first"] is False  # applied once per tab; later reruns keep the student's changes


@pytest.mark.parametrize("code", ["zzzzzzzz", "not a code", "../../x"])
def test_an_unknown_lesson_code_opens_the_usual_page(open_lesson, code):
    at = open_lesson(code)
    assert not at.exception and at.session_state["found"] is None
    assert "not known on this server" in at.warning[0].value


def test_a_lesson_of_another_page_says_where_it_belongs(room, open_lesson):
    made = lessons.create(room, "momentum", "Saddles", {"surface": "saddle"}, [])
    at = open_lesson(made.code)
    assert at.session_state["found"] is None
    assert "Momentum" in at.warning[0].value
