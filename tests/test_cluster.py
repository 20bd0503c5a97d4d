"""The lecture hall on this machine: `python -m playground.cluster up` and `down`, and a class through the proxy.

These start real processes (PostgreSQL as the ``postgres`` user, a Ray head, two app replicas,
HAProxy), all on 127.0.0.1, so they are marked ``cluster``: ``make test`` runs them,
``make test-fast`` skips them. Students are ``bench.stclient`` tabs: they load the page, ping
health and open the websocket like a browser, and send back every cookie the proxy set.
"""

import asyncio
import glob
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from bench.classroom import CANVAS_KEY, DRAW_PAGE, SMALL_TRAINING, TRAIN_BUTTON_KEY, TRAIN_PAGE, is_train_feedback
from bench.stclient import StreamlitClient
from playground import cluster
from tests.bench.helpers import run_in_own_loop

ROOT = Path(__file__).resolve().parents[1]
STUDENTS = 60
STORE_AWAY_KEY = "store-status-try-again"  # playground/store_errors.py: the page's Try again button

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.timeout(900),
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="Debian's haproxy is not installed"),
    pytest.mark.skipif(
        not glob.glob("/usr/lib/postgresql/*/bin/initdb") and shutil.which("initdb") is None,
        reason="Debian's postgresql is not installed",
    ),
]


