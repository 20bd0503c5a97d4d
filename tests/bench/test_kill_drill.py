"""The embedded kill drill: a server killed with SIGKILL mid-run loses no run.

Two protocol students train on a real `python -m playground.serve` (127.0.0.1, a temporary data
folder, the shipped subset). Once both runs have an epoch checkpointed the server is killed and
started again on the same folder: each run is in the store as *interrupted* with its curve, its
weights and its resume state, each student's Train page (a new tab, same browser cookie) offers
Resume, and Resume trains the run to its last epoch.
"""

import pytest

from bench import kill_drill
from tests.bench.helpers import run_in_own_loop

pytestmark = pytest.mark.timeout(420)


def test_a_killed_server_loses_no_run_and_every_run_resumes_to_its_end():
    result = run_in_own_loop(lambda: kill_drill.run_drill(students=2, epochs=6, kill_after=1, sources="subset"))
    summary = result.format()
    assert not result.errors, summary
    assert len(result.kept_at_kill) == 2 and all(1 <= kept < 6 for kept in result.kept_at_kill.values()), summary
    assert result.lost == [], summary
    assert len(result.seen_again_s) == 2, summary
    assert sorted(result.resumed_to_end) == sorted(result.kept_at_kill), summary
    assert result.ok, summary
