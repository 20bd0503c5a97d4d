"""A page opened right after a restart waits for the kept default model to load instead of polling."""

from __future__ import annotations

import threading
from pathlib import Path

from playground.default_model import DefaultModel


class GatedRoom:
    """A room whose MNIST arrives when the test opens the gate, then turns out to be missing."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.gate = threading.Event()

    def mnist(self):
        self.gate.wait(timeout=30)
        raise FileNotFoundError("no MNIST in this test")


def test_wait_while_loading_returns_once_the_load_is_over(tmp_path):
    room = GatedRoom(tmp_path)
    model = DefaultModel(room)
    assert model.wait_while_loading(0.0).status == "waiting"  # nothing started: nothing to wait for
    model.prepare()
    assert model.wait_while_loading(0.05).status == "loading"  # still loading when the wait gives up
    room.gate.set()
    state = model.wait_while_loading(30.0)
    assert state.status == "failed" and isinstance(state.error, FileNotFoundError)
