"""Figures and tables for the "Your own data" page: the live curve, and the table's classes,
features and per-row softmax (the confusion matrix is ``figures.training.confusion_figure``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.tabular import TabularData, split_labels
from playground.figures.training import loss_figure
from playground.i18n import plain

if TYPE_CHECKING:
    from core.training import History

PREDICTION_ROWS = ("held-out", "all")  # which rows a predictions table has (own.download_rows_* names them)


def live_loss_figure(history: History, epochs: int, height: int = 360) -> go.Figure:
    """The Train page's loss figure, worded for a held-out split instead of a test set."""
    return loss_figure(history, epochs=epochs, height=height, held_out=True)


def class_table(data: TabularData) -> pd.DataFrame:
    counts = data.class_counts()
    return pd.DataFrame(
        {
            plain("own.col.class"): data.class_names,
            plain("own.col.rows"): counts,
            plain("own.col.share"): 100 * counts / counts.sum(),
        }
    )


def feature_table(data: TabularData) -> pd.DataFrame:
    """Mean, standard deviation and range of each feature, as uploaded (before standardizing)."""
    X = data.X.astype(np.float64)  # [N, F]
    return pd.DataFrame(
        {
            plain("own.col.feature"): data.feature_names,
            plain("own.col.mean"): X.mean(axis=0),
            plain("own.col.std"): X.std(axis=0),
            plain("own.col.min"): X.min(axis=0),
            plain("own.col.max"): X.max(axis=0),
        }
    )


def probability_column(class_name: str) -> str:
    return f"p({class_name})"


def predictions_frame(
    data: TabularData, test_idx: np.ndarray, probs: np.ndarray, rows: str = "held-out"
) -> pd.DataFrame:
    """One row per table row: true and predicted class, the softmax per class, then its features
    (the answers first: a table wider than the screen keeps them in view).

    ``probs`` is [N, C] for every row of ``data``; ``rows`` is "held-out" (only the rows the
    model never trained on) or "all" (with a column saying which part each row was in).
    """
    if rows not in PREDICTION_ROWS:
        raise ValueError(f"rows must be 'held-out' or 'all', not {rows!r}")
    pick = np.asarray(test_idx) if rows == "held-out" else np.arange(data.num_rows)
    names = np.asarray(data.class_names, dtype=object)
    pred = probs.argmax(axis=1)  # [N]
    columns = {plain("own.col.row"): data.rows[pick]}
    if rows == "all":
        parts = split_labels(data.num_rows, test_idx)[pick]
        columns[plain("own.col.part")] = [plain(f"own.part.{part.replace('-', '_')}") for part in parts]
    columns[plain("own.col.true")] = names[data.y[pick]]
    columns[plain("own.col.predicted")] = names[pred[pick]]
    columns[plain("own.col.correct")] = ["✓" if ok else "✗" for ok in data.y[pick] == pred[pick]]
    columns |= {probability_column(name): probs[pick, k] for k, name in enumerate(data.class_names)}
    columns |= {feature: data.X[pick, j] for j, feature in enumerate(data.feature_names)}
    return pd.DataFrame(columns)
