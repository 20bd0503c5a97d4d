"""Your own data's run: a table split, standardized and trained through the same run kit as MNIST.

The job lives in the room under the student (a reload finds it, a dropped connection does not
stop it) and is stored as it trains and when it ends, with what it was trained on (``meta``), like
every run; it never becomes Draw's model.
The table itself stays with the page: the per-row softmax needs it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import streamlit as st
import torch

from core.tabular import PreparedSplit, TabularData, TabularError, prepare
from core.training import predict_probs
from playground import i18n, runkit
from playground.room import Room, RoomJob
from playground.settings import OWN_DATA_CONTROLS, TrainSettings

# Defaults a teacher can show on the iris demo, chosen over seeds 0–39 (each a different split
# and initialization): 95.4% held-out accuracy on average, 88.9% at worst, and seed 0 gives
# 95.6% — typical, not lucky. 30% held out (45 rows) makes one mistake cost 2.2 points, not 3.3.
DEFAULTS = TrainSettings(
    hidden_sizes=(32,),
    activation="relu",
    optimizer="sgd",
    lr=0.05,
    momentum=0.9,
    batch_size=16,
    epochs=100,
    seed=0,
    log_every=2,
    test_fraction=0.3,
)
OWN = runkit.RunPage(
    page="own",
    prefix="own.w.",
    controls=OWN_DATA_CONTROLS,
    defaults=DEFAULTS,
    highs={"epochs": 1000, "batch_size": 4096},
)
TEXTS = runkit.PanelTexts("own")


@dataclass
class TableRun:
    """What the page needs besides the job: the table and split it trains on, for the results."""

    data: TabularData
    split: PreparedSplit
    source: str  # e.g. "iris demo · target species"
    table_id: str
    _probs: np.ndarray | None = field(default=None, repr=False)

    def probs(self, model: torch.nn.Module) -> np.ndarray:
        """softmax(model(x)) for every row of the table, standardized as in training: [N, C]."""
        if self._probs is None:
            X = torch.from_numpy(self.split.standardizer.transform(self.data.X))  # [N, F]
            self._probs = predict_probs(model, X).numpy()
        return self._probs


def table_fingerprint(data: TabularData) -> str:
    """Tells two tables apart (a run's results belong to the table it was trained on)."""
    digest = hashlib.sha1(data.X.tobytes())
    digest.update(data.y.tobytes())
    digest.update("\x00".join(map(str, (*data.feature_names, *data.class_names))).encode("utf-8"))
    return digest.hexdigest()[:16]


def start_run(room: Room, student: str, data: TabularData, settings: TrainSettings, source: str) -> RoomJob | None:
    """Split and standardize the table, check the run against the room, build the MLP, train it."""
    problems = settings.errors(data.num_features, data.num_classes)
    try:
        split = prepare(data, settings.test_fraction, settings.seed)
    except TabularError as error:
        problems.append(error)
    run_plan = (
        runkit.plan(room, settings, len(data.y), len(data.y), data.num_features, data.num_classes, cap_epochs=False)
        if not problems
        else None
    )
    if problems or not run_plan.allowed:
        st.session_state[OWN.prefix + "start_error"] = i18n.error_text(problems[0] if problems else run_plan.refused)
        return None
    spec = settings.spec(data.num_features, data.num_classes)
    table = TableRun(data, split, source, table_fingerprint(data))
    meta = {
        "dataset": "table",
        "table": table.table_id,
        "features": list(data.feature_names),
        "classes": list(data.class_names),
        "test_fraction": settings.test_fraction,
    }
    arrays = (split.X_train.numpy(), split.y_train.numpy(), split.X_test.numpy(), split.y_test.numpy())
    details = {"spec": spec, "settings": settings, "table": table}
    # trained on the CPU even where a GPU exists (the trainer's choice for tables): batches of a
    # few rows are launch-bound on a GPU
    return runkit.start(
        room, OWN, student, source[:80], spec, run_plan.config, data="table", table=arrays, meta=meta, details=details
    )


def has_model(entry: RoomJob) -> bool:
    """Ended after at least one batch with finite weights (a diverged model holds NaN)."""
    snap = entry.job.snapshot()
    return entry.job.done and snap.status in ("finished", "stopped") and snap.step > 0


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV; 6 significant digits keep float32 features and probabilities readable."""
    return frame.to_csv(index=False, float_format="%.6g").encode("utf-8")
