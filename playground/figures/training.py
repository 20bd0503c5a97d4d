"""Plotly figures (and small tables) for training runs: the live curve, comparisons, the look inside.

Every builder takes plain data (a ``History``, lists, arrays) and returns a figure or a DataFrame;
none calls Streamlit, so they are tested without a page. Texts come from the catalogues in the
user's language; names that users typed (runs, classes) are escaped for plotly's HTML-ish labels.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from playground.i18n import plain

if TYPE_CHECKING:
    from core.training import History

LOSS_COLOR = "#1f77b4"
TEST_LOSS_COLOR = "#ff7f0e"
ACCURACY_COLOR = "#2ca02c"
LABELLED_EPOCHS = 10  # beyond this many epochs the per-epoch accuracy labels would run into each other
COMPARE_BY = ("epoch", "step")  # the x axes runs are compared by (figures.<by> names them)
ACCURACY_FLOOR_STEP = 5.0  # the accuracy axis starts at a multiple of 5 % below the lowest value


def label(text: str) -> str:
    """User-typed text inside a plotly label: plotly reads <b>, <a href> and friends."""
    return html.escape(str(text))


def accuracy_range(values_percent: Sequence[float]) -> list[float]:
    """Zoom to the data: 89→98 % should not be a flat line at the top of a 0-100 axis."""
    finite = [v for v in values_percent if math.isfinite(v)]
    if not finite:
        return [0.0, 100.0]
    floor = math.floor((min(finite) - 2.0) / ACCURACY_FLOOR_STEP) * ACCURACY_FLOOR_STEP
    return [max(0.0, min(floor, 90.0)), 100.5]


# ---- the live curve -----------------------------------------------------------------


def loss_figure(history: History, epochs: int | None = None, height: int = 360, held_out: bool = False) -> go.Figure:
    """Running training loss by (fractional) epoch, test loss per epoch, and test accuracy on a
    second axis. ``epochs`` fixes the x range so the axis does not jump while training;
    ``held_out`` words it for a table's held-out rows instead of MNIST's test set.

    Built from plain dicts (no ``make_subplots``): the live chart is redrawn next to training
    threads, and this keeps a redraw near 5 ms instead of ~50.
    """
    points, stats = history.running_loss, history.epochs
    x_max = max(epochs or 0, points[-1].epoch if points else 0, 1)
    test = "held_out" if held_out else "test"
    accuracy = [100 * s.test_accuracy for s in stats]
    labelled = len(stats) <= LABELLED_EPOCHS
    epoch_word, step_word = plain("figures.epoch"), plain("figures.step")
    data = [
        go.Scatter(
            x=[p.epoch for p in points],
            y=[p.loss for p in points],
            customdata=[p.step for p in points],
            mode="lines",
            name=plain("figures.training_loss"),
            line=dict(color=LOSS_COLOR),
            hovertemplate=f"{epoch_word} %{{x:.2f}} · {step_word} %{{customdata}}<br>"
            f"{plain('figures.loss')} %{{y:.4f}}<extra></extra>",
        ),
        go.Scatter(
            x=[s.epoch for s in stats],
            y=[s.test_loss for s in stats],
            mode="lines+markers",
            name=plain(f"figures.{test}_loss"),
            line=dict(color=TEST_LOSS_COLOR, dash="dot"),
            hovertemplate=f"{epoch_word} %{{x}}<br>{plain(f'figures.{test}_loss')} %{{y:.4f}}<extra></extra>",
        ),
        go.Scatter(
            x=[s.epoch for s in stats],
            y=accuracy,
            yaxis="y2",
            mode="lines+markers+text" if labelled else "lines+markers",
            text=[f"{a:.1f}%" for a in accuracy] if labelled else None,
            textposition="top center",
            cliponaxis=False,
            name=plain(f"figures.{test}_accuracy"),
            line=dict(color=ACCURACY_COLOR),
            hovertemplate=f"{epoch_word} %{{x}}<br>{plain(f'figures.{test}_accuracy')} %{{y:.2f}}%<extra></extra>",
        ),
    ]
    layout = dict(
        height=height,
        margin=dict(l=10, r=30, t=30, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
        xaxis=dict(title=dict(text=epoch_word), range=[0, x_max * 1.02]),
        yaxis=dict(title=dict(text=plain("figures.cross_entropy")), rangemode="tozero"),
        yaxis2=dict(
            title=dict(text=plain(f"figures.{test}_accuracy_percent")),
            range=accuracy_range(accuracy),
            overlaying="y",
            side="right",
            showgrid=False,
        ),
        uirevision="live",  # keep the user's zoom while the figure is redrawn
    )
    return go.Figure(data=data, layout=layout)


# ---- comparing runs -----------------------------------------------------------------


def _epoch_end_steps(history: History) -> list[float]:
    """Global step at the end of each finished epoch, estimated from the running loss."""
    points = history.running_loss
    if not points or points[-1].epoch <= 0:
        return [float("nan")] * len(history.epochs)
    steps_per_epoch = points[-1].step / points[-1].epoch
    return [stats.epoch * steps_per_epoch for stats in history.epochs]


def compare_figure(curves: Sequence[tuple[str, History]], by: str = "epoch", height: int = 520) -> go.Figure:
    """Overlay the runs' running loss (top) and test accuracy (bottom), by step or by epoch.

    By epoch compares how much of the data each run has seen; by step how many updates it made.
    """
    if by not in COMPARE_BY:
        raise ValueError(f"by must be 'step' or 'epoch', not {by!r}")
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=(plain("figures.training_loss"), plain("figures.test_accuracy_percent")),
    )
    palette = plotly.colors.qualitative.Plotly
    axis_word = plain(f"figures.{by}")
    all_accuracy = []
    for index, (name, history) in enumerate(curves):
        color, shown = palette[index % len(palette)], label(name)
        fig.add_trace(
            go.Scatter(
                x=[getattr(p, by) for p in history.running_loss],
                y=[p.loss for p in history.running_loss],
                mode="lines",
                name=shown,
                legendgroup=shown,
                line=dict(color=color),
                hovertemplate=f"{shown}<br>{axis_word} %{{x}}<br>{plain('figures.loss')} %{{y:.4f}}<extra></extra>",
            ),
            row=1,
            col=1,
        )
        accuracy = [100 * s.test_accuracy for s in history.epochs]
        all_accuracy += accuracy
        fig.add_trace(
            go.Scatter(
                x=_epoch_end_steps(history) if by == "step" else [s.epoch for s in history.epochs],
                y=accuracy,
                mode="lines+markers",
                name=shown,
                legendgroup=shown,
                showlegend=False,
                line=dict(color=color),
                hovertemplate=(
                    f"{shown}<br>{axis_word} %{{x}}<br>{plain('figures.accuracy')} %{{y:.2f}}%<extra></extra>"
                ),
            ),
            row=2,
            col=1,
        )
    fig.update_xaxes(title_text=axis_word, row=2, col=1)
    fig.update_yaxes(title_text=plain("figures.loss"), rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="%", range=accuracy_range(all_accuracy), row=2, col=1)
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", yanchor="bottom", y=1.06, x=0)
    )
    return fig


def run_label(run) -> str:
    """The run's name, and for a run a stopped server interrupted, where it stopped."""
    if getattr(run, "status", "finished") != "interrupted":
        return run.name
    epochs = plain("resume.in_table", epoch=run.epochs_done, epochs=run.config.epochs)
    return f"{run.name} ({epochs})"


