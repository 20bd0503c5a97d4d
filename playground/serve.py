"""Start the server warm: ``make run`` runs ``python -m playground.serve [streamlit options]``.

``streamlit run streamlit_app.py`` works as well, but then the first visitor after each start
waits while the server imports PyTorch, pandas and plotly, loads MNIST and the default model
(about 2 s on a 2-core laptop, most of it importing PyTorch). Here the server's own process does
that first and then hands over to Streamlit's command line with the same options, so the room is
ready before anybody connects.

    python -m playground.serve --server.address 0.0.0.0 --server.port 8501
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

APP_SCRIPT = Path(__file__).resolve().parent.parent / "streamlit_app.py"
DEFAULT_MODEL_WAIT_S = 60.0  # loading takes milliseconds; only a first training takes longer


def warm(wait_s: float = DEFAULT_MODEL_WAIT_S) -> dict[str, float]:
    """Do what the first page run would do: imports, MNIST, the default model, a first figure.
    Returns the seconds each step took."""
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
        pass
    step("mnist")
    deadline = time.monotonic() + wait_s
    while room.default_model.state().status not in ("ready", "failed") and time.monotonic() < deadline:
        time.sleep(0.05)
    step("default model")
    if room.trainer_kind != "in-process":  # a cluster's workers start now, not at the first Train press
        try:
            _ = room.trainer  # the property starts it
        except Exception:  # the pages say so when a student trains; the server starts all the same
            logging.getLogger(__name__).exception("the %s trainer could not be started", room.trainer_kind)
    step("trainer")
    return took


def _example_walkthrough():
    from core.softmax import walkthrough

    return walkthrough([0.2, 0.1, -0.1], 0)


def main(argv: list[str] | None = None) -> int:
    warm()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP_SCRIPT), *(sys.argv[1:] if argv is None else argv)]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
