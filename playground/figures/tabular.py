"""Plotly figures for the "Your own data" page: the live curve and a labelled confusion matrix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
import plotly.graph_objects as go

from playground.figures.training import loss_figure

if TYPE_CHECKING:
    from core.training import History

LABELLED_EPOCHS = 20  # beyond this many epochs, per-epoch accuracy labels would pile up


def live_loss_figure(history: "History", epochs: int, height: int = 360) -> go.Figure:
    """The Train page's loss figure, worded for a held-out split instead of a test set.

    A small table trains for many short epochs (iris: 100 epochs of 8 batches), so the
    accuracy's text labels are dropped when they would overlap.
    """
    fig = loss_figure(history, epochs=epochs, height=height)
    fig.update_traces(selector=dict(name="test loss"), name="held-out loss",
                      hovertemplate="epoch %{x}<br>held-out loss %{y:.4f}<extra></extra>")
    fig.update_traces(selector=dict(name="test accuracy"), name="held-out accuracy",
                      hovertemplate="epoch %{x}<br>held-out accuracy %{y:.2f}%<extra></extra>")
    if epochs > LABELLED_EPOCHS:
        fig.update_traces(selector=dict(name="held-out loss"), mode="lines")
        fig.update_traces(selector=dict(name="held-out accuracy"), mode="lines", text=None)
    fig.update_layout(yaxis2_title_text="held-out accuracy (%)")
    return fig


def confusion_figure(confusion: Sequence[Sequence[int]], class_names: Sequence[str], height: int | None = None) -> go.Figure:
    """Counts with rows = true class, columns = predicted class, both named.

    Correct answers (the diagonal) are green and mistakes red, each on its own scale, so a
    handful of mistakes stays visible next to a large diagonal.
    """
    counts = np.asarray(confusion, dtype=np.int64)  # [C, C]
    n = counts.shape[0]
    if counts.shape != (n, n) or len(class_names) != n:
        raise ValueError(f"a {counts.shape} confusion matrix needs {n} class names, got {len(class_names)}")
    names = [str(name) for name in class_names]
    diagonal = np.eye(n, dtype=bool)
    correct = np.where(diagonal, counts, np.nan).tolist()  # NaN cells are left blank
    mistakes = np.where(diagonal, np.nan, counts).tolist()
    cell = dict(x=names, y=names, texttemplate="%{z}", showscale=False, xgap=1, ygap=1,
                hovertemplate="true %{y} → predicted %{x}: %{z}<extra></extra>")
    fig = go.Figure([
        go.Heatmap(z=correct, colorscale="Greens", zmin=0, zmax=max(int(counts.diagonal().max()), 1),
                   name="correct", **cell),
        go.Heatmap(z=mistakes, colorscale=[[0, "#ffffff"], [1, "#d62728"]], zmin=0,
                   zmax=max(int(np.nanmax(np.where(diagonal, 0, counts))), 1), name="mistakes", **cell),
    ])
    fig.update_xaxes(title_text="predicted class", side="top", type="category")
    fig.update_yaxes(title_text="true class", autorange="reversed", type="category")
    fig.update_layout(height=height or min(180 + 40 * n, 900), margin=dict(l=10, r=10, t=40, b=10))
    return fig
