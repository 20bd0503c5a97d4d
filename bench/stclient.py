"""A Streamlit websocket client that behaves like one browser tab, for load tests.

One `StreamlitClient` is one tab: it speaks Streamlit's own protocol on
`ws://HOST:PORT/_stcore/stream` (protobuf `BackMsg` up, `ForwardMsg` down), keeps the
element tree the way the frontend does, and sends what the frontend would send when a
person opens a page, clicks a button, moves a widget or draws on a Components v2 canvas.
Many clients share one asyncio loop, so a single process can be a whole classroom.

    client = StreamlitClient("student-1")
    await client.connect("http://127.0.0.1:8501")
    draw = await client.open_page("Draw")                 # a Run: sent_at … finished_at
    rgba, strokes = render_digit(7)
    action = await client.set_component_state("draw_canvas", draw_digit_state(rgba, strokes))
    node, t = await client.wait_for(lambda n: n.type == "html" and "%</span>" in n.body.body, since=action)
    print(f"stroke → bars {t - action.sent_at:.3f} s")
    await client.close()

The API, in short:

- `connect(base_url)`, `reconnect()` (same session, kept widget state), `close()`;
- `open_page(name)` (a page name or URL path from the app's pages, "" or "Home" for the
  main page) and `rerun()`: both return the finished `Run` (`run.seconds` = from sending
  until its script_finished); `wait=False` returns the sent `Action` instead;
- `click(key)`, `set_value(key, value)`, `set_component_state(key, state)`: send the
  rerun a person's action causes and return the `Action` (with `sent_at`) at once;
- `wait_for(predicate, since=action)`: the first element delta since then whose `Node`
  satisfies the predicate, with its arrival time; `wait_for_run(since=action)`: the run
  it caused, once finished (followed through st.rerun chains);
- reading the page: `element(key)` (by user key), `elements(type)`, `find_text(text)`,
  `texts(under=key)`, `nodes()`; a `Node` has `type`, `key`, `id`, `text`, `label`,
  `body` (its typed proto), `fragment_id`, `received_at`;
- what happened: `runs`, `stats`, `app_errors` (exceptions on the page, compile errors,
  page not found), `protocol_errors`, `disconnect` (set when the server or the network
  closed the socket), `session_id`, `pages`, `auto_rerun_fragments`;
- drawing: `render_digit(d)` → an MNIST-like digit on a 280×280 black RGBA canvas, and
  `draw_digit_state(png_or_rgba, strokes)` → the state streamlit-drawable-canvas sends;
  `blank_canvas_state()` → what its reset sends.

What the client does like a browser, because the server's load depends on it:

- before the socket it loads the page, `/_stcore/health` (which sets the XSRF cookie) and
  `/_stcore/host-config`; the socket's subprotocols are `streamlit`, the XSRF token (or
  the frontend's placeholder) and, when resuming, the last session id;

- the first page visit names the page by its URL path (`page_name`); later visits use the
  page's script hash from the `navigation` message (the `new_session` of a first visit to
  a pages/ app lists only a placeholder page);
- every rerun carries the state of every widget on the page, defaults included (the
  frontend registers a widget's value when it mounts), the page's query string, the
  browser context (time zone, locale, URL) and the hashes of the messages it has cached;
- button clicks are one-shot triggers, dropped from the state once sent; a widget inside
  an `st.fragment` reruns only that fragment;
- `auto_rerun` (a fragment's `run_every`) starts a timer that sends a fragment rerun at
  that interval until a full run, `stop_auto_rerun`, a page change or `close()` ends it;
- big messages the server marked cacheable are kept, and `ref_hash` messages are answered
  from that cache; entries expire after `max_cached_message_age` runs, as in the frontend;
- stale elements are cleared when a run finishes (fragment-aware), and widget state of
  widgets that left the page is forgotten;
- it fetches each `st.image` media file once and each Components v2 component's JS and
  CSS once, as a browser with a cache does. The app shell's static JS and CSS (≈ 150
  files a real browser loads once) are not fetched. `browser_like=False` makes no HTTP
  requests at all.

Not modelled: forms (a widget inside `st.form` would rerun at once), file uploads,
dataframe and chart selections, dialogs, and anything a component's JavaScript does on
its own.

Every received message is time-stamped (`time.monotonic()`) on arrival, before parsing,
and every element node remembers when its delta arrived, so callers can measure "from my
action until the element X arrived" with `wait_for(..., since=action)`.

Nothing here waits without a bound: every wait takes a timeout (the client's default if
none is given) and raises `StepTimeout`; a closed connection fails every wait with
`Disconnected` and is reported in `client.disconnect`.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import dataclasses
import io
import json
import math
import random
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.NumberInput_pb2 import NumberInput
from streamlit.proto.Slider_pb2 import Slider
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

STREAM_PATH = "_stcore/stream"
# What the frontend sends as its "XSRF token" when the server set no `_streamlit_xsrf`
# cookie; the server only checks the token when it reads an auth cookie.
PLACEHOLDER_XSRF = "PLACEHOLDER_AUTH_TOKEN"
ELEMENT_ID_PREFIX = "$$ID"

FINISHED_STATUS = {
    ForwardMsg.FINISHED_SUCCESSFULLY: "ok",
    ForwardMsg.FINISHED_WITH_COMPILE_ERROR: "compile_error",
    ForwardMsg.FINISHED_EARLY_FOR_RERUN: "rerun",
    ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY: "fragment_ok",
}

# A fragment timer is a request loop; it is bounded by the client's life and by this count.
MAX_AUTO_RERUNS_PER_CLIENT = 5000
# How much history a client keeps for `wait_for(since=…)` and for reports.
DELTA_LOG_SIZE = 20_000
RUN_LOG_SIZE = 2_000
HTTP_TIMEOUT_S = 10.0


class ClientError(Exception):
    """Something the simulated tab could not do."""


class Disconnected(ClientError):
    """The websocket closed (by the server, the network, or `close()`)."""


class StepTimeout(ClientError):
    """A wait ran past its timeout."""


class AppError(ClientError):
    """The app showed an exception, a compile error or "page not found"."""


# --------------------------------------------------------------------------- the element tree


class Node:
    """One element or block of the page, as the last delta for its place described it.

    A new delta makes a new Node (the old one stays valid in the delta log), except that
    a block replaced by a block of the same kind keeps its children, as in the frontend.
    """

    __slots__ = ("path", "kind", "type", "proto", "run_id", "fragment_id", "received_at", "children")

    def __init__(
        self,
        path: tuple[int, ...],
        kind: str,
        type_: str,
        proto: Any,
        run_id: str,
        fragment_id: str,
        received_at: float,
        children: dict[int, Node] | None = None,
    ):
        self.path = path
        self.kind = kind  # "element", "block" or "root"
        self.type = type_  # the Element/Block oneof name: "metric", "button", "vertical", …
        self.proto = proto  # the streamlit.proto Element or Block message
        self.run_id = run_id
        self.fragment_id = fragment_id
        self.received_at = received_at
        self.children = children if children is not None else {}

    # -- identity -----------------------------------------------------------------------

    @property
    def body(self) -> Any:
        """The typed proto inside the Element/Block (e.g. the `Metric` of a metric)."""
        if self.kind != "element" or not self.type:
            return None
        return getattr(self.proto, self.type)

    @property
    def id(self) -> str:
        """The element id: widgets, charts, components, keyed containers; "" for the rest."""
        if self.kind == "block":
            return self.proto.id if self.proto is not None and self.proto.HasField("id") else ""
        body = self.body
        if body is not None and "id" in body.DESCRIPTOR.fields_by_name:
            return body.id
        return ""

    @property
    def key(self) -> str | None:
        """The user key embedded in the element id (`$$ID-<hash>-<key>`), if any."""
        element_id = self.id
        if not element_id.startswith(ELEMENT_ID_PREFIX):
            return None
        user_key = element_id.split("-", 2)[-1]
        return None if user_key == "None" else user_key

    # -- what a person reads ------------------------------------------------------------

    @property
    def text(self) -> str:
        """The visible text of the element (labels, bodies, captions); "" if none."""
        body = self.body
        if body is None:
            return self.proto.expandable.label if self.kind == "block" and self.type == "expandable" else ""
        t = self.type
        if t == "alert":  # Streamlit moves a leading emoji of the body into the icon
            return f"{body.icon} {body.body}" if body.icon else body.body
        if t in ("markdown", "heading", "text", "toast"):
            return body.body
        if t == "metric":
            delta = f" ({body.delta})" if body.delta else ""
            return f"{body.label}: {body.body}{delta}"
        if t == "progress":
            return body.text
        if t == "exception":
            return f"{body.type}: {body.message}"
        if t == "code":
            return body.code_text
        if t == "imgs":
            return " ".join(img.caption for img in body.imgs if img.caption)
        if "label" in body.DESCRIPTOR.fields_by_name:
            return body.label
        return ""

    @property
    def label(self) -> str:
        body = self.body
        return body.label if body is not None and "label" in body.DESCRIPTOR.fields_by_name else ""

    def walk(self) -> Iterator[Node]:
        """This node and everything under it, in page order."""
        yield self
        for index in sorted(self.children):
            yield from self.children[index].walk()

    def __repr__(self) -> str:
        key = f" key={self.key!r}" if self.key else ""
        text = f" {self.text[:40]!r}" if self.text else ""
        return f"<Node {self.type or self.kind} {list(self.path)}{key}{text}>"


@dataclass
class Run:
    """One script run (full or fragment) as the client saw it."""

    run_id: str
    fragment_ids: tuple[str, ...]
    page_script_hash: str
    started_at: float  # when its new_session arrived
    finished_at: float | None = None
    status: str | None = None  # "ok", "fragment_ok", "rerun", "compile_error", "replaced" (stopped for a newer run)
    sent_at: float | None = None  # filled by wait_for_run: when the action that asked for it was sent

    @property
    def is_fragment(self) -> bool:
        return bool(self.fragment_ids)

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def seconds(self) -> float | None:
        """From the action (if known, else the run's start) until it finished."""
        if self.finished_at is None:
            return None
        return self.finished_at - (self.sent_at if self.sent_at is not None else self.started_at)


@dataclass(frozen=True)
class Action:
    """A BackMsg this client sent: what, when, and for which fragment."""

    kind: str  # "page", "rerun", "click", "set_value", "component_state", "auto_rerun"
    sent_at: float
    key: str | None = None
    fragment_id: str = ""


@dataclass
class Stats:
    messages: int = 0
    bytes: int = 0
    deltas: int = 0
    ref_hits: int = 0
    ref_misses: int = 0
    reruns_sent: int = 0
    auto_reruns_sent: int = 0
    fragment_runs: int = 0  # fragment runs received: asked for, or pushed by the server
    http_requests: int = 0
    http_bytes: int = 0
    http_failures: int = 0
    by_type: collections.Counter = field(default_factory=collections.Counter)


@dataclass
class _CacheEntry:
    encoded: bytes
    run_count: int
    fragment_id: str


def _since(value: float | Action | Run | None) -> float:
    if value is None:
        return -math.inf
    if isinstance(value, Action):
        return value.sent_at
    if isinstance(value, Run):
        return value.started_at
    return float(value)


def _page_slug(name: str) -> str:
    return name.strip().strip("/").replace(" ", "_").lower()


# --------------------------------------------------------------------------- the client


class StreamlitClient:
    """One simulated browser tab. See the module docstring for what it mimics."""

    def __init__(
        self,
        name: str = "client",
        *,
        timeout: float = 60.0,
        browser_like: bool = True,
        timezone: str = "UTC",
        locale: str = "en-US",
        cookies: dict[str, str] | None = None,
    ):
        self.name = name
        self.cookies = dict(cookies or {})  # sent with the socket, as a browser sends its cookies
        self.timeout = timeout
        self.browser_like = browser_like
        self._timezone = timezone
        self._locale = locale

        self.base_url = ""
        self.session_id: str | None = None
        self.pages: list[Any] = []  # AppPage protos, from `navigation` (or `new_session`)
        self.page_script_hash = ""  # the page shown now
        self.main_script_hash = ""
        self.query_string = ""
        self.max_cached_message_age = 2

        self.roots: dict[int, Node] = {}
        self.runs: collections.deque[Run] = collections.deque(maxlen=RUN_LOG_SIZE)
        self.current_run: Run | None = None
        self.script_is_running = False
        self.stats = Stats()
        self.app_errors: list[tuple[float, str]] = []  # exception elements, compile errors, page not found
        self.protocol_errors: list[tuple[float, str]] = []
        self.disconnect: tuple[float, int | None, str] | None = None  # (when, close code, reason)
        self.connected_at: float | None = None

        self._ws: Any = None
        self._reader: asyncio.Task | None = None
        self._closed = asyncio.Event()
        self._closing = False
        self._widget_states: dict[str, WidgetState] = {}
        self._cache: dict[str, _CacheEntry] = {}
        self._run_count = 0
        self._received_new_session = False
        self._deltas: collections.deque[tuple[int, float, Node]] = collections.deque(maxlen=DELTA_LOG_SIZE)
        self._delta_seq = 0
        self._waiters: list[tuple[Callable[[], Any], asyncio.Future]] = []
        self._auto_reruns: dict[str, tuple[float, asyncio.Task]] = {}
        self._auto_rerun_budget = MAX_AUTO_RERUNS_PER_CLIENT
        self._http_tasks: set[asyncio.Task] = set()
        self._fetched: set[str] = set()
        self._page_change_requested = False
        self._xsrf = PLACEHOLDER_XSRF
        # self.cookies (set above) is this tab's cookie jar: the cookies it was given and those the
        # server set; a sticky proxy's cookie keeps every request and the socket on one replica.
        self._host = ""
        self._port = 0

    # ------------------------------------------------------------------ connection

    async def connect(
        self, base_url: str, *, page: str = "", resume_session_id: str | None = None, timeout: float | None = None
    ) -> None:
        """Open the websocket. Nothing runs until a page is opened (as in the browser).

        `page` only matters for the browser-like HTTP requests (the URL the tab loads).
        `resume_session_id` asks the server to reattach to that session (a reconnecting
        tab sends its last session id the same way).
        """
        timeout = self.timeout if timeout is None else timeout
        self.base_url = base_url.rstrip("/")
        parts = urllib.parse.urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ClientError(f"not an http(s) base URL: {base_url!r}")
        self._host, self._port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        if self.browser_like:
            # The browser loads the page, then pings health and host-config before the socket.
            url_path = "" if _page_slug(page) in ("", "home") else page.strip().strip("/").replace(" ", "_")
            await self._http_get("/" + urllib.parse.quote(url_path), wait=True)
            await self._http_get("/_stcore/health", wait=True, remember_cookie=True)  # sets the XSRF cookie
            await self._http_get("/_stcore/host-config", wait=True)
        ws_scheme = "wss" if parts.scheme == "https" else "ws"
        uri = f"{ws_scheme}://{parts.netloc}{parts.path}/{STREAM_PATH}"
        # The frontend passes its XSRF token (the cookie's value) as the second subprotocol
        # and the session to resume as the third; the cookie itself travels as a cookie.
        protocols = ["streamlit", self._xsrf] + ([resume_session_id] if resume_session_id else [])
        cookies = {"Cookie": self._cookie_header()} if self.cookies else None
        try:
            self._ws = await asyncio.wait_for(
                ws_connect(
                    uri,
                    subprotocols=protocols,
                    origin=f"{parts.scheme}://{parts.netloc}",
                    additional_headers=cookies,
                    compression="deflate",  # what Chromium offers; the server decides
                    max_size=None,  # the server bounds its own messages (server.maxMessageSize)
                    ping_interval=None,  # browsers never ping; the server's pings are answered
                    open_timeout=timeout,
                    close_timeout=5,
                    user_agent_header=f"stclient ({self.name})",
                ),
                timeout,
            )
        except (TimeoutError, OSError, InvalidHandshake, InvalidURI) as error:
            raise ClientError(f"{self.name}: could not open {uri}: {error!r}") from error
        self.connected_at = time.monotonic()
        self._closing = False
        self._closed.clear()
        self._reader = asyncio.create_task(self._read_loop(), name=f"{self.name}-reader")

    async def reconnect(self, *, timeout: float | None = None) -> None:
        """Reopen the websocket to the same session, as a tab does after a dropped
        connection; widget state and the message cache are kept (call `rerun()` next)."""
        if self.session_id is None:
            raise ClientError(f"{self.name}: no session to resume yet")
        if self._ws is not None and not self._closed.is_set():
            await self.close()
        self._closing = False
        await self.connect(self.base_url, resume_session_id=self.session_id, timeout=timeout)

    async def close(self) -> None:
        """Close the tab: stop timers and fetches, close the socket, wait for the reader."""
        self._closing = True
        self._stop_auto_reruns()
        for task in list(self._http_tasks):
            task.cancel()
        if self._ws is not None:
            try:
                await asyncio.wait_for(self._ws.close(), 10)
            except (TimeoutError, OSError, ConnectionClosed):
                pass
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 10)
            except (TimeoutError, asyncio.CancelledError):
                self._reader.cancel()
        self._fail_waiters(Disconnected(f"{self.name}: closed"))

    @property
    def is_connected(self) -> bool:
        return self._ws is not None and not self._closed.is_set()

    # ------------------------------------------------------------------ reading

    async def _read_loop(self) -> None:
        code: int | None = None
        reason = ""
        try:
            async for raw in self._ws:
                received_at = time.monotonic()  # before parsing: what the network delivered
                if isinstance(raw, str):
                    self.protocol_errors.append((received_at, "text frame from the server"))
                    continue
                try:
                    self._handle(raw, received_at)
                except Exception as error:  # a bug here must not look like a server failure
                    self.protocol_errors.append((received_at, f"handling a message failed: {error!r}"))
                self._check_waiters()
        except ConnectionClosed as closed:
            code, reason = (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (None, str(closed))
        except (OSError, asyncio.IncompleteReadError) as error:
            reason = repr(error)
        else:  # the iterator ends quietly on a normal close (1000/1001)
            code, reason = self._ws.close_code, self._ws.close_reason or "closed"
        finally:
            self._closed.set()
            self._stop_auto_reruns()
            if not self._closing:  # the server (or the network) ended it, not us
                self.disconnect = (time.monotonic(), code, reason or "connection closed")
            self._fail_waiters(Disconnected(f"{self.name}: websocket closed (code {code}, {reason!r})"))

    def _handle(self, raw: bytes, received_at: float) -> None:
        msg = ForwardMsg()
        msg.ParseFromString(raw)
        self.stats.messages += 1
        self.stats.bytes += len(raw)
        kind = msg.WhichOneof("type")

        if kind == "ref_hash":  # a message we cached earlier: replay it with this metadata
            entry = self._cache.get(msg.ref_hash)
            if entry is None:
                self.stats.ref_misses += 1
                self.protocol_errors.append((received_at, f"cache miss for ref_hash {msg.ref_hash}"))
                return
            self.stats.ref_hits += 1
            entry.run_count = self._run_count
            cached = ForwardMsg()
            cached.ParseFromString(entry.encoded)
            cached.metadata.CopyFrom(msg.metadata)
            msg = cached
            kind = msg.WhichOneof("type")
        elif msg.metadata.cacheable and msg.hash:
            if msg.hash in self._cache:
                self._cache[msg.hash].run_count = self._run_count
            else:
                fragment_id = msg.delta.fragment_id if kind == "delta" else ""
                self._cache[msg.hash] = _CacheEntry(raw, self._run_count, fragment_id)
        self.stats.by_type[kind] += 1

        if kind == "delta":
            self._apply_delta(msg, received_at)
        elif kind == "new_session":
            self._on_new_session(msg, received_at)
        elif kind == "script_finished":
            self._on_script_finished(msg, received_at)
        elif kind == "navigation":
            nav = msg.navigation
            if nav.app_pages:
                self.pages = list(nav.app_pages)
            if nav.page_script_hash:
                if (
                    self.page_script_hash
                    and nav.page_script_hash != self.page_script_hash
                    and not self._page_change_requested
                ):
                    # The app switched pages by itself (st.switch_page): the frontend clears
                    # the old page. It arrives before the new page's deltas.
                    self.roots.clear()
                    self._widget_states.clear()
                self.page_script_hash = nav.page_script_hash
                self._page_change_requested = False
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "session_status_changed":
            self.script_is_running = msg.session_status_changed.script_is_running
        elif kind == "auto_rerun":
            self._start_auto_rerun(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            for fragment_id in msg.stop_auto_rerun.fragment_ids:
                self._stop_auto_rerun(fragment_id)
        elif kind == "session_event":
            event = msg.session_event
            if event.WhichOneof("type") == "script_compilation_exception":
                exc = event.script_compilation_exception
                self.app_errors.append((received_at, f"compile error: {exc.type}: {exc.message}"))
        elif kind == "page_not_found":
            self.app_errors.append((received_at, f"page not found: {msg.page_not_found.page_name!r}"))
        # page_config_changed, page_profile, logo, git_info_changed, heartbeat_ack, …: nothing to do

    # -- runs ---------------------------------------------------------------------------

    def _on_new_session(self, msg: ForwardMsg, received_at: float) -> None:
        session = msg.new_session
        run = Run(
            run_id=msg.metadata.run.script_run_id,
            fragment_ids=tuple(msg.metadata.run.fragment_ids),
            page_script_hash=session.page_script_hash,
            started_at=received_at,
        )
        # A new run means every earlier one is over. Streamlit sends no script_finished for a run
        # it stopped for a newer one (a page request stops the runner and ignores its events), so
        # a run still open here never finishes: it was replaced.
        for earlier in reversed(self.runs):
            if earlier.finished_at is not None:
                break
            earlier.finished_at, earlier.status = received_at, "replaced"
        self.runs.append(run)
        self.current_run = run
        self.stats.fragment_runs += run.is_fragment
        self._received_new_session = True
        if session.initialize.session_id:
            self.session_id = session.initialize.session_id
        self.max_cached_message_age = session.config.max_cached_message_age or self.max_cached_message_age
        if not run.is_fragment:
            # A full run: the frontend drops every fragment timer; the run re-sends
            # auto_rerun for fragments that still have run_every.
            self._stop_auto_reruns()
            self.main_script_hash = session.main_script_hash
            if session.app_pages and not self.pages:
                self.pages = list(session.app_pages)

    def _on_script_finished(self, msg: ForwardMsg, received_at: float) -> None:
        status = FINISHED_STATUS.get(msg.script_finished, str(msg.script_finished))
        run_id = msg.metadata.run.script_run_id if msg.metadata.HasField("run") else ""
        run = self._find_run(run_id) if run_id else self.current_run
        if run is None:
            return
        if run.finished_at is None:
            run.finished_at, run.status = received_at, status
        if status in ("ok", "fragment_ok"):
            current = self.current_run
            if run.is_fragment or (current is not None and current.run_id == run.run_id):
                self._clear_stale(run.run_id, run.fragment_ids)
        if status != "rerun" and self._received_new_session:
            self._age_cache(run.fragment_ids)

    def _find_run(self, run_id: str) -> Run | None:
        for run in reversed(self.runs):
            if run.run_id == run_id:
                return run
        return None

    def _age_cache(self, fragment_ids: tuple[str, ...]) -> None:
        """The frontend's rule: one more finished run; old entries go (fragment runs age
        only the entries of their own fragments)."""
        self._run_count += 1
        for message_hash in list(self._cache):
            entry = self._cache[message_hash]
            if fragment_ids and (not entry.fragment_id or entry.fragment_id not in fragment_ids):
                continue
            if self._run_count - entry.run_count > self.max_cached_message_age:
                del self._cache[message_hash]

    # -- deltas -------------------------------------------------------------------------

    def _apply_delta(self, msg: ForwardMsg, received_at: float) -> None:
        delta = msg.delta
        delta_type = delta.WhichOneof("type")
        path = tuple(msg.metadata.delta_path)
        if delta_type == "new_transient" or not path:
            return  # spinners and the like: not part of the page tree
        run_id = self.current_run.run_id if self.current_run else ""
        parent = self.roots.get(path[0])
        if parent is None:
            parent = self.roots[path[0]] = Node(path[:1], "root", "", None, run_id, "", received_at)
        parent.run_id = run_id
        for depth in range(1, len(path) - 1):  # ancestors are re-tagged with this run, as setIn does
            child = parent.children.get(path[depth])
            if child is None:  # should not happen; keep going rather than lose the delta
                child = parent.children[path[depth]] = Node(
                    path[: depth + 1], "block", "", None, run_id, "", received_at
                )
            child.run_id = run_id
            parent = child
        index = path[-1]
        if len(path) == 1:
            return
        if delta_type == "new_element":
            element = delta.new_element
            node = Node(
                path, "element", element.WhichOneof("type") or "", element, run_id, delta.fragment_id, received_at
            )
            if element.WhichOneof("type") == "exception":
                self.app_errors.append((received_at, f"exception on the page: {node.text[:300]}"))
            self._sync_widget_state(node)
            self._maybe_fetch_assets(node)
        elif delta_type == "add_block":
            block = delta.add_block
            block_type = block.WhichOneof("type") or ""
            existing = parent.children.get(index)
            children = (
                existing.children
                if (existing is not None and existing.kind == "block" and existing.type == block_type)
                else {}
            )
            node = Node(path, "block", block_type, block, run_id, delta.fragment_id, received_at, children)
        else:
            return
        parent.children[index] = node
        self.stats.deltas += 1
        self._delta_seq += 1
        self._deltas.append((self._delta_seq, received_at, node))

    def _clear_stale(self, run_id: str, fragment_ids: tuple[str, ...]) -> None:
        """Drop what the finished run did not redraw (the frontend's clearStaleNodes)."""

        def keep(node: Node, fragment_of_block: str) -> bool:
            if node.kind == "element":
                if fragment_ids and (not node.fragment_id or not fragment_of_block or node.run_id == run_id):
                    return True
                return node.run_id == run_id
            if not fragment_ids:
                if node.run_id != run_id:
                    return False
            else:
                if fragment_of_block and node.run_id != run_id:
                    return False
                if node.fragment_id and node.fragment_id in fragment_ids and node.run_id == run_id:
                    fragment_of_block = node.fragment_id
            for index in list(node.children):
                if not keep(node.children[index], fragment_of_block):
                    del node.children[index]
            return True

        for root in self.roots.values():
            if not fragment_ids and root.run_id != run_id:
                root.children.clear()
            else:
                keep(root, "")
        active = {node.id for node in self.nodes(None) if node.id}
        for widget_id in list(self._widget_states):
            if widget_id not in active:
                del self._widget_states[widget_id]

    # ------------------------------------------------------------------ reading the page

    def nodes(self, root: int | None = 0) -> Iterator[Node]:
        """Every element and block on the page (the main area by default; None: all roots)."""
        roots = (
            [self.roots[r] for r in sorted(self.roots)]
            if root is None
            else ([self.roots[root]] if root in self.roots else [])
        )
        for node in roots:
            for child in node.walk():
                if child.kind != "root":
                    yield child

    def elements(self, type_: str | None = None) -> list[Node]:
        return [n for n in self.nodes(None) if n.kind == "element" and (type_ is None or n.type == type_)]

    def element(self, key: str) -> Node | None:
        """The element or keyed container whose user key is `key` (latest if several)."""
        found = [n for n in self.nodes(None) if n.key == key]
        return max(found, key=lambda n: n.received_at) if found else None

    def find_text(self, text: str, type_: str | None = None) -> list[Node]:
        """Elements whose visible text contains `text`."""
        return [n for n in self.elements(type_) if text in n.text]

    def texts(self, under: str | None = None) -> list[str]:
        """The visible texts of the page, or of the container with user key `under`."""
        if under is None:
            return [n.text for n in self.elements() if n.text]
        node = self.element(under)
        return [] if node is None else [n.text for n in node.walk() if n.kind == "element" and n.text]

    def page(self, name: str) -> Any | None:
        """The AppPage proto for a page name, URL path or "" / "home" for the main page."""
        slug = _page_slug(name)
        for page in self.pages:
            if slug in ("", "home") and page.is_default:
                return page
            if slug in (_page_slug(page.page_name), _page_slug(page.url_pathname)):
                return page
        return None

    # ------------------------------------------------------------------ waiting

    async def wait_for(
        self,
        predicate: Callable[[Node], bool],
        *,
        since: float | Action | Run | None = None,
        timeout: float | None = None,
    ) -> tuple[Node, float]:
        """The first delta received at or after `since` whose node satisfies `predicate`.

        Returns the node and its arrival time. Deltas that arrived before this call but
        after `since` count, so call it after the action without racing the reply.
        """
        start = _since(since)
        cursor = [0]  # the last delta already looked at, so each check reads only new ones

        def check():
            fresh = []
            for entry in reversed(self._deltas):
                if entry[0] <= cursor[0]:
                    break
                fresh.append(entry)
            for seq, received_at, node in reversed(fresh):
                cursor[0] = seq
                if received_at >= start and predicate(node):
                    return node, received_at
            return None

        return await self._wait(check, timeout, "a matching element")

    async def wait_for_run(
        self,
        since: float | Action | Run | None = None,
        *,
        scope: str = "app",
        timeout: float | None = None,
        page_script_hash: str = "",
    ) -> Run:
        """The first run that started at or after `since`, once it has finished.

        scope: "app" (full runs only), "fragment" or "any"; `page_script_hash`: only a run of
        that page answers (a run of the page being left can be read after the action was sent).
        A run that ended early for a rerun (st.rerun, a newer request) or that a newer run
        replaced is followed to the run that replaced it.
        """
        start = _since(since)
        sent_at = since.sent_at if isinstance(since, Action) else (start if start > -math.inf else None)

        def matches(run: Run) -> bool:
            if page_script_hash and run.page_script_hash != page_script_hash:
                return False
            return scope == "any" or run.is_fragment == (scope == "fragment")

        def check():
            recent = []  # runs that started at or after `start`, oldest first
            for run in reversed(self.runs):
                if run.started_at < start:
                    break
                recent.append(run)
            recent.reverse()
            candidate = next((r for r in recent if matches(r)), None)
            while candidate is not None and candidate.status in ("rerun", "replaced"):
                # Auto-reruns never preempt a full run, so a full run is replaced by the
                # next full run; a fragment run may be replaced by either kind.
                later = [r for r in recent if r.started_at > candidate.started_at]
                candidate = next((r for r in later if scope != "app" or not r.is_fragment), None)
            if candidate is not None and candidate.finished:
                return dataclasses.replace(candidate, sent_at=sent_at)
            return None

        return await self._wait(check, timeout, f"a {scope} run to finish")

    async def _wait(self, check: Callable[[], Any], timeout: float | None, what: str) -> Any:
        timeout = self.timeout if timeout is None else timeout
        result = check()
        if result is not None:
            return result
        if self._closed.is_set() or self._ws is None:
            raise Disconnected(f"{self.name}: not connected while waiting for {what}")
        future = asyncio.get_running_loop().create_future()
        waiter = (check, future)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise StepTimeout(f"{self.name}: no {what} within {timeout:g} s") from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _check_waiters(self) -> None:
        for check, future in list(self._waiters):
            if future.done():
                continue
            try:
                result = check()
            except Exception as error:  # a broken predicate fails its own wait only
                future.set_exception(error)
                continue
            if result is not None:
                future.set_result(result)

    def _fail_waiters(self, error: Exception) -> None:
        for _, future in list(self._waiters):
            if not future.done():
                future.set_exception(error)

    # ------------------------------------------------------------------ acting

    async def open_page(self, name: str, *, wait: bool = True, timeout: float | None = None) -> Run | Action:
        """Go to a page by name or URL path ("" or "Home" for the main page).

        Like the browser: the first visit names the page by URL path; later ones send its
        script hash. Widget state and elements of the old page are dropped, and the query
        string is cleared. Returns the finished Run (`run.seconds`: from sending until the
        page's run finished), or the Action with `wait=False`.
        """
        self._stop_auto_reruns()
        page = self.page(name) if self.pages else None
        if self.pages and page is None:
            known = ", ".join(f"{p.page_name!r}" for p in self.pages)
            raise ClientError(f"{self.name}: no page {name!r}; the app has {known}")
        if page is None or page.page_script_hash != self.page_script_hash or not self.roots:
            # A new page: the frontend drops the old page's elements and widget state.
            self.roots.clear()
            self._widget_states.clear()
            self.query_string = ""
            self._page_change_requested = True
        if page is not None:
            action = await self._send_rerun("page", None, page_script_hash=page.page_script_hash)
        else:  # first visit: the page is named by its URL path, "" for the main page
            slug = name.strip().strip("/").replace(" ", "_")
            page_name = "" if _page_slug(name) in ("", "home") else urllib.parse.quote(slug)
            action = await self._send_rerun("page", None, page_script_hash="", page_name=page_name)
        if not wait:
            return action
        # Messages are stamped when read: a run of the page being left, started before the
        # request, may be read after it. Only the requested page's run answers (the first visit
        # names the page by path, and its run's hash is not known yet).
        return await self.wait_for_run(
            action, timeout=timeout, page_script_hash=page.page_script_hash if page is not None else ""
        )

    async def rerun(self, *, wait: bool = True, timeout: float | None = None) -> Run | Action:
        """What pressing "R" does: rerun the current page with the current widget state."""
        action = await self._send_rerun("rerun", None)
        return await self.wait_for_run(action, timeout=timeout) if wait else action

    async def click(self, key: str) -> Action:
        """Press the button with user key `key` (a one-shot trigger, as in the browser)."""
        node = self._widget(key, ("button", "download_button"))
        if node.body.disabled:
            raise ClientError(f"{self.name}: button {key!r} is disabled")
        state = WidgetState(id=node.id, trigger_value=True)
        return await self._send_widget_change("click", key, state, node.fragment_id, trigger=True)

    async def set_value(self, key: str, value: Any) -> Action:
        """Change a widget's value as a person would, and send the rerun it causes.

        number_input: a number; slider: a number or a (low, high) pair; select_slider,
        selectbox, radio: the option as displayed (a non-string is matched by str() or
        by "{:g}"); multiselect: a list of displayed options; text_input/text_area: a
        string; checkbox/toggle: a bool.
        """
        node = self._widget(key, None)
        state = self._encode_value(node, value)
        return await self._send_widget_change("set_value", key, state, node.fragment_id)

    async def set_component_state(self, key: str, state: dict[str, Any], *, merge: bool = True) -> Action:
        """Send new state for a Components v2 ("bidi") component, e.g. the drawing canvas.

        The frontend's `setStateValue(k, v)` merges `{k: v}` into the component's current
        state and sends the whole object as JSON; `merge=True` does the same with every key
        of `state`.
        """
        node = self._widget(key, ("bidi_component",))
        current: dict[str, Any] = {}
        if merge and node.id in self._widget_states:
            try:
                current = json.loads(self._widget_states[node.id].json_value)
            except (ValueError, TypeError):
                current = {}
        merged = {**current, **state}
        widget = WidgetState(id=node.id, json_value=json.dumps(merged, separators=(",", ":")))
        return await self._send_widget_change("component_state", key, widget, node.fragment_id)

    def widget_state(self, key: str) -> WidgetState | None:
        """What this tab would send for the widget with user key `key`."""
        node = self.element(key)
        return None if node is None else self._widget_states.get(node.id)

    # -- widget state ---------------------------------------------------------------------

    def _widget(self, key: str, types: Sequence[str] | None) -> Node:
        node = self.element(key)
        if node is None or node.kind != "element":
            raise ClientError(f"{self.name}: no widget with key {key!r} on the page")
        if types is not None and node.type not in types:
            raise ClientError(f"{self.name}: {key!r} is a {node.type}, not a {'/'.join(types)}")
        return node

    def _sync_widget_state(self, node: Node) -> None:
        """A widget registers its value when it mounts; a server-side change (set_value)
        overrides what the tab holds. Buttons and components hold nothing until used."""
        element_id = node.id
        if not element_id:
            return
        body = node.body
        overriding = bool(getattr(body, "set_value", False))
        if element_id in self._widget_states and not overriding:
            return
        state = self._initial_state(node)
        if state is not None:
            self._widget_states[element_id] = state

    def _initial_state(self, node: Node) -> WidgetState | None:
        body, t, element_id = node.body, node.type, node.id
        set_value = bool(getattr(body, "set_value", False))
        state = WidgetState(id=element_id)
        if t == "checkbox":
            state.bool_value = body.value if set_value else body.default
        elif t == "number_input":
            if set_value and body.HasField("value"):
                number = body.value
            elif body.HasField("default"):
                number = body.default
            else:
                return None
            if body.data_type == NumberInput.INT:
                state.int_value = int(number)
            else:
                state.double_value = float(number)
        elif t == "slider":
            values = list(body.value) if set_value else list(body.default)
            if body.type == Slider.SELECT_SLIDER:
                if set_value and body.raw_value:
                    state.string_array_value.data.extend(body.raw_value)
                else:
                    state.string_array_value.data.extend(body.options[int(i)] for i in values)
            else:
                state.double_array_value.data.extend(values)
        elif t in ("selectbox", "radio"):
            if set_value and body.HasField("raw_value"):
                state.string_value = body.raw_value
            elif body.HasField("default") and 0 <= body.default < len(body.options):
                state.string_value = body.options[body.default]
            else:
                return None
        elif t == "multiselect":
            if set_value:
                state.string_array_value.data.extend(body.raw_values)
            else:
                state.string_array_value.data.extend(body.options[i] for i in body.default)
        elif t in ("text_input", "text_area"):
            if set_value and body.HasField("value"):
                state.string_value = body.value
            elif body.HasField("default"):
                state.string_value = body.default
            else:
                return None
        elif t == "file_uploader":
            state.file_uploader_state_value.SetInParent()  # the browser sends an empty one
        else:
            return None
        return state

    def _encode_value(self, node: Node, value: Any) -> WidgetState:
        body, t = node.body, node.type
        state = WidgetState(id=node.id)

        def option(options: Sequence[str], wanted: Any) -> str:
            candidates = [wanted] if isinstance(wanted, str) else [str(wanted)]
            if isinstance(wanted, float):
                candidates.append(f"{wanted:g}")
            for candidate in candidates:
                if candidate in options:
                    return candidate
            raise ClientError(f"{self.name}: {wanted!r} is not an option of {node.key!r} ({list(options)})")

        if t == "checkbox":
            state.bool_value = bool(value)
        elif t == "number_input":
            if body.has_min and value < body.min or body.has_max and value > body.max:
                raise ClientError(f"{self.name}: {value!r} is outside {node.key!r}'s range")
            if body.data_type == NumberInput.INT:
                state.int_value = int(value)
            else:
                state.double_value = float(value)
        elif t == "slider":
            values = list(value) if isinstance(value, (list, tuple)) else [value]
            if body.type == Slider.SELECT_SLIDER:
                state.string_array_value.data.extend(option(body.options, v) for v in values)
            else:
                state.double_array_value.data.extend(float(v) for v in values)
        elif t in ("selectbox", "radio"):
            state.string_value = option(body.options, value)
        elif t == "multiselect":
            state.string_array_value.data.extend(option(body.options, v) for v in value)
        elif t in ("text_input", "text_area"):
            state.string_value = str(value)
        else:
            raise ClientError(f"{self.name}: set_value does not know {t} widgets ({node.key!r})")
        return state

    async def _send_widget_change(
        self, kind: str, key: str, state: WidgetState, fragment_id: str, trigger: bool = False
    ) -> Action:
        self._widget_states[state.id] = state
        try:
            return await self._send_rerun(kind, key, fragment_id=fragment_id)
        finally:
            if trigger:  # one-shot, as the frontend deletes it right after the flush
                self._widget_states.pop(state.id, None)

    async def _send_rerun(
        self,
        kind: str,
        key: str | None,
        *,
        page_script_hash: str | None = None,
        page_name: str = "",
        fragment_id: str = "",
        is_auto_rerun: bool = False,
    ) -> Action:
        if not self.is_connected:
            raise Disconnected(f"{self.name}: cannot send ({kind}) on a closed connection")
        client_state = ClientState(
            query_string=self.query_string,
            page_script_hash=self.page_script_hash if page_script_hash is None else page_script_hash,
            page_name=page_name,
            fragment_id=fragment_id,
            is_auto_rerun=is_auto_rerun,
        )
        client_state.widget_states.widgets.extend(self._widget_states.values())
        client_state.cached_message_hashes.extend(self._cache)
        info = client_state.context_info
        info.timezone, info.timezone_offset, info.locale = self._timezone, 0, self._locale
        info.url, info.is_embedded, info.color_scheme = self._page_url(), False, "light"
        message = BackMsg()
        message.rerun_script.CopyFrom(client_state)
        sent_at = time.monotonic()
        try:
            await asyncio.wait_for(self._ws.send(message.SerializeToString()), self.timeout)
        except (ConnectionClosed, OSError) as error:
            raise Disconnected(f"{self.name}: send failed: {error!r}") from error
        except TimeoutError:
            raise StepTimeout(f"{self.name}: sending a rerun took over {self.timeout:g} s") from None
        if is_auto_rerun:
            self.stats.auto_reruns_sent += 1
        else:
            self.stats.reruns_sent += 1
        return Action(kind, sent_at, key, fragment_id)

    def _page_url(self) -> str:
        """The address bar of this tab: the base URL plus the current page's path."""
        page = next((p for p in self.pages if p.page_script_hash == self.page_script_hash), None)
        path = page.url_pathname if page is not None else ""
        query = f"?{self.query_string}" if self.query_string else ""
        return f"{self.base_url}/{path}{query}"

    # -- fragment timers --------------------------------------------------------------------

    def _start_auto_rerun(self, fragment_id: str, interval: float) -> None:
        if not fragment_id or interval <= 0:
            return
        running = self._auto_reruns.get(fragment_id)
        if running is not None and running[0] == interval and not running[1].done():
            return  # the same timer again: keep its phase, as the frontend does
        self._stop_auto_rerun(fragment_id)
        task = asyncio.create_task(self._auto_rerun_loop(fragment_id, interval), name=f"{self.name}-auto")
        self._auto_reruns[fragment_id] = (interval, task)

    async def _auto_rerun_loop(self, fragment_id: str, interval: float) -> None:
        # setInterval: fire every `interval` s whether or not the last fragment run ended.
        next_at = time.monotonic() + interval
        while self.is_connected and self._auto_rerun_budget > 0:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
            self._auto_rerun_budget -= 1
            try:
                await self._send_rerun("auto_rerun", None, fragment_id=fragment_id, is_auto_rerun=True)
            except ClientError:
                return

    def _stop_auto_rerun(self, fragment_id: str) -> None:
        running = self._auto_reruns.pop(fragment_id, None)
        if running is not None:
            running[1].cancel()

    def _stop_auto_reruns(self) -> None:
        for fragment_id in list(self._auto_reruns):
            self._stop_auto_rerun(fragment_id)

    @property
    def auto_rerun_fragments(self) -> dict[str, float]:
        """Fragment id → interval of the timers running now."""
        return {f: interval for f, (interval, task) in self._auto_reruns.items() if not task.done()}

    # ------------------------------------------------------------------ browser-like HTTP

    def _maybe_fetch_assets(self, node: Node) -> None:
        if not self.browser_like:
            return
        if node.type == "imgs":
            for image in node.body.imgs:
                if image.url and not image.url.startswith(("data:", "http://", "https://")):
                    self._fetch_once(image.url)
        elif node.type == "bidi_component":
            for path in (node.body.js_source_path, node.body.css_source_path):
                if path:
                    self._fetch_once(path)

    def _fetch_once(self, path: str) -> None:
        path = path if path.startswith("/") else "/" + path
        if path in self._fetched or self._closing:
            return
        self._fetched.add(path)
        task = asyncio.create_task(self._http_get(path, wait=False), name=f"{self.name}-http")
        self._http_tasks.add(task)
        task.add_done_callback(self._http_tasks.discard)

    async def _http_get(self, path: str, *, wait: bool, remember_cookie: bool = False) -> int | None:
        """A plain HTTP/1.1 GET (one connection, bounded in time); returns the status."""
        base_path = urllib.parse.urlsplit(self.base_url).path
        target = base_path + path
        self.stats.http_requests += 1
        writer = None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(self._host, self._port), HTTP_TIMEOUT_S)
            writer.write(
                (
                    f"GET {target} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
                    f"User-Agent: stclient ({self.name})\r\nAccept: */*\r\n"
                    + (f"Cookie: {self._cookie_header()}\r\n" if self.cookies else "")
                    + "Connection: close\r\n\r\n"
                ).encode("latin-1")
            )
            await writer.drain()
            data = await asyncio.wait_for(reader.read(), HTTP_TIMEOUT_S)
        except (TimeoutError, OSError) as error:
            self.stats.http_failures += 1
            if wait:
                raise ClientError(f"{self.name}: GET {target} failed: {error!r}") from error
            return None
        finally:
            if writer is not None:
                writer.close()
        self.stats.http_bytes += len(data)
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1", "replace").split("\r\n")
        try:
            status = int(head[0].split()[1])
        except (IndexError, ValueError):
            status = 0
        if status >= 400 or status == 0:
            self.stats.http_failures += 1
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "set-cookie":
                self._remember_cookie(value, xsrf=remember_cookie)
        return status

    def _remember_cookie(self, set_cookie: str, *, xsrf: bool) -> None:
        """One Set-Cookie header into the jar; the XSRF token only from the request that asks for it."""
        cookie_name, _, cookie_value = set_cookie.strip().split(";", 1)[0].partition("=")
        cookie_name = cookie_name.strip()
        if cookie_name == "_streamlit_xsrf":
            if not xsrf:
                return
            self._xsrf = cookie_value or PLACEHOLDER_XSRF
        if cookie_value:
            self.cookies[cookie_name] = cookie_value
        else:
            self.cookies.pop(cookie_name, None)

    def _cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())