def runs_frame(runs: Iterable) -> pd.DataFrame:
    """One row per run: what was trained, how, and how well (numbers as numbers, for formatting)."""
    rows = []
    for run in runs:
        spec, config = run.spec, run.config
        rows.append(
            {
                plain("runs.col.name"): run_label(run),
                plain("runs.col.model"): spec.label()
                if spec.kind == "cnn"
                else "-".join(map(str, spec.hidden_sizes)) or plain("controls.no_hidden"),
                plain("runs.col.params"): run.parameters,
                plain("runs.col.optimizer"): plain(f"choice.optimizer.{config.optimizer}"),
                "lr": config.lr,
                plain("runs.col.momentum"): config.momentum if config.optimizer == "sgd" else None,
                plain("runs.col.batch"): config.batch_size,
                plain("runs.col.epochs"): config.epochs,
                plain("runs.col.accuracy"): 100 * run.accuracy if run.accuracy is not None else None,
            }
        )
    frame = pd.DataFrame(rows)
    for column in (plain("runs.col.momentum"), plain("runs.col.accuracy")) if rows else ():
        # object columns keep None ("—", no value) apart from NaN (a number that went wrong)
        frame[column] = pd.Series([row[column] for row in rows], dtype=object)
    return frame


def best_by_kind(runs: Iterable) -> dict[str, object]:
    """The most accurate run of each model kind ("mlp", "cnn") that has a score."""
    best: dict[str, object] = {}
    for run in runs:
        if run.accuracy is None:
            continue
        holder = best.get(run.spec.kind)
        if holder is None or run.accuracy > holder.accuracy:
            best[run.spec.kind] = run
    return best


