"""Rooms made per test, small training jobs, and a gate that keeps a job training until a test lets go.

A test room stores its runs in the test's own folder, trains on one worker, never prepares the
default model, and is closed afterwards. Tab state (connected, still existing) comes from
functions the test controls; the room's background reaper is put to sleep so that only the
test's own ``room.reap(now=...)`` calls decide who is away.
"""

import pytest

from core.limits import RoomLimits
from playground import room as room_module
from playground.room import Room, load_mnist_data
from tests.playground.room_helpers import Gate, TabState, hooked_trainer


@pytest.fixture(scope="session")
def mnist():
    return load_mnist_data()


@pytest.fixture
def tabs():
    return TabState()


@pytest.fixture
def make_room(tmp_path, mnist, tabs, monkeypatch):
    """``make_room()`` → a Room on the test's folder (the same folder each call: a restarted server).

    ``room.gates`` collects the gates of its jobs: they are opened before the rooms close.
    """
    monkeypatch.setattr(room_module, "REAPER_INTERVAL_S", 3600.0)
    made: list[Room] = []
    gates: list[Gate] = []

    def make(limits: RoomLimits | None = None, data_dir=None) -> Room:
        room = Room(
            data_dir=data_dir or tmp_path / "data",
            limits=limits or RoomLimits(),
            workers=1,
            loader=lambda: mnist,
            connected=tabs.is_connected,
            exists=tabs.exists,
            prepare_default=False,
            trainer=hooked_trainer,
        )
        room.gates = gates
        made.append(room)
        return room

    yield make
    for gate in gates:
        gate.open()
    for room in made:
        room.close()


@pytest.fixture
def room(make_room):
    return make_room()
