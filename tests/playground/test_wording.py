"""Sentences as a reader meets them: a count of one in the singular, no doubled punctuation after a
title that ends in its own, a caption that says something the numbers beside it do not."""

import pytest

from playground import train_inside
from playground.i18n import plain, t, using


@pytest.mark.parametrize(
    ("key", "params", "counted", "one", "many"),
    [
        ("home.footer", {}, "sessions", "1 student connected right now.", "2 students connected right now."),
        ("train.status.finished", {"accuracy": "91.00%"}, "epochs", "Finished 1 epoch.", "Finished 2 epochs."),
        ("own.status.finished", {"accuracy": "95.00%"}, "epochs", "Finished 1 epoch.", "Finished 2 epochs."),
        ("teacher.board_caption", {}, "count", "The curve of the 1 shared run.", "The curves of the best 2 shared"),
        ("lesson.banner", {"title": "Speed"}, "count", "1 setting is fixed", "2 of the settings are fixed"),
        ("train.status.waiting", {"position": 2}, "count", "while 1 run has the machine", "while 2 runs share"),
    ],
)
def test_a_count_of_one_reads_in_the_singular(key, params, counted, one, many):
    with using("en"):
        assert one in plain(key, **params, **{counted: 1})
        assert one in plain(key, **params, **{counted: "1"})  # as fmt.count formats it for the page
        assert many in plain(key, **params, **{counted: 2})


def test_the_progress_line_counts_one_other_run():
    params = dict(epoch=1, epochs=10, batch=5, batches=938, rate="1,000", eta="1 min", device="CPU")
    with using("en"):
        assert "sharing the machine with 1 other run ·" in plain("train.progress", count=1, **params)
        assert "with 3 other runs" in plain("train.progress", count=3, **params)


def test_a_lesson_title_with_its_own_question_mark_gets_no_period_after_it():
    for lang in ("en", "zh"):
        with using(lang):
            banner = plain("lesson.banner", title="Who finds the best momentum?", count=2)
        assert "?." not in banner and "?。" not in banner and "？。" not in banner


def test_the_mistakes_caption_never_repeats_one_number():
    with using("en"):
        everything = train_inside.mistakes_caption(271, 271, 271, "any", "any")
        capped = train_inside.mistakes_caption(1000, 2708, 1000, "any", "any")
        one_kind = train_inside.mistakes_caption(1, 2708, 1000, 4, 9)
    assert everything == "All 271 mistakes on the test set, most confident first."
    assert capped == "The 1,000 most confident of the 2,708 mistakes on the test set, most confident first."
    assert one_kind == "1 mistake of this kind among the 1,000 kept."
    with using("zh"):
        assert "271" in train_inside.mistakes_caption(271, 271, 271, "any", "any")


def test_a_run_stopped_by_the_teacher_says_so_in_both_languages():
    for lang, words in (("en", "Your teacher stopped this run"), ("zh", "老师")):
        with using(lang):
            assert words in t("run.status.by_teacher")
