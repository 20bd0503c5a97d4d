"""The embedded kill drill: students train, the server is killed mid-run and comes back.

    python -m bench.classroom --kill-drill --students 3
    python -m bench.kill_drill --students 3 --epochs 10        # the same, with its own options

It starts the app as `make run` does (`python -m playground.serve`, the shipped subset unless
`--sources` says otherwise) on 127.0.0.1; every student is a `bench.stclient` tab that keeps its
student id in the cookie a browser keeps. Each presses Train (a small network); once every run has
at least `--kill-after` epochs checkpointed in the run store, the server gets SIGKILL — no clean
shutdown — and is started again on the same data folder. Then it counts:

- **runs lost**: runs that are not in the store as *interrupted* with their curve (the epochs kept)
  and weights (target 0);
- **seconds until each student sees their run again**: from the kill until the student's Train
  page, in a new tab of the same browser, offers Resume for that run (a restart included);
- **resumed to the end**: Resume pressed, the run trains its remaining epochs and is kept finished.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field

from bench.classroom import TRAIN_BUTTON_KEY, TRAIN_PAGE, AppServer, is_train_ended, is_train_progress
from bench.stclient import StreamlitClient
from core.store import open_store

STUDENT_COOKIE = "sp_student"  # playground.identity.COOKIE: the browser's student id
# A small network in batches of 16: quick to train, yet an epoch lasts long enough to be seen running.
SMALL = (("train.w.depth", 1), ("train.w.hidden.0", 32), ("train.w.batch_size", 16))
EPOCHS_KEY = "train.w.epochs"
RESUME_KEY = "train.resume.{run_id}"  # the Resume button of an interrupted run on Train


@dataclass
class DrillResult:
    students: int
    epochs: int
    kept_at_kill: dict[str, int] = field(default_factory=dict)  # run id → epochs in the store at the kill
    lost: list[str] = field(default_factory=list)  # students whose run is not there to resume
    seen_again_s: dict[str, float] = field(default_factory=dict)  # student → seconds from kill to Resume shown
    restart_s: float = 0.0  # kill → the server answers again
    resumed_to_end: list[str] = field(default_factory=list)  # run ids finished with every epoch after Resume
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.lost and not self.errors and len(self.resumed_to_end) == self.students

    def format(self) -> str:
        seen = sorted(self.seen_again_s.values())
        lines = [
            f"kill drill (embedded): {self.students} students, {self.epochs} epochs each",
            f"  epochs kept at the kill: {sorted(self.kept_at_kill.values())}",
            f"  runs lost: {len(self.lost)} (target 0)",
            f"  server back after: {self.restart_s:.1f} s",
            "  seconds until each student saw their run again: "
            + (", ".join(f"{s:.1f}" for s in seen) if seen else "—"),
            f"  resumed to the end: {len(self.resumed_to_end)} of {self.students}",
        ]
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)


async def _start_run(base_url: str, student: str, epochs: int) -> StreamlitClient:
    client = StreamlitClient(f"drill-{student[:6]}", cookies={STUDENT_COOKIE: student})
    await client.connect(base_url, page=TRAIN_PAGE)
    await client.open_page(TRAIN_PAGE)
    for key, value in (*SMALL, (EPOCHS_KEY, epochs)):
        await client.wait_for_run(await client.set_value(key, value))
    pressed = await client.click(TRAIN_BUTTON_KEY)
    await client.wait_for(is_train_progress, since=pressed)
    return client


def _running_runs(store, students: list[str], at_least: int) -> dict[str, str] | None:
    """student → run id once every student's run has ``at_least`` epochs checkpointed."""
    found = {}
    for student in students:
        runs = store.runs_with_status(("running",), owner=student)
        ready = [r for r in runs if r.meta.get("epochs_done", 0) >= at_least]
        if not ready:
            return None
        found[student] = ready[-1].id
    return found


async def _come_back(base_url: str, student: str, run_id: str, killed_at: float, epochs: int, result: DrillResult):
    client = StreamlitClient(f"back-{student[:6]}", cookies={STUDENT_COOKIE: student})
    try:
        await client.connect(base_url, page=TRAIN_PAGE)
        await client.open_page(TRAIN_PAGE)
        key = RESUME_KEY.format(run_id=run_id)
        if client.element(key) is None:
            await client.wait_for(lambda node: node.key == key)
        result.seen_again_s[student] = time.monotonic() - killed_at
        pressed = await client.click(key)
        await client.wait_for(is_train_ended, since=pressed, timeout=300)
    except Exception as error:  # a drill reports what went wrong for each student and goes on
        result.errors.append(f"{student[:6]}: {type(error).__name__}: {error}")
    finally:
        await client.close()


async def run_drill(students: int = 3, epochs: int = 10, kill_after: int = 1, sources: str | None = "subset"):
    """Train, SIGKILL the server, restart it, and see every run again and resume it."""
    result = DrillResult(students, epochs)
    server = AppServer(sources, session_ttl=120.0)
    server.start()
    store = None
    try:
        ids = [secrets.token_urlsafe(16) for _ in range(students)]
        # Every student starts at once: one after the other, the first run could end before the last
        # one started, and a run that has ended cannot be caught training.
        clients = list(await asyncio.gather(*(_start_run(server.base_url, student, epochs) for student in ids)))
        store = open_store(server.data_dir / "runs.db")
        deadline = time.monotonic() + 300
        runs = None
        while runs is None and time.monotonic() < deadline:
            runs = _running_runs(store, ids, kill_after)
            if runs is None:
                await asyncio.sleep(0.1)
        if runs is None:
            raise RuntimeError("the runs never reached their first checkpoint")
        killed_at = time.monotonic()
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=30)
        for client in clients:
            await client.close()
        for student, run_id in runs.items():
            record = store.get_run(run_id, student)
            result.kept_at_kill[run_id] = len(record.history.get("epochs", [])) if record else 0
        server._stop_process()  # closes its log file; the process is gone already
        server.start()
        result.restart_s = time.monotonic() - killed_at
        for student, run_id in runs.items():
            record = store.get_run(run_id, student)
            kept = record is not None and record.status == "interrupted" and record.size_bytes > 0
            if not kept or not record.history.get("epochs") or store.resume_state(run_id, student) is None:
                result.lost.append(student)
        await asyncio.gather(
            *(
                _come_back(server.base_url, s, r, killed_at, epochs, result)
                for s, r in runs.items()
                if s not in result.lost
            )
        )
        for student, run_id in runs.items():
            record = store.get_run(run_id, student)
            if record is not None and record.status == "finished" and len(record.history["epochs"]) == epochs:
                result.resumed_to_end.append(run_id)
    finally:
        if store is not None:
            store.close()
        server.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--kill-after", type=int, default=1, help="epochs every run has kept before the kill")
    parser.add_argument("--sources", default="subset", help="MNIST sources (default: the shipped subset)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON too")
    args = parser.parse_args(argv)
    result = asyncio.run(run_drill(args.students, args.epochs, args.kill_after, args.sources))
    print(result.format())
    if args.json:
        print(json.dumps(result.__dict__, indent=1))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
