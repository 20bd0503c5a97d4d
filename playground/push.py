"""Refresh one fragment of one browser tab from the server, when there is something new to show.

Streamlit's ``st.fragment(run_every=…)`` is driven by the browser: every connected tab asks
for a rerun at that interval whether or not anything changed. With thirty students that was
about fifty reruns a second and slowed the one run that trained by half. Here a training run
that gains a point (or ends) asks the server to rerun the fragments that show it, in the tabs
that watch it, at most twice a second: idle tabs cost nothing.

This reaches into Streamlit's runtime (``AppSession`` and its fragment storage), pinned to the
version in requirements.txt and covered by a browser test. Outside a running server (AppTest,
plain Python) there is no runtime and ``request_fragment_rerun`` does nothing.
"""

from __future__ import annotations

import heapq
import logging
import math
import threading
import time
from dataclasses import dataclass, field

MIN_INTERVAL_S = 0.5  # per fragment of a tab: a live chart refreshed twice a second is smooth enough

_log = logging.getLogger(__name__)


def _runtime():
    """The running server's runtime; None in plain Python and under AppTest (whose runtime is a
    stand-in that would swallow every request)."""
    try:
        from streamlit.runtime import Runtime
    except ImportError:  # pragma: no cover - streamlit is a requirement
        return None
    runtime = Runtime.instance() if Runtime.exists() else None
    return runtime if type(runtime) is Runtime else None  # a spec mock passes isinstance