def run_cluster(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "playground.cluster", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    """Two replicas behind the proxy, with PostgreSQL and a Ray head; always taken down again."""
    where = tmp_path_factory.mktemp("hall")
    port = cluster.free_port()
    started = run_cluster("up", "--replicas", "2", "--port", str(port), "--ray-cpus", "2", cwd=where)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        parts = json.loads((where / cluster.STATE_FILE).read_text())
        yield where, parts, started.stdout
    finally:
        if (where / cluster.STATE_FILE).exists():
            run_cluster("down", cwd=where)


def by_name(parts: list[dict]) -> dict[str, dict]:
    return {part["name"]: part for part in parts}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def test_up_starts_every_part_on_127_0_0_1_and_prints_the_address_in_both_languages(hall):
    where, parts, printed = hall
    names = [part["name"] for part in parts]
    assert names == ["postgres", "ray-head", "replica-1", "replica-2", "proxy"]
    assert all(alive(part["pid"]) for part in parts), parts
    named = by_name(parts)
    proxy = named["proxy"]["address"]
    assert proxy.startswith("http://127.0.0.1:")
    assert f"students open {proxy}" in printed and f"学生打开 {proxy}" in printed
    for replica in ("replica-1", "replica-2"):
        assert named[replica]["address"].startswith("http://127.0.0.1:")
        assert cluster.http_ok(named[replica]["address"] + cluster.HEALTH_PATH)
    assert named["postgres"]["address"].startswith("postgresql://postgres@127.0.0.1:")
    ready = subprocess.run(
        [cluster.postgres_bin("pg_isready"), "-d", named["postgres"]["address"]], capture_output=True, timeout=30
    )
    assert ready.returncode == 0, ready.stdout
    host, port = named["ray-head"]["address"].split(":")
    assert host == "127.0.0.1" and cluster.port_open(int(port))
    # the postgres server runs as the postgres user, never as root
    assert Path(f"/proc/{named['postgres']['pid']}").stat().st_uid != 0 or os.geteuid() != 0


def test_up_refuses_a_second_hall_in_the_same_folder(hall):
    where, parts, _ = hall
    again = run_cluster("up", "--replicas", "1", "--port", str(cluster.free_port()), cwd=where)
    assert again.returncode == 1
    assert "cluster.json" in again.stdout and "down" in again.stdout
    assert json.loads((where / cluster.STATE_FILE).read_text()) == parts  # the running hall is untouched


async def visit(name: str, url: str) -> StreamlitClient:
    client = StreamlitClient(name, timeout=240)
    await client.connect(url)
    await client.open_page("Home")
    return client


async def a_class_arrives(url: str, students: int) -> list[StreamlitClient]:
    return list(await asyncio.gather(*(visit(f"student-{i}", url) for i in range(1, students + 1))))


def replica_of_each_request(log: Path) -> dict[str, list[tuple[str, str]]]:
    """student → [(server, path)] from the proxy's log (it captures each request's User-Agent)."""
    seen = defaultdict(list)
    pattern = re.compile(r" replicas/(\S+) .*\{stclient \((student-\d+)\)\} \"GET (\S+)")
    for line in log.read_text(errors="replace").splitlines():
        if match := pattern.search(line):
            seen[match.group(2)].append((match.group(1), match.group(3)))
    return seen


def test_sixty_students_spread_over_both_replicas_and_each_stays_on_one(hall):
    _, parts, _ = hall
    proxy = by_name(parts)["proxy"]

    async def lesson():
        clients = await a_class_arrives(proxy["address"], STUDENTS)
        try:
            rows = cluster.proxy_stats(proxy["stats_socket"])
            open_sockets = {row["svname"]: int(row["scur"]) for row in rows if row["pxname"] == "replicas"}
            return [(c.name, dict(c.cookies), list(c.app_errors), c.disconnect) for c in clients], open_sockets
        finally:
            await asyncio.gather(*(client.close() for client in clients))

    students, open_sockets = run_in_own_loop(lesson)
    assert all(not errors and disconnect is None for _, _, errors, disconnect in students), students
    cookies = {name: jar.get(cluster.COOKIE) for name, jar, _, _ in students}
    spread = Counter(cookies.values())
    assert set(spread) == {"r1", "r2"}, spread
    assert max(spread.values()) <= STUDENTS * 2 // 3, spread
    # while the class is connected, each replica holds the websockets of its own students
    assert open_sockets["r1"] == spread["r1"] and open_sockets["r2"] == spread["r2"], (open_sockets, spread)

    log = Path(proxy["log"])
    deadline = time.monotonic() + 30  # the proxy logs a websocket when it closes
    while time.monotonic() < deadline:
        requests = replica_of_each_request(log)
        if sum(path == "/_stcore/stream" for seen in requests.values() for _, path in seen) >= STUDENTS:
            break
        time.sleep(0.5)
    assert len(requests) == STUDENTS
    for student, seen in requests.items():
        paths = [path for _, path in seen]
        assert "/_stcore/stream" in paths and "/_stcore/health" in paths, (student, seen)
        # every request of a tab — the page, health, the websocket, media — went to the replica its cookie names
        assert {server for server, _ in seen} == {cookies[student]}, (student, seen)


# ---- the drills: a replica killed, PostgreSQL restarted, a Ray worker killed, while students train ----

STUDENT_COOKIE = "sp_student"  # playground.identity.COOKIE: the browser's student id
# A small network (784-32-10) for 50 epochs: cheap epochs, so every run has checkpoints soon, and
# long enough to be training through each drill.
COME_BACK_TIMEOUT_S = 120  # a bound on the waits; the seconds themselves are printed, not asserted


def store_of(parts: list[dict]):
    from core.store import open_store

    return open_store(by_name(parts)["postgres"]["address"])


async def start_training(url: str, student: str) -> StreamlitClient:
    """A tab of ``student``'s browser opens Train and presses Train; returns once the page took the run
    (training, or waiting for its turn on the cluster)."""
    client = StreamlitClient(f"trainer-{student[:6]}", timeout=240, cookies={STUDENT_COOKIE: student})
    await client.connect(url, page=TRAIN_PAGE)
    await client.open_page(TRAIN_PAGE)
    for key, value in SMALL_TRAINING:
        await client.wait_for_run(await client.set_value(key, value))
    pressed = await client.click(TRAIN_BUTTON_KEY)
    await client.wait_for(is_train_feedback, since=pressed)
    return client


def checkpointed(store, students: list[str], at_least: int = 1) -> dict[str, tuple[str, int]] | None:
    """student → (run id, epochs kept) once every student's running run has ``at_least`` epochs in the store."""
    found = {}
    for student in students:
        runs = [
            r for r in store.runs_with_status(("running",), owner=student) if r.meta.get("epochs_done", 0) >= at_least
        ]
        if not runs:
            return None
        found[student] = (runs[-1].id, runs[-1].meta["epochs_done"])
    return found


def wait_for_checkpoints(store, students: list[str], at_least: int = 1) -> dict[str, tuple[str, int]]:
    deadline = time.monotonic() + 300
    while (found := checkpointed(store, students, at_least)) is None:
        assert time.monotonic() < deadline, "the runs never reached their first checkpoint"
        time.sleep(0.2)
    return found


def epochs_kept(store, run_id: str, student: str) -> tuple[str, int]:
    record = store.get_run(run_id, student)
    assert record is not None, f"run {run_id} of {student[:6]} is gone"
    return record.status, len(record.history.get("epochs", []))


def wait_until_trained_on(store, runs: dict[str, tuple[str, int]], statuses=("running", "finished")) -> dict:
    """Every run has more epochs kept than it had (or finished); returns student → (status, epochs)."""
    deadline = time.monotonic() + 300
    while True:
        now = {student: epochs_kept(store, run_id, student) for student, (run_id, _) in runs.items()}
        if all(status == "finished" or kept > runs[s][1] for s, (status, kept) in now.items()):
            return now
        assert time.monotonic() < deadline, f"runs stopped training: {now}"
        time.sleep(0.5)


async def close_all(clients) -> None:
    await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)


