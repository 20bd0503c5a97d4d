"""A student's runs: stored by the room as they end, which one Draw predicts with, and whose they are."""

import pytest
import torch

from core.checkpoint import CheckpointError
from core.training import evaluate
from playground import runs
from tests.playground.room_helpers import SMALL_IMAGES, SMALL_SPEC, Gate, finish, train


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ---- what is stored -------------------------------------------------------------------------------


def test_a_finished_run_is_stored_as_it_ends(room):
    entry = finish(train(room, "ada", name="first try"))
    snapshot = entry.job.snapshot()
    assert snapshot.status == "finished"
    (run,) = runs.list_runs("ada", room)
    assert run.id == entry.run_id and run.name == "first try" and run.origin == "trained"
    assert run.spec == SMALL_SPEC
    assert run.config == entry.job.config
    assert run.history.to_dict() == snapshot.history.to_dict()
    assert run.history.steps == SMALL_IMAGES // 64
    assert run.accuracy == snapshot.history.final_accuracy
    assert run.record.status == "finished" and run.record.meta["page"] == "train"
    assert run.parameters == sum(p.numel() for p in entry.job.model.parameters())


def test_the_stored_model_is_the_trained_one(room, make_room):
    entry = finish(train(room, "ada"))
    run = runs.get_run("ada", entry.run_id, room)
    assert same_weights(run.model, entry.job.model)
    assert not run.model.training and not any(p.requires_grad for p in run.model.parameters())
    room.close()  # a fresh server reads the weights from the store
    reloaded = runs.get_run("ada", entry.run_id, make_room())
    X, y = room.mnist().test
    assert evaluate(reloaded.model, X, y)[1] == pytest.approx(run.accuracy)


def test_a_stopped_run_keeps_what_it_trained(room):
    gate = Gate(free_batches=2)
    entry = train(room, "ada", gate=gate, epochs=5)
    gate.wait_held(3)
    room.stop(entry)
    gate.open()
    finish(entry)
    assert entry.job.snapshot().status == "stopped"
    run = runs.get_run("ada", entry.run_id, room)
    assert run.record.status == "stopped"
    assert 2 <= run.history.steps < 5 * SMALL_IMAGES // 64
    assert run.history.final_accuracy is not None  # scored as it was when stopped


def diverging(module, args, output):
    return output * float("nan")


def failing(module, args):
    raise RuntimeError("a broken layer")


def test_a_diverged_run_is_not_stored(room):
    entry = finish(train(room, "ada", before=lambda model: model.register_forward_hook(diverging)))
    assert entry.job.snapshot().status == "diverged"
    assert entry.run_id is None and runs.list_runs("ada", room) == []
    assert runs.active_run("ada", room) is None


def test_a_failed_run_is_not_stored(room):
    entry = finish(train(room, "ada", before=lambda model: model.register_forward_pre_hook(failing)))
    snapshot = entry.job.snapshot()
    assert snapshot.status == "failed" and "a broken layer" in snapshot.message
    assert entry.run_id is None and runs.list_runs("ada", room) == []


def test_a_run_stopped_before_it_started_is_not_stored(room):
    gate = Gate()
    busy = train(room, "bob", gate=gate)  # holds the only worker
    gate.wait_held(1)
    waiting = train(room, "ada")
    assert waiting.job.snapshot().status == "queued"
    room.stop(waiting)
    gate.open()
    finish(busy)
    finish(waiting)
    assert waiting.job.snapshot().message_code == "job.stopped_early"
    assert waiting.run_id is None and runs.list_runs("ada", room) == []
    assert len(runs.list_runs("bob", room)) == 1


# ---- the active model ----------------------------------------------------------------------------------


def test_the_newest_run_becomes_the_active_model(room):
    assert runs.active_run("ada", room) is None
    first = finish(train(room, "ada", name="a"))
    assert runs.active_run("ada", room).id == first.run_id
    second = finish(train(room, "ada", name="b"))
    assert runs.active_run("ada", room).id == second.run_id
    assert not runs.picked_run("ada", room)


def test_a_picked_model_stays_active_through_later_runs(room):
    first = finish(train(room, "ada", name="a"))
    finish(train(room, "ada", name="b"))
    assert runs.set_active("ada", first.run_id, room, picked=True)
    finish(train(room, "ada", name="c"))
    assert runs.active_run("ada", room).id == first.run_id and runs.picked_run("ada", room)


def test_choosing_newest_lets_the_next_run_take_over(room):
    first = finish(train(room, "ada", name="a"))
    runs.set_active("ada", first.run_id, room, picked=True)
    second = finish(train(room, "ada", name="b"))
    runs.set_active("ada", second.run_id, room, picked=False)  # "always my newest run"
    third = finish(train(room, "ada", name="c"))
    assert runs.active_run("ada", room).id == third.run_id


