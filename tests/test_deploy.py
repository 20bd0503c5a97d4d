"""The lecture hall's deployment files: compose.yaml, the Dockerfile and the proxy's configuration.

No Docker daemon and no network here, so what can be checked is checked offline: compose.yaml
against the Compose Specification's JSON schema (vendored in deploy/schema, Apache-2.0), every
file, folder and env file it names exists, the proxy's configuration is what
``playground.cluster`` writes and HAProxy accepts it, and the Dockerfile installs what the
tests install.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from playground import cluster

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose.yaml"
SCHEMA = ROOT / "deploy" / "schema" / "compose-spec.json"
# Images compose.yaml pulls (everything else is built from the Dockerfile): official images,
# each at a version, never `latest`, so a hall comes up the same way next term.
PULLED_IMAGES = {"postgres": "postgres:15", "proxy": "haproxy:2.6"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_follows_the_compose_specification(compose):
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors]


def test_the_schema_check_catches_a_wrong_compose_file(compose):
    schema = json.loads(SCHEMA.read_text())
    broken = json.loads(json.dumps(compose))
    broken["services"]["proxy"]["ports"] = "8501:8501"  # a string, not a list
    broken["services"]["postgres"]["restrat"] = "always"  # a typo
    messages = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(broken)]
    assert any("restrat" in m for m in messages) and len(messages) >= 2


def test_every_service_is_built_here_or_pulls_a_pinned_official_image(compose):
    for name, service in compose["services"].items():
        if "build" in service:
            context = ROOT / (service["build"] if isinstance(service["build"], str) else service["build"]["context"])
            dockerfile = "Dockerfile" if isinstance(service["build"], str) else service["build"].get("dockerfile")
            assert context.is_dir() and (context / (dockerfile or "Dockerfile")).is_file(), name
            assert service["image"] == "softmax-playground:latest", name
        else:
            assert service.get("image") == PULLED_IMAGES.get(name), f"{name} pulls an image nobody pinned"


def test_every_file_and_env_file_compose_names_exists(compose):
    declared_volumes = set(compose.get("volumes", {}))
    for name, service in compose["services"].items():
        for entry in service.get("env_file", []):
            entry = {"path": entry} if isinstance(entry, str) else entry
            path = ROOT / entry["path"]
            if entry.get("required", True):
                assert path.is_file(), f"{name}: env file {path} is missing"
            else:  # the operator's own copy: an example ships beside it
                assert path.with_name(path.name + ".example").is_file(), f"{name}: no example for {path}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in declared_volumes, f"{name}: volume {source} is not declared"
        for dependency in service.get("depends_on", []):
            assert dependency in compose["services"], f"{name} depends on unknown {dependency}"


def test_the_example_env_file_names_only_settings_the_app_reads():
    from core.limits import RoomLimits, env_name
    from playground.teacher import PASSCODE_ENV

    known = {env_name(field) for field in RoomLimits.__dataclass_fields__} | {PASSCODE_ENV}
    example = (ROOT / "deploy" / "room.env.example").read_text()
    names = re.findall(r"^#?\s*(SOFTMAX_PLAYGROUND_[A-Z_]+)=", example, flags=re.MULTILINE)
    assert PASSCODE_ENV in names
    assert set(names) <= known, set(names) - known


def test_the_proxy_configuration_is_what_the_cluster_tool_writes_for_composes_replicas(compose):
    shipped = (ROOT / "deploy" / "haproxy.cfg").read_text()
    assert shipped == cluster.compose_haproxy_config()
    servers = re.findall(r"^\s+server (\S+) (\S+):(\d+) cookie (\S+)", shipped, flags=re.MULTILINE)
    replicas = sorted(name for name in compose["services"] if name.startswith("replica-"))
    assert sorted(host for _, host, _, _ in servers) == replicas
    assert all(port == str(cluster.COMPOSE_APP_PORT) and name == cookie for name, _, port, cookie in servers)
    assert "./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in compose["services"]["proxy"]["volumes"]


def test_the_proxy_is_sticky_by_cookie_checks_health_and_keeps_websockets_open():
    text = cluster.haproxy_config([("r1", "127.0.0.1:1"), ("r2", "127.0.0.1:2")], bind="127.0.0.1:3")
    assert "balance roundrobin" in text and "balance source" not in text  # not by client IP: a NAT must spread
    assert re.search(r"cookie SPREPLICA insert indirect nocache", text)
    assert "server r1 127.0.0.1:1 cookie r1 check" in text and "server r2 127.0.0.1:2 cookie r2 check" in text
    assert "option httpchk GET /_stcore/health" in text and "option redispatch" in text
    assert re.search(r"inter 1s .*fall 2", text)  # two missed checks a second apart take a replica out
    assert "timeout tunnel 2h" in text


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="Debian's haproxy is not installed")
def test_haproxy_accepts_both_configurations(tmp_path):
    local = tmp_path / "local.cfg"
    local.write_text(cluster.haproxy_config([("r1", "127.0.0.1:1")], bind="127.0.0.1:2", stats_socket="/tmp/x.sock"))
    for path in (ROOT / "deploy" / "haproxy.cfg", local):
        checked = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def pins(path: Path) -> dict[str, str]:
    """name → version of every ``name==version`` line (extras dropped: ``psycopg[binary]`` → ``psycopg``)."""
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", path.read_text(), flags=re.MULTILINE))


def test_the_dockerfile_installs_what_the_tests_install():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    cpu_wheels = re.search(r"pip install (torch==\S+) (torchvision==\S+) --index-url \S+/whl/cpu", dockerfile)
    assert cpu_wheels, "PyTorch's CPU-only wheels"
    app_pins = pins(ROOT / "requirements.txt")
    assert cpu_wheels.group(1) == f"torch=={app_pins['torch']}"
    assert cpu_wheels.group(2) == f"torchvision=={app_pins['torchvision']}"
    installed = re.findall(r"-r (\S+)", dockerfile)
    assert installed == ["requirements.txt", "requirements-cluster.txt"]
    assert all((ROOT / name).is_file() for name in installed)
    assert "-r requirements.txt" in (ROOT / "Makefile").read_text()  # what `make test` installs first
    assert {"ray", "psycopg"} <= set(pins(ROOT / "requirements-cluster.txt"))


def test_ports_picked_together_are_all_different_and_free():
    """Ray refused to start when two of its parts were given one port (picked one at a time, the
    kernel handed the same free port out twice); the cluster tool picks a part's ports together."""
    ports = cluster.free_ports(60)
    assert len(set(ports)) == 60
    assert all(cluster.port_is_free(port) for port in ports)
