"""``python -m playground``: the one way to start the playground on Linux, macOS and Windows alike
(``make run`` calls it): prepare MNIST and the default model, print the addresses, serve warm.

    python -m playground                                 # this machine only, port 8501
    python -m playground --address 0.0.0.0 --port 8502   # the classroom's network
    python -m playground --no-prepare -- --server.maxUploadSize 50   # more Streamlit options after --
"""

from __future__ import annotations

import argparse
import subprocess
import sys


def both(text) -> str:
    """The terminal has no language switch: ``text()`` (a catalogue look-up) in both languages."""
    from playground import i18n

    texts = []
    for lang in i18n.LANGUAGES:
        with i18n.using(lang):
            texts.append(text())
    return " / ".join(texts)


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    from playground.i18n import plain

    parser = argparse.ArgumentParser(prog="python -m playground", description=both(lambda: plain("cli.description")))
    parser.add_argument("--port", type=int, default=8501, help=both(lambda: plain("cli.port")))
    parser.add_argument("--address", default="localhost", help=both(lambda: plain("cli.address")))
    parser.add_argument("--no-prepare", action="store_true", help=both(lambda: plain("cli.no_prepare")))
    options, streamlit_options = parser.parse_known_args(argv)
    return options, [o for o in streamlit_options if o != "--"]


def streamlit_arguments(options: argparse.Namespace, extra: list[str]) -> list[str]:
    return ["--server.address", options.address, "--server.port", str(options.port), *extra]


def main(argv: list[str] | None = None) -> int:
    options, extra = parse(sys.argv[1:] if argv is None else argv)
    if not options.no_prepare:
        # Its own process: prepare opens and closes a room of its own; the server makes a fresh one.
        done = subprocess.run([sys.executable, "-m", "playground.prepare"], check=False)
        if done.returncode != 0:
            return done.returncode
    from playground import addresses, serve

    addresses.main(["addresses", str(options.port), options.address])
    return serve.main(streamlit_arguments(options, extra))


if __name__ == "__main__":
    sys.exit(main())
