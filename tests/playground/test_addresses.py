"""The addresses students open: this machine's LAN addresses, never 0.0.0.0 or localhost."""

from types import SimpleNamespace

import pytest

from playground import addresses


def adapter(*ips):
    return SimpleNamespace(ips=[SimpleNamespace(ip=ip) for ip in ips])


def test_lan_addresses_keep_reachable_ipv4_private_ones_first(monkeypatch):
    adapters = [
        adapter("127.0.0.1", ("::1", 0, 0)),
        adapter("169.254.3.4", "203.0.113.7"),
        adapter("192.168.1.20", ("fe80::1", 0, 2)),
        adapter("10.0.0.5", "192.168.1.20"),
    ]
    monkeypatch.setattr(addresses.ifaddr, "get_adapters", lambda: adapters)
    assert addresses.lan_addresses() == ["10.0.0.5", "192.168.1.20", "203.0.113.7"]


def test_a_server_on_every_network_lists_the_lan_addresses(monkeypatch):
    monkeypatch.setattr(addresses, "lan_addresses", lambda: ["192.168.1.20", "10.0.0.5"])
    assert addresses.student_urls(8501, "0.0.0.0") == ["http://192.168.1.20:8501", "http://10.0.0.5:8501"]
    assert addresses.student_urls(9000) == ["http://192.168.1.20:9000", "http://10.0.0.5:9000"]
    assert addresses.student_urls(8501, "::") == addresses.student_urls(8501, "")


@pytest.mark.parametrize("address", ["localhost", "127.0.0.1", "::1"])
def test_a_local_server_has_no_student_addresses(monkeypatch, address):
    monkeypatch.setattr(addresses, "lan_addresses", lambda: ["192.168.1.20"])
    assert addresses.student_urls(8501, address) == []


def test_a_named_address_is_the_one_to_open(monkeypatch):
    monkeypatch.setattr(addresses, "lan_addresses", lambda: ["192.168.1.20"])
    assert addresses.student_urls(8501, "10.1.2.3") == ["http://10.1.2.3:8501"]
    assert addresses.student_urls(8501, "classroom.local") == ["http://classroom.local:8501"]


def test_main_prints_the_urls_for_students(monkeypatch, capsys):
    monkeypatch.setattr(addresses, "lan_addresses", lambda: ["192.168.1.20", "10.0.0.5"])
    assert addresses.main(["addresses", "8600", "0.0.0.0"]) == 0
    out = capsys.readouterr().out
    english, chinese = out.splitlines()  # the terminal has no language switch: both, one line each
    assert "students open http://192.168.1.20:8600 · http://10.0.0.5:8600" in english
    assert "http://localhost:8600" in english and "学生打开 http://192.168.1.20:8600" in chinese


def test_main_for_a_local_server_says_how_to_serve_a_class(monkeypatch, capsys):
    monkeypatch.setattr(addresses, "lan_addresses", lambda: ["192.168.1.20"])
    addresses.main(["addresses", "8501", "localhost"])
    out = capsys.readouterr().out
    assert "http://localhost:8501" in out and "ADDRESS=0.0.0.0" in out and "192.168" not in out


def test_main_without_a_network(monkeypatch, capsys):
    monkeypatch.setattr(addresses, "lan_addresses", list)
    addresses.main(["addresses"])
    assert "no network address found" in capsys.readouterr().out


def test_streamlits_unset_address_serves_every_network(monkeypatch):
    monkeypatch.setattr(addresses, "lan_addresses", lambda: ["192.168.1.20"])
    assert addresses.student_urls(8501, None) == ["http://192.168.1.20:8501"]  # server.address left unset
    assert not addresses.serves_only_this_machine(None) and not addresses.serves_only_this_machine("0.0.0.0")
    assert all(addresses.serves_only_this_machine(a) for a in ("localhost", "127.0.0.1", "::1", " LOCALHOST "))


def test_an_ipv6_address_is_bracketed_in_its_url():
    assert addresses.student_urls(8501, "fd00::5") == ["http://[fd00::5]:8501"]


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://localhost:8501/Train?lesson=x", True),
        ("http://127.0.0.1:8501", True),
        ("http://[::1]:8501", True),
        ("http://192.168.1.20:8501", False),
        ("http://classroom.local:8501", False),
    ],
)
def test_loopback_urls_are_told_apart(url, loopback):
    assert addresses.is_loopback_url(url) is loopback
