"""What the browser tests share: starting `streamlit run`, waiting on Streamlit's own markers, reading the page.

Waits are on conditions the page shows (an element, Streamlit's script state on `stApp`), never
fixed sleeps. Texts come from the English catalogue (`en(key)`) where the app has a key for them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.classroom import CHROMIUM, CHROMIUM_ARGS  # noqa: F401 (the browser tests' Chromium: the benchmarks' own)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DOCS_IMAGES = ROOT / "docs" / "img"
SERVER_START_TIMEOUT_S = 90
TEACHER_PASSCODE = "e2e-teacher-7Qx2-passcode"  # what the test servers are started with
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
FIRST_VISIT_MS = 180_000  # a cold page: MNIST loaded, torch imported, the default model trained once

# The page path of each page (Home is "/"), in the lecture's order.
PAGE_PATHS = ("", "Softmax_Lab", "MNIST_Data", "Train", "Momentum", "Draw", "Your_Own_Data", "Teacher")

# Opened at /<Page>, Streamlit's frontend first probes /<Page>/_stcore/health and host-config
# (404) before it finds the server's root: its own base-path discovery, not an error of the app.
_BASE_PATH_PROBE = re.compile(r"/[A-Za-z_]+/_stcore/(health|host-config)$")


# --------------------------------------------------------------------------- the server


@dataclass
class Server:
    """A `streamlit run streamlit_app.py` on 127.0.0.1 with its own data folder."""

    url: str
    passcode: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    def __str__(self) -> str:
        return self.url

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _python() -> str:
    venv_python = ROOT / ".venv" / "bin" / "python"
    return str(venv_python) if venv_python.exists() else sys.executable


def wait_for_health(base_url: str, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)  # polling the health endpoint until the deadline
    raise RuntimeError(f"streamlit did not answer {base_url}/_stcore/health within {timeout_s} s")


def start_server(name: str, **room_env: str) -> Server:
    """Start the app with the shipped MNIST subset, a fresh data folder, the test passcode and ``room_env``.

    Other ``SOFTMAX_PLAYGROUND_*`` variables of the calling shell are left out: the room's limits
    are the defaults unless a test asks for others.
    """
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix=f"softmax-playground-e2e-{name}-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOFTMAX_PLAYGROUND_")}
    env.update(
        SOFTMAX_PLAYGROUND_SOURCES="subset",
        SOFTMAX_PLAYGROUND_DATA=str(data_dir),
        SOFTMAX_PLAYGROUND_TEACHER_PASSCODE=TEACHER_PASSCODE,
        STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
        **room_env,
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / f"streamlit_{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                _python(),
                "-m",
                "streamlit",
                "run",
                "streamlit_app.py",
                "--server.address",
                "127.0.0.1",
                "--server.port",
                str(port),
                "--server.headless",
                "true",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", TEACHER_PASSCODE, data_dir, log_path, process)
    try:
        wait_for_health(server.url, process, SERVER_START_TIMEOUT_S)
    except BaseException:
        stop_server(server)
        raise
    return server


def stop_server(server: Server) -> None:
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    shutil.rmtree(server.data_dir, ignore_errors=True)


# --------------------------------------------------------------------------- texts


def en(key: str, **params) -> str:
    """The English catalogue's text for ``key`` (raw: markdown marks such as ** are kept)."""
    from playground.i18n import plain, using

    with using("en"):
        return plain(key, **params)


def unmarked(markdown: str) -> str:
    """The text a reader sees of a simple catalogue line: without ** and backticks."""
    return markdown.replace("**", "").replace("`", "")


# --------------------------------------------------------------------------- the page


