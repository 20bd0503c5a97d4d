"""Plotly figures (and small tables) for the Train page.

Every builder takes plain data (a `History`, lists, tensors) and returns a figure or a
DataFrame; none of them calls Streamlit, so they are tested without a page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

if TYPE_CHECKING:
    from core.training import History
    from playground.session import Run

LOSS_COLOR = "#1f77b4"
TEST_LOSS_COLOR = "#ff7f0e"
ACCURACY_COLOR = "#2ca02c"
CLASSES = list(range(10))


def _epoch_end_steps(history: "History") -> list[float]:
    """Global step at the end of each finished epoch, estimated from the running loss."""
    points = history.running_loss
    if not points or points[-1].epoch <= 0:
        return [float("nan")] * len(history.epochs)
    steps_per_epoch = points[-1].step / points[-1].epoch
    return [stats.epoch * steps_per_epoch for stats in history.epochs]


# ---- live training ------------------------------------------------------------------


def loss_figure(history: "History", epochs: int | None = None, height: int = 360) -> go.Figure:
    """Running training loss by (fractional) epoch, test loss per epoch, and test accuracy
    on a second axis. `epochs` fixes the x range so the axis does not jump while training.

    Built from plain dicts (no `make_subplots`): the live chart is redrawn twice a second
    next to a training thread, and this keeps a redraw near 5 ms instead of ~50.
    """
    points, stats = history.running_loss, history.epochs
    x_max = max(epochs or 0, points[-1].epoch if points else 0, 1)
    data = [
        go.Scatter(
            x=[p.epoch for p in points], y=[p.loss for p in points], customdata=[p.step for p in points],
            mode="lines", name="training loss (running)", line=dict(color=LOSS_COLOR),
            hovertemplate="epoch %{x:.2f} · step %{customdata}<br>loss %{y:.4f}<extra></extra>",
        ),
        go.Scatter(
            x=[s.epoch for s in stats], y=[s.test_loss for s in stats], mode="lines+markers",
            name="test loss", line=dict(color=TEST_LOSS_COLOR, dash="dot"),
            hovertemplate="epoch %{x}<br>test loss %{y:.4f}<extra></extra>",
        ),
        go.Scatter(
            x=[s.epoch for s in stats], y=[100 * s.test_accuracy for s in stats], yaxis="y2",
            mode="lines+markers+text", text=[f"{100 * s.test_accuracy:.1f}%" for s in stats],
            textposition="top center", cliponaxis=False, name="test accuracy", line=dict(color=ACCURACY_COLOR),
            hovertemplate="epoch %{x}<br>test accuracy %{y:.2f}%<extra></extra>",
        ),
    ]
    layout = dict(
        height=height,
        margin=dict(l=10, r=30, t=30, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
        xaxis=dict(title=dict(text="epoch"), range=[0, x_max * 1.02]),
        yaxis=dict(title=dict(text="cross-entropy loss"), rangemode="tozero"),
        yaxis2=dict(title=dict(text="test accuracy (%)"), range=[0, 105], tickvals=[0, 20, 40, 60, 80, 100],
                    overlaying="y", side="right", showgrid=False),
        uirevision="live",  # keep the user's zoom while the figure is redrawn
    )
    return go.Figure(data=data, layout=layout)


# ---- comparing runs -----------------------------------------------------------------


def compare_figure(
    curves: Sequence[tuple[str, "History"]], by: str = "epoch", height: int = 520
) -> go.Figure:
    """Overlay the runs' running loss (top) and test accuracy (bottom), by step or by epoch.

    By epoch compares how much of the data each run has seen; by step compares how many
    updates it made (a run with smaller batches makes more steps per epoch).
    """
    if by not in ("step", "epoch"):
        raise ValueError(f"by must be 'step' or 'epoch', not {by!r}")
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
        subplot_titles=("training loss (running)", "test accuracy (%)"),
    )
    palette = plotly.colors.qualitative.Plotly
    for index, (name, history) in enumerate(curves):
        color = palette[index % len(palette)]
        xs = [getattr(p, by) for p in history.running_loss]
        fig.add_trace(
            go.Scatter(
                x=xs, y=[p.loss for p in history.running_loss], mode="lines", name=name,
                legendgroup=name, line=dict(color=color),
                hovertemplate=f"{name}<br>{by} %{{x}}<br>loss %{{y:.4f}}<extra></extra>",
            ),
            row=1, col=1,
        )
        epoch_x = _epoch_end_steps(history) if by == "step" else [s.epoch for s in history.epochs]
        fig.add_trace(
            go.Scatter(
                x=epoch_x, y=[100 * s.test_accuracy for s in history.epochs], mode="lines+markers",
                name=name, legendgroup=name, showlegend=False, line=dict(color=color),
                hovertemplate=f"{name}<br>{by} %{{x}}<br>accuracy %{{y:.2f}}%<extra></extra>",
            ),
            row=2, col=1,
        )
    fig.update_xaxes(title_text=by, row=2, col=1)
    fig.update_yaxes(title_text="loss", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="%", row=2, col=1)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.06, x=0))
    return fig


def runs_frame(runs: Iterable["Run"]) -> pd.DataFrame:
    """One row per run: what was trained, how, and how well."""
    from core.models import count_parameters

    rows = []
    for run in runs:
        spec, config = run.spec, run.config
        accuracy = run.history.test_accuracy
        rows.append({
            "id": run.id,
            "name": run.name,
            "model": spec.kind.upper(),
            "sizes": "conv" if spec.kind == "cnn" else ("-".join(map(str, spec.hidden_sizes)) or "none"),
            "activation": spec.activation if spec.kind == "mlp" else "relu",
            "params": count_parameters(run.model),
            "optimizer": config.optimizer,
            "lr": config.lr,
            "momentum": config.momentum if config.optimizer == "sgd" else None,
            "batch": config.batch_size,
            "epochs": len(run.history.epochs),
            "seed": config.seed,
            "accuracy %": round(100 * accuracy[-1], 2) if accuracy else None,
            "time s": round(sum(s.seconds for s in run.history.epochs), 1),
            "origin": run.origin,
        })
    return pd.DataFrame(rows)


def best_by_kind(runs: Iterable["Run"]) -> dict[str, "Run"]:
    """The most accurate run of each model kind ("mlp", "cnn") that has a test accuracy."""
    best: dict[str, Run] = {}
    for run in runs:
        accuracy = run.history.test_accuracy
        if not accuracy:
            continue
        holder = best.get(run.spec.kind)
        if holder is None or accuracy[-1] > holder.history.test_accuracy[-1]:
            best[run.spec.kind] = run
    return best


# ---- looking inside -----------------------------------------------------------------


def per_class_figure(per_class_accuracy: Sequence[float], height: int = 260) -> go.Figure:
    values = [100 * a for a in per_class_accuracy]
    fig = go.Figure(go.Bar(
        x=[str(c) for c in range(len(values))], y=values,
        text=[f"{v:.1f}" for v in values], textposition="outside",
        marker_color=ACCURACY_COLOR, hovertemplate="digit %{x}: %{y:.2f}%<extra></extra>",
    ))
    low = min(values) if values else 0
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis_title="true digit", yaxis_title="test accuracy (%)",
                      yaxis_range=[max(0, low - 10), 101])
    return fig


def confusion_figure(confusion: Sequence[Sequence[int]], height: int = 460) -> go.Figure:
    """Counts with rows = true digit, columns = predicted digit.

    The diagonal (correct answers) dwarfs the mistakes, so the colour scale stops at the
    largest mistake and the diagonal is drawn saturated. An invisible marker sits on each
    cell so that clicking a cell selects it (heatmaps themselves are not selectable).
    """
    counts = np.asarray(confusion, dtype=np.int64)  # [10, 10]
    off_diagonal = counts.copy()
    np.fill_diagonal(off_diagonal, 0)
    zmax = max(int(off_diagonal.max()), 1)
    n = counts.shape[0]
    fig = go.Figure(go.Heatmap(
        z=counts.tolist(), x=list(range(n)), y=list(range(n)), zmin=0, zmax=zmax,
        colorscale="Reds", text=counts.tolist(), texttemplate="%{text}", showscale=False,
        hovertemplate="true %{y} → predicted %{x}: %{z}<extra></extra>",
    ))
    true_idx, pred_idx = np.meshgrid(range(n), range(n), indexing="ij")
    fig.add_trace(go.Scatter(
        x=pred_idx.ravel(), y=true_idx.ravel(), mode="markers",
        marker=dict(symbol="square", size=30, opacity=0.01, color="black"),
        customdata=np.stack([true_idx.ravel(), pred_idx.ravel()], axis=1),
        hoverinfo="skip", showlegend=False, name="cells",
    ))
    fig.update_xaxes(title_text="predicted digit", dtick=1, side="top")
    fig.update_yaxes(title_text="true digit", dtick=1, autorange="reversed")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), clickmode="event+select",
                      dragmode=False)
    return fig


def selected_cell(event) -> tuple[int, int] | None:
    """(true, predicted) of the confusion cell a plotly selection event points at."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for point in points:
        x, y = point.get("x"), point.get("y")
        if x is not None and y is not None:
            return int(round(y)), int(round(x))
    return None


