"""The "Your own data" page's pandas side: train on a table, tabulate the results.

``core.tabular`` holds the maths (encoding, split, standardization, limits) on NumPy arrays;
``playground.csv_reading`` turns a CSV or the iris demo into those arrays, with a coded message
for every file that cannot be used; this module trains on them and turns the results back into
tables.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from core.tabular import PreparedSplit, TabularData, prepare, split_labels
from playground.settings import TrainSettings, lr_advice

if TYPE_CHECKING:
    from core.training import JobSnapshot, TrainingJob, TrainingQueue

MAX_CURVE_POINTS = 1_000  # running-loss points before the advice suggests logging less often
JOB_KEY = "own.job"  # the OwnJob of this session, or absent


# ---- tables for the page ------------------------------------------------------------------------


def class_table(data: TabularData) -> pd.DataFrame:
    counts = data.class_counts()
    return pd.DataFrame({"class": data.class_names, "rows": counts, "share %": 100 * counts / counts.sum()})


def feature_table(data: TabularData) -> pd.DataFrame:
    """Mean, standard deviation and range of each feature, as uploaded (before standardizing)."""
    X = data.X.astype(np.float64)  # [N, F]
    return pd.DataFrame({"feature": data.feature_names, "mean": X.mean(axis=0), "std": X.std(axis=0),
                         "min": X.min(axis=0), "max": X.max(axis=0)})


def probability_column(class_name: str) -> str:
    return f"p({class_name})"


def predictions_frame(data: TabularData, test_idx: np.ndarray, probs: np.ndarray, rows: str = "held-out") -> pd.DataFrame:
    """One row per table row: its features, true and predicted class, and the softmax per class.

    ``probs`` is [N, C] for every row of ``data``; ``rows`` is "held-out" (only the rows the
    model never trained on) or "all" (with a column saying which part each row was in).
    """
    if rows not in ("held-out", "all"):
        raise ValueError(f"rows must be 'held-out' or 'all', not {rows!r}")
    pick = np.asarray(test_idx) if rows == "held-out" else np.arange(data.num_rows)
    names = np.asarray(data.class_names, dtype=object)
    pred = probs.argmax(axis=1)  # [N]
    columns = {"row": data.rows[pick]}
    if rows == "all":
        columns["part"] = split_labels(data.num_rows, test_idx)[pick]
    columns |= {feature: data.X[pick, j] for j, feature in enumerate(data.feature_names)}
    columns["true class"] = names[data.y[pick]]
    columns["predicted class"] = names[pred[pick]]
    columns["correct"] = data.y[pick] == pred[pick]
    columns |= {probability_column(name): probs[pick, k] for k, name in enumerate(data.class_names)}
    return pd.DataFrame(columns)


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV; 6 significant digits keep float32 features and probabilities readable."""
    return frame.to_csv(index=False, float_format="%.6g").encode("utf-8")


