"""This browser session's runs and its active model, kept in `st.session_state`.

Each session owns its models: nothing here goes through `st.cache_resource`, so one
student's runs never show up in another student's tab. Pages read and change the run
list only through these functions, so the state's shape lives in one place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import streamlit as st

if TYPE_CHECKING:  # annotations only: importing this module should not load torch
    from torch import nn

    from core.models import ModelSpec
    from core.training import History, TrainConfig

Origin = Literal["trained", "uploaded", "default"]

RUNS_KEY = "playground.runs"  # dict[str, Run], insertion order = creation order
ACTIVE_KEY = "playground.active_run"  # str | None
COUNTER_KEY = "playground.run_counter"  # next number for "run 3"-style ids


@dataclass
class Run:
    """One trained (or uploaded) model with everything needed to compare and reuse it."""

    id: str
    name: str
    spec: ModelSpec
    config: TrainConfig
    history: History
    model: nn.Module  # eval mode, on the CPU
    origin: Origin = "trained"
    created: float = field(default_factory=time.time)  # seconds since the epoch

    @property
    def final_accuracy(self) -> float | None:
        """Last test accuracy in [0, 1], or None when no epoch finished."""
        accuracies = self.history.test_accuracy
        return accuracies[-1] if accuracies else None

    @property
    def seconds(self) -> float:
        """Training time summed over the finished epochs."""
        return float(sum(stats.seconds for stats in self.history.epochs))


def _runs() -> dict[str, Run]:
    return st.session_state.setdefault(RUNS_KEY, {})


def new_run_id() -> str:
    """A short id unique within this session ("r1", "r2", ...)."""
    number = st.session_state.get(COUNTER_KEY, 0) + 1
    st.session_state[COUNTER_KEY] = number
    return f"r{number}"


def list_runs() -> list[Run]:
    """This session's runs, oldest first."""
    return list(_runs().values())


def add_run(run: Run) -> Run:
    """Keep `run` (in eval mode, on the CPU); the first run becomes the active model."""
    run.model = run.model.cpu().eval()
    runs = _runs()
    if run.id in runs:
        raise ValueError(f"A run with id {run.id!r} already exists in this session.")
    runs[run.id] = run
    if st.session_state.get(ACTIVE_KEY) not in runs:
        st.session_state[ACTIVE_KEY] = run.id
    return run


def get_run(run_id: str) -> Run | None:
    return _runs().get(run_id)


def delete_run(run_id: str) -> None:
    """Forget a run; if it was active, the newest remaining run becomes active."""
    runs = _runs()
    runs.pop(run_id, None)
    if st.session_state.get(ACTIVE_KEY) == run_id:
        st.session_state[ACTIVE_KEY] = next(reversed(runs), None) if runs else None


def rename_run(run_id: str, name: str) -> None:
    name = name.strip()
    if not name:
        raise ValueError("A run's name cannot be empty.")
    run = get_run(run_id)
    if run is None:
        raise KeyError(f"No run with id {run_id!r} in this session.")
    run.name = name


def active_run() -> Run | None:
    """The model the Draw page (and others) use, or None before any run exists."""
    run_id = st.session_state.get(ACTIVE_KEY)
    return _runs().get(run_id) if run_id is not None else None


def set_active_run(run_id: str | None) -> None:
    if run_id is not None and run_id not in _runs():
        raise KeyError(f"No run with id {run_id!r} in this session.")
    st.session_state[ACTIVE_KEY] = run_id


def rebuilt_when_changed(key: str, version, build):
    """`build()`'s result, kept in the session and rebuilt only when `version` changes.

    The live charts refresh twice a second but gain a point far less often: they rebuild
    their figure only when the history grew.
    """
    cached = st.session_state.get(key)
    if cached is None or cached[0] != version:
        cached = (version, build())
        st.session_state[key] = cached
    return cached[1]