def test_deleting_the_active_run_hands_over_to_the_newest_remaining(room):
    a, b, c = (finish(train(room, "ada", name=n)) for n in "abc")
    runs.set_active("ada", a.run_id, room, picked=True)
    assert runs.delete_run("ada", a.run_id, room)
    assert runs.active_run("ada", room).id == c.run_id
    assert runs.get_run("ada", a.run_id, room) is None and room.model(a.run_id) is None
    runs.delete_run("ada", c.run_id, room)
    assert runs.active_run("ada", room).id == b.run_id
    runs.delete_run("ada", b.run_id, room)
    assert runs.active_run("ada", room) is None and runs.list_runs("ada", room) == []
    d = finish(train(room, "ada", name="d"))  # a picked run that was deleted picks nothing any more
    assert runs.active_run("ada", room).id == d.run_id


GOOD = dict(lr=0.1, epochs=5)  # about 67% on the small slice
POOR = dict(lr=1e-6)  # about 12%: hardly better than guessing, like momentum 0.99's MNIST run


def test_a_far_worse_new_run_does_not_take_over_draw(room):
    good = finish(train(room, "ada", name="good", **GOOD))
    poor = finish(train(room, "ada", name="poor", **POOR))
    assert runs.get_run("ada", poor.run_id, room).accuracy < runs.get_run("ada", good.run_id, room).accuracy - 0.4
    assert runs.active_run("ada", room).id == good.run_id and not runs.picked_run("ada", room)
    assert runs.automatic_run("ada", room).id == good.run_id  # what "my newest run" means on Draw
    again = finish(train(room, "ada", name="as good", **GOOD))  # not far below: it takes over
    assert runs.active_run("ada", room).id == again.run_id


def test_a_first_run_far_below_the_default_model_leaves_draw_on_it(room, monkeypatch):
    monkeypatch.setattr(room, "default_accuracy", lambda: 0.974)
    poor = finish(train(room, "ada", name="poor", **POOR))
    assert runs.list_runs("ada", room)[-1].id == poor.run_id
    assert runs.active_run("ada", room) is None  # Draw keeps the default model
    monkeypatch.setattr(room, "default_accuracy", lambda: 0.70)
    good = finish(train(room, "ada", name="good", **GOOD))  # within 20 points of 70%
    assert runs.active_run("ada", room).id == good.run_id


def test_a_poor_run_the_student_picks_is_active_and_flagged(room, monkeypatch):
    monkeypatch.setattr(room, "default_accuracy", lambda: 0.974)
    poor = finish(train(room, "ada", name="poor", **POOR))
    assert runs.set_active("ada", poor.run_id, room, picked=True)
    active = runs.active_run("ada", room)
    assert active.id == poor.run_id
    assert runs.far_below(active.accuracy, room.default_accuracy())
    assert not runs.far_below(0.90, 0.974) and not runs.far_below(0.5, None) and not runs.far_below(None, 0.97)


def test_deleting_the_active_run_skips_a_far_worse_one(room, monkeypatch):
    good = finish(train(room, "ada", name="good", **GOOD))
    runs.set_active("ada", good.run_id, room, picked=True)
    finish(train(room, "ada", name="poor", **POOR))
    monkeypatch.setattr(room, "default_accuracy", lambda: 0.70)
    runs.delete_run("ada", good.run_id, room)
    assert runs.active_run("ada", room) is None  # the remaining run is far below the default model


def test_deleting_another_run_keeps_the_active_one(room):
    a, b = (finish(train(room, "ada", name=n)) for n in "ab")
    runs.set_active("ada", a.run_id, room, picked=True)
    runs.delete_run("ada", b.run_id, room)
    assert runs.active_run("ada", room).id == a.run_id


def test_an_unknown_run_cannot_be_made_active(room):
    a = finish(train(room, "ada"))
    assert not runs.set_active("ada", "r000000000000", room)
    assert runs.active_run("ada", room).id == a.run_id


# ---- whose runs -----------------------------------------------------------------------------------------


def test_runs_belong_to_their_student(room):
    entry = finish(train(room, "ada", name="mine"))
    assert runs.list_runs("eve", room) == [] and runs.active_run("eve", room) is None
    assert runs.get_run("eve", entry.run_id, room) is None
    assert not runs.rename_run("eve", entry.run_id, "hacked", room)
    assert not runs.share_run("eve", entry.run_id, "eve", room)
    assert not runs.delete_run("eve", entry.run_id, room)
    assert not runs.set_active("eve", entry.run_id, room)
    (run,) = runs.list_runs("ada", room)
    assert (run.name, run.shared_as) == ("mine", None)


