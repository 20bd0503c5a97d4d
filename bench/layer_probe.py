"""What the "which layer learns?" panel costs, measured side by side, and what it shows.

    python -m bench.layer_probe [--batches 600] [--rounds 3]

For each model the same batches are trained with and without ``core.layer_stats.LayerProbe``
(the default: norms and ratios every 20 batches, histograms every 100), the two runs taking
turns batch by batch so that a machine shared with others slows both alike; the cost is the
ratio of the medians over the rounds (target <= 5%). Then the panel's point: after 300 batches of the lecture's MLP with
sigmoid and with ReLU, the first layer's gradient norm relative to the last layer's.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from core import data
from core.layer_stats import LayerProbe
from core.models import ModelSpec, build_model
from core.training import TrainConfig, TrainLoop

CASES = (
    ("lecture MLP, SGD, batch 64", ModelSpec(), TrainConfig(epochs=50)),
    ("MLP sigmoid, SGD, batch 64", ModelSpec(activation="sigmoid"), TrainConfig(epochs=50)),
    (
        "CNN for 99%, Adam, batch 256",
        ModelSpec(kind="cnn2"),
        TrainConfig(epochs=50, batch_size=256, lr=0.004, optimizer="adam", schedule="onecycle"),
    ),
)


def interleaved_seconds(spec, config, train, test, batches: int) -> tuple[float, float]:
    """(seconds without the probe, seconds with it) over the same batches of two identical runs.

    The two runs take turns batch by batch, so a machine shared with others slows both alike.
    """
    loops = []
    for probe in (False, True):
        model = build_model(spec, seed=0)
        loop = TrainLoop(model, config, train, test, device="cpu")
        if probe:
            loop.probe = LayerProbe(model)
        loop.run(max_batches=5)  # warm-up
        loops.append(loop)
    spent = [0.0, 0.0]
    for _ in range(batches):
        for i, loop in enumerate(loops):
            start = time.perf_counter()
            loop.run(max_batches=1)
            spent[i] += time.perf_counter() - start
    for loop in loops:
        loop.close()
    return spent[0], spent[1]


def first_over_last(spec, train, test, batches: int = 300) -> float:
    model = build_model(spec, seed=0)
    loop = TrainLoop(model, TrainConfig(epochs=50), train, test, device="cpu")
    loop.probe = LayerProbe(model)
    loop.run(max_batches=batches)
    loop.close()
    last = loop.probe.trace.points[-1]
    return last.grad_norms[0] / last.grad_norms[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    train_split = data.load_mnist_split(train=True)
    test_split = data.load_mnist_split(train=False, sources=(train_split.source,))
    train = (data.normalize(train_split.images), train_split.labels)
    test = (data.normalize(test_split.images[:1000]), test_split.labels[:1000])
    print(f"data: {train_split.description}; one torch thread; {args.batches} batches x {args.rounds} rounds\n")
    print(f"{'model':32s} {'without s':>10s} {'with s':>10s} {'cost':>8s}")
    for name, spec, config in CASES:
        rounds = [interleaved_seconds(spec, config, train, test, args.batches) for _ in range(args.rounds)]
        a, b = statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)
        print(f"{name:32s} {a:10.2f} {b:10.2f} {(b / a - 1) * 100:7.1f}%  (target <= 5%)", flush=True)
    print("\nfirst layer's gradient norm / last layer's, after 300 batches of the lecture's MLP:")
    for activation in ("sigmoid", "relu"):
        ratio = first_over_last(ModelSpec(activation=activation), train, test)
        print(f"  {activation:8s} {ratio:.4f}")


if __name__ == "__main__":
    main()
