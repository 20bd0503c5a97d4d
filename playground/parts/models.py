"""Draw's model cache: stored runs' models and parsed histories, kept in memory by size.

A run's row changes while it trains (a checkpoint per epoch) and once more when it ends, so a
history is kept under the row's version (its status and last checkpoint), not its id alone.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import torch

from core.checkpoint import load_checkpoint
from core.store import StoredRun
from core.training import History

# Models kept in memory for Draw, by their weights' size: about a class's active models (the
# lecture's MLP is 2.3 MB); the rest are read from the store when needed (~20 ms).
LOADED_MODELS_MB = 64.0
LOADED_HISTORIES = 256  # parsed histories (a run's curves and mistakes: ~0.1 MB each)


def version_of(record: StoredRun) -> tuple:
    """What changes whenever the stored run's history or weights do."""
    return record.status, record.meta.get("checkpointed"), record.size_bytes


class ModelCache:
    """``model(run_id)`` and ``history(run_id)`` from memory, else safely from the store."""

    def __init__(self, store):
        self.store = store
        self._lock = threading.Lock()
        self._models: OrderedDict[str, torch.nn.Module] = OrderedDict()
        self._histories: OrderedDict[str, tuple[tuple, History]] = OrderedDict()

    def model(self, run_id: str, owner: str | None = None) -> torch.nn.Module | None:
        """The run's model (eval mode, CPU), from memory or safely from the store."""
        with self._lock:
            if run_id in self._models:
                self._models.move_to_end(run_id)
                return self._models[run_id]
        weights = self.store.weights(run_id, owner)
        if not weights:  # no run, or one interrupted before anything was trained
            return None
        model = load_checkpoint(weights).model
        self.remember_model(run_id, model)
        return model

    def remember_model(self, run_id: str, model: torch.nn.Module) -> None:
        model.eval()
        for parameter in model.parameters():  # shared between tabs: nobody trains it by accident
            parameter.requires_grad_(False)
        with self._lock:
            self._models[run_id] = model
            self._models.move_to_end(run_id)
            while len(self._models) > 1 and sum(map(_megabytes, self._models.values())) > LOADED_MODELS_MB:
                self._models.popitem(last=False)

    def forget_model(self, run_id: str) -> None:
        with self._lock:
            self._models.pop(run_id, None)
            self._histories.pop(run_id, None)

    def history(self, run_id: str, record: StoredRun | None = None) -> History:
        """A stored run's history, parsed once per version of its row."""
        version = version_of(record) if record is not None else None
        with self._lock:
            kept = self._histories.get(run_id)
            if kept is not None and (version is None or kept[0] == version):
                self._histories.move_to_end(run_id)
                return kept[1]
        record = self.store.get_run(run_id)
        history = History.from_dict(record.history) if record is not None and record.history else History()
        with self._lock:
            self._histories[run_id] = (version_of(record) if record is not None else (), history)
            self._histories.move_to_end(run_id)
            while len(self._histories) > LOADED_HISTORIES:
                self._histories.popitem(last=False)
        return history


def _megabytes(model: torch.nn.Module) -> float:
    return sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