# ---- looking inside -----------------------------------------------------------------


def per_class_figure(per_class_accuracy: Sequence[float], height: int = 280) -> go.Figure:
    values = [100 * a for a in per_class_accuracy]
    digits = [str(c) for c in range(len(values))]
    fig = go.Figure(
        go.Bar(
            x=digits,
            y=values,
            text=[f"{v:.1f}" for v in values],
            textposition="outside",
            cliponaxis=False,
            marker_color=ACCURACY_COLOR,
            hovertemplate=f"{plain('figures.digit')} %{{x}}: %{{y:.2f}}%<extra></extra>",
        )
    )
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=20, b=10),
        xaxis=dict(
            title=plain("figures.true_digit"), type="category", tickmode="array", tickvals=digits, ticktext=digits
        ),
        yaxis=dict(title=plain("figures.test_accuracy_percent"), range=accuracy_range(values)),
    )
    return fig


def confusion_figure(
    confusion: Sequence[Sequence[int]],
    class_names: Sequence[str] | None = None,
    selectable: bool = False,
    height: int | None = None,
) -> go.Figure:
    """Counts with rows = true class, columns = predicted class; correct answers green, mistakes red.

    Each part has its own colour scale, so a handful of mistakes stays visible next to a large
    diagonal, and the text on every cell stays readable. With ``selectable`` an invisible marker
    sits on each cell so that a click selects it (heatmap cells themselves are not selectable).
    """
    counts = np.asarray(confusion, dtype=np.int64)  # [C, C]
    n = counts.shape[0]
    names = [label(c) for c in class_names] if class_names is not None else [str(i) for i in range(n)]
    if counts.shape != (n, n) or len(names) != n:
        raise ValueError(f"a {counts.shape} confusion matrix needs {n} class names, got {len(names)}")
    diagonal = np.eye(n, dtype=bool)
    hover = f"{plain('figures.true')} %{{y}} → {plain('figures.predicted')} %{{x}}: %{{z}}<extra></extra>"
    cell = dict(
        x=names,
        y=names,
        texttemplate="%{z}",
        textfont=dict(size=13),
        showscale=False,
        xgap=1,
        ygap=1,
        hovertemplate=hover,
    )
    mistakes_max = max(int(np.where(diagonal, 0, counts).max()), 1)
    fig = go.Figure(
        [
            go.Heatmap(
                z=np.where(diagonal, counts, np.nan).tolist(),
                colorscale=[[0, "#e5f5e0"], [1, "#74c476"]],
                zmin=0,
                zmax=max(int(counts.diagonal().max()), 1),
                name="correct",
                **cell,
            ),
            go.Heatmap(
                z=np.where(diagonal, np.nan, counts).tolist(),
                colorscale=[[0, "#ffffff"], [1, "#fb6a4a"]],
                zmin=0,
                zmax=mistakes_max,
                name="mistakes",
                **cell,
            ),
        ]
    )
    if selectable:
        true_idx, pred_idx = np.meshgrid(range(n), range(n), indexing="ij")
        fig.add_trace(
            go.Scatter(
                x=[names[j] for j in pred_idx.ravel()],
                y=[names[i] for i in true_idx.ravel()],
                mode="markers",
                marker=dict(symbol="square", size=28, opacity=0.01, color="black"),
                customdata=np.stack([true_idx.ravel(), pred_idx.ravel()], axis=1),
                hoverinfo="skip",
                showlegend=False,
                name="cells",
            )
        )
        fig.update_layout(clickmode="event+select", dragmode=False)
    fig.update_xaxes(
        title_text=plain("figures.predicted_class"),
        side="top",
        type="category",
        categoryorder="array",
        categoryarray=names,
        automargin=True,
    )
    fig.update_yaxes(
        title_text=plain("figures.true_class"),
        autorange="reversed",
        type="category",
        categoryorder="array",
        categoryarray=names,
        automargin=True,
    )
    fig.update_layout(height=height or min(220 + 38 * n, 900), margin=dict(l=10, r=10, t=60, b=10))
    return fig