# ---- the page's settings ------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnSettings:
    """The controls' choices; defaults suit a small table like iris (≈ 95% in well under a second)."""

    hidden_sizes: tuple[int, ...] = (64, 32)
    activation: str = "relu"
    optimizer: str = "sgd"
    lr: float = 0.01  # the lecture's SGD: lr 0.01, momentum 0.5
    momentum: float = 0.5
    batch_size: int = 16
    epochs: int = 100
    seed: int = 0  # the split, the initial weights and the shuffles
    test_fraction: float = 0.2
    log_every: int = 2  # iris: 4 points per epoch, 400 in all

    def spec(self, data: TabularData):
        from core.models import ModelSpec

        return ModelSpec(kind="mlp", hidden_sizes=tuple(self.hidden_sizes), activation=self.activation,
                         in_features=data.num_features, num_classes=data.num_classes)

    def config(self):
        """The `TrainConfig`, built as the Train page builds it (momentum only for SGD)."""
        return TrainSettings(kind="mlp", hidden_sizes=self.hidden_sizes, activation=self.activation,
                             optimizer=self.optimizer, lr=self.lr, momentum=self.momentum,
                             batch_size=self.batch_size, epochs=self.epochs, seed=self.seed,
                             log_every=self.log_every).config()

    def errors(self, data: TabularData) -> list[str]:
        """Why these settings cannot train on ``data`` (empty when they can)."""
        problems = []
        for build in (lambda: self.spec(data), self.config):
            try:
                build().validate()
            except ValueError as error:
                problems.append(str(error))
        return problems

    def advice(self, n_train: int) -> dict[str, str]:
        """Control name → a warning shown next to it; training still runs."""
        notes = {}
        if lr_note := lr_advice(self.optimizer, self.lr, self.momentum):
            notes["lr"] = lr_note
        batches = math.ceil(n_train / self.batch_size)
        if self.batch_size >= n_train:
            notes["batch_size"] = f"Not smaller than the {n_train:,} training rows: every epoch is one batch."
        total = batches * self.epochs
        if total > 200_000:
            notes["epochs"] = (f"{total:,} batches in all ({batches:,} per epoch): a long run on a shared "
                               "CPU. A larger batch or fewer epochs finishes sooner.")
        # the job copies the curve for the page at every new point and the browser redraws all of
        # it twice a second: cheap at a thousand points, not at a million
        if total / self.log_every > MAX_CURVE_POINTS:
            notes["log_every"] = (f"The loss curve would get {total // self.log_every:,} points, more than a chart "
                                  f"can show apart; logging every {math.ceil(total / MAX_CURVE_POINTS):,} batches "
                                  "keeps it readable and light.")
        return notes


# ---- training in the background ------------------------------------------------------------------


@dataclass
class OwnJob:
    """A training job on a table, with the table and split it trains on (for the results)."""

    job: "TrainingJob"
    data: TabularData
    split: PreparedSplit
    settings: OwnSettings
    source: str  # e.g. "Iris demo · target species"
    started: float = field(default_factory=time.time)
    _probs: np.ndarray | None = None  # [N, C] softmax for every row, once the job has ended

    def snapshot(self) -> "JobSnapshot":
        return self.job.snapshot()

    def has_model(self) -> bool:
        """Ended after at least one batch with finite weights (a diverged model holds NaN)."""
        snap = self.snapshot()
        return self.job.done and snap.status in ("finished", "stopped") and snap.step > 0

    def probs(self) -> np.ndarray | None:
        """softmax(model(x)) for every row of the table, standardized as in training, [N, C]."""
        if self._probs is None and self.has_model():
            import torch

            from core.training import predict_probs

            X = torch.from_numpy(self.split.standardizer.transform(self.data.X))  # [N, F]
            self._probs = predict_probs(self.job.model, X).numpy()
        return self._probs


def current_job() -> OwnJob | None:
    return st.session_state.get(JOB_KEY)


def is_busy() -> bool:
    own = current_job()
    return own is not None and not own.job.done


def start_training(data: TabularData, settings: OwnSettings, source: str,
                   queue: "TrainingQueue | None") -> OwnJob:
    """Split and standardize ``data``, build the MLP and train it on its own thread."""
    from core.models import build_model
    from core.training import TrainingJob
    from playground import jobs

    if is_busy():
        raise RuntimeError("A table is already training in this session; stop it first.")
    problems = settings.errors(data)
    if problems:
        raise ValueError("; ".join(problems))
    split = prepare(data, settings.test_fraction, settings.seed)
    model = build_model(settings.spec(data), seed=settings.seed)
    # the CPU even where a GPU exists: batches of a few rows are launch-bound on a GPU
    job = TrainingJob(model, settings.config(), split.train, split.test, queue=queue, device="cpu")
    jobs.register_job(job)  # the tab-close hook stops it too
    job.start()
    own = OwnJob(job=job, data=data, split=split, settings=settings, source=source)
    st.session_state[JOB_KEY] = own
    return own


def stop_training() -> None:
    own = current_job()
    if own is not None and not own.job.done:
        own.job.stop()

