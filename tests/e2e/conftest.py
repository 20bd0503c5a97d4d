"""Fixtures for real-browser tests: `streamlit run` on a free port and headless Chromium via Playwright.

- `streamlit_server` (session scope): the app on 127.0.0.1 with the shipped MNIST subset, a fresh
  data folder and the teacher passcode `helpers.TEACHER_PASSCODE`; a `helpers.Server` (`.url`).
- `short_reconnect_server` (session scope, started only by the test that needs it): the same app
  with a 3 s reconnect window, so a run whose student stays away is stopped within seconds.
- `browser` (session scope): Debian's /usr/bin/chromium (never `playwright install`), each
  context with a fresh profile. Without that browser (or Playwright) the test is skipped and
  says why — never passed.
- `new_context(**options)`: a fresh browser context (a browser of its own: its own localStorage
  and cookies, so its own student), 1366×768 and English unless told otherwise; closed after the test.
- `context` / `page`: one such context and a tab in it.

Browser tests are marked `@pytest.mark.browser`; `make test-fast` leaves them out.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DESKTOP, start_server, stop_server

RECONNECT_MINUTES = 0.05  # the short_reconnect_server's window: 3 s


@pytest.fixture(scope="session")
def streamlit_server():
    """The app with the room's default limits (the one most tests use)."""
    server = start_server("main")
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def short_reconnect_server():
    """The app with a reconnect window of 3 s (`SOFTMAX_PLAYGROUND_RECONNECT_MINUTES`):
    a student away longer loses the run's training."""
    server = start_server("reconnect", SOFTMAX_PLAYGROUND_RECONNECT_MINUTES=str(RECONNECT_MINUTES))
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's `chromium` package); browser test not run")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (requirements-dev.txt); browser test not run")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures know at teardown whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def new_context(browser, request):
    """Make fresh browser contexts (another student, a phone, the teacher); all closed after the test.

    When the test failed, every tab still open is saved to artifacts/failed_<test>_<n>.png first,
    and what the tabs logged (console messages, uncaught page errors, crashes) to failed_<test>.log.
    """
    made = []
    logged: list[str] = []

    def log_tab(tab) -> None:
        name = f"tab {len(logged)}"
        tab.on("console", lambda message: logged.append(f"{name} console {message.type}: {message.text}"))
        tab.on("pageerror", lambda error: logged.append(f"{name} page error: {error}"))
        tab.on("crash", lambda _: logged.append(f"{name} crashed"))
        tab.on("framenavigated", lambda frame: frame.parent_frame or logged.append(f"{name} at {frame.url}"))

    def make(**options):
        options = {"viewport": dict(DESKTOP), "locale": "en-US", **options}
        context = browser.new_context(**options)
        context.set_default_timeout(30_000)
        context.on("page", log_tab)
        made.append(context)
        return context

    yield make
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        tabs = [tab for context in made for tab in context.pages if not tab.is_closed()]
        for number, tab in enumerate(tabs):
            try:
                tab.screenshot(path=str(ARTIFACTS / f"failed_{request.node.name}_{number}.png"))
            except Exception:  # a tab that cannot be drawn any more: the others still are
                pass
        (ARTIFACTS / f"failed_{request.node.name}.log").write_text("\n".join(logged) + "\n", encoding="utf-8")
    for context in made:
        try:
            context.close()
        except Exception:  # already closed by the test
            pass


@pytest.fixture
def context(new_context):
    return new_context()


@pytest.fixture
def page(context):
    """A fresh tab (Playwright sync API) in a fresh context."""
    return context.new_page()


@pytest.fixture
def artifacts_dir() -> Path:
    """tests/e2e/artifacts/: screenshots and server logs kept after the run (make clean removes them)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