def watch_problems(page) -> list[str]:
    """Uncaught page errors and console errors of ``page`` from now on (Streamlit's base-path probes left out)."""
    problems: list[str] = []

    def on_console(message) -> None:
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        if "404" in message.text and _BASE_PATH_PROBE.search(url):
            return
        problems.append(f"console error: {message.text} ({url})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    return problems


def settled(page, timeout: float = 60_000) -> None:
    """Until Streamlit says no script run (of the page or a fragment) is going on."""
    page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for(state="attached", timeout=timeout)


def visible(page, selector: str):
    """The first visible match: while a fragment reruns Streamlit may keep a stale, hidden copy."""
    return page.locator(f"{selector} >> visible=true").first


def exceptions(page):
    return page.locator("[data-testid=stException]")


def table_rows(page, key: str) -> tuple[list[str], list[list[str]]]:
    """(header cells, body rows) of the `tables.show` table in container ``key``, as the reader sees them."""
    table = page.locator(f".st-key-{key} table.sp-table")
    table.wait_for(timeout=30_000)
    return table.evaluate("""(table) => [
        [...table.querySelectorAll('thead th')].map(c => c.innerText.trim()),
        [...table.querySelectorAll('tbody tr')].map(r => [...r.querySelectorAll('td')].map(c => c.innerText.trim())),
    ]""")


CELL_AUDIT_JS = """() => [...document.querySelectorAll('table.sp-table td, table.sp-table th')]
    .filter(c => c.getClientRects().length > 0)
    .map(c => {
        const owner = c.closest('[class*="st-key-"]');
        const key = owner ? [...owner.classList].find(k => k.startsWith('st-key-')) : '(no key)';
        return {table: key, tag: c.tagName, text: c.innerText, scroll: c.scrollWidth, client: c.clientWidth,
                numeric: c.tagName === 'TD' && getComputedStyle(c).textAlign === 'right'};
    })"""


# A table wider than its place scrolls sideways instead of cutting cells: fine on a phone, but on
# a laptop's screen every column must be in view.
SCROLLED_TABLES_JS = """() => [...document.querySelectorAll('.sp-table-wrap')]
    .filter(w => w.getClientRects().length > 0 && w.scrollWidth > w.clientWidth + 1)
    .map(w => {
        const owner = w.closest('[class*="st-key-"]');
        const key = owner ? [...owner.classList].find(k => k.startsWith('st-key-')) : '(no key)';
        return {table: key, tag: 'scrolls sideways', text: '', scroll: w.scrollWidth, client: w.clientWidth};
    })"""


def clipped_cells(page, scrolling_ok: bool = False) -> tuple[int, list[dict]]:
    """(how many table cells are shown, the ones whose text is cut or a number cell that is empty,
    and, unless ``scrolling_ok``, tables that do not fit their place)."""
    cells = page.evaluate(CELL_AUDIT_JS)
    bad = [c for c in cells if c["scroll"] > c["client"] + 1 or (c["numeric"] and not c["text"].strip())]
    if not scrolling_ok:
        bad += page.evaluate(SCROLLED_TABLES_JS)
    return len(cells), bad


# --------------------------------------------------------------------------- pictures


def screenshot(page, name: str, docs_name: str | None = None, **options) -> Path:
    """Into tests/e2e/artifacts; with UPDATE_SCREENSHOTS=1 also into docs/img/<docs_name>."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), **options)
    if docs_name and os.environ.get("UPDATE_SCREENSHOTS"):
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMAGES / docs_name)
    return path


# --------------------------------------------------------------------------- runs


PROGRESS = re.compile(r"epoch (\d+)/(\d+) · batch ([\d,]+)/([\d,]+)")


def progress_step(page) -> tuple[int, int]:
    """(steps done, epochs) read from the visible progress bar of a running run."""
    text = visible(page, "[data-testid=stProgress]").inner_text(timeout=30_000)
    match = PROGRESS.search(text)
    assert match, f"no progress in {text!r}"
    epoch, epochs, batch, batches = (int(g.replace(",", "")) for g in match.groups())
    return (epoch - 1) * batches + batch, epochs


def wait_for_progress_beyond(page, step: int, timeout_s: float = 60) -> int:
    """Until the visible progress bar shows more than ``step`` steps done; returns the new count."""
    deadline = time.monotonic() + timeout_s
    seen, bar_seen = step, False
    while time.monotonic() < deadline:
        bar = page.locator("[data-testid=stProgress] >> visible=true")
        if bar.count():
            bar_seen = True
            try:
                seen, _ = progress_step(page)
            except Exception:  # the bar was replaced between reading and parsing: read again
                seen = step
            if seen > step:
                return seen
        page.wait_for_timeout(250)  # polling the page until the deadline
    if not bar_seen:
        shown = (
            page.locator("[data-testid=stMain]").inner_text(timeout=5_000)[:300]
            if page.locator("[data-testid=stMain]").count()
            else "(no page drawn at all)"
        )
        raise AssertionError(f"no progress bar for {timeout_s} s (wanted more than {step} steps); the page: {shown!r}")
    raise AssertionError(f"the progress stayed at {seen} steps (wanted more than {step}) for {timeout_s} s")


def wait_until(page, condition, what: str, timeout_s: float = 60):
    """Poll ``condition()`` (page reads) until it returns something true; returns that value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception:  # an element replaced while it was read: read again
            value = None
        if value:
            return value
        page.wait_for_timeout(250)  # polling the page until the deadline
    raise AssertionError(f"not within {timeout_s} s: {what}")


def stop_run(page, prefix: str = "train-w-") -> None:
    """Press the run's Stop button if it is still there and wait for the stopped (or ended) status."""
    if page.is_closed():
        return
    shown = page.locator(f".st-key-{prefix}stop button >> visible=true")
    try:
        if shown.count():
            shown.first.click(timeout=10_000)
        elif page.locator(f".st-key-{prefix}stop button").count():  # in a tab not shown now
            page.locator(f".st-key-{prefix}stop button").first.dispatch_event("click", timeout=10_000)
    except Exception:  # it ended between the check and the click
        pass
    page.locator(f".st-key-{prefix}stop").wait_for(state="detached", timeout=60_000)
