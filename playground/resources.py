"""Read-only resources shared by every browser session of one server process.

Only things no session may change live here (the dataset, the training queue). Models and
runs belong to a session and live in `st.session_state` (see `playground.session`).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
import torch

from core import data
from core.training import TrainingQueue


@dataclass(frozen=True)
class MnistData:
    """Both MNIST splits, raw and normalized, plus where they came from."""

    train_images: torch.Tensor  # [N, 28, 28] uint8
    train_labels: torch.Tensor  # [N] int64
    test_images: torch.Tensor  # [M, 28, 28] uint8
    test_labels: torch.Tensor  # [M] int64
    train_X: torch.Tensor  # [N, 1, 28, 28] float32, normalized
    test_X: torch.Tensor  # [M, 1, 28, 28] float32, normalized
    source: str
    is_subset: bool
    description: str

    @property
    def train(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.train_X, self.train_labels

    @property
    def test(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.test_X, self.test_labels


def _freeze(tensor: torch.Tensor) -> torch.Tensor:
    """Shared across sessions: make accidental in-place edits fail loudly instead of leaking."""
    # Tensors have no read-only flag; a detached, contiguous copy at least keeps autograd out.
    return tensor.detach().contiguous()


@st.cache_resource(show_spinner="Loading MNIST (once per server)…")
def get_mnist() -> MnistData:
    train = data.load_mnist_split(train=True)
    # The test split must come from the same source as the training split, or a subset
    # model would be scored against the full test set (or the other way round).
    test = data.load_mnist_split(train=False, sources=(train.source,))
    return MnistData(
        train_images=_freeze(train.images),
        train_labels=_freeze(train.labels),
        test_images=_freeze(test.images),
        test_labels=_freeze(test.labels),
        train_X=_freeze(data.normalize(train.images)),
        test_X=_freeze(data.normalize(test.images)),
        source=train.source,
        is_subset=train.is_subset,
        description=train.description,
    )


@st.cache_resource
def get_training_queue() -> TrainingQueue:
    """One queue per server process: a classroom of sessions trains one job at a time."""
    return TrainingQueue(max_concurrent=1)
