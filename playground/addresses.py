"""The addresses students can open: this machine's LAN addresses, not ``0.0.0.0`` or ``localhost``.

``make run ADDRESS=0.0.0.0`` serves every network the laptop is on; students need one of its
real addresses. ``python -m playground.addresses 8501`` prints them (the Makefile does), and the
Teacher page puts them, with a QR code, on the projector.
"""

from __future__ import annotations

import ipaddress
import sys
from urllib.parse import urlsplit

import ifaddr


def lan_addresses() -> list[str]:
    """IPv4 addresses of this machine that other machines can reach: private ranges first."""
    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if not isinstance(ip.ip, str):
                continue  # IPv6: classroom Wi-Fi and students typing addresses use IPv4
            address = ipaddress.ip_address(ip.ip)
            if address.is_loopback or address.is_link_local or address.is_unspecified:
                continue
            found.append(address)
    unique = sorted(set(found), key=lambda a: (not a.is_private, a))
    return [str(a) for a in unique]


LOCAL_ONLY = ("localhost", "127.0.0.1", "::1")  # bound there, a server answers this machine alone


def serves_only_this_machine(address: str | None) -> bool:
    """True for a server bound to a loopback address: no other machine can open it."""
    return (address or "").strip().lower() in LOCAL_ONLY


def is_loopback_url(url: str) -> bool:
    """True for a URL only this machine can open (``http://localhost:8501``, ``http://127.0.0.1:…``)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: another machine may know it
        return False


def student_urls(port: int, address: str | None = "0.0.0.0") -> list[str]:
    """The URLs to give students for a server bound to ``address`` (Streamlit's ``server.address``;
    unset, it listens on every network)."""
    address = (address or "").strip()
    if address in ("0.0.0.0", "::", ""):
        hosts = lan_addresses()
    elif serves_only_this_machine(address):
        hosts = []  # only this machine can open it
    else:
        hosts = [f"[{address}]" if ":" in address else address]
    return [f"http://{host}:{port}" for host in hosts]


def main(argv: list[str]) -> int:
    from playground.prepare import say  # every line in both languages

    port = int(argv[1]) if len(argv) > 1 else 8501
    address = argv[2] if len(argv) > 2 else "0.0.0.0"
    urls = student_urls(port, address)
    if serves_only_this_machine(address):
        say("serve.local", port=port)
    elif urls:
        say("serve.students", urls=" · ".join(urls), port=port)
    else:
        say("serve.no_address", port=port)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
