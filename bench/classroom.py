"""A classroom on one server: N simulated students drive `streamlit run` over its websocket.

    python -m bench.classroom --students 30 --browser   # the room's targets, plus one real Chromium
    python -m bench.classroom --students 30 --max-epochs 1 --budget-finish   # a 1-epoch budget, runs to the end
    python -m bench.classroom --smoke                  # 3 students, the subset, a small network, seconds
    python -m bench.classroom --trainer ray            # the same class on the Ray trainer (a local Ray, 2 CPUs)
    python -m bench.classroom --trainer both --waves 1 # in-process, then Ray: throughput side by side
    python -m bench.classroom --trainer ray --ray-kill-drill   # SIGKILL a Ray worker while the class trains
    python -m bench.classroom --store postgresql://user@127.0.0.1:5432/db   # runs kept in PostgreSQL
    python -m bench.classroom --paused 10              # ten of the thirty pause their run while the class trains
    python -m bench.classroom --kill-drill --students 3  # SIGKILL the server mid-run: runs lost, time to see them

It prepares a data folder as `make run` does (MNIST and the kept default model; a fresh run
store), starts the app on 127.0.0.1 and a free port with the room's stats file on
(SOFTMAX_PLAYGROUND_STATS: every job's examples and busy seconds, twice a second), and runs every
student in one asyncio loop, each a `bench.stclient` tab that behaves like a browser. Wave 1:

1. a probe student trains one run alone on the idle server               → "one alone" images/s
2. the class arrives together: Home, then Draw; each draws three digits  → draw ready, stroke → bars
3. the probe trains again while the whole class is connected (idle)      → "one, class connected"
4. everyone presses Train at once; once every run showed progress, the class's total throughput is
   measured for `--measure` seconds while each student goes to Draw and draws (their run trains on)
                                                        → train first progress, all training images/s,
                                                          stroke → bars while the class trains
5. everyone goes back to Train and presses Stop (or, with `--budget-finish`, waits for the end);
   then everyone leaves.

Wave 2 repeats 2, 4 and 5 with new students, to see what the first wave left behind. The
server's RSS is sampled at the start, with the class connected, and after each wave left; the
server lets closed tabs go after `--session-ttl` seconds (Streamlit's disconnectedSessionTTL and
the room's reconnect window), so what a wave leaves behind can be released inside the process.
Sessions that errored or whose websocket the server closed are counted.

Times are from the client's arrival time stamps (`time.monotonic()`): from sending an action
until the deltas showing its effect arrived — server-side times as the network delivers them
(a real tab adds its rendering and the canvas's own 200 ms wait; the `--browser` student
measures those). The load generator runs on the same machine as the server.

With `--trainer ray` the benchmark starts a Ray of its own process with `--ray-cpus` CPUs (no
dashboard) and the app attaches to it by address (SOFTMAX_PLAYGROUND_RAY), so the runs train in
Ray's worker actors, not in the server process; `--trainer both` runs the class on the in-process
trainer, then on Ray, and prints the throughputs side by side. `--ray-kill-drill` SIGKILLs one
worker actor right after the class's throughput window and counts the runs it held that were
lost (never back and not in the store) and the seconds until each was training again.

`--smoke` exits non-zero only when something broke (errors, disconnects, a metric with no
measurements), never for a slow number.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.stclient import (
    DIGIT_STROKES,
    Action,
    AppError,
    ClientError,
    Node,
    StreamlitClient,
    blank_canvas_state,
    draw_digit_state,
    render_digit,
)

# =====================================================================================
# APP-SPECIFIC KNOWLEDGE. Everything this benchmark knows about the app's pages lives in
# this section; when a page changes, change it here. Nothing below names a page or key.
# =====================================================================================

HOME_PAGE = "Home"  # streamlit_app.py, the main page
DRAW_PAGE = "Draw"  # pages/5_Draw.py (page name and URL path)
TRAIN_PAGE = "Train"  # pages/3_Train.py

# Draw page
CANVAS_KEY = "draw_canvas"  # the st_canvas component (streamlit-drawable-canvas, Components v2)
CANVAS_SIZE = 280
PEN_WIDTH = 18  # the "draw.pen" slider's default
DIGITS_PER_STUDENT = 3
STROKE_RUN = "fragment"  # a stroke reruns the pad and the details below it (keyed fragments), not the page


def is_canvas(node: Node) -> bool:
    return node.key == CANVAS_KEY


def is_prediction(node: Node) -> bool:
    """The predicted digit: `st.metric("Prediction", …)` inside container "draw-predicted-digit"."""
    return node.type == "metric" and node.label == "Prediction"


def is_bars(node: Node) -> bool:
    """The softmax bars (HTML) once they show probabilities (before a stroke they are empty)."""
    return node.type == "html" and 'class="sp-bars"' in node.body.body and "%</span>" in node.body.body


def predicted_digit(node: Node) -> str:
    """The digit the prediction metric shows."""
    return node.body.body.strip()


# Train page
TRAIN_BUTTON_KEY = "train.start"
STOP_BUTTON_KEY = "train.w.stop"  # inside the live panel, a keyed st.fragment the server refreshes
PAUSE_BUTTON_KEY = "train.steer.pause"  # the run controls under the live curve
# --small-network: one hidden layer of 32 units, so an epoch costs little (≈ 0.03 s on the
# subset, idle), and the most epochs the page allows, so the run still outlives the
# students' --train-watch and their Stop is measured. Set in this order: the depth decides
# which "hidden.<i>" widgets exist.
SMALL_TRAINING = (("train.w.depth", 1), ("train.w.hidden.0", 32), ("train.w.epochs", 50))

# The live panel's status (playground/runkit.py, show_status): an info "⏳ Waiting…" while a
# run waits for a place among the active runs, an st.progress while it trains (every run
# trains in turns), and an alert with one of these icons once it ended.
QUEUED_ICON = "⏳"
STOPPING_ICON = "⌛"  # Stop pressed: the run's last evaluation is on its way
ENDED_ICONS = ("✅", "⏹", "💥", "❌")
PAUSED_ICON = "⏸"  # the run controls' "Paused at step N" (playground/steer.py)


def _alert_icon(node: Node) -> str:
    if node.type != "alert":
        return ""
    body = node.body
    return body.icon or body.body[:1]


def is_train_ended(node: Node) -> bool:
    return _alert_icon(node) in ENDED_ICONS


def is_train_stopping(node: Node) -> bool:
    """Stop pressed: the panel says the run is stopping (or it has already ended)."""
    return _alert_icon(node) == STOPPING_ICON or is_train_ended(node)


def is_train_paused(node: Node) -> bool:
    return _alert_icon(node) == PAUSED_ICON


def is_train_progress(node: Node) -> bool:
    """The student's own run has started: its progress bar (or it already ended)."""
    return node.type == "progress" or is_train_ended(node)