# --------------------------------------------------------------------------- drawing a digit

# The shape of the state streamlit-drawable-canvas 0.13.0 sends (its JS calls
# setStateValue("drawing", {raw: canvas.toObject(...), data: canvas.toDataURL("png")})):
#   {"drawing": {"raw": {"version": "7.4.0", "objects": [<fabric Path>, …], "background": "#000000"},
#                "data": "data:image/png;base64,…"}}
# `data` is the whole canvas (here 280×280 RGBA); the Python side only decodes `data` when
# return_image_data=True and hands `raw` back as json_data.
FABRIC_VERSION = "7.4.0"

# Polylines in a unit box (x right, y down) that read as the ten digits once drawn with a
# thick round pen; each inner list is one stroke (pen down … pen up).
DIGIT_STROKES: dict[int, list[list[tuple[float, float]]]] = {
    0: [[(0.5 + 0.32 * math.sin(a), 0.5 - 0.42 * math.cos(a)) for a in [2 * math.pi * i / 24 for i in range(25)]]],
    1: [[(0.42, 0.22), (0.55, 0.1), (0.55, 0.9)]],
    2: [[(0.22, 0.3), (0.32, 0.14), (0.5, 0.08), (0.7, 0.14), (0.76, 0.32), (0.66, 0.5), (0.22, 0.9), (0.8, 0.9)]],
    3: [
        [
            (0.25, 0.15),
            (0.5, 0.08),
            (0.72, 0.18),
            (0.7, 0.36),
            (0.45, 0.48),
            (0.72, 0.6),
            (0.75, 0.8),
            (0.5, 0.92),
            (0.22, 0.84),
        ]
    ],
    4: [[(0.62, 0.08), (0.18, 0.62), (0.82, 0.62)], [(0.62, 0.3), (0.62, 0.92)]],
    5: [[(0.75, 0.1), (0.3, 0.1), (0.26, 0.45), (0.55, 0.4), (0.75, 0.55), (0.74, 0.78), (0.5, 0.92), (0.24, 0.84)]],
    6: [
        [
            (0.7, 0.1),
            (0.42, 0.25),
            (0.27, 0.55),
            (0.3, 0.82),
            (0.5, 0.92),
            (0.7, 0.82),
            (0.72, 0.62),
            (0.52, 0.5),
            (0.3, 0.6),
        ]
    ],
    7: [[(0.2, 0.12), (0.8, 0.12), (0.45, 0.92)]],
    8: [
        [
            (0.5, 0.5),
            (0.3, 0.34),
            (0.34, 0.14),
            (0.5, 0.08),
            (0.66, 0.14),
            (0.7, 0.34),
            (0.5, 0.5),
            (0.28, 0.68),
            (0.32, 0.88),
            (0.5, 0.94),
            (0.68, 0.88),
            (0.72, 0.68),
            (0.5, 0.5),
        ]
    ],
    9: [[(0.7, 0.3), (0.52, 0.44), (0.32, 0.36), (0.32, 0.16), (0.52, 0.08), (0.7, 0.2), (0.7, 0.5), (0.62, 0.92)]],
}


