"""`python -m playground`: the one entry on every system — prepare, addresses, serve, with the options passed on."""

from __future__ import annotations

import subprocess
import sys

import playground.__main__ as entry
from playground import addresses, serve


def test_port_address_and_streamlit_options_are_passed_on():
    options, extra = entry.parse(["--port", "8502", "--address", "0.0.0.0", "--", "--server.maxUploadSize", "50"])
    assert (options.port, options.address, options.no_prepare) == (8502, "0.0.0.0", False)
    assert entry.streamlit_arguments(options, extra) == [
        "--server.address",
        "0.0.0.0",
        "--server.port",
        "8502",
        "--server.maxUploadSize",
        "50",
    ]
    defaults, _ = entry.parse([])
    assert (defaults.port, defaults.address) == (8501, "localhost")  # this machine only unless asked


def test_main_prepares_in_its_own_process_then_prints_the_addresses_and_serves(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda args, check: calls.append(("prepare", args)) or _Done(0))
    monkeypatch.setattr(addresses, "main", lambda argv: calls.append(("addresses", argv)) or 0)
    monkeypatch.setattr(serve, "main", lambda argv: calls.append(("serve", argv)) or 0)
    assert entry.main(["--port", "9000"]) == 0
    assert calls == [
        ("prepare", [sys.executable, "-m", "playground.prepare"]),
        ("addresses", ["addresses", "9000", "localhost"]),
        ("serve", ["--server.address", "localhost", "--server.port", "9000"]),
    ]


def test_a_failed_prepare_stops_before_serving(monkeypatch):
    served = []
    monkeypatch.setattr(subprocess, "run", lambda args, check: _Done(1))
    monkeypatch.setattr(serve, "main", lambda argv: served.append(argv) or 0)
    assert entry.main([]) == 1 and not served
    monkeypatch.setattr(addresses, "main", lambda argv: 0)
    assert entry.main(["--no-prepare"]) == 0 and served  # --no-prepare skips it


def test_help_speaks_both_languages(capsys):
    try:
        entry.parse(["--help"])
    except SystemExit:
        pass
    shown = capsys.readouterr().out
    assert "localhost" in shown and "仅本机" in shown


class _Done:
    def __init__(self, returncode: int):
        self.returncode = returncode