def is_train_feedback(node: Node) -> bool:
    """Anything the live panel says about the run just asked for."""
    return is_train_progress(node) or _alert_icon(node) == QUEUED_ICON


def is_train_idle(node: Node) -> bool:
    """The Train button is enabled again: the run was collected and the page redrawn."""
    return node.key == TRAIN_BUTTON_KEY and not node.body.disabled


# Proposed targets (seconds, at the given percentile): what a student should feel as
# "instant" or "quick". Informative only: a slow number never fails the benchmark.
TARGETS: dict[str, tuple[str, float]] = {
    "home ready": ("p95", 2.0),
    "draw ready": ("p95", 3.0),
    "stroke → prediction": ("p95", 0.3),
    "stroke → bars": ("p95", 0.5),
    "train page ready": ("p95", 2.0),
    "train feedback": ("p95", 1.0),
    "train first progress": ("max", 20.0),
    "stroke → bars, class training": ("p95", 1.0),
    "train pause → paused shown": ("p95", 1.0),
    "train stop → stopping shown": ("p95", 1.0),
    "train stop → ended": ("p95", 5.0),
}
# Ratios measured from the room's stats file (SOFTMAX_PLAYGROUND_STATS): (what, at least or at most, limit)
RATIO_TARGETS = {
    "throughput, all training / one alone": (">=", 0.90),
    "one run's speed, class connected / alone": (">=", 0.90),
}

# Browser student (--browser): CSS selectors of the same things (widget keys become
# `.st-key-<key>`; the canvas lives in an open shadow root that Playwright pierces).
BROWSER_CANVAS = ".st-key-draw_canvas canvas.upper-canvas"
BROWSER_READY_HINT = "text=Draw a digit on the black pad"
BROWSER_PREDICTION = ".st-key-draw-predicted-digit [data-testid='stMetricValue']"
BROWSER_BARS = ".st-key-draw-probs .sp-bar-p"  # the bars' labels: empty until a digit is drawn
BARS_SHOWN_JS = (
    "([selector, count]) => "
    "Array.from(document.querySelectorAll(selector)).filter(e => e.textContent.trim()).length >= count"
)
BROWSER_BAR_COUNT = 10
BROWSER_RESET = ".st-key-draw_canvas button[aria-label='Reset canvas & history']"