def test_a_replica_killed_while_its_students_train_loses_no_run_and_they_are_back_on_the_other(hall):
    _, parts, _ = hall
    proxy = by_name(parts)["proxy"]["address"]
    store = store_of(parts)
    students = [secrets.token_urlsafe(16) for _ in range(4)]

    async def drill():
        clients = [await start_training(proxy, student) for student in students]
        replica_of = {student: client.cookies[cluster.COOKIE] for student, client in zip(students, clients)}
        assert set(replica_of.values()) == {"r1", "r2"}, replica_of  # the class spread over both
        runs = wait_for_checkpoints(store, students)
        victim = "replica-1"
        victims = [s for s in students if replica_of[s] == "r1"]
        killed_at = time.monotonic()
        os.kill(by_name(parts)[victim]["pid"], signal.SIGKILL)

        async def come_back(student: str) -> float:
            """The browser reconnects (it pings health, then opens a socket) with the cookies it has."""
            client = StreamlitClient(
                f"back-{student[:6]}",
                timeout=COME_BACK_TIMEOUT_S,
                cookies={STUDENT_COOKIE: student, cluster.COOKIE: "r1"},
            )
            try:
                await client.connect(proxy, page=TRAIN_PAGE)
                await client.open_page(TRAIN_PAGE)
                if not any(is_train_feedback(node) for node in client.nodes()):
                    await client.wait_for(is_train_feedback)  # their run, training (or waiting its turn)
                assert client.cookies[cluster.COOKIE] == "r2"  # moved to the live replica
                return time.monotonic() - killed_at
            finally:
                await client.close()

        back = await asyncio.gather(*(come_back(s) for s in victims))
        await close_all(clients)
        return runs, victims, back

    runs, victims, back = run_in_own_loop(drill)
    print(
        f"\nreplica killed: {len(victims)} students back on the other replica after "
        f"{sorted(round(b, 1) for b in back)} s"
    )
    after = wait_until_trained_on(store, runs)
    for student, (status, kept) in after.items():  # 0 runs lost: every run still trains (or finished), curve whole
        assert status in ("running", "finished") and kept >= runs[student][1], (student[:6], status, kept)
    store.close()


