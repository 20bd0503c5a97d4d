"""How many students one app process carries on Draw, and two replicas behind the proxy, side by side.

    python -m bench.hall --students 60,120,180,240 --replicas 1,2

For each replica count it brings up a lecture hall (`playground.cluster`, the embedded store and
trainer: this measures the app processes, whose work is pages and strokes; with the Ray trainer the
training runs elsewhere), then sends classes of rising size through it: every student of a class
arrives within `--arrival-spread` seconds, opens Home, then Draw, and draws three digits
(`bench.classroom`'s students, `bench.stclient` tabs). With one replica the students talk to the
process directly; with more, through the proxy. It prints Draw ready and stroke → bars at p50/p95
per class size, and the largest class within the targets (Draw ready p95 ≤ 3 s, strokes p95 ≤ 1 s).
Every configuration runs on the same cores, one after the other; the load generator runs on them too.
Slow numbers never fail it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import classroom
from playground import cluster

DRAW_READY_P95_S = 3.0
STROKE_P95_S = 1.0


@dataclass
class ClassResult:
    replicas: int
    students: int
    draw_ready: list[float] = field(default_factory=list)
    strokes: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def p(self, values: list[float], pct: float) -> float:
        return classroom.percentile(values, pct) if values else float("nan")

    @property
    def within_targets(self) -> bool:
        return (
            not self.errors
            and bool(self.draw_ready)
            and self.p(self.draw_ready, 95) <= DRAW_READY_P95_S
            and self.p(self.strokes, 95) <= STROKE_P95_S
        )

    def line(self) -> str:
        return (
            f"{self.replicas:>8} {self.students:>8} {self.p(self.draw_ready, 50):>9.2f} "
            f"{self.p(self.draw_ready, 95):>9.2f} {self.p(self.strokes, 50):>9.2f} {self.p(self.strokes, 95):>9.2f} "
            f"{len(self.errors):>6} {self.wall_s:>7.0f}  {'yes' if self.within_targets else 'no'}"
        )


async def one_class(base_url: str, students: int, config: classroom.Config, result: ClassResult) -> None:
    report = classroom.Report(config)
    wave = len(report.students) + 1
    everyone = [classroom.Student(i, wave, config, report, base_url, {}) for i in range(students)]

    async def visit(student: classroom.Student) -> None:
        try:
            await asyncio.sleep(student.rng.uniform(0, config.arrival_spread))
            await student.client.connect(base_url, page=classroom.HOME_PAGE)
            await student.visit_home()
            await student.pause(config.think)
            await student.open_draw()
            await student.draw_digits(classroom.DIGITS_PER_STUDENT, "stroke → prediction", "stroke → bars")
        except Exception as error:  # one student's failure is counted, the class goes on
            result.errors.append(f"{student.client.name}: {error}")
        finally:
            with contextlib.suppress(Exception):
                await student.client.close()

    started = time.monotonic()
    await asyncio.gather(*(visit(s) for s in everyone))
    result.wall_s = time.monotonic() - started
    result.draw_ready = [s for _, s in report.metrics["draw ready"]]
    result.strokes = [s for _, s in report.metrics["stroke → bars"]]


def data_folder() -> Path:
    """A fresh data folder (a fresh run store) with this machine's MNIST and default models, as the classroom uses."""
    from core.data import default_data_dir

    folder = Path(tempfile.mkdtemp(prefix="hall-bench-data-"))
    cache = default_data_dir()
    if (cache / "MNIST").is_dir():
        (folder / "MNIST").symlink_to(cache / "MNIST", target_is_directory=True)
    for kept in cache.glob("default-model-*.pt"):
        shutil.copyfile(kept, folder / kept.name)
    return folder


def measure(replicas: int, sizes: list[int], config: classroom.Config, stop_after_miss: bool) -> list[ClassResult]:
    where = Path(tempfile.mkdtemp(prefix="hall-bench-"))
    hall = cluster.ClusterConfig(replicas=replicas, port=cluster.free_port(), store="sqlite", trainer="in-process")
    results = []
    try:
        parts = {part.name: part for part in cluster.up(hall, where)}
        base_url = parts["replica-1"].address if replicas == 1 else parts["proxy"].address
        for students in sizes:
            result = ClassResult(replicas, students)
            asyncio.run(one_class(base_url, students, config, result))
            print(result.line(), flush=True)
            results.append(result)
            if stop_after_miss and not result.within_targets:
                break
            time.sleep(config.leave_wait)
    finally:
        if (where / cluster.STATE_FILE).exists():
            cluster.down(where)
        shutil.rmtree(where, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", default="60,120,180,240", help="class sizes, rising, comma-separated")
    parser.add_argument("--replicas", default="1,2", help="replica counts to compare, comma-separated")
    parser.add_argument("--arrival-spread", type=float, default=10.0, help="a class arrives within this many seconds")
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between a student's actions")
    parser.add_argument("--keep-going", action="store_true", help="measure every size even after one missed")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.students.split(",")]
    config = classroom.Config(think=args.think, arrival_spread=args.arrival_spread, step_timeout=180, leave_wait=10)
    data = data_folder()
    os.environ["SOFTMAX_PLAYGROUND_DATA"] = str(data)
    print(f"hall: classes of {sizes} on {os.cpu_count()} cores; targets Draw ready p95 ≤ {DRAW_READY_P95_S:g} s, "
          f"strokes p95 ≤ {STROKE_P95_S:g} s")  # fmt: skip
    print(f"{'replicas':>8} {'students':>8} {'draw p50':>9} {'draw p95':>9} {'strk p50':>9} {'strk p95':>9} "
          f"{'errors':>6} {'wall s':>7}  within")  # fmt: skip
    best: dict[int, int] = {}
    try:
        for replicas in [int(r) for r in args.replicas.split(",")]:
            results = measure(replicas, sizes, config, stop_after_miss=not args.keep_going)
            passing = [r.students for r in results if r.within_targets]
            best[replicas] = max(passing, default=0)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    for replicas, students in best.items():
        per = students / replicas if replicas else 0
        print(f"largest class within the targets: {replicas} replica(s) → {students} students ({per:g} per process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