# =====================================================================================
# The benchmark. Nothing below knows the app's pages.
# =====================================================================================

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("SOFTMAX_PLAYGROUND_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT_S = 90
METRICS = list(TARGETS)
STOP_METRICS = ("train stop → stopping shown", "train stop → ended")  # nobody presses Stop with --budget-finish
PAUSE_METRICS = ("train pause → paused shown",)  # only with --paused


@dataclass
class Config:
    students: int = 30
    waves: int = 2
    sources: str | None = None  # SOFTMAX_PLAYGROUND_SOURCES for the server; None: inherited
    small_network: bool = False
    measure: float = 12.0  # seconds of each throughput window (one alone, class connected, all training)
    strokes_while_training: int = 2  # digits each student draws while the whole class trains
    max_epochs: int | None = None  # the room's budget (SOFTMAX_PLAYGROUND_MAX_EPOCHS); None: the default
    budget_finish: bool = False  # everyone's run trains to its end (use with a small max_epochs)
    think: float = 1.0  # mean pause between a student's actions
    stroke_pause: float = 0.6  # mean pause between strokes
    arrival_spread: float = 2.0  # students arrive over this many seconds ("together")
    step_timeout: float = 120.0  # any single wait
    session_ttl: float = 5.0  # server.disconnectedSessionTTL: closed tabs are let go soon after a wave
    leave_wait: float = 12.0  # after a wave left, before sampling RSS (sessions and the room let go)
    deadline: float | None = None  # the whole run; None: from the class size
    browser: bool = False
    seed: int = 0
    smoke: bool = False
    trainer: str = "in-process"  # "in-process" | "ray" ("both" is split into the two by main)
    ray_cpus: int = 2  # the benchmark's own local Ray
    ray_kill_drill: bool = False
    store: str | None = None  # SOFTMAX_PLAYGROUND_STORE for the server; None: SQLite in its data folder
    paused: int = 0  # students of each wave who pause their run once it trains and leave it paused

    def wave_deadline(self) -> float:
        if self.deadline is not None:
            return self.deadline / max(self.waves, 1)
        return 300 + self.students * 10 + (self.max_epochs or 0) * self.students * 10

    def server_env(self) -> dict[str, str]:
        env = {"SOFTMAX_PLAYGROUND_RECONNECT_MINUTES": str(self.session_ttl / 60)}
        if self.max_epochs is not None:
            env["SOFTMAX_PLAYGROUND_MAX_EPOCHS"] = str(self.max_epochs)
        if self.store is not None:
            env["SOFTMAX_PLAYGROUND_STORE"] = self.store
        return env


def smoke_config() -> Config:
    return Config(
        students=3,
        waves=2,
        sources="subset",
        small_network=True,
        measure=1.5,
        strokes_while_training=1,
        think=0.1,
        stroke_pause=0.1,
        arrival_spread=0.3,
        step_timeout=90,
        leave_wait=3.0,
        deadline=240,
        smoke=True,
        paused=1,  # one run paused in the room: it holds no core, and Stop ends it like any other
    )


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """The app served as `make run` serves it (`python -m playground.serve`, which warms the room and
    then runs `streamlit run`), on 127.0.0.1; always stopped by `stop()` (use try/finally)."""

    def __init__(
        self,
        sources: str | None,
        extra_env: dict[str, str] | None = None,
        session_ttl: float = 120.0,
        entry: str = "serve",
    ):
        self.entry = entry  # "serve" (python -m playground.serve) or "streamlit" (streamlit run streamlit_app.py)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.sources = sources
        self.extra_env = extra_env or {}
        self.session_ttl = session_ttl
        self.process: subprocess.Popen | None = None
        self.log_path = Path(tempfile.mkstemp(prefix="classroom-streamlit-", suffix=".log")[1])
        self.data_dir = Path(tempfile.mkdtemp(prefix="classroom-data-"))
        self.stats_path = self.data_dir / "room-stats.jsonl"
        self._log = None

    def env(self) -> dict[str, str]:
        env = dict(
            os.environ,
            STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
            SOFTMAX_PLAYGROUND_DATA=str(self.data_dir),
            SOFTMAX_PLAYGROUND_STATS=str(self.stats_path),
            **self.extra_env,
        )
        if self.sources is not None:
            env["SOFTMAX_PLAYGROUND_SOURCES"] = self.sources
        return env

    def prepare(self) -> None:
        """As ``make run`` does: MNIST and the kept default model in the data folder first.

        The run store is fresh (a temporary folder); MNIST and the default model come from this
        machine's cache when they are there (linked and copied), so nobody waits for them.
        """
        from core.data import default_data_dir

        cache = default_data_dir()
        if (cache / "MNIST").is_dir() and not (self.data_dir / "MNIST").exists():
            (self.data_dir / "MNIST").symlink_to(cache / "MNIST", target_is_directory=True)
        for kept in cache.glob("default-model-*.pt"):
            if not (self.data_dir / kept.name).exists():
                shutil.copyfile(kept, self.data_dir / kept.name)
        # as `make run`: the default model is prepared in this process's own trainer, never a cluster's
        prepare_env = {k: v for k, v in self.env().items() if k != "SOFTMAX_PLAYGROUND_RAY"}
        subprocess.run(
            [sys.executable, "-m", "playground.prepare"],
            cwd=ROOT,
            env=prepare_env,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=600,
        )

    def start(self) -> None:
        self.prepare()
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                *(("playground.serve",) if self.entry == "serve" else ("streamlit", "run", "streamlit_app.py")),
                "--server.address",
                "127.0.0.1",
                "--server.port",
                str(self.port),
                "--server.headless",
                "true",
                "--server.disconnectedSessionTTL",
                str(int(self.session_ttl)),
            ],
            cwd=ROOT,
            env=self.env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited early with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"no answer from {self.base_url}/_stcore/health in {SERVER_START_TIMEOUT_S} s")

    def restart(self) -> None:
        """Stop the server and start it again on the same port and data folder (a teacher's restart)."""
        self._stop_process()
        self.start()

    def stop(self) -> None:
        self._stop_process()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def _stop_process(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def stats(self) -> list[dict]:
        """The room's stats lines so far: every job's examples and busy seconds, twice a second."""
        import json

        try:
            lines = self.stats_path.read_text().splitlines()
        except OSError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def memory_kb(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) of the server process in kB; (0, 0) if it is gone."""
        values = {"VmRSS": 0, "VmHWM": 0}
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                name, _, rest = line.partition(":")
                if name in values:
                    values[name] = int(rest.split()[0])
        except (OSError, ValueError, AttributeError):
            pass
        return values["VmRSS"], values["VmHWM"]

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError, AttributeError):
            return 0.0


# --------------------------------------------------------------------------- bookkeeping


@dataclass
class StudentResult:
    name: str
    wave: int
    error: str | None = None
    disconnected: str | None = None
    stats: object | None = None


@dataclass
class Report:
    config: Config
    metrics: dict[str, list[tuple[int, float]]] = field(default_factory=lambda: {m: [] for m in METRICS})
    students: list[StudentResult] = field(default_factory=list)
    memory: list[tuple[str, int, int]] = field(default_factory=list)
    server_cpu: list[tuple[str, float]] = field(default_factory=list)
    browser: dict[str, object] = field(default_factory=dict)
    server_log_tail: str = ""
    server_exit: int | None = None  # the server's exit code if it died during the run
    wall_s: float = 0.0
    client_cpu_s: float = 0.0
    digits_drawn: int = 0
    digits_recognised: int = 0  # the prediction after the digit's last stroke was that digit
    rates: dict[str, float] = field(default_factory=dict)  # images per second, by phase
    budget_finish_s: float | None = None  # with --budget-finish: from the first Train press to the last run's end
    ray_drill: dict[str, object] = field(default_factory=dict)  # --ray-kill-drill's counts and seconds

    def record(self, metric: str, wave: int, seconds: float) -> None:
        self.metrics[metric].append((wave, seconds))

    def ratio(self, name: str) -> float | None:
        parts = {
            "throughput, all training / one alone": ("all training", "one alone"),
            "one run's speed, class connected / alone": ("one, class connected", "one alone"),
        }[name]
        top, bottom = (self.rates.get(p) for p in parts)
        return top / bottom if top and bottom else None

    @property
    def errored(self) -> list[StudentResult]:
        return [s for s in self.students if s.error]

    @property
    def disconnected(self) -> list[StudentResult]:
        return [s for s in self.students if s.disconnected]

    @property
    def shown_metrics(self) -> list[str]:
        """The metrics this configuration measures (with --budget-finish nobody presses Stop)."""
        skipped = (STOP_METRICS if self.config.budget_finish else ()) + (() if self.config.paused else PAUSE_METRICS)
        return [m for m in METRICS if m not in skipped]

    @property
    def empty_metrics(self) -> list[str]:
        return [m for m in self.shown_metrics if not self.metrics[m]]

    @property
    def broken(self) -> bool:
        """What `--smoke` fails on: errors, disconnects, or a metric never measured."""
        return bool(
            self.errored
            or self.disconnected
            or self.empty_metrics
            or self.server_exit is not None
            or (self.config.browser and self.browser.get("error"))
        )

    def format(self) -> str:
        lines = []
        waves = sorted({w for values in self.metrics.values() for w, _ in values})
        head = f"{'metric':<22}{'n':>5}{'p50':>9}{'p95':>9}{'max':>9}   {'target':<14}{'':<8}"
        head += "".join(f"{f'w{w} p50':>9}" for w in waves)
        lines += [head, "-" * len(head)]
        for metric in self.shown_metrics:
            values = [s for _, s in self.metrics[metric]]
            stat, limit = TARGETS[metric]
            if not values:
                lines.append(f"{metric:<22}{0:>5}{'—':>9}{'—':>9}{'—':>9}   {stat} ≤ {limit:g} s  NOT MEASURED")
                continue
            p50, p95, top = percentile(values, 50), percentile(values, 95), max(values)
            verdict = "meets" if {"p50": p50, "p95": p95, "max": top}[stat] <= limit else "misses"
            target = f"{stat} ≤ {limit:g} s"
            row = f"{metric:<22}{len(values):>5}{p50:>9.3f}{p95:>9.3f}{top:>9.3f}   {target:<14}{verdict:<8}"
            for w in waves:
                in_wave = [s for wave, s in self.metrics[metric] if wave == w]
                row += f"{percentile(in_wave, 50):>9.3f}" if in_wave else f"{'—':>9}"
            lines.append(row)
        lines.append("(seconds; targets are proposals, informative only)")
        if self.rates and self.config.budget_finish:
            lines.append("")
            lines.append("training throughput: not measured with --budget-finish (a 1-epoch run ends inside a window)")
        elif self.rates:
            lines.append("")
            lines.append("training throughput (images per second, from the room's stats):")
            for name, rate in self.rates.items():
                lines.append(f"  {name:<52}{rate:>10,.0f}")
            for name, (sense, limit) in RATIO_TARGETS.items():
                value = self.ratio(name)
                if value is None:
                    lines.append(f"  {name:<52}{'—':>10}   {sense} {limit:g}  NOT MEASURED")
                else:
                    ok = value >= limit if sense == ">=" else value <= limit
                    lines.append(f"  {name:<52}{value:>10.2f}   {sense} {limit:g}  {'meets' if ok else 'misses'}")
        if self.ray_drill:
            lines.extend(format_ray_drill(self.ray_drill))
        if self.budget_finish_s is not None:
            lines.append(f"every run of the class finished {self.budget_finish_s:.0f} s after the first Train press")
        if self.browser:
            lines.append("")
            lines.append("one real browser (headless Chromium) on the same server:")
            for name, value in self.browser.items():
                lines.append(f"  {name}: {value:.3f} s" if isinstance(value, float) else f"  {name}: {value}")
        lines.append("")
        lines.append(f"{'server memory':<44}{'VmRSS':>10}{'VmHWM':>10}")
        lines.append(
            f"  (closed tabs are let go after {self.config.session_ttl:g} s: disconnectedSessionTTL and the "
            "room's reconnect window)"
        )
        for label, rss, hwm in self.memory:
            lines.append(f"  {label:<42}{rss / 1024:>7.0f} MB{hwm / 1024:>7.0f} MB")
        if self.server_cpu:
            lines.append(
                "  server CPU time: "
                + ", ".join(f"{label} {cpu:.1f} s" for label, cpu in self.server_cpu)
                + f"; this benchmark's own CPU {self.client_cpu_s:.1f} s (same machine)"
            )
        lines.append("")
        n = len(self.students)
        lines.append(
            f"sessions: {n} students in {len({s.wave for s in self.students})} wave(s), "
            f"{len(self.errored)} errored, {len(self.disconnected)} disconnected; "
            f"{self.wall_s:.0f} s in all"
        )
        if self.server_exit is not None:
            lines.append(f"  the server process exited with code {self.server_exit} during the run")
        for s in self.errored[:10]:
            lines.append(f"  {s.name}: {s.error}")
        for s in self.disconnected[:10]:
            lines.append(f"  {s.name}: disconnected: {s.disconnected}")
        stats = [s.stats for s in self.students if s.stats is not None]
        if self.digits_drawn:
            lines.append(f"digits drawn: {self.digits_drawn}, recognised by the model: {self.digits_recognised}")
        if stats:
            lines.append(
                f"traffic: {sum(s.messages for s in stats):,} messages, {sum(s.bytes for s in stats) / 1e6:.1f} MB "
                f"down; {sum(s.reruns_sent for s in stats):,} reruns and "
                f"{sum(s.auto_reruns_sent for s in stats):,} fragment auto-reruns up; "
                f"{sum(s.ref_hits for s in stats):,} cached-message hits; "
                f"{sum(s.http_requests for s in stats):,} HTTP requests "
                f"({sum(s.http_failures for s in stats)} failed)"
            )
        if self.empty_metrics:
            lines.append("not measured: " + ", ".join(self.empty_metrics))
        return "\n".join(lines)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank-interpolated percentile (the same as numpy's default 'linear')."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * pct / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def images_per_second(stats: list[dict], t0: float, t1: float) -> float | None:
    """Training examples per second between two wall-clock times, summed over every job.

    A job that appears within the window counts from 0; one that left it (ended) counts up
    to its last line.
    """
    window = [line for line in stats if t0 <= line["t"] <= t1]
    if len(window) < 2:
        return None
    start = {job["id"]: job["samples"] for job in window[0]["jobs"]}
    last: dict[str, int] = {}
    for line in window:
        for job in line["jobs"]:
            last[job["id"]] = job["samples"]
    seconds = window[-1]["t"] - window[0]["t"]
    return sum(samples - start.get(job_id, 0) for job_id, samples in last.items()) / seconds


class Rendezvous:
    """Wait until everyone arrived (failed students arrive too, so it never deadlocks)."""

    def __init__(self, expected: int):
        self.expected = expected
        self.arrived = 0
        self.everyone = asyncio.Event()

    def arrive(self) -> None:
        self.arrived += 1
        if self.arrived >= self.expected:
            self.everyone.set()

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.everyone.wait(), timeout)


# --------------------------------------------------------------------------- one student


def _check(client: StreamlitClient) -> None:
    problems = client.app_errors + client.protocol_errors
    if problems:
        raise AppError(f"{client.name}: {problems[0][1]}")


class Student:
    def __init__(self, index: int, wave: int, config: Config, report: Report, base_url: str, phases: dict):
        self.index = index  # -1: the probe
        self.wave = wave
        self.config = config
        self.report = report
        self.base_url = base_url
        self.phases = phases  # Rendezvous by name: "drawn", "solo done", "started", "measured", "done"
        self.rng = random.Random(config.seed * 100_003 + wave * 1_009 + index)
        self.client = StreamlitClient(
            f"w{wave}-s{index + 1:02d}" if index >= 0 else f"w{wave}-probe", timeout=config.step_timeout
        )
        self.result = StudentResult(self.client.name, wave)
        self._arrived: set[str] = set()

    async def pause(self, mean: float) -> None:
        if mean > 0:
            await asyncio.sleep(self.rng.uniform(0.5 * mean, 1.5 * mean))

    def record(self, metric: str, seconds: float) -> None:
        self.report.record(metric, self.wave, seconds)

    def arrive(self, name: str) -> None:
        if name not in self._arrived and name in self.phases:
            self._arrived.add(name)
            self.phases[name].arrive()

    async def wait(self, name: str) -> None:
        await self.phases[name].wait(self.config.wave_deadline())

    async def run(self) -> StudentResult:
        """Arrive, draw, wait while the probe trains beside the connected class, then train together."""
        try:
            await asyncio.sleep(self.rng.uniform(0, self.config.arrival_spread))
            await self.client.connect(self.base_url, page=HOME_PAGE)
            await self.visit_home()
            await self.pause(self.config.think)
            await self.open_draw()
            await self.draw_digits(DIGITS_PER_STUDENT, "stroke → prediction", "stroke → bars")
            self.arrive("drawn")
            await self.wait("solo done")  # the probe measures one run with the whole class connected
            await asyncio.sleep(self.rng.uniform(0, self.config.arrival_spread))
            await self.train_with_the_class()
            _check(self.client)
        except (TimeoutError, ClientError) as error:
            self.result.error = str(error) or type(error).__name__
        except Exception as error:  # a bug in the scenario: report it, do not hide the others
            self.result.error = f"unexpected {error!r}"
        finally:
            for name in ("drawn", "started", "measured", "done"):  # "watched" is the window's to open
                self.arrive(name)
        return self.result

    async def leave(self) -> None:
        await self.wait("done")
        with contextlib.suppress(Exception):
            await self.client.close()
        if self.client.disconnect is not None:
            when, code, reason = self.client.disconnect
            self.result.disconnected = f"code {code}: {reason}"
        self.result.stats = self.client.stats

    async def visit_home(self) -> None:
        run = await self.client.open_page(HOME_PAGE)
        _check(self.client)
        self.record("home ready", run.seconds)

    async def open_draw(self, metric: str | None = "draw ready") -> None:
        run = await self.client.open_page(DRAW_PAGE)
        _check(self.client)
        if not any(is_canvas(n) for n in self.client.nodes()):
            raise ClientError(f"{self.client.name}: the Draw page finished without the canvas")
        if metric:
            self.record(metric, run.seconds)

    async def draw_digits(self, count: int, prediction_metric: str | None, bars_metric: str) -> None:
        client = self.client
        for number, digit in enumerate(self.rng.sample(range(10), count)):
            await self.pause(self.config.think)
            if number:  # the pad is cleared between digits: one more rerun, not measured
                action = await client.set_component_state(CANVAS_KEY, blank_canvas_state(CANVAS_SIZE))
                await client.wait_for_run(action, scope=STROKE_RUN)
            hand = self.rng.random()  # one seed per digit: stroke k redraws the same first k strokes
            total = len(DIGIT_STROKES[digit])
            for strokes in range(1, total + 1):
                rgba, lines = render_digit(
                    digit, size=CANVAS_SIZE, pen=PEN_WIDTH, rng=random.Random(hand), strokes=strokes
                )
                action = await client.set_component_state(CANVAS_KEY, draw_digit_state(rgba, lines, pen=PEN_WIDTH))
                prediction, predicted_at = await client.wait_for(is_prediction, since=action)
                if prediction_metric:
                    self.record(prediction_metric, predicted_at - action.sent_at)
                if strokes == total:
                    self.report.digits_drawn += 1
                    self.report.digits_recognised += predicted_digit(prediction) == str(digit)
                _, bars_at = await client.wait_for(is_bars, since=action)
                self.record(bars_metric, bars_at - action.sent_at)
                await client.wait_for_run(action, scope=STROKE_RUN)
                _check(client)
                await self.pause(self.config.stroke_pause)

    async def start_training(self) -> Action:
        client, config = self.client, self.config
        run = await client.open_page(TRAIN_PAGE)
        _check(client)
        self.record("train page ready", run.seconds)
        if config.small_network:
            for key, value in SMALL_TRAINING:
                await self.pause(config.think / 4)
                action = await client.set_value(key, value)
                await client.wait_for_run(action)
                _check(client)
        pressed = await client.click(TRAIN_BUTTON_KEY)
        _, said_at = await client.wait_for(is_train_feedback, since=pressed)
        self.record("train feedback", said_at - pressed.sent_at)
        _, started_at = await client.wait_for(is_train_progress, since=pressed, timeout=config.wave_deadline())
        self.record("train first progress", started_at - pressed.sent_at)
        return pressed

    async def pause_run(self) -> None:
        client = self.client
        await client.wait_for(lambda node: node.key == PAUSE_BUTTON_KEY or is_train_ended(node))
        if client.element(PAUSE_BUTTON_KEY) is None:
            return  # the run ended before it could be paused
        pause = await client.click(PAUSE_BUTTON_KEY)
        _, said_at = await client.wait_for(is_train_paused, since=pause)
        self.record("train pause → paused shown", said_at - pause.sent_at)

    async def stop_training(self, pressed: Action) -> None:
        """Back on Train: press Stop (or wait for the end with --budget-finish), then the page is idle."""
        client, config = self.client, self.config
        await client.open_page(TRAIN_PAGE)
        _check(client)
        if not config.budget_finish and client.element(STOP_BUTTON_KEY) is not None:
            stop = await client.click(STOP_BUTTON_KEY)
            _, said_at = await client.wait_for(is_train_stopping, since=stop)
            self.record("train stop → stopping shown", said_at - stop.sent_at)
            _, ended_at = await client.wait_for(is_train_ended, since=stop)
            self.record("train stop → ended", ended_at - stop.sent_at)
        await client.wait_for(is_train_ended, since=pressed, timeout=config.wave_deadline())

    async def train_with_the_class(self) -> None:
        """Everyone presses Train at once; while the runs share the machine, draw on Draw; then stop."""
        pressed = await self.start_training()
        if 0 <= self.index < self.config.paused:  # a paused run holds no core: the others' share grows
            await self.pause_run()
        self.arrive("started")
        await self.wait("watched")  # the class's throughput window: everyone's run trains, every tab watches it
        await self.open_draw(metric=None)  # the run keeps training: it belongs to the student, not the page
        await self.draw_digits(self.config.strokes_while_training, None, "stroke → bars, class training")
        self.arrive("measured")
        await self.wait("measured")
        await self.stop_training(pressed)
        self.arrive("done")

    async def train_alone(self, seconds: float, stats_of, label: str) -> None:
        """The probe: one run, its throughput over ``seconds`` once it started, then Stop."""
        pressed = await self.start_training()
        await asyncio.sleep(1.0)  # past the first slice: the epoch's first evaluation is not in the window
        t0 = time.time()
        await asyncio.sleep(seconds)
        rate = images_per_second(stats_of(), t0, time.time())
        if rate:
            self.report.rates[label] = rate
        await self.stop_training(pressed)


# --------------------------------------------------------------------------- one real browser


async def browser_student(base_url: str, timeout_s: float) -> dict[str, object]:
    """One headless Chromium opens Draw, draws one stroke with the mouse, and times what a
    person sees: the canvas, then the ten bars after the pen is lifted."""
    result: dict[str, object] = {}
    if not Path(CHROMIUM).exists():
        return {"error": f"no Chromium at {CHROMIUM}"}
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        return {"error": "Playwright for Python is not installed"}
    profile = tempfile.mkdtemp(prefix="classroom-chromium-")
    timeout_ms = timeout_s * 1000
    try:
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1000},
            )
            try:
                page = await context.new_page()
                start = time.monotonic()
                await page.goto(f"{base_url}/{DRAW_PAGE}", timeout=timeout_ms)
                await page.locator(BROWSER_CANVAS).wait_for(state="visible", timeout=timeout_ms)
                result["browser: time to canvas"] = time.monotonic() - start
                await page.locator(BROWSER_READY_HINT).wait_for(state="visible", timeout=timeout_ms)
                result["browser: time to ready page"] = time.monotonic() - start
                box = await page.locator(BROWSER_CANVAS).bounding_box()
                x = box["x"] + box["width"] * 0.5
                points = [(x, box["y"] + box["height"] * (0.15 + 0.07 * t)) for t in range(11)]  # a "1"
                await page.mouse.move(*points[0])
                await page.mouse.down()
                for px, py in points[1:]:
                    await page.mouse.move(px, py, steps=4)
                await page.mouse.up()
                lifted = time.monotonic()
                await page.wait_for_function(  # a digit instead of the dash shown before a stroke
                    "(selector) => /^[0-9]$/.test((document.querySelector(selector) || {}).textContent?.trim() || '')",
                    arg=BROWSER_PREDICTION,
                    timeout=timeout_ms,
                    polling="raf",
                )
                result["browser: stroke → prediction"] = time.monotonic() - lifted
                await page.wait_for_function(
                    BARS_SHOWN_JS,
                    arg=[BROWSER_BARS, BROWSER_BAR_COUNT],
                    timeout=timeout_ms,
                    polling="raf",
                )
                result["browser: stroke → bars (1st stroke)"] = time.monotonic() - lifted
                result["browser: predicted"] = (await page.locator(BROWSER_PREDICTION).inner_text()).strip()
                # A second digit, after the pad is cleared.
                await page.locator(BROWSER_RESET).click(timeout=timeout_ms)
                await page.wait_for_function(
                    "(selector) => !Array.from(document.querySelectorAll(selector)).some(e => e.textContent.trim())",
                    arg=BROWSER_BARS,
                    timeout=timeout_ms,
                    polling="raf",
                )
                cx, cy = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5
                ring = [
                    (
                        cx + box["width"] * 0.22 * math.sin(2 * math.pi * k / 40),
                        cy - box["height"] * 0.33 * math.cos(2 * math.pi * k / 40),
                    )
                    for k in range(42)
                ]  # a "0"
                await page.mouse.move(*ring[0])
                await page.mouse.down()
                for px, py in ring[1:]:
                    await page.mouse.move(px, py, steps=2)
                await page.mouse.up()
                lifted = time.monotonic()
                await page.wait_for_function(
                    BARS_SHOWN_JS,
                    arg=[BROWSER_BARS, BROWSER_BAR_COUNT],
                    timeout=timeout_ms,
                    polling="raf",
                )
                result["browser: stroke → bars (2nd digit)"] = time.monotonic() - lifted
                result["browser: predicted 2nd"] = (await page.locator(BROWSER_PREDICTION).inner_text()).strip()
            finally:
                await context.close()
    except Exception as error:  # report it; the protocol students' numbers still stand
        result["error"] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return result


# --------------------------------------------------------------------------- the classroom


async def run_wave(
    wave: int,
    config: Config,
    report: Report,
    server: AppServer,
    while_training: Callable[[int, AppServer], Awaitable[None]] | None = None,
) -> None:
    """One class: a probe run alone; the class arrives and draws; the probe again with the class
    connected; then everyone trains at once (and draws meanwhile); then everyone leaves."""
    cpu_before = server.cpu_seconds()
    names = ("drawn", "solo done", "started", "watched", "measured", "done")
    phases = {name: Rendezvous(config.students) for name in names}
    phases["solo done"] = Rendezvous(1)
    phases["watched"] = Rendezvous(1)  # closed by the throughput window, before the class goes drawing
    phases["measured"] = Rendezvous(config.students + 1)  # the students, and the class's throughput window
    probe = Student(-1, wave, config, report, server.base_url, {"solo done": phases["solo done"]})
    students = [Student(i, wave, config, report, server.base_url, phases) for i in range(config.students)]
    if wave == 1:  # one run alone on an idle server: the reference for every ratio
        await probe.client.connect(server.base_url, page=HOME_PAGE)
        await probe.train_alone(config.measure, server.stats, "one alone")
    runs = [asyncio.create_task(s.run(), name=s.client.name) for s in students]
    browser = (
        asyncio.create_task(browser_student(server.base_url, config.step_timeout))
        if config.browser and wave == 1
        else None
    )

    async def sample_when(name: str, label: str) -> None:
        await phases[name].wait(config.wave_deadline())
        rss, hwm = server.memory_kb()
        report.memory.append((f"wave {wave}: {config.students} connected, {label}", rss, hwm))

    async def probe_beside_the_class() -> None:
        await phases["drawn"].wait(config.wave_deadline())
        if wave == 1:
            await probe.train_alone(config.measure, server.stats, "one, class connected")
        probe.arrive("solo done")

    async def measure_the_class() -> None:
        """All runs training, every student on Train watching their own curve: the room's throughput."""
        try:
            await phases["started"].wait(config.wave_deadline())
            await asyncio.sleep(1.0)  # past the runs' first slices and evaluations
            t0 = time.time()
            await asyncio.sleep(config.measure)
            rate = images_per_second(server.stats(), t0, time.time())
            if rate and wave == 1:
                report.rates["all training"] = rate
            if while_training is not None:  # e.g. the Ray kill drill, before anybody presses Stop
                await while_training(wave, server)
        finally:
            phases["watched"].arrive()
            phases["measured"].arrive()  # nobody stops before the window closed

    first_press = time.monotonic()
    helpers = [
        asyncio.create_task(sample_when("drawn", "after Draw")),
        asyncio.create_task(sample_when("started", "all training")),
        asyncio.create_task(probe_beside_the_class()),
        asyncio.create_task(measure_the_class()),
    ]
    done, pending = await asyncio.wait(runs, timeout=config.wave_deadline())
    if config.budget_finish and wave == 1:
        report.budget_finish_s = time.monotonic() - first_press
    for task in pending:
        task.cancel()
    for student, task in zip(students, runs):
        if task in pending:
            student.result.error = f"still running at the wave's deadline ({config.wave_deadline():.0f} s)"
            for name in names:
                if name != "watched":
                    student.arrive(name)
    await asyncio.gather(*pending, return_exceptions=True)
    await asyncio.gather(*helpers, return_exceptions=True)
    await asyncio.gather(*(s.leave() for s in students), return_exceptions=True)
    with contextlib.suppress(Exception):
        await probe.client.close()
    report.students.extend(s.result for s in students)
    if browser is not None:
        report.browser = await browser
    await asyncio.sleep(config.leave_wait)
    rss, hwm = server.memory_kb()
    report.memory.append((f"wave {wave}: left (+{config.leave_wait:g} s)", rss, hwm))
    report.server_cpu.append((f"wave {wave}", server.cpu_seconds() - cpu_before))


async def run_classroom(
    config: Config,
    extra_env: dict[str, str] | None = None,
    while_training: Callable[[int, AppServer], Awaitable[None]] | None = None,
) -> Report:
    """Start the app, run the waves, stop the app (always); return what was measured."""
    report = Report(config)
    server = AppServer(config.sources, {**config.server_env(), **(extra_env or {})}, session_ttl=config.session_ttl)
    start = time.monotonic()
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    try:
        await asyncio.to_thread(server.start)
        rss, hwm = server.memory_kb()
        report.memory.append(("start (idle, nobody connected)", rss, hwm))
        for wave in range(1, config.waves + 1):
            await run_wave(wave, config, report, server, while_training)
    finally:
        report.server_log_tail = server.log_tail()
        if server.process is not None and server.process.poll() is not None:
            report.server_exit = server.process.returncode
        server.stop()
        report.wall_s = time.monotonic() - start
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        report.client_cpu_s = (cpu.ru_utime - cpu_start.ru_utime) + (cpu.ru_stime - cpu_start.ru_stime)
    return report


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=None, help="students per wave (default 30; 3 with --smoke)")
    parser.add_argument("--waves", type=int, default=None, help="waves of students, one after the other (default 2)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="3 students, shipped subset, a small network, short pauses; exit 1 if anything broke",
    )
    parser.add_argument(
        "--sources",
        default=None,
        help="SOFTMAX_PLAYGROUND_SOURCES for the server (default: inherited; 'subset' with --smoke)",
    )
    parser.add_argument(
        "--small-network",
        action="store_true",
        default=None,
        help="train 784-32-10 (cheap epochs) instead of the page's default network",
    )
    parser.add_argument("--measure", type=float, default=None, help="seconds of each throughput window (default 12)")
    parser.add_argument(
        "--max-epochs", type=int, default=None, help="the room's budget per run (SOFTMAX_PLAYGROUND_MAX_EPOCHS), e.g. 1"
    )
    parser.add_argument(
        "--budget-finish",
        action="store_true",
        default=None,
        help="let every run train to its end instead of pressing Stop (with --max-epochs 1)",
    )
    parser.add_argument("--think", type=float, default=None, help="mean pause between actions, seconds (default 1)")
    parser.add_argument(
        "--arrival-spread",
        type=float,
        default=None,
        help="students arrive (and go to Train) within this many seconds (default 5)",
    )
    parser.add_argument("--step-timeout", type=float, default=None, help="limit of any single wait (default 120 s)")
    parser.add_argument("--deadline", type=float, default=None, help="limit of the whole run, seconds")
    parser.add_argument("--browser", action="store_true", help="add one real headless Chromium student in wave 1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--trainer",
        choices=("in-process", "ray", "both"),
        default="in-process",
        help="who trains the runs: the server's own threads, Ray worker actors, or both one after the other",
    )
    parser.add_argument("--ray-cpus", type=int, default=2, help="CPUs of the benchmark's local Ray (default 2)")
    parser.add_argument(
        "--ray-kill-drill",
        action="store_true",
        help="with --trainer ray: SIGKILL a Ray worker while the class trains; count runs lost, time them back",
    )
    parser.add_argument(
        "--paused",
        type=int,
        default=None,
        help="students of each wave who pause their run once it trains and leave it paused while the class trains"
        " (default 0; 1 with --smoke)",
    )
    parser.add_argument(
        "--store",
        default=None,
        help="the server's run store (SOFTMAX_PLAYGROUND_STORE), e.g. postgresql://user@127.0.0.1:5432/db; "
        "default: SQLite in the server's temporary data folder",
    )
    args = parser.parse_args(argv)
    config = smoke_config() if args.smoke else Config()
    for name in (
        "students",
        "waves",
        "sources",
        "small_network",
        "measure",
        "max_epochs",
        "budget_finish",
        "think",
        "arrival_spread",
        "step_timeout",
        "deadline",
    ):
        value = getattr(args, name)
        if value is not None:
            setattr(config, name, value)
    config.browser, config.seed = args.browser, args.seed
    config.trainer, config.ray_cpus, config.ray_kill_drill = args.trainer, args.ray_cpus, args.ray_kill_drill
    config.store = args.store
    if args.paused is not None:
        config.paused = args.paused
    if not 0 <= config.paused <= (config.students or 0):
        parser.error("--paused must be between 0 and --students")
    if config.store is not None and not config.store.startswith(("postgresql://", "postgres://")):
        parser.error("--store takes a postgresql:// address (SQLite is the default)")
    if config.ray_kill_drill and config.trainer == "in-process":
        parser.error("--ray-kill-drill needs --trainer ray (or both)")
    if config.students < 1 or config.waves < 1:
        parser.error("--students and --waves must be at least 1")
    return config


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--kill-drill" in argv:  # the embedded kill drill, with its own options (bench/kill_drill.py)
        from bench import kill_drill

        return kill_drill.main([arg for arg in argv if arg != "--kill-drill"])
    config = parse_args(argv)
    sources = config.sources if config.sources is not None else os.environ.get("SOFTMAX_PLAYGROUND_SOURCES", "(all)")
    print(
        f"classroom: {config.students} students × {config.waves} wave(s), data sources {sources}, "
        f"{'small network' if config.small_network else 'default settings'}, windows of {config.measure:g} s, "
        f"{'budget ' + str(config.max_epochs) + ' epoch(s), ' if config.max_epochs else ''}"
        f"think {config.think:g} s{', plus one browser' if config.browser else ''}"
        f"{', store ' + config.store if config.store else ''}"
        f"{f', {config.paused} paused run(s) a wave' if config.paused else ''}",
        flush=True,
    )
    if config.trainer != "in-process":
        return main_with_ray(config)
    try:
        report = asyncio.run(run_classroom(config))
    except RuntimeError as error:  # the server did not start: nothing was measured
        print(f"classroom: {error}", file=sys.stderr)
        return 1
    print()
    print(report.format())
    if report.broken:
        if report.errored or report.disconnected:
            print("\nserver log (last lines):\n" + report.server_log_tail)
        if config.smoke:
            print("\nsmoke: something broke (see above)", file=sys.stderr)
            return 1
    return 0


