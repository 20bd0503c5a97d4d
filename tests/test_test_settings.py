"""The suite's own settings: a developer's exported variables never reach the tests."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_exported_variables_do_not_point_the_tests_at_a_users_data(tmp_path):
    """``export SOFTMAX_PLAYGROUND_DATA=~/class`` once sent test runs into that folder."""
    mine = tmp_path / "my-real-data"
    mine.mkdir()
    exported = {
        "SOFTMAX_PLAYGROUND_DATA": str(mine),
        "SOFTMAX_PLAYGROUND_SOURCES": "cache,download",
        "SOFTMAX_PLAYGROUND_ROOM": str(mine / "room.toml"),
        "SOFTMAX_PLAYGROUND_MAX_EPOCHS": "1",
        "SOFTMAX_PLAYGROUND_TEACHER_PASSCODE": "mine",
        "SOFTMAX_PLAYGROUND_STATS": str(mine / "stats.jsonl"),
        "SOFTMAX_PLAYGROUND_CHROMIUM": "/opt/my-chromium",
    }
    script = (
        "import json, os, tests.conftest; "
        "print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('SOFTMAX_PLAYGROUND_')}))"
    )
    seen = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, **exported},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    variables = json.loads(seen.stdout.strip().splitlines()[-1])
    data = Path(variables.pop("SOFTMAX_PLAYGROUND_DATA"))
    room = Path(variables.pop("SOFTMAX_PLAYGROUND_ROOM"))
    assert data != mine and data.is_dir()
    assert room.parent == data and room.read_text() == ""  # an empty room file: defaults everywhere
    assert variables == {"SOFTMAX_PLAYGROUND_SOURCES": "subset", "SOFTMAX_PLAYGROUND_CHROMIUM": "/opt/my-chromium"}
    assert list(mine.iterdir()) == []
