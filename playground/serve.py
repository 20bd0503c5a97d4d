"""Start the server warm: ``make run`` runs ``python -m playground.serve [streamlit options]``.

``streamlit run streamlit_app.py`` works as well, but then the first visitor after each start
waits while the server imports PyTorch, pandas and plotly, loads MNIST and the default model
(about 2 s on a 2-core laptop, most of it importing PyTorch). Here the server's own process does
that first and then hands over to Streamlit's command line with the same options, so the room is
ready before anybody connects.

    python -m playground.serve --server.address 0.0.0.0 --server.port 8501

It also sets up the server's log (``configure_logging``): one line per run started, stopped,
finished, failed, resumed or interrupted, with the student's short id and the part that handled
it, and every error with its traceback, on stderr (``SOFTMAX_PLAYGROUND_LOG_LEVEL``, default INFO).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path

APP_SCRIPT = Path(__file__).resolve().parent.parent / "streamlit_app.py"
DEFAULT_MODEL_WAIT_S = 60.0  # loading takes milliseconds; only a first training takes longer
LOG_LEVEL_ENV = "SOFTMAX_PLAYGROUND_LOG_LEVEL"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
APP_LOGGERS = ("core", "playground")  # the app's own; Streamlit keeps its own log


def configure_logging(stream=None) -> logging.Handler:
    """The app's loggers to ``stream`` (stderr) at the configured level; returns the handler."""
    level_name = os.environ.get(LOG_LEVEL_ENV, "INFO").strip().upper() or "INFO"
    level = logging.getLevelName(level_name)
    if not isinstance(level, int):
        level = logging.INFO
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    for name in APP_LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, "softmax_playground", False)]:
            logger.removeHandler(old)  # configured twice (tests): one line per event, not two
        handler.softmax_playground = True
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    return handler


_started = threading.Event()  # warm() ran or runs in this process


def warm(wait_s: float = DEFAULT_MODEL_WAIT_S) -> dict[str, float]:
    """Do what the first page run would do: imports, MNIST, the default model, a first figure.
    Returns the seconds each step took."""
    _started.set()
    took: dict[str, float] = {}
    started = time.perf_counter()

    def step(name: str) -> None:
        nonlocal started
        now = time.perf_counter()
        took[name] = now - started
        started = now

    import torch  # noqa: F401 - the import is the work

    import core.insight  # noqa: F401
    import playground.draw  # noqa: F401

    step("imports")
    from playground import i18n
    from playground.figures import softmax as figures

    with i18n.using(i18n.DEFAULT):  # no page, so no visitor's language to look up
        figures.probs_bar_figure([0.5, 0.5]).to_plotly_json()  # plotly builds its validators on first use
        figures.walkthrough_table(_example_walkthrough())
    step("figures")
    from playground.room import get_room

    room = get_room()
    try:
        room.mnist()
    except Exception:  # the pages say what is missing; the server starts all the same
        logging.getLogger("playground.serve").warning("MNIST could not be loaded at start", exc_info=True)
    step("mnist")
    deadline = time.monotonic() + wait_s
    while room.default_model.state().status not in ("ready", "failed") and time.monotonic() < deadline:
        time.sleep(0.05)
    step("default model")
    if room.trainer_kind != "in-process":  # a cluster's workers start now, not at the first Train press
        try:
            _ = room.trainer  # the property starts it
        except Exception:  # the pages say so when a student trains; the server starts all the same
            logging.getLogger("playground.serve").exception("the %s trainer could not be started", room.trainer_kind)
        step("trainer")
    return took


def warm_in_background() -> None:
    """Under plain ``streamlit run streamlit_app.py`` nothing of the app runs before the first
    visitor arrives (Streamlit has no start-up hook for a script). The first page run calls this:
    the rest of the warm-up (the Draw path's imports, a first figure, MNIST, the default model)
    goes on in a thread while that page is drawn, so the pages opened next find it done. Once per
    process; nothing when ``python -m playground.serve`` already warmed it."""
    if _started.is_set():
        return
    _started.set()
    threading.Thread(target=warm, kwargs={"wait_s": 0.0}, name="warm-up", daemon=True).start()


def _example_walkthrough():
    from core.softmax import walkthrough

    return walkthrough([0.2, 0.1, -0.1], 0)


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    logging.getLogger("playground.serve").info("warming the server (process %d)", os.getpid())
    warm()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP_SCRIPT), *(sys.argv[1:] if argv is None else argv)]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
