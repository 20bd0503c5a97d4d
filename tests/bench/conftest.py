"""A small app served for the protocol client's tests."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

APPS = Path(__file__).resolve().parent / "apps"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def serve_app(tmp_path):
    """``serve_app("name.py")`` → the base URL of ``streamlit run tests/bench/apps/name.py`` on
    127.0.0.1, with Streamlit's default settings (it runs in an empty folder); stopped afterwards."""
    started = []

    def serve(name: str, timeout: float = 120.0) -> str:
        port = _free_port()
        log = open(tmp_path / f"{name}.log", "wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(APPS / name), "--server.address", "127.0.0.1"]
            + ["--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append((process, log))
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / f"{name}.log").read_text()
            try:
                with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        return base_url
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise AssertionError(f"streamlit did not answer on {base_url} within {timeout:g} s")

    yield serve
    for process, log in started:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()