# --------------------------------------------------------------------------- the Ray trainer

RAY_DRILL_WAIT_S = 120.0  # how long the drill waits for a killed worker's runs to train again
THROUGHPUT_RATIO_TARGET = 0.90  # the Ray trainer against the in-process one, same class, same cores


@contextlib.contextmanager
def local_ray(num_cpus: int):
    """A Ray of this benchmark's process (its GCS, raylet and workers end with it); yields its address.

    The app attaches by address, so its detached worker actors are this Ray's, and a drill can
    find and kill them from here.
    """
    import ray

    from core.trainers import ray_trainer

    ray_trainer.start_local(num_cpus)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def ray_kill_drill(store_path: str | Path, wait_s: float = RAY_DRILL_WAIT_S) -> dict[str, object]:
    """SIGKILL the Ray worker holding the most runs; count the runs it held that were lost and
    time each until it trains again (a snapshot past its last one, not queued) or has ended.

    "Back" is when the trainer serves the run again; the student's tab shows it at the room's
    next poll (0.25 s) and push.
    """
    import signal

    from core.store import open_store
    from core.trainers.ray_trainer import RayTrainer

    trainer = RayTrainer("", store_path)  # this process is already a driver of the cluster
    load = trainer.load()
    victim = max(sorted(load), key=lambda name: load[name])
    held = [run_id for run_id in trainer.running() if trainer.where(run_id) == victim]
    before = trainer.snapshots(held)
    pid = trainer.worker_pids()[victim]
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    back: dict[str, float] = {}
    while len(back) < len(held) and time.monotonic() - killed_at < wait_s:
        for run_id, snap in trainer.snapshots([r for r in held if r not in back]).items():
            last = before.get(run_id)
            if snap.done or (snap.status != "queued" and (last is None or snap.version > last.version)):
                back[run_id] = time.monotonic() - killed_at
        time.sleep(0.1)
    store = open_store(store_path)
    try:
        rows = {run_id: store.get_run(run_id) for run_id in held}
    finally:
        store.close()
    lost = [run_id for run_id in held if run_id not in back and rows[run_id] is None]
    failed = [run_id for run_id in held if rows[run_id] is not None and rows[run_id].status == "failed"]
    return {
        "worker": victim,
        "pid": pid,
        "runs held": len(held),
        "back": sorted(back.values()),
        "not back": len(held) - len(back),
        "failed": len(failed),
        "lost": len(lost),
    }


