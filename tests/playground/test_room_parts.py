"""The room's parts: runs that outlive their process (interrupted, listed, resumed number for number),
presence shared through the store, the trainer started only when something trains, one log line
per run event."""

import logging

from core.store import open_store
from core.training import History
from playground import runs
from playground.parts.presence import ProcessId
from playground.parts.trainer import mark_interrupted
from tests.playground.room_helpers import Gate, finish, train


def numbers(history: dict) -> dict:
    """A stored history without its wall-clock seconds."""
    return {**history, "epochs": [{k: v for k, v in e.items() if k != "seconds"} for e in history["epochs"]]}


def test_a_run_left_by_a_dead_process_is_interrupted_listed_and_resumed_number_for_number(make_room):
    first = make_room()
    gate = Gate(free_batches=5)  # 4 batches an epoch: the 6th waits in epoch 2, after epoch 1's checkpoint
    held = train(first, "ada", gate=gate, epochs=3, log_every=2, seed=4)
    gate.wait_held(6)
    record = first.store.get_run(held.store_id)
    assert record.status == "running" and len(record.history["epochs"]) == 1
    assert record.meta["process"] == first.process.id and record.meta["trainer"] == "in-process"

    second = make_room()  # a restart on the same folder: the first room's process counts as gone
    record = second.store.get_run(held.store_id)
    assert record.status == "interrupted" and record.meta["epochs_done"] == 1
    [listed] = runs.list_runs("ada", second)
    assert listed.id == held.store_id and listed.status == "interrupted" and listed.epochs_done == 1
    assert len(listed.history.epochs) == 1 and listed.model is not None  # its curve and weights so far
    assert [r.id for r in second.interrupted_runs("ada")] == [held.store_id]

    resuming = second.trainer.resume("ada", held.store_id)
    assert second.store.get_run(held.store_id).meta["process"] == second.process.id  # ours now
    assert second.find_interrupted() == []  # so the reaper leaves it training
    resumed = finish(resuming)
    assert resumed.job.id == held.store_id and resumed.resumed and resumed.run_id == held.store_id
    whole = finish(train(second, "bob", epochs=3, log_every=2, seed=4))
    got, expected = second.store.get_run(held.store_id), second.store.get_run(whole.store_id)
    assert got.status == expected.status == "finished"
    assert numbers(got.history) == numbers(expected.history)
    assert second.store.resume_state(held.store_id, "ada") is None
    assert runs.list_runs("ada", second)[0].status == "finished"
    assert second.interrupted_runs("ada") == []


def test_only_runs_of_gone_processes_of_the_same_trainer_are_marked(tmp_path):
    store = open_store(tmp_path / "runs.db")
    me = ProcessId(host="here", pid=1, started=2.0)

    def running(meta):
        record, _ = store.save_checkpoint(
            "ada",
            run_id=None,
            name="r",
            status="running",
            spec={},
            config={},
            history=History().to_dict(),
            accuracy=None,
            weights=b"",
            resume_state=None,
            meta=meta,
        )
        return record.id

    try:
        mine = running({"trainer": "in-process", **me.meta()})
        elsewhere_alive = running({"trainer": "in-process", "process": "there:7:1.000", "host": "there", "pid": 7})
        elsewhere_dead = running({"trainer": "in-process", "process": "there:8:1.000", "host": "there", "pid": 8})
        on_ray = running({"trainer": "ray", "process": "there:9:1.000", "host": "there", "pid": 9})
        marked = mark_interrupted(store, "in-process", me, live_processes={"there:7:1.000"})
        assert marked == [elsewhere_dead]
        statuses = {run_id: store.get_run(run_id).status for run_id in (mine, elsewhere_alive, on_ray)}
        assert set(statuses.values()) == {"running"}
        # on Ray, a dead app process's run that the cluster still trains stays running; one it lost does not
        ray_lost = running({"trainer": "ray", "process": "there:10:1.000", "host": "there", "pid": 10})
        marked = mark_interrupted(store, "ray", me, live_processes={"there:7:1.000"}, held={on_ray})
        assert marked == [ray_lost] and store.get_run(on_ray).status == "running"
    finally:
        store.close()


def test_presence_is_shared_by_the_rooms_of_one_store(make_room, tmp_path):
    one = make_room()
    other = make_room()  # another process of the same room: same store
    one.seen("ada", "tab-1")
    assert "ada" in other.connected_students()
    one.presence.close()  # that process leaves: its rows go with it
    assert "ada" not in other.connected_students()


def test_a_room_starts_its_trainer_only_when_something_trains(make_room):
    room = make_room()
    room.seen("ada", "tab-1")
    room.mnist()
    assert room.job_of("ada", "train") is None and room.all_jobs() == []
    room.watch_room("tab-1", "teacher-room")
    assert not room.trainer_started
    finish(train(room, "ada"))
    assert room.trainer_started and room.trainer.kind == "in-process"


def test_every_run_event_is_one_log_line_with_the_student_and_the_part(make_room, caplog):
    caplog.set_level(logging.INFO)
    first = make_room()
    gate = Gate(free_batches=5)
    held = train(first, "ada0123456789", gate=gate, epochs=3)
    gate.wait_held(6)
    second = make_room()
    finish(second.trainer.resume("ada0123456789", held.store_id))
    held_too = Gate(free_batches=1)
    stopped = train(second, "bob0123456789", gate=held_too)
    held_too.wait_held(2)
    second.stop(stopped)
    held_too.open()
    stopped.job.wait(30)
    stopped.filed.wait(5)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("playground")]
    run = held.store_id
    for event in ("started", "interrupted", "resumed", "finished"):
        assert any(f"run {run} {event}" in line and "ada01234" in line for line in lines), (event, lines)
    assert any(f"run {stopped.store_id} stopped" in line and "bob01234" in line for line in lines), lines
    assert all("in-process" in line for line in lines if line.startswith("run "))
    assert not any("ada0123456789" in line for line in lines)  # the short id only
