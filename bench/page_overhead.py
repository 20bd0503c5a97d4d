"""What training inside the Train page costs against the bare engine, side by side.

    python -m bench.page_overhead [--epochs 5] [--repeats 2] [--driver browser|apptest]

Both sides train the lecture's MLP with the same config on the same data (whatever
SOFTMAX_PLAYGROUND_SOURCES selects; the shipped subset when nothing else loads), one
thread each, and report the summed epoch times that `fit` records (test evaluation
included on both sides):

- bare: a `TrainingJob` in this process, nobody watching;
- page: the Train page in a real Chromium against `streamlit run` (or under AppTest),
  pressing Train and leaving the page open, so its chart fragment redraws every 0.5 s
  until the run ends. The page prints the training time in its "Finished" message.

The target is a cost of at most 15% (page time / bare time − 1).

In a classroom the browsers run on the students' machines, not on the server. On one
small box Chromium's software rendering of the chart would compete with the training for
the same cores (it used ~1.5 of 2 cores here), so by default (`--pin`, Linux) the server
and the bare run share CPU 0 and the browser gets the other cores; `--no-pin` measures
everything on one shared machine instead.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import torch

from core import data
from core.models import ModelSpec, build_model
from core.training import TrainConfig, TrainingJob

ROOT = Path(__file__).resolve().parents[1]
TARGET_COST = 0.15
FINISHED = re.compile(r"([0-9.]+) s of training")


def bench_config(epochs: int) -> TrainConfig:
    # log every 20 batches: a busy curve, so the chart redraw is not flattered
    return TrainConfig(epochs=epochs, log_every=20)


def load_pairs():
    train = data.load_mnist_split(train=True)
    test = data.load_mnist_split(train=False, sources=(train.source,))
    pairs = (data.normalize(train.images), train.labels), (data.normalize(test.images), test.labels)
    return pairs, train.description


def bare_seconds(config: TrainConfig, train, test) -> float:
    model = build_model(ModelSpec(), seed=config.seed)
    job = TrainingJob(model, config, train, test, device="cpu", threads=1).start()
    job.wait()
    snap = job.snapshot()
    if snap.status != "finished":
        raise RuntimeError(f"bare training ended {snap.status}: {snap.message}")
    return sum(e.seconds for e in snap.history.epochs)


# ---- the page in a real browser ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVER_CPUS = {0}


def can_pin() -> bool:
    return hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2


def other_cpus() -> set[int]:
    return set(range(os.cpu_count() or 1)) - SERVER_CPUS


class Server:
    """`streamlit run streamlit_app.py` on a free port, stopped on exit."""

    def __init__(self, pin: bool):
        self.port = free_port()
        self.process = subprocess.Popen(
            preexec_fn=(lambda: os.sched_setaffinity(0, SERVER_CPUS)) if pin else None,
            args=[
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "streamlit_app.py",
                "--server.port",
                str(self.port),
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=os.environ.copy(),
        )

    def __enter__(self) -> Server:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_stcore/health", timeout=1)
                return self
            except OSError:
                time.sleep(0.3)
        self.__exit__()
        raise RuntimeError("streamlit did not start within 60 s")

    def __exit__(self, *_exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _proc_stats() -> dict[int, tuple[int, float]]:
    """pid → (parent pid, CPU seconds used so far) for every process we may read."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return stats


def tree_cpu_seconds(root: int, exclude: int | None = None) -> float:
    """CPU seconds of `root` and its descendants (minus the `exclude` subtree); 0 off Linux."""
    if not Path("/proc").exists():
        return 0.0
    stats = _proc_stats()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid == exclude or pid not in stats:
            continue
        total += stats[pid][1]
        todo.extend(children.get(pid, []))
    return total


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def browser_cpu_seconds(server_pid: int) -> float:
    """CPU seconds of this process's children (the Playwright driver, Chromium), server excluded."""
    return tree_cpu_seconds(os.getpid(), exclude=server_pid) - _own_cpu_seconds()


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def browser_pairs(config: TrainConfig, repeats: int, pin: bool, bare_run) -> tuple[list, dict[str, float]]:
    """(bare seconds, page seconds) pairs, alternating so that drift hits both sides alike."""
    from playwright.sync_api import sync_playwright

    query = f"epochs={config.epochs}&log_every={config.log_every}&seed={config.seed}"
    pairs, cpu = [], {"server (training + page)": 0.0, "browser (Chromium + driver)": 0.0, "wall": 0.0}
    if pin:  # the driver and Chromium inherit this thread's CPUs
        os.sched_setaffinity(0, other_cpus())
    with Server(pin) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path())
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"http://127.0.0.1:{server.port}/Train?{query}")
        start_button = page.locator(".st-key-train-start button")
        for _ in range(repeats):
            # the page must be idle first: its first render loads torch and MNIST on the
            # server's CPU, which would slow the bare run beside it
            start_button.wait_for(timeout=60_000)
            page.wait_for_function(
                "() => !document.querySelector('.st-key-train-start button').disabled", timeout=60_000
            )
            bare = bare_run()
            before = (
                tree_cpu_seconds(server.process.pid),
                browser_cpu_seconds(server.process.pid),
                time.perf_counter(),
            )
            start_button.click()
            page.locator(".st-key-train-stop").wait_for(timeout=60_000)  # the fragment is live
            message = page.get_by_text(FINISHED).first
            message.wait_for(timeout=600_000)
            cpu["browser (Chromium + driver)"] += browser_cpu_seconds(server.process.pid) - before[1]
            cpu["wall"] += time.perf_counter() - before[2]
            page_cpu = tree_cpu_seconds(server.process.pid) - before[0]
            pairs.append((bare, float(FINISHED.search(message.inner_text()).group(1)), page_cpu))
        browser.close()
    return pairs, cpu