def format_ray_drill(drill: dict[str, object]) -> list[str]:
    seconds = drill["back"]
    timing = f"back after p50 {percentile(seconds, 50):.1f} s, max {max(seconds):.1f} s" if seconds else "none back"
    return [
        "",
        f"Ray kill drill: SIGKILLed {drill['worker']} (pid {drill['pid']}) holding {drill['runs held']} runs; "
        f"{timing}; {drill['not back']} not back within {RAY_DRILL_WAIT_S:g} s, {drill['failed']} ended failed, "
        f"{drill['lost']} lost (target 0)",
    ]


def main_with_ray(config: Config) -> int:
    """--trainer ray | both: the class on a local Ray (after the in-process class, for both)."""
    reports: dict[str, Report] = {}
    drills: list[dict[str, object]] = []

    async def drill(wave: int, server: AppServer) -> None:
        if wave == 1:
            store_path = config.store or os.environ.get("SOFTMAX_PLAYGROUND_STORE") or server.data_dir / "runs.db"
            drills.append(await asyncio.to_thread(ray_kill_drill, store_path))

    try:
        if config.trainer == "both":
            reports["in-process"] = asyncio.run(run_classroom(config))
            print("\n[in-process]\n" + reports["in-process"].format(), flush=True)
        with local_ray(config.ray_cpus) as address:
            env = {"SOFTMAX_PLAYGROUND_RAY": address}
            reports["ray"] = asyncio.run(run_classroom(config, env, drill if config.ray_kill_drill else None))
    except RuntimeError as error:  # the server did not start: nothing was measured
        print(f"classroom: {error}", file=sys.stderr)
        return 1
    if drills:
        reports["ray"].ray_drill = drills[0]
    print("\n[ray]\n" + reports["ray"].format())
    if "in-process" in reports:
        print(format_trainer_comparison(reports["in-process"], reports["ray"]))
    if any(r.broken for r in reports.values()) and config.smoke:
        print("\nsmoke: something broke (see above)", file=sys.stderr)
        return 1
    return 0


def format_trainer_comparison(local: Report, ray_report: Report) -> str:
    mine, theirs = ray_report.rates.get("all training"), local.rates.get("all training")
    lines = ["", "the same class on both trainers (images per second, all training):"]
    lines.append(f"  {'in-process':<52}{theirs or 0:>10,.0f}")
    lines.append(f"  {'ray':<52}{mine or 0:>10,.0f}")
    if mine and theirs:
        ratio = mine / theirs
        verdict = "meets" if ratio >= THROUGHPUT_RATIO_TARGET else "misses"
        lines.append(
            f"  {'throughput, ray / in-process':<52}{ratio:>10.2f}   >= {THROUGHPUT_RATIO_TARGET:g}  {verdict}"
        )
    else:
        lines.append("  throughput, ray / in-process: NOT MEASURED")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
