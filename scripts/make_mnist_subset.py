"""Make core/assets/mnist_subset.npz: a small, class-balanced, real MNIST subset.

    python -m scripts.make_mnist_subset            # from the full MNIST (cache, download or mirror)

Takes the same images every time: per digit, a seeded random choice of 600 training and 100 test
images, kept in MNIST's original order. Stores them as uint8 with their indices into the official
splits (so anyone can check they are real MNIST), compressed. The full set never ships: ~11 MB
compressed is too much for a repository, and the app fetches it at run time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from core import data

SEED = 0
TRAIN_PER_CLASS = 600
TEST_PER_CLASS = 100


def balanced_indices(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """``per_class`` random indices of every digit, sorted back into the dataset's order."""
    chosen = [rng.choice(np.flatnonzero(labels == digit), size=per_class, replace=False) for digit in range(10)]
    return np.sort(np.concatenate(chosen))


def make_subset(train: data.MnistSplit, test: data.MnistSplit, seed: int = SEED) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    train_index = balanced_indices(train.labels.numpy(), TRAIN_PER_CLASS, rng)
    test_index = balanced_indices(test.labels.numpy(), TEST_PER_CLASS, rng)
    return {
        "train_images": train.images.numpy()[train_index],  # [6000, 28, 28] uint8
        "train_labels": train.labels.numpy()[train_index].astype(np.uint8),  # [6000]
        "train_index": train_index.astype(np.int32),  # rows of the official training set
        "test_images": test.images.numpy()[test_index],  # [1000, 28, 28] uint8
        "test_labels": test.labels.numpy()[test_index].astype(np.uint8),  # [1000]
        "test_index": test_index.astype(np.int32),  # rows of the official test set
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=data.SUBSET_PATH)
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST cache folder (default: the app's)")
    args = parser.parse_args()

    full_sources = ("cache", "download", "mirror")  # never the subset itself
    train = data.load_mnist_split(train=True, data_dir=args.data_dir, sources=full_sources)
    test = data.load_mnist_split(train=False, data_dir=args.data_dir, sources=full_sources)
    print(f"from: {train.description}")
    if len(train.images) != 60_000 or len(test.images) != 10_000:
        raise SystemExit("the subset must be drawn from the full MNIST (60,000 / 10,000)")

    subset = make_subset(train, test)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **subset)
    size_mb = args.out.stat().st_size / 1e6
    counts = f"{len(subset['train_images'])} train / {len(subset['test_images'])} test"
    print(f"wrote {args.out}: {counts}, {size_mb:.2f} MB")


if __name__ == "__main__":
    main()
