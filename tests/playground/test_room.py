"""The room: one per process whatever a browser sends, jobs per (student, page), pushes to the tabs
that watch them, and the reconnect window that stops the runs of students who left."""

import threading
import time

import pytest
import streamlit as st

from core.limits import RoomLimits
from playground import push, runs
from playground import room as room_module
from playground.room import get_room, replace_room
from tests.playground.room_helpers import Gate, finish, settled, train, wait_until

WINDOW_S = RoomLimits().reconnect_minutes * 60


class Pushes:
    """A fake ``send`` for ``push.Pusher``: records every (session, fragment) pushed."""

    def __init__(self, fail_for: set | None = None):
        self.sent: list[tuple[str, str]] = []
        self.times: list[float] = []
        self.fail_for = fail_for or set()
        self._lock = threading.Lock()
        self._barriers = 0

    def __call__(self, session_id: str, fragment_key: str) -> bool:
        with self._lock:
            self.sent.append((session_id, fragment_key))
            self.times.append(time.monotonic())
        if session_id in self.fail_for:
            raise ConnectionError("that tab went away")
        return True

    def to(self, session_id: str, fragment_key: str = "live") -> int:
        with self._lock:
            return self.sent.count((session_id, fragment_key))

    def barrier(self, pusher: push.Pusher) -> None:
        """Until everything notified before now has been pushed (the pusher sends in time order)."""
        self._barriers += 1
        mark = ("barrier", str(self._barriers))
        pusher.notify(*mark)
        wait_until(lambda: self.to(*mark) == 1, what="the pusher to catch up")


@pytest.fixture
def pushes(room):
    """The room's pusher replaced by one that records what it would push, without delay."""
    fake = Pushes()
    room.pusher.close()
    room.pusher = push.Pusher(interval=0.0, send=fake)
    return fake


# ---- one room per process -------------------------------------------------------------------------


def test_clearing_streamlits_caches_leaves_the_room_alone(room):
    old = replace_room(room)
    try:
        scheduler, store = room.scheduler, room.store
        parts = (room.data, room.presence, room.models, room.trainer, room.default_model, room.pusher)
        st.cache_resource.clear()
        st.cache_data.clear()
        assert get_room() is room
        assert room.scheduler is scheduler and room.store is store
        assert (room.data, room.presence, room.models, room.trainer, room.default_model, room.pusher) == parts
        finish(train(room, "ada"))  # and it still trains
    finally:
        replace_room(old)


def test_replace_room_hands_back_the_previous_room(room, make_room):
    other = make_room()
    old = replace_room(room)
    try:
        assert replace_room(other) is room and get_room() is other
    finally:
        replace_room(old)


# ---- jobs per student and page ------------------------------------------------------------------------


def test_one_run_at_a_time_per_student_and_page(room):
    gate = Gate()
    entry = train(room, "ada", gate=gate)
    gate.wait_held(1)
    with pytest.raises(RuntimeError):
        train(room, "ada")
    assert room.job_of("ada", "train") is entry
    own = train(room, "ada", page="own")  # another page of the same student may train
    gate.open()
    finish(entry)
    finish(own)
    again = finish(train(room, "ada"))  # once it ended, the page trains again
    assert room.job_of("ada", "train") is again


def test_different_students_train_at_once(room):
    gate = Gate()
    entries = [train(room, student, gate=gate) for student in ("ada", "bob", "cy")]
    gate.wait_held(1)
    assert {job.id for job in room.scheduler.jobs()} == {e.job.id for e in entries}
    gate.open()
    for entry in entries:
        assert finish(entry).run_id is not None
    assert [e.student for e in room.all_jobs()] == ["cy", "bob", "ada"]  # newest first
    assert all(len(runs.list_runs(s, room)) == 1 for s in ("ada", "bob", "cy"))


def test_seen_tabs_make_connected_students(room, tabs):
    room.seen("ada", "tab-a")
    room.seen("bob", "tab-b")
    room.seen("nobody", None)  # outside a script run there is no session
    tabs.connected["tab-b"] = False
    assert room.connected_students() == {"ada"}


# ---- pushes to the tabs that watch a job ----------------------------------------------------------------


def test_a_job_that_gains_a_point_or_ends_pushes_its_watchers(room, pushes):
    gate = Gate()
    entry = train(room, "ada", gate=gate, log_every=1, epochs=2)
    gate.wait_held(1)
    room.watch(entry, "tab-a", "live")
    room.watch(entry, None, "live")  # no session: nothing to push to
    pushes.barrier(room.pusher)
    before = pushes.to("tab-a")
    gate.allow(2)
    gate.wait_held(3)
    wait_until(lambda: pushes.to("tab-a") > before, what="a push for the new points")
    assert not entry.job.done
    pushes.barrier(room.pusher)
    while_training = pushes.to("tab-a")
    gate.open()
    settled(room, entry)
    wait_until(lambda: pushes.to("tab-a") > while_training, what="a push for the end")
    assert {target for target in pushes.sent if target[0] != "barrier"} == {("tab-a", "live")}