def gallery_figure(
    images: np.ndarray,  # [K, 28, 28] uint8
    probs: np.ndarray,  # [K, 10]
    true: Sequence[int],
    pred: Sequence[int],
    cols: int = 4,
) -> go.Figure:
    """Each mistake as its image above its softmax bars (true class green, guess red)."""
    k = len(images)
    rows = max(1, -(-k // cols))
    titles = []
    for r in range(rows):
        titles += [f"true {true[i]} → {pred[i]} ({100 * probs[i][pred[i]]:.0f}%)"
                   if i < k else "" for i in range(r * cols, r * cols + cols)]
        titles += [""] * cols
    fig = make_subplots(rows=2 * rows, cols=cols, subplot_titles=titles,
                        row_heights=[0.68, 0.32] * rows, vertical_spacing=0.04 / rows)
    for i in range(k):
        row, col = 2 * (i // cols) + 1, i % cols + 1
        fig.add_trace(go.Heatmap(z=images[i][::-1], colorscale="gray_r", showscale=False,
                                 hoverinfo="skip"), row=row, col=col)
        colors = ["#bbbbbb"] * probs.shape[1]
        colors[pred[i]] = "#d62728"
        colors[true[i]] = "#2ca02c"
        fig.add_trace(go.Bar(x=list(range(probs.shape[1])), y=np.asarray(probs[i]).tolist(), marker_color=colors,
                             showlegend=False,
                             hovertemplate="p(%{x}) = %{y:.3f}<extra></extra>"), row=row + 1, col=col)
        fig.update_xaxes(visible=False, row=row, col=col)
        _square_pixels(fig, row, col)
        fig.update_xaxes(dtick=1, tickfont=dict(size=9), row=row + 1, col=col)
        fig.update_yaxes(range=[0, 1], showticklabels=False, row=row + 1, col=col)
    fig.update_annotations(font_size=11)
    fig.update_layout(height=230 * rows, margin=dict(l=5, r=5, t=30, b=5), bargap=0.1)
    return fig


def weights_figure(weights: np.ndarray, titles: Sequence[str] | None = None, cols: int = 8) -> go.Figure:
    """Rows of a first layer's weight matrix drawn as square images (blue −, red +):
    28×28 for an MLP's first Linear, 5×5 for the CNN's first filters.

    For a network without hidden layers these are the ten class templates of softmax
    regression: the logit of class c is the dot product of the image with template c.
    """
    flat = np.asarray(weights, dtype=np.float32).reshape(len(weights), -1)  # [K, side²]
    side = int(round(flat.shape[1] ** 0.5))
    if side * side != flat.shape[1]:
        raise ValueError(f"cannot draw {flat.shape[1]} weights per unit as a square image")
    images = flat.reshape(len(flat), side, side)  # [K, side, side]
    limit = float(np.abs(images).max()) or 1.0
    k = len(images)
    cols = min(cols, k)
    rows = -(-k // cols)
    titles = list(titles) if titles is not None else [f"unit {i}" for i in range(k)]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles,
                        horizontal_spacing=0.01, vertical_spacing=0.06 / max(rows, 1))
    for i in range(k):
        fig.add_trace(go.Heatmap(z=images[i][::-1], zmin=-limit, zmax=limit, zmid=0, colorscale="RdBu_r",
                                 showscale=i == 0, hovertemplate="w = %{z:.3f}<extra></extra>"),
                      row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    for i in range(k):
        _square_pixels(fig, i // cols + 1, i % cols + 1)
    fig.update_annotations(font_size=10)
    fig.update_layout(height=max(160, 1200 // cols) * rows + 40, margin=dict(l=5, r=5, t=30, b=5))
    return fig


# ---- the architecture -----------------------------------------------------------------


def architecture_frame(layers: Sequence) -> pd.DataFrame:
    """`core.models.layer_table` rows plus a total row."""
    rows = [{
        "layer": info.name,
        "kind": info.kind,
        "input": _shape(info.in_shape),
        "output": _shape(info.out_shape),
        "parameters": int(info.params),
    } for info in layers]
    rows.append({"layer": "total", "kind": "", "input": "", "output": "",
                 "parameters": sum(int(info.params) for info in layers)})
    return pd.DataFrame(rows)


def architecture_chain(spec) -> str:
    """The lecture's shorthand: 784 → 512 → 256 → 128 → 64 → 10."""
    if spec.kind == "cnn":
        return "1×28×28 → conv 5×5 (10) → pool → conv 5×5 (20) → pool → 320 → 10"
    sizes = [spec.in_features, *spec.hidden_sizes, spec.num_classes]
    return " → ".join(str(size) for size in sizes)


def _square_pixels(fig: go.Figure, row: int, col: int) -> None:
    """Lock a subplot's aspect ratio so a 28×28 image is drawn square, without axes."""
    subplot = fig.get_subplot(row, col)
    x_anchor = subplot.xaxis.plotly_name.replace("axis", "")  # "xaxis3" → "x3"
    fig.update_xaxes(visible=False, row=row, col=col)
    fig.update_yaxes(visible=False, scaleanchor=x_anchor, row=row, col=col)


def _shape(shape) -> str:
    if shape is None:
        return ""
    if isinstance(shape, (tuple, list)):
        return "×".join(str(s) for s in shape)
    return str(shape)