def selected_cell(event) -> tuple[int, int] | None:
    """(true, predicted) of the confusion cell a plotly selection event points at."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for point in points:
        custom = point.get("customdata")
        if custom is not None and len(custom) == 2:
            return int(custom[0]), int(custom[1])
    return None


def gallery_figure(
    images: np.ndarray, probs: np.ndarray, true: Sequence[int], pred: Sequence[int], cols: int = 4
) -> go.Figure:
    """Each mistake as its image above its softmax bars (true class green, guess red).

    images [K, 28, 28] uint8, probs [K, 10]. The spacing is in pixels turned into fractions, so a
    title never lands on the bars of the row above, however many rows there are.
    """
    k = len(images)
    rows = max(1, -(-k // cols))
    pair_px, gap_px, title_px = 250, 44, 30
    height = rows * (pair_px + gap_px) + title_px
    titles = []
    for r in range(rows):
        titles += [
            plain("figures.mistake_title", true=true[i], pred=pred[i], percent=100 * probs[i][pred[i]]) if i < k else ""
            for i in range(r * cols, r * cols + cols)
        ]
        titles += [""] * cols
    fig = make_subplots(
        rows=2 * rows,
        cols=cols,
        subplot_titles=titles,
        row_heights=[0.66, 0.34] * rows,
        vertical_spacing=(gap_px / 2) / height,
        horizontal_spacing=0.04,
    )
    for i in range(k):
        row, col = 2 * (i // cols) + 1, i % cols + 1
        fig.add_trace(
            go.Heatmap(z=images[i][::-1], colorscale="gray", showscale=False, hoverinfo="skip"), row=row, col=col
        )
        colors = ["#bbbbbb"] * probs.shape[1]
        colors[pred[i]] = "#d62728"
        colors[true[i]] = "#2ca02c"
        fig.add_trace(
            go.Bar(
                x=[str(c) for c in range(probs.shape[1])],
                y=np.asarray(probs[i]).tolist(),
                marker_color=colors,
                showlegend=False,
                hovertemplate="p(%{x}) = %{y:.3f}<extra></extra>",
            ),
            row=row + 1,
            col=col,
        )
        square_pixels(fig, row, col)
        fig.update_xaxes(type="category", tickfont=dict(size=9), row=row + 1, col=col)
        fig.update_yaxes(range=[0, 1], showticklabels=False, row=row + 1, col=col)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=height, margin=dict(l=5, r=5, t=title_px, b=5), bargap=0.1)
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
    titles = list(titles) if titles is not None else [plain("figures.unit", index=i) for i in range(k)]
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.01, vertical_spacing=0.06 / max(rows, 1)
    )
    for i in range(k):
        fig.add_trace(
            go.Heatmap(
                z=images[i][::-1],
                zmin=-limit,
                zmax=limit,
                zmid=0,
                colorscale="RdBu_r",
                showscale=i == 0,
                hovertemplate="w = %{z:.3f}<extra></extra>",
            ),
            row=i // cols + 1,
            col=i % cols + 1,
        )
    for i in range(k):
        square_pixels(fig, i // cols + 1, i % cols + 1)
    fig.update_annotations(font_size=10)
    fig.update_layout(height=max(160, 1200 // cols) * rows + 40, margin=dict(l=5, r=5, t=30, b=5))
    return fig


# ---- the architecture -----------------------------------------------------------------


def architecture_frame(layers: Sequence) -> pd.DataFrame:
    """``core.models.layer_table`` rows plus a total row."""
    rows = [
        {
            plain("arch.col.layer"): info.name,
            plain("arch.col.kind"): layer_kind(info),
            plain("arch.col.input"): _shape(info.in_shape),
            plain("arch.col.output"): _shape(info.out_shape),
            plain("arch.col.params"): int(info.params),
        }
        for info in layers
    ]
    rows.append(
        {
            plain("arch.col.layer"): plain("arch.total"),
            plain("arch.col.kind"): "",
            plain("arch.col.input"): "",
            plain("arch.col.output"): "",
            plain("arch.col.params"): sum(int(i.params) for i in layers),
        }
    )
    return pd.DataFrame(rows)


def layer_kind(info) -> str:
    """What a ``core.models.LayerInfo`` row does, in the user's language (module names stay as code)."""
    name = info.name
    if name.startswith("linears.") or name == "fc":
        if "logits" in info.kind:
            return plain("arch.kind.logits")
        return plain("arch.kind.linear", activation=info.kind.split("+")[-1].strip())
    if name.startswith("conv"):
        return plain("arch.kind.conv", filters=info.out_shape[0])
    if name.startswith("pool"):
        return plain("arch.kind.pool")
    return plain("arch.kind.flatten") if name == "flatten" else info.kind


def architecture_chain(spec) -> str:
    """The lecture's shorthand: 784 → 512 → 256 → 128 → 64 → 10."""
    if spec.kind == "cnn":
        return "1×28×28 → conv 5×5 (10) → pool → conv 5×5 (20) → pool → 320 → 10"
    return " → ".join(str(size) for size in (spec.in_features, *spec.hidden_sizes, spec.num_classes))


def square_pixels(fig: go.Figure, row: int, col: int) -> None:
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