def test_postgresql_restarted_pages_say_the_store_is_away_then_carry_on_and_nothing_is_lost(hall):
    _, parts, _ = hall
    proxy = by_name(parts)["proxy"]["address"]
    postgres = by_name(parts)["postgres"]
    store = store_of(parts)
    students = [secrets.token_urlsafe(16) for _ in range(2)]

    async def drill():
        clients = [await start_training(proxy, student) for student in students]
        runs = wait_for_checkpoints(store, students)
        pg_ctl = cluster.postgres_bin("pg_ctl")
        subprocess.run(
            cluster.as_postgres([pg_ctl, "-D", postgres["dir"], "stop", "-m", "fast", "-w"]), check=True, timeout=60
        )
        try:
            # Draw lists the student's runs from the store (Train's first tab, the live curve, needs none of it)
            visitor = StreamlitClient("visitor", timeout=COME_BACK_TIMEOUT_S, cookies={STUDENT_COOKIE: students[0]})
            await visitor.connect(proxy, page=DRAW_PAGE)
            await visitor.open_page(DRAW_PAGE)
            said = visitor.element(STORE_AWAY_KEY) is not None
            errors = list(visitor.app_errors)
        finally:
            port = postgres["address"].rsplit(":", 1)[1].split("/")[0]
            options = f"-p {port} -k {postgres['dir']} -c listen_addresses={cluster.HOST}"
            subprocess.run(
                cluster.as_postgres(
                    [pg_ctl, "-D", postgres["dir"], "-o", options, "-l", postgres["log"], "start", "-w"]
                ),
                check=True,
                timeout=60,
            )
        again = await visitor.click(STORE_AWAY_KEY)
        await visitor.wait_for_run(again)
        carried_on = visitor.element(STORE_AWAY_KEY) is None and visitor.element(CANVAS_KEY) is not None
        await close_all([*clients, visitor])
        return runs, said, errors, carried_on

    runs, said, errors, carried_on = run_in_own_loop(drill)
    assert said and not errors, errors  # the page said so, in words, not a traceback
    assert carried_on
    after = wait_until_trained_on(store, runs)
    for student, (status, kept) in after.items():
        assert status in ("running", "finished") and kept >= runs[student][1], (student[:6], status, kept)
    store.close()


def ray_workers(parts: list[dict]) -> list[int]:
    """PIDs of the Ray trainer's worker actors: children of this hall's raylet (the ray-head part's
    process group) whose title Ray sets to ``ray::TrainerWorker…``."""
    group = by_name(parts)["ray-head"]["pid"]
    processes = {}  # pid → (parent, process group, command line)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            processes[int(proc.name)] = (parent, os.getpgid(int(proc.name)), command)
        except (OSError, ProcessLookupError, ValueError, IndexError):
            continue
    ours = {pid for pid, (_, pgid, _) in processes.items() if pgid == group}
    return sorted(
        pid
        for pid, (parent, _, command) in processes.items()
        if command.startswith("ray::TrainerWorker") and (parent in ours or pid in ours)
    )


def test_a_ray_worker_killed_its_runs_resume_or_end_failed_with_what_they_trained(hall):
    _, parts, _ = hall
    proxy = by_name(parts)["proxy"]["address"]
    store = store_of(parts)
    students = [secrets.token_urlsafe(16) for _ in range(3)]

    async def drill():
        clients = [await start_training(proxy, student) for student in students]
        runs = wait_for_checkpoints(store, students)
        workers = ray_workers(parts)
        assert workers, "no Ray trainer worker found"
        for pid in workers[:1]:
            os.kill(pid, signal.SIGKILL)
        await close_all(clients)
        return runs

    runs = run_in_own_loop(drill)
    deadline = time.monotonic() + 300
    while True:  # every run trains on past the kill, finished, or failed with its epochs kept: none gone
        now = {s: epochs_kept(store, run_id, s) for s, (run_id, _) in runs.items()}
        settled = {
            s: (status, kept)
            for s, (status, kept) in now.items()
            if status in ("finished", "failed") or (status == "running" and kept > runs[s][1])
        }
        if len(settled) == len(runs) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    print(f"\nRay worker killed: {sorted(now.values())}")
    assert len(settled) == len(runs), now
    for student, (status, kept) in now.items():
        assert kept >= runs[student][1], (student[:6], status, kept)
    store.close()


def test_down_stops_every_part_and_removes_the_state(hall):
    where, parts, _ = hall
    stopped = run_cluster("down", cwd=where)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "Lecture hall stopped" in stopped.stdout and "阶梯教室已停止" in stopped.stdout
    assert not (where / cluster.STATE_FILE).exists()
    deadline = time.monotonic() + 10
    while any(alive(part["pid"]) for part in parts) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [part["name"] for part in parts if alive(part["pid"])]
    assert not Path(parts[0]["state"]).exists()
    assert not cluster.port_open(int(by_name(parts)["proxy"]["address"].rsplit(":", 1)[1]))


def test_down_without_a_hall_says_so(tmp_path):
    result = run_cluster("down", cwd=tmp_path)
    assert result.returncode == 1
    assert "No lecture hall to stop here" in result.stdout and "这里没有可停止的阶梯教室" in result.stdout