def test_the_owner_renames_shares_and_withdraws(room):
    entry = finish(train(room, "ada", name="old"))
    assert runs.rename_run("ada", entry.run_id, "  momentum 0.9  ", room)
    assert runs.share_run("ada", entry.run_id, "Ada", room)
    run = runs.get_run("ada", entry.run_id, room)
    assert (run.name, run.shared_as) == ("momentum 0.9", "Ada")
    assert [r.id for r in room.store.shared_runs()] == [entry.run_id]
    runs.share_run("ada", entry.run_id, None, room)
    assert runs.get_run("ada", entry.run_id, room).shared_as is None
    with pytest.raises(ValueError):
        runs.rename_run("ada", entry.run_id, "   ", room)


def test_a_restarted_server_shows_the_same_runs_and_active_model(room, make_room):
    a = finish(train(room, "ada", name="a"))
    finish(train(room, "ada", name="b"))
    runs.set_active("ada", a.run_id, room, picked=True)
    before = [(r.id, r.name, r.accuracy, r.history.to_dict()) for r in runs.list_runs("ada", room)]
    room.close()
    again = make_room()
    after = [(r.id, r.name, r.accuracy, r.history.to_dict()) for r in runs.list_runs("ada", again)]
    assert after == before
    assert runs.active_run("ada", again).id == a.run_id and runs.picked_run("ada", again)


def test_two_rooms_on_one_folder_see_each_others_runs(room, make_room):
    other = make_room()
    entry = finish(train(room, "ada"))
    assert [r.id for r in runs.list_runs("ada", other)] == [entry.run_id]
    assert runs.active_run("ada", other).id == entry.run_id
    assert same_weights(runs.get_run("ada", entry.run_id, other).model, entry.job.model)


def test_a_table_run_never_becomes_the_draw_model(room):
    entry = finish(train(room, "ada", name="mnist"))
    record, _ = room.store.add_run(
        "ada",
        name="iris",
        origin="trained",
        status="finished",
        spec=SMALL_SPEC.to_dict(),
        config={},
        history={},
        accuracy=0.9,
        weights=b"x",
        meta={"dataset": "table"},
    )
    room.store.set_active("ada", record.id, picked=True)
    assert [r.id for r in runs.list_runs("ada", room)] == [entry.run_id]
    assert [r.id for r in runs.list_runs("ada", room, dataset="table")] == [record.id]
    assert runs.active_run("ada", room).id == entry.run_id


# ---- files ----------------------------------------------------------------------------------------------


def test_a_downloaded_run_uploads_as_the_picked_model(room):
    entry = finish(train(room, "ada", name="to share"))
    run = runs.get_run("ada", entry.run_id, room)
    data = runs.download_bytes(run)
    uploaded, pruned = runs.add_uploaded("bob", data, "ada's run.pt", room)
    assert pruned == [] and uploaded.origin == "uploaded" and uploaded.name == "ada's run"
    assert runs.active_run("bob", room).id == uploaded.id and runs.picked_run("bob", room)
    assert uploaded.accuracy == pytest.approx(run.accuracy)  # scored again on this server's test set
    assert same_weights(uploaded.model, run.model)
    finish(train(room, "bob"))
    assert runs.active_run("bob", room).id == uploaded.id  # chosen on purpose: a new run does not take over


def test_an_unusable_upload_changes_nothing(room):
    with pytest.raises(CheckpointError):
        runs.add_uploaded("bob", b"not a checkpoint", "x.pt", room)
    assert runs.list_runs("bob", room) == []


@pytest.mark.parametrize(
    "name, expected",
    [("MLP 8 · SGD lr 0.01", "MLP_8___SGD_lr_0.01.pt"), ("../../etc/passwd", "etc_passwd.pt"), ("...", "run.pt")],
)
def test_download_names_are_safe_file_names(room, name, expected):
    entry = finish(train(room, "ada", name=name))
    assert runs.file_name(runs.get_run("ada", entry.run_id, room)) == expected


def test_a_restored_checkpoint_gets_a_readable_name_back(room):
    entry = finish(train(room, "ada", name="MLP 128-64 ReLU · SGD lr 0.01 m 0.9"))
    run = runs.get_run("ada", entry.run_id, room)
    file = runs.file_name(run)
    assert file == "MLP_128-64_ReLU___SGD_lr_0.01_m_0.9.pt"  # what the browser saves
    uploaded, _ = runs.add_uploaded("bob", runs.download_bytes(run), file, room)
    assert uploaded.name == "MLP 128-64 ReLU · SGD lr 0.01 m 0.9"  # the name it was downloaded under
    renamed, _ = runs.add_uploaded("bob", runs.download_bytes(run), "my_best__run (2).pt", room)
    assert renamed.name == "my best run (2)"
