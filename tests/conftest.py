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

# Set, never inherited: a developer's exported SOFTMAX_PLAYGROUND_* (data folder, room file,
# limits, passcode, stats file) must not send test runs into their own store or change what the
# tests see. Only where the benchmark finds Chromium is kept: it names a program, not data.
KEPT_VARIABLES = {"SOFTMAX_PLAYGROUND_CHROMIUM"}
for name in [n for n in os.environ if n.startswith("SOFTMAX_PLAYGROUND_") and n not in KEPT_VARIABLES]:
    del os.environ[name]
TEST_DATA_DIR = Path(tempfile.mkdtemp(prefix="softmax-playground-tests-"))
os.environ["SOFTMAX_PLAYGROUND_SOURCES"] = "subset"
# The run store and the kept default model go to a fresh folder, never the user's cache.
os.environ["SOFTMAX_PLAYGROUND_DATA"] = str(TEST_DATA_DIR)
# An empty room file: a room.toml in the folder the tests run from (a teacher's) is not read.
(TEST_DATA_DIR / "room.toml").write_text("", encoding="utf-8")
os.environ["SOFTMAX_PLAYGROUND_ROOM"] = str(TEST_DATA_DIR / "room.toml")
os.environ["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"

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