def render_digit(
    digit: int, *, size: int = 280, pen: int = 18, rng: random.Random | None = None, strokes: int | None = None
) -> tuple[Any, list[list[tuple[float, float]]]]:
    """An MNIST-like white digit on a black size×size RGBA canvas, drawn with a round pen.

    The digit is scaled to 50–75% of the canvas and placed, slanted and jittered at random
    (`rng`), as different people would draw it. Returns the RGBA array (uint8, H×W×4) and
    the strokes in canvas pixels (for the canvas's JSON); `strokes=k` draws only the first
    k strokes (a digit being drawn, stroke by stroke).
    """
    import numpy as np
    from PIL import Image, ImageDraw

    rng = rng or random.Random(digit)
    template = DIGIT_STROKES[digit][:strokes] if strokes else DIGIT_STROKES[digit]
    scale = size * rng.uniform(0.5, 0.75)
    slant = rng.uniform(-0.2, 0.2)
    cx = size / 2 + rng.uniform(-0.12, 0.12) * size
    cy = size / 2 + rng.uniform(-0.08, 0.08) * size
    placed = []
    for stroke in template:
        points = []
        for x, y in stroke:
            x, y = x + rng.gauss(0, 0.012), y + rng.gauss(0, 0.012)
            px = cx + (x - 0.5 + slant * (0.5 - y)) * scale * 0.8
            py = cy + (y - 0.5) * scale
            points.append((round(px, 2), round(py, 2)))
        placed.append(points)
    image = Image.new("RGBA", (size, size), (0, 0, 0, 255))
    draw = ImageDraw.Draw(image)
    for points in placed:
        draw.line(points, fill=(255, 255, 255, 255), width=pen, joint="curve")
        for x, y in (points[0], points[-1]):  # round caps, like the canvas's pen
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=(255, 255, 255, 255))
    return np.asarray(image), placed


