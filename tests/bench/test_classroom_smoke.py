"""The classroom load benchmark's smoke run: 3 protocol students, the shipped MNIST subset.

It starts its own `streamlit run` (and always stops it), so it needs no browser and no
network: every student is a `bench.stclient` websocket client. Slow numbers never fail it;
errors, disconnects and metrics that were never measured do. Marked ``load``: ``make test`` runs
it, ``make test-fast`` leaves it out.
"""

import pytest

from bench import classroom
from tests.bench.helpers import run_in_own_loop

# Only a net for a hang: the benchmark bounds every wait itself (server start 90 s, each step 90 s,
# each wave 120 s) and reports what broke. A cold start on a loaded 2-core machine took 227 s of
# the old 240 s net without anything breaking.
pytestmark = [pytest.mark.load, pytest.mark.timeout(600)]


def test_smoke_classroom_completes_without_errors_and_measures_everything():
    config = classroom.smoke_config()
    report = run_in_own_loop(classroom.run_classroom, config)  # beside any loop a browser test left
    summary = report.format()

    assert len(report.students) == config.students * config.waves, summary
    assert not report.errored, summary
    assert not report.disconnected, summary
    for metric, values in report.metrics.items():
        assert values, f"{metric} was never measured\n{summary}"
    assert all(seconds >= 0 for values in report.metrics.values() for _, seconds in values)
    # the live panels were refreshed in fragment runs (the server pushes them when a run moves)
    assert sum(s.stats.fragment_runs for s in report.students) > 0, summary
    # the room's stats gave every throughput: one run alone, beside the class, the class training
    assert {"one alone", "one, class connected", "all training"} <= set(report.rates), summary
    # the server was sampled and is gone
    assert report.memory and all(rss > 0 for _, rss, _ in report.memory), summary
    assert not report.broken, summary
