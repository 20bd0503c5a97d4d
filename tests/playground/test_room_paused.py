"""Paused runs in the room: they hold no core, spend no budget, are stored with their changes,
and the reconnect window ends them like any other run."""

import time

from core.limits import RoomLimits
from core.training import Change
from tests.playground.room_helpers import finish, settled, train, wait_until

WINDOW_S = RoomLimits().reconnect_minutes * 60


def paused_run(room, student="ada", session="tab-a", **job_args):
    room.seen(student, session)
    entry = train(room, student, epochs=50, **job_args)
    room.pause(entry)
    wait_until(lambda: room.scheduler.parked == 1, what="the run to be parked")
    return entry


def test_a_paused_run_nobody_resumes_is_ended_by_the_reconnect_window(room, tabs):
    entry = paused_run(room)
    tabs.connected["tab-a"] = False
    start = time.time()
    assert room.reap(now=start) == []
    assert room.reap(now=start + WINDOW_S - 1) == [] and not entry.job.done
    assert room.reap(now=start + WINDOW_S + 1) == [entry]
    finish(entry)
    snap = entry.job.snapshot()
    assert snap.status == "stopped" and room.scheduler.parked == 0
    assert entry.run_id is not None or snap.step == 0


def test_a_paused_run_of_a_student_who_is_here_is_kept(room, tabs):
    entry = paused_run(room)
    start = time.time()
    room.reap(now=start)
    assert room.reap(now=start + 10 * WINDOW_S) == [] and not entry.job.done and entry.job.paused
    room.stop(entry)
    finish(entry)


def test_paused_runs_leave_the_cores_to_the_others_and_spend_no_budget(room):
    paused = paused_run(room)
    busy = paused.job.snapshot().busy_s
    other = train(room, "bob", epochs=3)
    settled(room, other)
    assert other.job.snapshot().status == "finished"
    assert paused.job.snapshot().busy_s == busy and not paused.job.done
    room.stop(paused)
    finish(paused)


def test_step_and_a_live_change_reach_the_stored_run(room):
    entry = paused_run(room)
    start = entry.job.snapshot().step
    room.step(entry, 2)
    wait_until(lambda: entry.job.snapshot().step == start + 2 and entry.job.idle, what="two batches")
    room.set_hyper(entry, lr=0.05)
    wait_until(lambda: entry.job.snapshot().history.changes, what="the change to be applied")
    room.resume(entry)
    wait_until(lambda: entry.job.snapshot().step > start + 5, what="training after resume")
    room.stop(entry)
    finish(entry)
    assert entry.run_id is not None
    stored = room.history(entry.run_id)
    assert stored.changes == [Change(start + 2, "lr", 0.05)]