def _png_bytes(image: Any) -> bytes:
    if isinstance(image, (bytes, bytearray)):
        if not bytes(image[:8]) == b"\x89PNG\r\n\x1a\n":
            raise ValueError("bytes given to draw_digit_state are not a PNG")
        return bytes(image)
    from PIL import Image

    if not isinstance(image, Image.Image):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.convert("RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def fabric_path(points: Sequence[tuple[float, float]], *, pen: int = 18, color: str = "#FFFFFF") -> dict[str, Any]:
    """One freehand stroke as fabric.js serialises it (a Path of M, Q…, L commands)."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    commands: list[list[Any]] = [["M", *points[0]]]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        commands.append(["Q", x0, y0, round((x0 + x1) / 2, 4), round((y0 + y1) / 2, 4)])
    commands.append(["L", *points[-1]])
    locks = {
        name: False
        for name in (
            "lockMovementX",
            "lockMovementY",
            "lockRotation",
            "lockScalingX",
            "lockScalingY",
            "lockSkewingX",
            "lockSkewingY",
            "lockScalingFlip",
        )
    }
    return {
        **locks,
        "type": "Path",
        "version": FABRIC_VERSION,
        "originX": "center",
        "originY": "center",
        "left": round((min(xs) + max(xs)) / 2, 4),
        "top": round((min(ys) + max(ys)) / 2, 4),
        "width": round(max(xs) - min(xs), 4),
        "height": round(max(ys) - min(ys), 4),
        "fill": None,
        "stroke": color,
        "strokeWidth": pen,
        "strokeDashArray": None,
        "strokeLineCap": "round",
        "strokeDashOffset": 0,
        "strokeLineJoin": "round",
        "strokeUniform": False,
        "strokeMiterLimit": 10,
        "scaleX": 1,
        "scaleY": 1,
        "angle": 0,
        "flipX": False,
        "flipY": False,
        "opacity": 1,
        "shadow": None,
        "visible": True,
        "backgroundColor": "",
        "fillRule": "nonzero",
        "paintFirst": "fill",
        "globalCompositeOperation": "source-over",
        "skewX": 0,
        "skewY": 0,
        "path": commands,
    }


def draw_digit_state(
    image: Any,
    strokes: Iterable[Sequence[tuple[float, float]]] = (),
    *,
    pen: int = 18,
    color: str = "#FFFFFF",
    background: str = "#000000",
) -> dict[str, Any]:
    """The component state streamlit-drawable-canvas sends after a stroke.

    `image`: the whole canvas as PNG bytes, an RGBA array or a PIL image (e.g. from
    `render_digit`). `strokes`: the drawn polylines in canvas pixels, for the fabric JSON
    the browser sends alongside (the app may ignore it, but it is part of the message size).
    """
    png = _png_bytes(image)
    return {
        "drawing": {
            "raw": {
                "version": FABRIC_VERSION,
                "objects": [fabric_path(s, pen=pen, color=color) for s in strokes],
                "background": background,
            },
            "data": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
        }
    }


def blank_canvas_state(size: int = 280, background: str = "#000000") -> dict[str, Any]:
    """What the canvas sends after its toolbar's reset: no objects, an all-background PNG."""
    import numpy as np

    rgb = tuple(int(background[i : i + 2], 16) for i in (1, 3, 5))
    canvas = np.zeros((size, size, 4), dtype=np.uint8)
    canvas[..., :3], canvas[..., 3] = rgb, 255
    return draw_digit_state(canvas, (), background=background)


__all__ = [
    "Action",
    "AppError",
    "ClientError",
    "Disconnected",
    "Node",
    "Run",
    "StepTimeout",
    "StreamlitClient",
    "blank_canvas_state",
    "draw_digit_state",
    "fabric_path",
    "render_digit",
]
