"""A lecture hall on one machine: PostgreSQL, a Ray head, N app replicas and HAProxy, all on 127.0.0.1.

    python -m playground.cluster up --replicas 2 [--port 8501]
    python -m playground.cluster down
    python -m playground.cluster haproxy-config --compose > deploy/haproxy.cfg

``up`` brings up the topology ``compose.yaml`` describes, without Docker: a throw-away PostgreSQL
(run as the ``postgres`` user: the server refuses root), a Ray head that trains the runs, the app
replicas (``python -m playground.serve`` with ``SOFTMAX_PLAYGROUND_STORE`` and
``SOFTMAX_PLAYGROUND_RAY`` pointing at the two) and HAProxy in front of them, which keeps each
browser on one replica by a cookie. It prints the one address students open and writes
``cluster.json`` in the current folder: one object per part (``name``, ``pid``, ``address``;
replicas named ``replica-1``, ``replica-2``, …) so that a drill can stop one part by its PID.
``down`` stops every part by its PID (PostgreSQL with ``pg_ctl stop``) and removes the state.

The HAProxy configuration comes from one function, ``haproxy_config``: the same rules here and in
the shipped ``deploy/haproxy.cfg`` (a test checks that the file is what the function writes).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE_FILE = "cluster.json"
HOST = "127.0.0.1"
DEFAULT_PORT = 8501
COOKIE = "SPREPLICA"  # the proxy's cookie: which replica this browser stays on
HEALTH_PATH = "/_stcore/health"
STORE_ENV = "SOFTMAX_PLAYGROUND_STORE"
RAY_ENV = "SOFTMAX_PLAYGROUND_RAY"
COOKIE_SECRET_ENV = "STREAMLIT_SERVER_COOKIE_SECRET"
DATABASE = "playground"
START_TIMEOUT_S = 180.0  # a replica imports torch and loads MNIST; on 2 busy cores that takes a while
STOP_TIMEOUT_S = 15.0
WORKER_PORTS = 200  # Ray's worker processes: one port each

# The replicas of compose.yaml, as the proxy there names them (service name and port).
COMPOSE_REPLICAS = 3
COMPOSE_APP_PORT = 8501


@dataclass
class Part:
    """One started process: what a drill needs to find it and what ``down`` needs to stop it."""

    name: str
    pid: int
    address: str
    log: str = ""
    state: str = ""  # the folder of this cluster's files (data folders, logs, sockets)
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        record = asdict(self)
        record.update(record.pop("extra"))
        return record


@dataclass(frozen=True)
class ClusterConfig:
    replicas: int = 2
    port: int = DEFAULT_PORT  # the proxy's, the one students open
    address: str = HOST  # the proxy's bind address; every other part binds 127.0.0.1 only
    store: str = "postgresql"  # or "sqlite": the replicas share the data folder's runs.db
    trainer: str = "ray"  # or "in-process": each replica trains its own students' runs
    ray_cpus: int = 0  # 0 = this machine's cores
    prepare: bool = True  # MNIST and the default model before the replicas start (as make run does)


class ClusterError(RuntimeError):
    """A part that would not start or stop; the message says which and where its log is."""


# ---------------------------------------------------------------------------------------- HAProxy


def haproxy_config(
    servers: Sequence[tuple[str, str]],
    *,
    bind: str,
    stats_socket: str | None = None,
    resolvers: bool = False,
) -> str:
    """The proxy in front of the replicas; ``servers`` are (cookie value, host:port) pairs.

    Sticky by a cookie the proxy inserts, not by client IP: a class behind one school NAT must
    still spread. Health checks on Streamlit's health endpoint every second, two misses take a
    replica out; ``redispatch`` sends a browser whose replica is gone to a live one (with a new
    cookie), where its tab reconnects. ``resolvers`` re-resolves service names (Docker's DNS), so a
    restarted container with a new address comes back.
    """
    server_options = "check" + (" resolvers docker init-addr last,libc,none" if resolvers else "")
    lines = [
        "# Softmax Playground: a sticky proxy in front of the app replicas.",
        "# Written by `python -m playground.cluster haproxy-config`; edit that function, not this file.",
        "global",
        "    log stdout format raw local0 info",
        "    maxconn 8192",
    ]
    if stats_socket:
        lines.append(f"    stats socket {stats_socket} mode 600 level admin")
    lines += [
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog",
        "    option redispatch  # a browser whose replica is down goes to a live one",
        "    retries 2",
        "    timeout connect 3s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout http-request 10s",
        "    timeout tunnel 2h  # an open websocket: a whole lesson",
        "    timeout client-fin 10s",
        "    timeout server-fin 10s",
        "",
    ]
    if resolvers:
        lines += [
            "resolvers docker",
            "    nameserver dns 127.0.0.11:53",
            "    hold valid 10s",
            "",
        ]
    lines += [
        "frontend hall",
        f"    bind {bind}",
        "    # the log names each request's browser, so a test can see every request of a tab on one replica",
        "    http-request capture req.hdr(User-Agent) len 80",
        "    default_backend replicas",
        "",
        "backend replicas",
        "    balance roundrobin",
        f'    cookie {COOKIE} insert indirect nocache httponly attr "SameSite=Lax"',
        f"    option httpchk GET {HEALTH_PATH}",
        "    http-check expect status 200",
        "    default-server inter 1s fastinter 500ms downinter 2s fall 2 rise 2",
    ]
    lines += [f"    server {cookie} {target} cookie {cookie} {server_options}" for cookie, target in servers]
    return "\n".join(lines) + "\n"


def compose_haproxy_config() -> str:
    """The configuration compose.yaml mounts: its replicas by service name, the proxy on port 8501."""
    servers = [(f"r{i}", f"replica-{i}:{COMPOSE_APP_PORT}") for i in range(1, COMPOSE_REPLICAS + 1)]
    return haproxy_config(servers, bind=f"0.0.0.0:{COMPOSE_APP_PORT}", resolvers=True)


# ---------------------------------------------------------------------------------------- helpers


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` different free ports. The probes stay bound until all are picked: picked one at a
    time, the kernel can hand the same port out twice (Ray then refused to start, two of its parts
    given one port)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind((HOST, 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def free_port_range(count: int) -> int:
    """The first of ``count`` free consecutive ports, below the kernel's ephemeral range (where
    ``free_port`` picks), so no port another part was given falls inside it."""
    rng = random.Random()
    for _ in range(200):
        low = rng.randrange(20_000, 32_000 - count)
        if all(port_is_free(port) for port in range(low, low + count)):
            return low
    raise ClusterError(f"no {count} free consecutive ports between 20000 and 32000")


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def port_open(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def wait_until(ready, process: subprocess.Popen | None, what: str, log: Path, timeout: float) -> None:
    """Poll ``ready()`` until true; a process that exits first, or the timeout, is an error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if process is not None and process.poll() is not None:
            raise ClusterError(f"{what} exited with code {process.returncode}; see {log}:\n{tail(log)}")
        time.sleep(0.25)
    raise ClusterError(f"{what} was not ready after {timeout:.0f} s; see {log}:\n{tail(log)}")


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def spawn(command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A child in its own process group (so ``down`` stops it and whatever it started), output to ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_group(pid: int, timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM the process group ``pid`` leads, then SIGKILL what is left after ``timeout``."""
    try:
        if os.getpgid(pid) != pid:
            return  # not a group we started (the process is gone and its PID reused)
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        _reap(pid)
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _reap(pid)


def _reap(pid: int) -> None:
    """A child of this process stays a zombie (and its group alive) until waited for."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


# ---------------------------------------------------------------------------------------- PostgreSQL


def postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    which = shutil.which(name)
    if which is None:
        raise ClusterError(f"PostgreSQL's {name} was not found (Debian: apt-get install postgresql)")
    return which


def as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def start_postgres(state: Path, port: int) -> Part:
    data = state / "postgres"
    data.mkdir()
    log = state / "postgres.log"
    log.touch()
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        shutil.chown(log, "postgres", "postgres")
    run = lambda command: subprocess.run(as_postgres(command), capture_output=True, text=True, timeout=120)  # noqa: E731
    done = run([postgres_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"])
    if done.returncode != 0:
        raise ClusterError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
    options = f"-p {port} -k {data} -c listen_addresses={HOST}"
    done = run([postgres_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "start", "-w"])
    if done.returncode != 0:
        raise ClusterError(f"PostgreSQL did not start: {done.stderr.strip()}\n{tail(log)}")
    done = run([postgres_bin("createdb"), "-h", HOST, "-p", str(port), "-U", "postgres", DATABASE])
    if done.returncode != 0:
        raise ClusterError(f"createdb failed: {done.stderr.strip()}")
    pid = int((data / "postmaster.pid").read_text().split()[0])
    address = f"postgresql://postgres@{HOST}:{port}/{DATABASE}"
    return Part("postgres", pid, address, log=str(log), state=str(state), extra={"dir": str(data)})


def stop_postgres(part: dict) -> None:
    data = part.get("dir")
    if data and Path(data).exists():
        subprocess.run(
            as_postgres([postgres_bin("pg_ctl"), "-D", data, "stop", "-m", "fast", "-w"]),
            capture_output=True,
            timeout=60,
        )
    try:
        os.kill(part["pid"], signal.SIGKILL)  # only if pg_ctl could not stop it
    except (ProcessLookupError, PermissionError):
        pass


# ---------------------------------------------------------------------------------------- Ray


def start_ray_head(state: Path, cpus: int, token: str) -> Part:
    """``ray start --head --block``: the head node trains (its CPUs are the hall's training cores).

    Every port is picked free, so another Ray on the machine does not collide; ``--block`` keeps
    Ray's processes in this part's process group, so ``down`` stops exactly them (``ray stop``
    would stop every Ray on the machine).
    """
    port, node_manager, object_manager, runtime_env_agent, agent_listen, agent_grpc, metrics = free_ports(7)
    temp = state / "ray"
    log = state / "ray-head.log"
    ray = str(Path(sys.executable).parent / "ray")
    if not Path(ray).exists():
        ray = shutil.which("ray") or "ray"
    worker_low = free_port_range(WORKER_PORTS)
    command = [
        ray, "start", "--head", "--block", "--disable-usage-stats",
        f"--node-ip-address={HOST}", f"--port={port}", f"--num-cpus={cpus}",
        "--include-dashboard=false", f"--temp-dir={temp}",
        f"--object-store-memory={512 * 2**20}",
        f"--node-manager-port={node_manager}",
        f"--object-manager-port={object_manager}", f"--runtime-env-agent-port={runtime_env_agent}",
        f"--dashboard-agent-listen-port={agent_listen}", f"--dashboard-agent-grpc-port={agent_grpc}",
        f"--metrics-export-port={metrics}",
        f"--min-worker-port={worker_low}", f"--max-worker-port={worker_low + WORKER_PORTS - 1}",
    ]  # fmt: skip
    process = spawn(command, log, ray_env(dict(os.environ), token))
    wait_until(lambda: _ray_ready(temp), process, "the Ray head", log, START_TIMEOUT_S)
    return Part("ray-head", process.pid, f"{HOST}:{port}", log=str(log), state=str(state), extra={"dir": str(temp)})


def ray_env(env: dict[str, str], token: str) -> dict[str, str]:
    """Ray 2.60 authenticates every client by a token; without one set, each process reads
    ``~/.ray/auth_token``, which any other Ray on the machine may create or replace (measured: the
    replicas were refused by the head). The hall's own token, given to the head and the replicas."""
    return dict(env, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token, RAY_USAGE_STATS_ENABLED="0")


def _ray_ready(temp: Path) -> bool:
    """The raylet's socket exists once the node can take work."""
    return any(temp.glob("session_*/sockets/raylet*"))


# ---------------------------------------------------------------------------------------- replicas and proxy


def start_replica(state: Path, index: int, env: dict[str, str], port: int) -> Part:
    log = state / f"replica-{index}.log"
    command = [sys.executable, "-m", "playground.serve", "--server.address", HOST, "--server.port", str(port)]
    process = spawn(command, log, env)
    return Part(f"replica-{index}", process.pid, f"http://{HOST}:{port}", log=str(log), state=str(state))


def wait_for_replica(part: Part) -> None:
    process_alive = lambda: _alive(part.pid)  # noqa: E731
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if http_ok(part.address + HEALTH_PATH):
            return
        if not process_alive():
            raise ClusterError(f"{part.name} exited; see {part.log}:\n{tail(Path(part.log))}")
        time.sleep(0.5)
    raise ClusterError(f"{part.name} was not ready after {START_TIMEOUT_S:.0f} s; see {part.log}")


def _alive(pid: int) -> bool:
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def start_proxy(state: Path, config: ClusterConfig, replicas: list[Part]) -> Part:
    servers = [(f"r{i}", part.address.removeprefix("http://")) for i, part in enumerate(replicas, start=1)]
    socket_path = state / "haproxy.sock"
    text = haproxy_config(servers, bind=f"{config.address}:{config.port}", stats_socket=str(socket_path))
    cfg = state / "haproxy.cfg"
    cfg.write_text(text)
    log = state / "proxy.log"
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    checked = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30)
    if checked.returncode != 0:
        raise ClusterError(f"haproxy refused its configuration:\n{checked.stdout}{checked.stderr}")
    process = spawn([haproxy, "-db", "-f", str(cfg)], log)
    host = HOST if config.address in ("0.0.0.0", "") else config.address
    url = f"http://{host}:{config.port}"
    wait_until(lambda: http_ok(url + HEALTH_PATH), process, "haproxy", log, 30)
    extra = {"config": str(cfg), "stats_socket": str(socket_path)}
    return Part("proxy", process.pid, url, log=str(log), state=str(state), extra=extra)


def proxy_stats(stats_socket: str) -> list[dict[str, str]]:
    """HAProxy's ``show stat`` as rows (pxname, svname, scur, stot, status, …)."""
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(5)
        conn.connect(stats_socket)
        conn.sendall(b"show stat\n")
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    lines = b"".join(chunks).decode().strip().splitlines()
    header = lines[0].lstrip("# ").split(",")
    return [dict(zip(header, line.split(","))) for line in lines[1:] if line]


# ---------------------------------------------------------------------------------------- up and down


def replica_env(parts: dict[str, Part], cookie_secret: str, ray_token: str) -> dict[str, str]:
    env = dict(os.environ)
    # One secret for all replicas: a browser moved to another replica keeps a valid XSRF cookie.
    env[COOKIE_SECRET_ENV] = cookie_secret
    env.pop(STORE_ENV, None)
    env.pop(RAY_ENV, None)
    if "postgres" in parts:
        env[STORE_ENV] = parts["postgres"].address
    if "ray-head" in parts:
        env[RAY_ENV] = parts["ray-head"].address
        env = ray_env(env, ray_token)
    return env


def up(config: ClusterConfig, where: Path) -> list[Part]:
    """Start every part; on any failure stop what started and raise ``ClusterError``."""
    state_file = where / STATE_FILE
    if state_file.exists():
        raise ClusterError(f"{state_file} exists: a hall is up (or was not taken down); run `down` first")
    if not port_is_free(config.port, HOST if config.address in ("0.0.0.0", "") else config.address):
        raise ClusterError(f"port {config.port} is in use; pick another with --port")
    state = Path(tempfile.mkdtemp(prefix="sp-hall-"))  # short: Ray's socket paths must stay short
    state.chmod(0o755)  # the postgres user must reach its data folder inside
    started: list[Part] = []
    ray_token = secrets.token_hex(32)
    try:
        if config.prepare:
            prepared = subprocess.run([sys.executable, "-m", "playground.prepare"], cwd=ROOT, timeout=600)
            if prepared.returncode != 0:
                raise ClusterError("python -m playground.prepare failed (see above)")
        named: dict[str, Part] = {}
        if config.store == "postgresql":
            named["postgres"] = start_postgres(state, free_port())
            started.append(named["postgres"])
        if config.trainer == "ray":
            named["ray-head"] = start_ray_head(state, config.ray_cpus or os.cpu_count() or 1, ray_token)
            started.append(named["ray-head"])
        env = replica_env(named, secrets.token_urlsafe(32), ray_token)
        ports = free_ports(config.replicas)  # picked together: each replica binds its own only once it has started
        replicas = [start_replica(state, i, env, port) for i, port in enumerate(ports, start=1)]
        started += replicas
        for part in replicas:
            wait_for_replica(part)
        started.append(start_proxy(state, config, replicas))
    except BaseException:
        stop_parts([part.to_json() for part in started])
        shutil.rmtree(state, ignore_errors=True)
        raise
    state_file.write_text(json.dumps([part.to_json() for part in started], indent=2) + "\n")
    return started


def read_state(where: Path) -> list[dict]:
    return json.loads((where / STATE_FILE).read_text())


def stop_parts(parts: list[dict]) -> None:
    """The proxy first (no new connections), then the replicas, Ray, PostgreSQL last."""
    for part in reversed(parts):
        if part["name"] == "postgres":
            stop_postgres(part)
        else:
            stop_group(part["pid"])


def down(where: Path) -> list[dict]:
    parts = read_state(where)
    stop_parts(parts)
    for state in {part.get("state") for part in parts if part.get("state")}:
        if Path(state).name.startswith("sp-hall-"):
            shutil.rmtree(state, ignore_errors=True)
    (where / STATE_FILE).unlink()
    return parts


# ---------------------------------------------------------------------------------------- command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m playground.cluster", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="start PostgreSQL, a Ray head, the replicas and the proxy")
    start.add_argument("--replicas", type=int, default=2)
    start.add_argument("--port", type=int, default=DEFAULT_PORT, help="the proxy's port, the one students open")
    start.add_argument("--address", default=HOST, help="the proxy's address (0.0.0.0 serves a class's network)")
    start.add_argument("--store", choices=("postgresql", "sqlite"), default="postgresql")
    start.add_argument("--trainer", choices=("ray", "in-process"), default="ray")
    start.add_argument("--ray-cpus", type=int, default=0, help="CPUs the Ray head trains on (0 = all)")
    start.add_argument("--no-prepare", action="store_true", help="skip python -m playground.prepare")
    commands.add_parser("down", help="stop what `up` started here and remove its state")
    render = commands.add_parser("haproxy-config", help="print the proxy configuration compose.yaml uses")
    render.add_argument("--compose", action="store_true", required=True)
    args = parser.parse_args(argv)
    if args.command == "up" and not 1 <= args.replicas <= 64:
        parser.error("--replicas must be between 1 and 64")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "haproxy-config":
        sys.stdout.write(compose_haproxy_config())
        return 0
    from playground.prepare import say  # every line in both languages

    where = Path.cwd()
    if args.command == "down":
        if not (where / STATE_FILE).exists():
            say("cluster.not_up", path=str(where / STATE_FILE))
            return 1
        parts = down(where)
        say("cluster.down", parts=", ".join(part["name"] for part in parts))
        return 0
    config = ClusterConfig(
        replicas=args.replicas,
        port=args.port,
        address=args.address,
        store=args.store,
        trainer=args.trainer,
        ray_cpus=args.ray_cpus,
        prepare=not args.no_prepare,
    )
    try:
        parts = up(config, where)
    except ClusterError as error:
        say("cluster.failed", reason=str(error))
        return 1
    proxy = parts[-1]
    say("cluster.up", url=proxy.address, replicas=config.replicas, parts=", ".join(part.name for part in parts))
    if config.address not in (HOST, "localhost"):
        from playground.addresses import student_urls

        urls = student_urls(config.port, config.address)
        if urls:
            say("serve.students", urls=" · ".join(urls), port=config.port)
    say("cluster.how_to_stop", path=str(where / STATE_FILE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