def current_session_id() -> str | None:
    """The session of the script run calling this, or None outside one."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx is not None else None


def session_is_connected(session_id: str) -> bool | None:
    """True while the tab's websocket is open, False when it is not (the session may still come
    back), None outside a running server, where nobody can tell."""
    runtime = _runtime()
    return None if runtime is None else runtime.is_active_session(session_id)


def session_exists(session_id: str) -> bool | None:
    """False once Streamlit has closed the session for good (``server.disconnectedSessionTTL``)."""
    runtime = _runtime()
    return None if runtime is None else runtime.get_app_session(session_id) is not None


def available() -> bool:
    """Whether a fragment can be rerun from the server here (a running server, not AppTest)."""
    return _runtime() is not None


def request_fragment_rerun(session_id: str, fragment_key: str, delay_s: float = 0.0) -> bool:
    """Ask the server to rerun ``@st.fragment(key=fragment_key)`` in that tab (after ``delay_s``);
    False if it cannot."""
    runtime = _runtime()
    if runtime is None:
        return False
    try:
        loop = runtime._get_async_objs().eventloop
    except Exception:  # not logged: the runtime has not started or is stopping
        return False
    if delay_s > 0:
        loop.call_soon_threadsafe(loop.call_later, delay_s, _rerun_on_event_loop, runtime, session_id, fragment_key)
    else:
        loop.call_soon_threadsafe(_rerun_on_event_loop, runtime, session_id, fragment_key)
    return True


RETRY_S = 0.02  # while a tab's last run is still handing its messages over
MAX_RETRIES = 250  # five seconds: a session that never settles is left alone
PAGE_CHANGE_GRACE_S = 2.0  # a tab that just changed page gets its pushes this long after the change
_PAGE_ATTR = "_softmax_playground_page"  # (page key, when it became the tab's page), kept on the AppSession


def page_drawn(session_id: str | None, page_key: str) -> None:
    """A full run of page ``page_key`` in that tab began (every page calls this first).

    The browser empties its page when a run names a page other than the one it shows, and it
    compares with the page it has *committed*, which can lag the messages it has read. A fragment
    rerun pushed right behind a page switch (Momentum's "Train on MNIST" starts a run on arrival,
    whose first point is pushed at once) was read against the page left: the browser emptied the
    new page and failed on the fragment's elements ("Bad delta path index"), leaving the tab
    white. Pushes to a tab that just changed page wait ``PAGE_CHANGE_GRACE_S``.
    """
    runtime = _runtime()
    session = None if runtime is None or session_id is None else runtime.get_app_session(session_id)
    if session is not None:
        note_page(session, page_key)


def note_page(session, page_key: str, clock=time.monotonic) -> None:
    """Remember on the AppSession which page it shows and since when."""
    previous = getattr(session, _PAGE_ATTR, None)
    if previous is None or previous[0] != page_key:
        setattr(session, _PAGE_ATTR, (page_key, clock()))


def _wait_after_page_change(session, clock=time.monotonic) -> float:
    """Seconds a push to ``session`` must still wait after its page changed (0 when none)."""
    page = getattr(session, _PAGE_ATTR, None)
    return 0.0 if page is None else max(0.0, page[1] + PAGE_CHANGE_GRACE_S - clock())


def _rerun_on_event_loop(runtime, session_id: str, fragment_key: str, attempt: int = 0) -> None:
    """On Streamlit's event loop thread, as its own reruns are made."""
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData

    session = runtime.get_app_session(session_id)
    if session is None or getattr(session._state, "name", "") == "SHUTDOWN_REQUESTED":
        return
    if (wait := _wait_after_page_change(session)) > 0:
        runtime._get_async_objs().eventloop.call_later(wait, _rerun_on_event_loop, runtime, session_id, fragment_key)
        return
    runner = session._scriptrunner
    if _full_rerun_pending(runner):
        return
    try:
        fragment_id = session._fragment_storage.resolve_target(fragment_key)[0]
    except Exception:  # not logged: the page that showed the fragment has been left
        return
    client = session._client_state
    # No widget states: the widgets keep the values they have; sending the last ones back would
    # replay a button click.
    data = RerunData(
        query_string=client.query_string,
        page_script_hash=client.page_script_hash,
        page_name=client.page_name,
        fragment_id=fragment_id,
        is_auto_rerun=True,
    )
    if runner is None and session._browser_queue.is_empty():
        session._create_scriptrunner(data)
    elif attempt < MAX_RETRIES:
        # Only an idle tab is pushed: no run under way, every message of the last one sent.
        # - Queued behind a run of the same fragment (a click on Pause, Resume, Step), the push
        #   started the moment that run ended, and Streamlit then dropped the ended run's deltas
        #   still waiting for the tab while keeping its "finished" message: the browser swept the
        #   fragment's elements it had not heard of as stale, failed on the next deltas ("'setIn'
        #   cannot be called on an ElementNode") and the tab went white.
        # - A run that has ended but not shut down: a new runner now would drop its last messages
        #   (Streamlit ignores the events of a runner it has replaced; under load that lost a
        #   stroke's bars).
        runtime._get_async_objs().eventloop.call_later(
            RETRY_S, _rerun_on_event_loop, runtime, session_id, fragment_key, attempt + 1
        )


def _full_rerun_pending(runner) -> bool:
    """A rerun of the whole page already waits (a click, or ``st.switch_page`` to another page).

    It redraws our fragment too. Worse, Streamlit folds a later request into it with the later one's
    page: a push naming the page being left cancelled the switch (Momentum's "Train on MNIST" left
    the tab on Momentum, with the Train page's settings in its URL).
    """
    from streamlit.runtime.scriptrunner_utils.script_requests import ScriptRequestType

    requests = getattr(runner, "_requests", None)
    if requests is None:
        return False
    with requests._lock:
        pending = requests._rerun_data
        return requests._state == ScriptRequestType.RERUN and not (
            pending.fragment_id or pending.fragment_id_queue or pending.is_fragment_scoped_rerun
        )


@dataclass(order=True)
class _Due:
    at: float
    target: tuple[str, str] = field(compare=False)


