"""``python -m playground.serve``: the room is warm before Streamlit opens the port, and Streamlit
gets the options it was given."""

import sys

from playground import serve
from playground.room import get_room


def test_warm_loads_what_the_first_visitor_would_wait_for():
    took = serve.warm(wait_s=60)
    assert list(took) == ["imports", "figures", "mnist", "default model"]
    assert all(seconds >= 0 for seconds in took.values())
    room = get_room()
    assert room.mnist() is room.mnist()  # loaded once, kept
    assert room.default_model.state().status in ("ready", "failed")
    for module in ("torch", "plotly.graph_objects", "core.insight", "playground.draw"):
        assert module in sys.modules


def test_main_hands_the_options_to_streamlit_run(monkeypatch):
    import streamlit.web.cli as cli

    seen = {}
    monkeypatch.setattr(serve, "warm", lambda: seen.setdefault("warmed", True))
    monkeypatch.setattr(cli, "main", lambda: seen.setdefault("argv", list(sys.argv)) and 0)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    assert serve.main(["--server.port", "8599"]) == 0
    assert seen["warmed"] is True
    assert seen["argv"] == ["streamlit", "run", str(serve.APP_SCRIPT), "--server.port", "8599"]
    assert serve.APP_SCRIPT.name == "streamlit_app.py" and serve.APP_SCRIPT.is_file()


def test_the_server_log_has_one_line_per_event_with_its_level_and_part(monkeypatch):
    import io
    import logging

    monkeypatch.setenv(serve.LOG_LEVEL_ENV, "info")
    first, out = io.StringIO(), io.StringIO()
    serve.configure_logging(first)
    handler = serve.configure_logging(out)  # configured twice (tests, a restart in one process): one handler
    try:
        logging.getLogger("playground.trainer").info("run r1 started: student ada01234, trainer in-process")
        logging.getLogger("core.trainers.local").debug("not at INFO")
        try:
            raise OSError("disk full")
        except OSError:
            logging.getLogger("playground.room").exception("the room's reaper met an error")
        lines = out.getvalue().splitlines()
        assert first.getvalue() == ""
        assert lines[0].endswith("INFO playground.trainer: run r1 started: student ada01234, trainer in-process")
        assert "ERROR playground.room: the room's reaper met an error" in lines[1]
        assert "OSError: disk full" in out.getvalue()  # the traceback
        assert not any("not at INFO" in line for line in lines)
    finally:
        for name in serve.APP_LOGGERS:
            logging.getLogger(name).removeHandler(handler)
            logging.getLogger(name).propagate = True
            logging.getLogger(name).setLevel(logging.NOTSET)
