"""The run store's operations on SQLite and on PostgreSQL, side by side.

What a room asks of its store most: a heartbeat per page run, a checkpoint of the default MLP
(weights and a resume state of the same size) at every epoch's end, a student's run list, one
run with its history — and a class whose thirty runs end an epoch at the same moment.

    python -m bench.store_speed                              # starts a throw-away PostgreSQL
    python -m bench.store_speed --store postgresql://…       # or an existing database (its
                                                             # runs of owners ada, s0…s29 are deleted after)

The throw-away server is Debian's ``postgresql`` package, run as in the tests (fsync off), so its
figures are the database's work, not the disk's; a real server's are slower by its disk.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from core.checkpoint import checkpoint_bytes
from core.models import ModelSpec, build_model
from core.store import RunStore

HISTORY = {"running_loss": [{"step": i, "epoch": i / 100, "loss": 1.0 / (i + 1)} for i in range(1000)]}


def timed(operation: Callable[[], object], repeat: int) -> float:
    """Median seconds of one call."""
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        operation()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def class_at_once(store: RunStore, runs: list[str], weights: bytes) -> float:
    """Seconds until every one of ``runs`` has written its checkpoint, all starting together."""
    start = threading.Barrier(len(runs) + 1)

    def student(n: int, run_id: str) -> None:
        start.wait()
        checkpoint(store, f"s{n}", run_id, weights)

    threads = [threading.Thread(target=student, args=(n, run_id)) for n, run_id in enumerate(runs)]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def checkpoint(store: RunStore, owner: str, run_id: str | None, weights: bytes) -> str:
    run, _ = store.save_checkpoint(
        owner,
        run_id=run_id,
        name="run",
        status="running",
        spec=ModelSpec().to_dict(),
        config={},
        history=HISTORY,
        accuracy=None,
        weights=weights,
        resume_state=weights,
    )
    return run.id


def measure(store: RunStore, weights: bytes, repeat: int) -> dict[str, float]:
    mine = [checkpoint(store, "ada", None, weights) for _ in range(30)]
    class_runs = [checkpoint(store, f"s{n}", None, weights) for n in range(30)]
    return {
        "heartbeat": timed(lambda: store.heartbeat("ada", "p", "s"), repeat * 5),
        "present (30 students)": timed(lambda: store.present(60), repeat),
        "checkpoint, default MLP": timed(lambda: checkpoint(store, "ada", mine[0], weights), repeat),
        "run list (30 runs)": timed(lambda: store.list_runs("ada", history=False), repeat),
        "one run with history": timed(lambda: store.get_run(mine[0]), repeat),
        "weights of one run": timed(lambda: store.weights(mine[0]), repeat),
        "30 checkpoints at once": statistics.median(class_at_once(store, class_runs, weights) for _ in range(3)),
    }


def clean_up(store: RunStore) -> None:
    """Leave an existing database as it was found."""
    for owner in ("ada", *(f"s{n}" for n in range(30))):
        for run in store.list_runs(owner, history=False):
            store.delete_run(run.id, owner)
    store.forget_sessions("p", ["s", *(f"t{n}" for n in range(30))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", help="a postgresql:// URL; without it a throw-away server is started")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    weights = checkpoint_bytes(build_model(ModelSpec(), seed=0), ModelSpec())
    server = None
    url = args.store
    if url is None:
        from tests.postgres import PostgresServer, find_postgres_bin

        server = PostgresServer(find_postgres_bin())
        server.start()
        url = server.url()
    try:
        with tempfile.TemporaryDirectory() as folder:
            sqlite = RunStore(Path(folder) / "runs.db", max_total_bytes=2**34)
            postgres = RunStore(url, max_total_bytes=2**34)
            for store in (sqlite, postgres):
                for n in range(30):
                    store.heartbeat(f"s{n}", "p", f"t{n}")
            results = {
                name: measure(store, weights, args.repeat) for name, store in (("sqlite", sqlite), ("pg", postgres))
            }
            clean_up(postgres)
            sqlite.close()
            postgres.close()
    finally:
        if server is not None:
            server.remove()
    print(f"weights: {len(weights) / 2**20:.2f} MB (the default MLP), resume state the same size")
    print(f"{'operation':<28}{'SQLite ms':>12}{'PostgreSQL ms':>16}{'PG / SQLite':>14}")
    for operation, seconds in results["sqlite"].items():
        other = results["pg"][operation]
        print(f"{operation:<28}{seconds * 1e3:>12.2f}{other * 1e3:>16.2f}{other / seconds:>14.2f}")


if __name__ == "__main__":
    main()
