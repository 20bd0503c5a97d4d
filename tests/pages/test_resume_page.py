"""Resume on the Train page: a run a stopped server left *interrupted* is shown with its epoch,
listed with its curve, and carried on to its end by one button, in both languages; pages that
train nothing start no trainer."""

import pytest

from core.checkpoint import checkpoint_bytes
from core.models import ModelSpec, build_model
from core.trainers.base import state_bytes
from core.training import TrainConfig, TrainLoop
from playground import identity, runs
from playground.room import get_room
from tests.pages.conftest import new_app, show_tab, student_of, switch, table_text, texts, wait_for_run

SPEC = ModelSpec(hidden_sizes=(16,))
IMAGES = 512


def interrupted_run(room, student: str, epochs: int = 3, kept: int = 1) -> str:
    """What the trainer leaves in the store when its process dies after ``kept`` epochs."""
    config = TrainConfig(epochs=epochs, batch_size=64, log_every=4, seed=2)
    loop = TrainLoop(build_model(SPEC, seed=2), config, room.mnist().train_slice(IMAGES), room.mnist().test, "cpu")
    loop.run(max_batches=kept * loop.per_epoch)
    record, _ = room.store.save_checkpoint(
        student,
        run_id=None,
        name="MLP 16 before the crash",
        status="interrupted",
        spec=SPEC.to_dict(),
        config=config.to_dict(),
        history=loop.history.to_dict(),
        accuracy=loop.history.final_accuracy,
        weights=checkpoint_bytes(loop.model, SPEC, config, loop.history),
        resume_state=state_bytes(loop.resume_state()),
        meta={"dataset": "mnist", "images": IMAGES, "epochs_done": kept, "trainer": "in-process", "page": "train"},
    )
    loop.close()
    return record.id


def test_an_interrupted_run_is_shown_listed_and_resumed_to_its_end(open_page, install_room):
    room = install_room()
    at = open_page("3_Train")
    student = student_of(at)
    run_id = interrupted_run(room, student)
    at.run()
    assert "MLP 16 before the crash was interrupted at epoch 1 of 3" in texts(at, "warning")
    names = list(table_text(show_tab(at, "compare"), "train-runs-table")["name"])
    assert names == ["MLP 16 before the crash (interrupted at epoch 1 of 3)"]
    show_tab(at, "training")
    at.button(key=f"train.resume.{run_id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    entry = wait_for_run(at, "train")
    assert entry.job.id == run_id and entry.job.snapshot().status == "finished"
    [run] = runs.list_runs(student, room)
    assert run.id == run_id and run.status == "finished" and len(run.history.epochs) == 3
    assert f"train.resume.{run_id}" not in {b.key for b in at.button}
    assert "Finished 3 epochs" in texts(at, "success")


def test_the_resume_panel_speaks_chinese(open_page, install_room):
    room = install_room()
    student = identity.new_id()
    run_id = interrupted_run(room, student)
    at = open_page("3_Train", lang="zh", student=student)
    assert "在第 1/3 轮时中断了" in texts(at, "warning")
    assert at.button(key=f"train.resume.{run_id}").label == "▶ 继续训练"


@pytest.mark.parametrize("page", ["1_Softmax_Lab", "2_MNIST_Data", "4_Momentum"])
def test_a_page_that_trains_nothing_starts_no_trainer(page, install_room):
    room = install_room()
    at = switch(new_app(), page)
    assert not at.exception, [e.value for e in at.exception]
    assert get_room() is room and not room.trainer_started


@pytest.mark.parametrize(("lang", "words"), [("en", "in this server process"), ("zh", "本服务器进程内")])
def test_the_teacher_page_names_the_trainer_and_the_store(open_page, install_room, monkeypatch, lang, words):
    from playground import teacher

    monkeypatch.setenv(teacher.PASSCODE_ENV, "kettle-7-lamp")
    room = install_room()
    at = open_page("7_Teacher", lang=lang)
    at.text_input(key="teacher.typed").set_value("kettle-7-lamp")
    [unlock] = list(at.button)  # the form's one button, in either language
    unlock.click().run()
    assert not at.exception, [e.value for e in at.exception]
    caption = texts(at, "caption")
    assert words in caption and str(room.store.path) in caption
    assert "SQLite" in caption
    assert not room.trainer_started  # the teacher's view starts no trainer
