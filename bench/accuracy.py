"""Accuracy of the lecture's models and the 99% CNN on MNIST, printed per epoch, with their time.

    python -m bench.accuracy [--seeds 0 1 2 3 4] [--baseline-seeds 0] [--only mlp cnn cnn2]

The default MLP for 10 epochs with the lecture's settings (target >= 97.3%; the lecture
reports about 97%), the lecture's CNN for 3 epochs (target >= 98%) and the second CNN
(24/32 filters, 256 units; Adam, peak lr 0.004, one-cycle, batch 256) for 2 epochs (target
>= 99.0%). One torch thread, as the room's scheduler trains each run. ``--baseline-seeds``
limits the two lecture models to fewer seeds (by default all of ``--seeds``).
"""

from __future__ import annotations

import argparse
import time

import torch

from core import data
from core.models import ModelSpec, build_model
from core.training import TrainConfig, fit

MODELS = {
    "mlp": ("MLP", ModelSpec(), dict(epochs=10), 0.973),
    "cnn": ("CNN", ModelSpec(kind="cnn"), dict(epochs=3), 0.98),
    "cnn2": (
        "CNN for 99%",
        ModelSpec(kind="cnn2"),
        dict(epochs=2, batch_size=256, lr=0.004, optimizer="adam", schedule="onecycle"),
        0.99,
    ),
}


def run(name: str, spec: ModelSpec, config: TrainConfig, train, test, target: float) -> tuple[float, float]:
    model = build_model(spec, seed=config.seed)
    start = time.perf_counter()
    history = fit(model, config, train, test, device="cpu")
    seconds = time.perf_counter() - start
    print(f"\n{name}: {spec.label()}, {config.epochs} epochs, seed {config.seed}")
    for stats in history.epochs:
        print(
            f"  epoch {stats.epoch:2d}  train loss {stats.train_loss:.4f}  "
            f"test loss {stats.test_loss:.4f}  test accuracy {stats.test_accuracy:.2%}"
        )
    final = history.test_accuracy[-1]
    verdict = "meets" if final >= target else "MISSES"
    print(f"  final {final:.2%} ({verdict} target {target:.1%}) in {seconds:.0f} s", flush=True)
    return final, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--baseline-seeds", type=int, nargs="+", default=None)
    parser.add_argument("--only", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    args = parser.parse_args()
    torch.set_num_threads(1)

    train_split = data.load_mnist_split(train=True)
    test_split = data.load_mnist_split(train=False, sources=(train_split.source,))
    train = (data.normalize(train_split.images), train_split.labels)
    test = (data.normalize(test_split.images), test_split.labels)
    print(f"data: {train_split.description}; one torch thread")

    results: dict[str, list[tuple[int, float, float]]] = {key: [] for key in args.only}
    for seed in args.seeds:
        for key in args.only:
            if key != "cnn2" and args.baseline_seeds is not None and seed not in args.baseline_seeds:
                continue
            name, spec, settings, target = MODELS[key]
            final, seconds = run(name, spec, TrainConfig(seed=seed, **settings), train, test, target)
            results[key].append((seed, final, seconds))

    print("\nsummary (side by side, this machine, this run)")
    print(f"{'model':14s} {'epochs':>6s} {'target':>7s} {'min':>7s} {'mean':>7s} {'max':>7s} {'s/run':>6s}  per seed")
    for key, rows in [(k, r) for k, r in results.items() if r]:
        name, _, settings, target = MODELS[key]
        accuracies = [a for _, a, _ in rows]
        per_seed = " ".join(f"{seed}:{a:.2%}" for seed, a, _ in rows)
        print(
            f"{name:14s} {settings['epochs']:6d} {target:7.1%} {min(accuracies):7.2%} "
            f"{sum(accuracies) / len(accuracies):7.2%} {max(accuracies):7.2%} "
            f"{sum(s for _, _, s in rows) / len(rows):6.0f}  {per_seed}"
        )


if __name__ == "__main__":
    main()
