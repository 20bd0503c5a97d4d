"""The room's data: both MNIST splits, loaded once per process and shared by every page."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch

from core import data as mnist_data
from core.limits import RoomLimits


@dataclass(frozen=True)
class MnistData:
    """Both MNIST splits, raw and normalized, plus where they came from."""

    train_images: torch.Tensor  # [N, 28, 28] uint8
    train_labels: torch.Tensor  # [N] int64
    test_images: torch.Tensor  # [M, 28, 28] uint8
    test_labels: torch.Tensor  # [M] int64
    train_X: torch.Tensor  # [N, 1, 28, 28] float32, normalized
    test_X: torch.Tensor  # [M, 1, 28, 28] float32, normalized
    source: str  # "cache" | "download" | "mirror" | "subset"
    location: str  # the folder it came from ("" for the shipped subset)
    failures: tuple[str, ...]  # why the sources tried first failed

    @property
    def is_subset(self) -> bool:
        return self.source == "subset"

    @property
    def train(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.train_X, self.train_labels

    @property
    def test(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.test_X, self.test_labels

    def train_slice(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``n`` training images: a room's smaller budget per run."""
        return self.train_X[:n], self.train_labels[:n]


def load_mnist_data() -> MnistData:
    train = mnist_data.load_mnist_split(train=True)
    # The test split must come from the same source as the training split, or a subset
    # model would be scored against the full test set (or the other way round).
    test = mnist_data.load_mnist_split(train=False, sources=(train.source,))
    return MnistData(
        train_images=train.images,
        train_labels=train.labels,
        test_images=test.images,
        test_labels=test.labels,
        train_X=mnist_data.normalize(train.images),
        test_X=mnist_data.normalize(test.images),
        source=train.source,
        location=train.location,
        failures=train.failures,
    )


class RoomData:
    """MNIST for the whole process: loaded on first use; a failure is not kept, the next call retries."""

    def __init__(self, limits: RoomLimits, loader: Callable[[], MnistData] = load_mnist_data):
        self.limits = limits
        self._loader = loader
        self._lock = threading.Lock()
        self._mnist: MnistData | None = None

    def mnist(self) -> MnistData:
        """MNIST, loaded once (``MnistLoadError`` when no source works; the next call tries again)."""
        with self._lock:
            if self._mnist is None:
                self._mnist = self._loader()
            return self._mnist

    def pairs(self) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """(train, test) normalized pairs: what an in-process trainer trains on."""
        mnist = self.mnist()
        return mnist.train, mnist.test

    def images_per_run(self) -> int:
        n = len(self.mnist().train_labels)
        return min(n, self.limits.train_images) if self.limits.train_images else n
