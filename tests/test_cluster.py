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
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from bench.stclient import StreamlitClient
from playground import cluster

ROOT = Path(__file__).resolve().parents[1]
STUDENTS = 60

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
    started = run_cluster("up", "--replicas", "2", "--port", str(port), "--ray-cpus", "1", cwd=where)
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

    students, open_sockets = asyncio.run(lesson())
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
