"""Replaying a steered run: the same seed and the same live changes at the same steps.

A student pauses a run, doubles the lr at step 400 and resumes; the history records each
change (``History.changes``). ``replay`` trains a fresh model with those changes applied
before the same batches, and gets the same numbers bit for bit: the changes are applied only
between batches, and everything else the run depends on lives in its ``TrainLoop``.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch.nn as nn

from core.training import Change, History, Pair, TrainConfig, TrainLoop


def replay(
    model: nn.Module,
    config: TrainConfig,
    train: Pair,
    test: Pair,
    changes: Iterable[Change],
    device="cpu",
    stop_at: int | None = None,
) -> History:
    """Train ``model`` as ``fit`` does, applying each change before batch ``change.step + 1``.

    ``stop_at`` ends the run after that many batches (a run that was stopped early).
    """
    loop = TrainLoop(model, config, train, test, device)
    try:
        for change in sorted(changes, key=lambda c: c.step):  # stable: same-step changes keep their order
            loop.run(max_batches=max(0, change.step - loop.step))
            loop.change(change.name, change.value)
        loop.run(max_batches=None if stop_at is None else max(0, stop_at - loop.step))
        return loop.finish(stopped=not loop.done)
    finally:
        loop.close()