def test_a_job_nobody_watches_causes_no_pushes(room, pushes):
    settled(room, train(room, "ada", log_every=1))
    pushes.barrier(room.pusher)
    assert [target for target in pushes.sent if target[0] != "barrier"] == []


def test_a_finished_job_causes_no_pushes(room, pushes):
    entry = settled(room, train(room, "ada", log_every=1))
    room.watch(entry, "tab-a", "live")  # a tab that opens on a run that has ended
    pushes.barrier(room.pusher)
    assert pushes.to("tab-a") == 0


def test_a_waiting_job_pushes_nothing_until_it_starts(room, pushes):
    gate = Gate()
    busy = train(room, "bob", gate=gate)  # holds the only worker
    gate.wait_held(1)
    waiting = train(room, "ada", log_every=1)
    room.watch(waiting, "tab-a", "live")
    pushes.barrier(room.pusher)
    assert waiting.job.snapshot().status == "queued"
    assert pushes.to("tab-a") == 0
    gate.open()
    settled(room, busy)
    settled(room, waiting)
    assert pushes.to("tab-a") > 0


def test_a_room_watcher_hears_every_job(room, pushes):
    room.watch_room("teacher-tab", "room")
    settled(room, train(room, "ada"))
    pushes.barrier(room.pusher)
    after_first = pushes.to("teacher-tab", "room")
    assert after_first > 0
    settled(room, train(room, "bob", page="own"))
    pushes.barrier(room.pusher)
    assert pushes.to("teacher-tab", "room") > after_first


# ---- the reconnect window ---------------------------------------------------------------------------------


def held_run(room, student="ada", session="tab-a"):
    """A run of ``student`` (seen in ``session``) that has trained one batch and waits for the second."""
    room.seen(student, session)
    gate = Gate(free_batches=1)
    entry = train(room, student, gate=gate, epochs=5)
    gate.wait_held(2)
    return entry, gate


def test_a_student_who_left_keeps_training_until_the_window_closes(room, tabs):
    entry, gate = held_run(room)
    tabs.connected["tab-a"] = False  # the tab disconnected; the session may come back
    start = time.time()
    assert room.reap(now=start) == []
    assert room.reap(now=start + WINDOW_S - 60) == []
    assert not entry.job.stop_requested
    assert room.reap(now=start + WINDOW_S + 60) == [entry]
    assert entry.job.stop_requested
    gate.open()
    finish(entry)
    assert entry.job.snapshot().status == "stopped"
    run = runs.get_run("ada", entry.run_id, room)  # what it trained is kept
    assert run is not None and run.record.status == "stopped" and run.history.steps >= 1


def test_coming_back_resets_the_window(room, tabs):
    entry, _ = held_run(room)
    start = time.time()
    tabs.connected["tab-a"] = False
    assert room.reap(now=start) == []
    tabs.connected["tab-a"] = True  # reconnected
    assert room.reap(now=start + WINDOW_S - 60) == []
    tabs.connected["tab-a"] = False  # and gone again: the window starts afresh
    assert room.reap(now=start + WINDOW_S + 60) == []
    assert room.reap(now=start + 2 * WINDOW_S) == []
    assert room.reap(now=start + 2 * WINDOW_S + 120) == [entry]


def test_a_new_tab_of_the_student_resets_the_window(room, tabs):
    entry, _ = held_run(room)
    start = time.time()
    tabs.connected["tab-a"] = False
    room.reap(now=start)
    room.seen("ada", "tab-a2")  # opened the app again in a new tab
    assert room.reap(now=start + WINDOW_S + 60) == []
    assert not entry.job.stop_requested


def test_one_connected_tab_is_enough(room, tabs):
    entry, _ = held_run(room)
    room.seen("ada", "tab-phone")
    tabs.connected["tab-a"] = False
    start = time.time()
    room.reap(now=start)
    assert room.reap(now=start + 10 * WINDOW_S) == [] and not entry.job.stop_requested


def test_a_student_without_any_tab_counts_as_away(room):
    gate = Gate(free_batches=1)
    entry = train(room, "ada", gate=gate, epochs=5)  # e.g. the server restarted its sessions
    gate.wait_held(2)
    start = time.time()
    room.reap(now=start)
    assert room.reap(now=start + WINDOW_S + 60) == [entry]


def test_without_a_runtime_nobody_is_stopped(room, tabs):
    entry, _ = held_run(room)
    tabs.connected["tab-a"] = None  # outside a running server nobody can tell
    start = time.time()
    room.reap(now=start)
    assert room.reap(now=start + 10 * WINDOW_S) == [] and not entry.job.stop_requested


