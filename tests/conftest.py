"""Shared test settings: offline, deterministic, one CPU thread.

The suite runs on the shipped MNIST subset unless a test asks otherwise, so it never
waits on a network and gives the same numbers on every machine.
"""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("SOFTMAX_PLAYGROUND_SOURCES", "subset")
# The run store and the kept default model go to a fresh folder, never the user's cache.
os.environ.setdefault("SOFTMAX_PLAYGROUND_DATA", tempfile.mkdtemp(prefix="softmax-playground-tests-"))
os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")

import torch  # noqa: E402

torch.set_num_threads(1)


import pytest  # noqa: E402

from tests.postgres import postgres_server, postgres_url  # noqa: E402, F401 - fixtures for any test


@pytest.fixture
def install_room(tmp_path):
    """``install_room(limits=…, loader=…)`` → a fresh Room made the process's room for this test.

    It shares the loaded MNIST of the usual room unless given a loader, prepares no default
    model unless asked, and the usual room is put back (and the fresh one closed) afterwards.
    """
    from playground.room import Room, get_room, replace_room

    made = []  # (the fresh room, the one it replaced)

    def make(**kwargs) -> Room:
        current = get_room()
        kwargs.setdefault("loader", current.mnist)
        kwargs.setdefault("prepare_default", False)
        room = Room(data_dir=tmp_path / f"room{len(made)}", **kwargs)
        made.append((room, replace_room(room)))
        return room

    yield make
    for room, previous in reversed(made):
        replace_room(previous)
        room.close()


@pytest.fixture(scope="session", autouse=True)
def _close_the_room_at_the_end():
    """The app's room trains in background threads (the default model starts with it): stop them
    and join the workers before the interpreter exits, or torch aborts the process mid-batch."""
    yield
    module = sys.modules.get("playground.room")
    if module is not None:
        room = module.replace_room(None)
        if room is not None:
            room.close()