# ---- the page under AppTest -------------------------------------------------------------


def apptest_pairs(config: TrainConfig, repeats: int, pin: bool, bare_run) -> tuple[list, dict]:
    """Without a browser: the whole page script reruns every 0.5 s (more work than a fragment)."""
    from streamlit.testing.v1 import AppTest

    pairs = []
    for _ in range(repeats):
        bare = bare_run()
        at = AppTest.from_file(str(ROOT / "pages" / "1_Train.py"), default_timeout=120)
        at.query_params.update(
            {"epochs": str(config.epochs), "log_every": str(config.log_every), "seed": str(config.seed)}
        )
        at.run()
        at.button(key="train.start").click().run()
        job = at.session_state["train.job"].job
        while not job.done:
            time.sleep(0.5)
            at.run()
        pairs.append((bare, sum(e.seconds for e in job.snapshot().history.epochs), None))
    return pairs, {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--warmup", type=int, default=1, help="bare runs before the measured pairs (the first run in a process is slow)"
    )
    parser.add_argument("--driver", choices=("browser", "apptest"), default="browser" if chromium_path() else "apptest")
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=can_pin(),
        help="server and bare run on CPU 0, the browser on the others (default where possible)",
    )
    args = parser.parse_args()
    everything = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    torch.set_num_threads(1)
    config = bench_config(args.epochs)
    (train, test), description = load_pairs()
    print(f"data: {description}")
    print(f"model: {ModelSpec().label()} · {config}")

    where = {
        "browser": "server and bare run on CPU 0, the browser on the rest",
        "apptest": "page script, its training and the bare run on CPU 0",
    }[args.driver]
    print(f"CPUs: {where if args.pin else 'shared by all'}")

    def bare_run() -> tuple[float, float]:
        """(summed epoch seconds, CPU seconds of this process while it trained)."""
        if args.pin:
            mine = os.sched_getaffinity(0)
            os.sched_setaffinity(0, SERVER_CPUS)  # the job's thread inherits it
        cpu_before = _own_cpu_seconds()
        seconds = bare_seconds(config, train, test)
        cpu = _own_cpu_seconds() - cpu_before
        if args.pin:
            os.sched_setaffinity(0, mine)
        return seconds, cpu

    for _ in range(args.warmup):
        bare_run()
    drive = browser_pairs if args.driver == "browser" else apptest_pairs
    pairs, cpu = drive(config, args.repeats, args.pin, bare_run)
    if everything is not None:
        os.sched_setaffinity(0, everything)

    images = len(train[1]) * config.epochs
    print("time = summed epoch seconds (what throughput is); CPU = CPU seconds the training side used")
    print(
        f"{'run':>4}{'bare s':>9}{'page s':>9}{'page/bare':>11}{'bare img/s':>12}{'page img/s':>12}"
        f"{'bare CPU':>10}{'page CPU':>10}"
    )
    for i, ((bare, bare_cpu), page, page_cpu) in enumerate(pairs, start=1):
        page_cpu_text = f"{page_cpu:>10.2f}" if page_cpu is not None else f"{'-':>10}"
        print(
            f"{i:>4}{bare:>9.2f}{page:>9.2f}{page / bare:>11.3f}{images / bare:>12,.0f}{images / page:>12,.0f}"
            f"{bare_cpu:>10.2f}{page_cpu_text}"
        )
    if all(page_cpu is not None for *_, page_cpu in pairs):
        cpu["server (training + page)"] = sum(page_cpu for *_, page_cpu in pairs)
    wall = cpu.pop("wall", None)
    for who, seconds in cpu.items():
        print(f"  CPU used by the {who} while the page trained: {seconds:.1f} s in {wall:.1f} s of wall time")
    ratios = [page / bare for (bare, _), page, _ in pairs]
    ratio = statistics.median(ratios)
    print(
        f"page / bare per run: {', '.join(f'{r:.3f}' for r in ratios)} (min {min(ratios):.3f}, max {max(ratios):.3f})"
    )
    verdict = "within" if ratio - 1 <= TARGET_COST else "OVER"
    print(f"median page / bare time = {ratio:.3f} → cost {ratio - 1:+.1%} ({verdict} the {TARGET_COST:.0%} target)")
    if all(page_cpu is not None for *_, page_cpu in pairs):
        cpu_ratio = statistics.median(page_cpu / bare_cpu for (_, bare_cpu), _, page_cpu in pairs)
        print(
            f"median page / bare CPU  = {cpu_ratio:.3f} (extra work of the page itself, "
            "insensitive to other load on the machine)"
        )


if __name__ == "__main__":
    main()