class Pusher:
    """Coalesces refresh requests: each (tab, fragment) is pushed at most every ``interval`` seconds.

    ``notify`` is called from training threads and returns at once; one background thread does
    the pushing.
    """

    def __init__(self, interval: float = MIN_INTERVAL_S, send=request_fragment_rerun, clock=time.monotonic):
        self.interval, self._send = interval, send
        self._clock = clock  # seconds; tests drive a fake one (the waits re-read it at least every interval)
        self._cond = threading.Condition()
        self._heap: list[_Due] = []
        self._pending: set[tuple[str, str]] = set()
        self._last: dict[tuple[str, str], float] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="fragment-pusher", daemon=True)
        self._thread.start()

    def notify(self, session_id: str, fragment_key: str) -> None:
        target = (session_id, fragment_key)
        with self._cond:
            if target in self._pending:
                return  # already due: one push shows everything that happened meanwhile
            at = max(self._clock(), self._last.get(target, -math.inf) + self.interval)
            self._pending.add(target)
            heapq.heappush(self._heap, _Due(at, target))
            self._cond.notify()

    def forget(self, session_id: str) -> None:
        """A closed session: drop what is remembered about it."""
        with self._cond:
            for target in [t for t in self._last if t[0] == session_id]:
                del self._last[target]

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._heap or self._heap[0].at > self._clock()):
                    self._cond.wait(None if not self._heap else self._heap[0].at - self._clock())
                if self._closed:
                    return
                due = heapq.heappop(self._heap).target
                self._pending.discard(due)
                self._last[due] = self._clock()
            try:
                self._send(*due)
            except Exception:  # a tab that went away mid-push must not stop the others
                _log.debug("push to %s failed", due[0], exc_info=True)


class OneAtATime:
    """Refreshes that can wait, pushed one at a time across the whole room, the latest per tab.

    Draw's details below the pad (preprocessing images, worked numbers, the look inside) cost
    about ten times the pad. Thirty students drawing at once asked for more of them than two cores
    can build, and every stroke's bars then queued behind other students' details (3.8 s median
    in the load benchmark). Here a tab asks for its details; they are pushed ``delay_s`` later,
    one tab at a time: the next waits until the last one's fragment said ``done`` (or
    ``max_wait_s`` passed, for a tab that went away). A tab asking again while it waits keeps
    its place and gets one refresh showing its newest drawing.
    """

    def __init__(
        self, delay_s: float = 0.15, max_wait_s: float = 1.0, send=request_fragment_rerun, clock=time.monotonic
    ):
        self.delay_s, self.max_wait_s, self._send = delay_s, max_wait_s, send
        self._clock = clock  # seconds; tests drive a fake one (the waits re-read it at least every max_wait_s)
        self._cond = threading.Condition()
        self._waiting: dict[tuple[str, str], float] = {}  # target → when it may be pushed (insertion order = turn)
        self._in_flight: tuple[str, str] | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="one-at-a-time", daemon=True)
        self._thread.start()

    def request(self, session_id: str, fragment_key: str) -> None:
        with self._cond:
            self._waiting.setdefault((session_id, fragment_key), self._clock() + self.delay_s)
            self._cond.notify()

    def done(self, session_id: str | None, fragment_key: str) -> None:
        """Called by the fragment when it has drawn: the next tab's turn."""
        with self._cond:
            if self._in_flight == (session_id, fragment_key):
                self._in_flight = None
                self._cond.notify()

    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            with self._cond:
                target = self._next_due()
                if target is None:
                    return
                del self._waiting[target]
                self._in_flight = target
            try:
                self._send(*target)
            except Exception:  # a tab that went away mid-push must not stop the others
                _log.debug("push to %s failed", target[0], exc_info=True)
            deadline = self._clock() + self.max_wait_s
            with self._cond:
                while not self._closed and self._in_flight == target and self._clock() < deadline:
                    self._cond.wait(deadline - self._clock())
                if self._in_flight == target:
                    self._in_flight = None

    def _next_due(self) -> tuple[str, str] | None:
        """The first waiting target once it is due (the lock held); None when closed."""
        while not self._closed:
            now = self._clock()
            due = next((t for t, at in self._waiting.items() if at <= now), None)
            if due is not None:
                return due
            soonest = min(self._waiting.values(), default=None)
            self._cond.wait(None if soonest is None else soonest - now)
        return None
