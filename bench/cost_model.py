"""The room's cost model against steps measured here, side by side.

``core.limits.seconds_per_step`` decides which runs a room can afford; this prints its estimate
next to a measured step (one torch thread) for the models and batch sizes students pick.

    python -m bench.cost_model
"""

from __future__ import annotations

import time

import torch

from core.limits import seconds_per_step
from core.models import ModelSpec, build_model
from core.training import TrainConfig, make_optimizer

CASES = (
    (ModelSpec(), 64),
    (ModelSpec(), 1),
    (ModelSpec(), 16),
    (ModelSpec(), 512),
    (ModelSpec(hidden_sizes=()), 64),
    (ModelSpec(hidden_sizes=(1024, 1024)), 16),
    (ModelSpec(hidden_sizes=(4096, 4096)), 64),
    (ModelSpec(kind="cnn"), 64),
    (ModelSpec(kind="cnn"), 1),
    (ModelSpec(kind="cnn2"), 256),
    (ModelSpec(kind="cnn2"), 64),
)


def measured_step(spec: ModelSpec, batch: int, seconds: float = 1.0) -> float:
    model = build_model(spec, seed=0)
    if spec.kind != "mlp":  # as TrainLoop trains it
        model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, TrainConfig(batch_size=batch, optimizer="adam" if spec.kind == "cnn2" else "sgd"))
    X, y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    steps, started = 0, time.perf_counter()
    while steps < 3 or time.perf_counter() - started < seconds:
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(X), y)
        loss.item()
        loss.backward()
        optimizer.step()
        steps += 1
    return (time.perf_counter() - started) / steps


def main() -> None:
    torch.set_num_threads(1)
    print(f"{'model':34s} {'batch':>5s} {'estimate ms':>12s} {'measured ms':>12s} {'ratio':>6s}")
    for spec, batch in CASES:
        estimate, measured = seconds_per_step(spec, batch), measured_step(spec, batch)
        print(f"{spec.label():34s} {batch:5d} {1e3 * estimate:12.3f} {1e3 * measured:12.3f} {estimate / measured:6.2f}")


if __name__ == "__main__":
    main()
