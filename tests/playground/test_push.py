"""Pushed refreshes: Draw's details one tab at a time, and a rerun that never replaces a runner whose
messages are still on their way to the tab."""

import threading
import time
from types import SimpleNamespace

import pytest

from playground import push


def wait_until(condition, timeout: float = 60.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


class FakeClock:
    """The pushers' clock, moved only by the test: nothing is due until the test says so."""

    def __init__(self):
        self.now, self.reads = 0.0, 0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            self.reads += 1
            return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def settled(later: push.OneAtATime, clock: FakeClock, mark: int) -> None:
    """Until the worker has read the clock since ``mark`` (``clock.reads`` taken before the last
    change) and waits again: from here nothing can be sent until the test changes something."""
    wait_until(lambda: clock.reads > mark and bool(later._cond._waiters), what="the worker to wait again")


def advance(later: push.OneAtATime, clock: FakeClock, seconds: float) -> int:
    """Move the clock and wake the worker, as time passing would; returns the mark for ``settled``."""
    mark = clock.reads
    clock.advance(seconds)
    with later._cond:
        later._cond.notify_all()
    return mark


class Sends:
    def __init__(self, clock: FakeClock):
        self.sent: list[tuple[str, str, float]] = []  # (session, fragment, the fake clock's time)
        self.clock = clock
        self.lock = threading.Lock()

    def __call__(self, session_id: str, key: str) -> bool:
        with self.lock:
            self.sent.append((session_id, key, self.clock.now))
        return True

    def targets(self) -> list[tuple[str, str]]:
        with self.lock:
            return [(s, k) for s, k, _ in self.sent]


@pytest.fixture
def one_at_a_time():
    made = []

    def make(**kwargs):
        clock = FakeClock()
        sends = Sends(clock)
        later = push.OneAtATime(send=sends, clock=clock, **kwargs)
        made.append(later)
        return later, sends, clock

    yield make
    for later in made:
        later.close()


def test_one_tab_at_a_time_each_waits_for_the_last_to_finish(one_at_a_time):
    later, sends, clock = one_at_a_time(delay_s=0.0, max_wait_s=5.0)
    mark = clock.reads
    for tab in ("a", "b", "c"):
        later.request(tab, "details")
    wait_until(lambda: len(sends.targets()) == 1, what="the first push")
    settled(later, clock, mark)
    assert sends.targets() == [("a", "details")]  # b waits while a's details are drawn
    mark = clock.reads
    later.done("a", "details")
    wait_until(lambda: len(sends.targets()) == 2, what="b's turn")
    settled(later, clock, mark)
    assert sends.targets() == [("a", "details"), ("b", "details")]
    later.done("b", "details")
    wait_until(lambda: len(sends.targets()) == 3, what="c's turn")
    assert sends.targets() == [("a", "details"), ("b", "details"), ("c", "details")]


def test_a_tab_asking_again_while_it_waits_is_pushed_once(one_at_a_time):
    later, sends, clock = one_at_a_time(delay_s=0.0, max_wait_s=5.0)
    later.request("a", "details")
    wait_until(lambda: len(sends.targets()) == 1)
    for _ in range(5):  # b strokes five times while a's details are drawn
        later.request("b", "details")
    assert later.waiting() == 1
    later.done("a", "details")
    wait_until(lambda: len(sends.targets()) == 2)
    mark = clock.reads
    later.done("b", "details")
    settled(later, clock, mark)
    assert later.waiting() == 0
    assert sends.targets() == [("a", "details"), ("b", "details")]


def test_a_tab_that_never_answers_holds_the_others_only_max_wait_s(one_at_a_time):
    later, sends, clock = one_at_a_time(delay_s=0.0, max_wait_s=0.2)
    mark = clock.reads
    later.request("gone", "details")
    later.request("b", "details")
    wait_until(lambda: len(sends.targets()) == 1, what="the silent tab's push")
    settled(later, clock, mark)
    settled(later, clock, advance(later, clock, 0.15))
    assert sends.targets() == [("gone", "details")]  # b still waits for the silent tab
    advance(later, clock, 0.1)
    wait_until(lambda: len(sends.targets()) == 2, what="b after the silent tab")
    (_, _, first), (_, _, second) = sends.sent
    assert (first, second) == (0.0, 0.25)  # b went once max_wait_s had passed, without a done


def test_pushes_wait_delay_s_after_the_request(one_at_a_time):
    later, sends, clock = one_at_a_time(delay_s=0.2)
    mark = clock.reads
    later.request("a", "details")
    settled(later, clock, mark)
    settled(later, clock, advance(later, clock, 0.19))
    assert sends.targets() == []
    advance(later, clock, 0.02)
    wait_until(lambda: sends.targets(), what="the push after delay_s")
    assert sends.sent[0][2] == pytest.approx(0.21)


def test_done_for_a_tab_not_in_flight_changes_nothing(one_at_a_time):
    later, sends, clock = one_at_a_time(delay_s=0.0, max_wait_s=5.0)
    later.done("nobody", "details")
    later.done(None, "details")
    later.request("a", "details")
    later.request("b", "details")
    wait_until(lambda: len(sends.targets()) == 1)
    mark = clock.reads
    later.done("b", "details")  # b is not the one being drawn
    settled(later, clock, mark)
    assert sends.targets() == [("a", "details")]
    later.done("a", "details")  # a is: b goes now
    wait_until(lambda: len(sends.targets()) == 2)


# ---- the rerun itself, on Streamlit's event loop ----------------------------------------------------


class FakeLoop:
    def __init__(self):
        self.later: list[tuple[float, tuple]] = []

    def call_later(self, delay, fn, *args):
        self.later.append((delay, (fn, *args)))


class FakeRunner:
    def __init__(self, accepts: bool):
        self.accepts, self.asked = accepts, []

    def request_rerun(self, data) -> bool:
        self.asked.append(data)
        return self.accepts


class FakeQueue:
    def __init__(self):
        self.waiting = 0  # messages not yet sent to the tab

    def is_empty(self) -> bool:
        return self.waiting == 0


class FakeSession:
    def __init__(self, runner):
        self._state = SimpleNamespace(name="APP_IS_RUNNING")
        self._scriptrunner = runner
        self._browser_queue = FakeQueue()
        self._fragment_storage = SimpleNamespace(resolve_target=lambda key: ["fragment-id-of-" + key])
        self._client_state = SimpleNamespace(query_string="lang=en", page_script_hash="hash", page_name="Draw")
        self.created = []

    def _create_scriptrunner(self, data):
        self.created.append(data)


class FakeRuntime:
    def __init__(self, session):
        self.session, self.loop = session, FakeLoop()

    def get_app_session(self, session_id):
        return self.session

    def _get_async_objs(self):
        return SimpleNamespace(eventloop=self.loop)


def test_an_idle_tab_gets_a_runner_for_the_fragment_rerun_without_widget_states():
    session = FakeSession(None)
    push._rerun_on_event_loop(FakeRuntime(session), "tab", "draw-details")
    (data,) = session.created
    assert data.fragment_id == "fragment-id-of-draw-details" and data.widget_states is None and data.is_auto_rerun


def test_a_push_waits_for_a_run_under_way_instead_of_queueing_behind_it():
    """Queued behind a click's run of the same fragment, the push started as that run ended and
    Streamlit dropped the ended run's unsent deltas but not its "finished": the browser failed on
    the next deltas and the tab went white. The push waits until the tab is idle."""
    runner = FakeRunner(accepts=True)  # a run under way would take the request
    session = FakeSession(runner)
    runtime = FakeRuntime(session)
    push._rerun_on_event_loop(runtime, "tab", "train.live")
    assert not runner.asked and not session.created
    ((delay, (fn, *args)),) = runtime.loop.later
    assert delay == push.RETRY_S
    session._scriptrunner = None  # the run ended and its runner shut down, its last messages not yet sent
    session._browser_queue.waiting = 3
    runtime.loop.later.clear()
    fn(*args)
    assert not session.created and len(runtime.loop.later) == 1
    session._browser_queue.waiting = 0  # sent: now the push goes
    ((_, (fn, *args)),) = runtime.loop.later
    fn(*args)
    assert not runner.asked and len(session.created) == 1


def test_a_runner_still_handing_over_its_messages_is_not_replaced():
    """Streamlit drops the events of a runner it has replaced: a new runner now would lose the
    last deltas of the run that just ended (a stroke's bars). The push waits instead."""
    runner = FakeRunner(accepts=False)  # ended, not yet shut down
    session = FakeSession(runner)
    runtime = FakeRuntime(session)
    push._rerun_on_event_loop(runtime, "tab", "draw-details")
    assert not session.created
    ((delay, (fn, *args)),) = runtime.loop.later
    assert delay == push.RETRY_S and args[-1] == 1
    session._scriptrunner = None  # the old runner has shut down: now a new one may start
    fn(*args)
    assert len(session.created) == 1 and session.created[0].fragment_id == "fragment-id-of-draw-details"


def test_a_session_that_never_settles_is_given_up_after_max_retries():
    session = FakeSession(FakeRunner(accepts=False))
    runtime = FakeRuntime(session)
    push._rerun_on_event_loop(runtime, "tab", "draw-details", attempt=push.MAX_RETRIES)
    assert not runtime.loop.later and not session.created


def test_a_session_shutting_down_gets_no_rerun():
    runner = FakeRunner(accepts=True)
    session = FakeSession(runner)
    session._state = SimpleNamespace(name="SHUTDOWN_REQUESTED")
    push._rerun_on_event_loop(FakeRuntime(session), "tab", "draw-details")
    assert not runner.asked and not session.created


def test_a_pending_rerun_of_the_whole_page_is_left_alone():
    """``st.switch_page`` asked for the Train page: a push naming Draw must not be folded into it."""
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData, ScriptRequests

    requests = ScriptRequests()
    requests.request_rerun(RerunData(query_string="lr=0.5", page_script_hash="hash-of-train"))
    runner = FakeRunner(accepts=True)
    runner._requests = requests
    push._rerun_on_event_loop(FakeRuntime(FakeSession(runner)), "tab", "draw-details")
    assert not runner.asked
    assert requests._rerun_data.page_script_hash == "hash-of-train"


def test_a_push_right_after_a_page_change_waits_until_the_browser_has_the_new_page():
    """Momentum's "Train on MNIST": the run it starts on Train pushed its first point at once, and
    the browser, still comparing with Momentum, emptied the page and went white. Such a push waits."""
    runner = FakeRunner(accepts=True)
    session = FakeSession(runner)
    runtime = FakeRuntime(session)
    push.note_page(session, "momentum", clock=lambda: time.monotonic() - 60)
    push.note_page(session, "train")  # the switch: now
    session._scriptrunner = None  # the page's run is over: only the change holds the push back
    push._rerun_on_event_loop(runtime, "tab", "train.live")
    assert not session.created
    ((delay, (fn, *args)),) = runtime.loop.later
    assert 0 < delay <= push.PAGE_CHANGE_GRACE_S
    push.note_page(session, "train", clock=lambda: time.monotonic() + 60)  # the same page again: no new change
    session._softmax_playground_page = ("train", time.monotonic() - push.PAGE_CHANGE_GRACE_S)  # the grace is over
    fn(*args)
    assert len(session.created) == 1 and session.created[0].fragment_id == "fragment-id-of-train.live"


def test_a_page_drawn_again_is_no_page_change():
    session = FakeSession(FakeRunner(accepts=True))
    push.note_page(session, "draw", clock=lambda: 10.0)
    push.note_page(session, "draw", clock=lambda: 99.0)
    assert push._wait_after_page_change(session, clock=lambda: 12.5) == 0.0


def test_outside_a_running_server_nothing_is_available():
    assert push.available() is False
    assert push.request_fragment_rerun("tab", "draw-details") is False
    assert push.session_is_connected("tab") is None and push.session_exists("tab") is None