def test_sessions_that_no_longer_exist_are_forgotten(room, tabs, pushes):
    entry, gate = held_run(room)
    room.seen("bob", "tab-b")
    room.watch(entry, "tab-a", "live")
    room.watch(entry, "tab-b", "live")
    room.watch_room("tab-a", "room")
    tabs.connected["tab-a"] = tabs.connected["tab-b"] = False
    tabs.existing["tab-a"] = False  # closed for good; tab-b may still come back
    room.reap(now=time.time())
    pushes.barrier(room.pusher)
    before_b = pushes.to("tab-b")
    gate.open()
    settled(room, entry)
    pushes.barrier(room.pusher)
    assert pushes.to("tab-a") == 0 and pushes.to("tab-a", "room") == 0
    assert pushes.to("tab-b") > before_b
    tabs.connected["tab-a"] = tabs.connected["tab-b"] = True
    assert room.connected_students() == {"bob"}


def test_what_a_class_left_is_handed_back_late_but_never_forgotten(room, tabs, monkeypatch):
    """Trimming is rate-limited while students are connected; a release inside the limit stays due,
    and the room trims at once when the last tab has gone."""
    collections = []
    monkeypatch.setattr(room_module.gc, "collect", lambda: collections.append(time.monotonic()))
    for student, tab in (("ada", "tab-a"), ("bob", "tab-b"), ("cy", "tab-c")):
        room.seen(student, tab)
    tabs.connected["tab-a"] = False
    tabs.existing["tab-a"] = False
    room.reap()
    assert len(collections) == 1  # the first release: handed back at once
    tabs.connected["tab-b"] = False
    tabs.existing["tab-b"] = False
    room.reap()
    assert len(collections) == 1  # inside the rate limit, with cy still here: due, not done
    room.reap()
    assert len(collections) == 1
    tabs.connected["tab-c"] = False
    room.reap()  # cy's tab is away (not closed): nobody is here now, and the due trim is done
    assert len(collections) == 2
    room.reap()
    assert len(collections) == 2  # nothing new let go: nothing more to do


# ---- the pusher itself --------------------------------------------------------------------------------------


@pytest.fixture
def make_pusher():
    made = []

    def make(interval: float, send) -> push.Pusher:
        pusher = push.Pusher(interval=interval, send=send)
        made.append(pusher)
        return pusher

    yield make
    for pusher in made:
        pusher.close()


def test_a_burst_of_notifications_is_one_push_per_interval(make_pusher):
    release = threading.Event()
    fake = Pushes()

    def slow_send(session_id, fragment_key):
        fake(session_id, fragment_key)
        if session_id == "tab":
            release.wait(10)

    pusher = make_pusher(0.2, slow_send)
    notified = time.monotonic()
    pusher.notify("tab", "live")
    wait_until(lambda: fake.to("tab") == 1, what="the first push")
    for _ in range(100):  # while the first push is under way
        pusher.notify("tab", "live")
    release.set()
    wait_until(lambda: fake.to("tab") == 2, what="the push that shows the burst")
    fake.barrier(pusher)
    assert fake.to("tab") == 2
    assert fake.times[1] - notified >= 0.2  # the burst waited out the interval after the first push


def test_pushes_to_different_targets_are_kept_apart(make_pusher):
    fake = Pushes()
    pusher = make_pusher(30.0, fake)  # a long interval: only first pushes can happen in this test
    for target in [("tab-a", "live"), ("tab-b", "live"), ("tab-a", "room")] * 5:
        pusher.notify(*target)
    wait_until(lambda: len(fake.sent) == 3, what="one push per target")
    assert sorted(fake.sent) == [("tab-a", "live"), ("tab-a", "room"), ("tab-b", "live")]


def test_a_failing_push_does_not_stop_the_others(make_pusher):
    fake = Pushes(fail_for={"gone"})
    pusher = make_pusher(0.0, fake)
    pusher.notify("gone", "live")
    pusher.notify("here", "live")
    wait_until(lambda: fake.to("here") == 1, what="the push after a failing one")
    pusher.notify("here", "live")
    wait_until(lambda: fake.to("here") == 2, what="the pusher to keep going")


def test_a_closed_pusher_pushes_nothing(make_pusher):
    fake = Pushes()
    pusher = make_pusher(0.0, fake)
    pusher.close()
    assert not pusher._thread.is_alive()
    pusher.notify("tab", "live")
    assert fake.sent == []


def test_outside_a_server_a_push_does_nothing():
    assert push.request_fragment_rerun("no-such-session", "live") is False
    assert push.session_is_connected("no-such-session") is None
    assert push.session_exists("no-such-session") is None
    assert push.current_session_id() is None
