"""Plotly figures (and small tables) for training runs: the live curve, comparisons, the look inside.

Every builder takes plain data (a ``History``, lists, arrays) and returns a figure or a DataFrame;
none calls Streamlit, so they are tested without a page. Texts come from the catalogues in the
user's language; names that users typed (runs, classes) are escaped for plotly's HTML-ish labels.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from playground.figures import palette
from playground.figures.palette import describe
from playground.i18n import plain

if TYPE_CHECKING:
    from core.training import History

LOSS_COLOR = palette.BLUE
TEST_LOSS_COLOR = palette.ORANGE
ACCURACY_COLOR = palette.GREEN
ACCURACY_LABELS = 10  # at most this many accuracy labels across the epoch axis: closer, they run into each other
COMPARE_BY = ("epoch", "step")  # the x axes runs are compared by (figures.<by> names them)
ACCURACY_FLOOR_STEP = 5.0  # the accuracy axis starts at a multiple of 5 % below the lowest value
# Above 100 % the axis keeps this share of its span free: a point at 100 % keeps its label inside
# the plot, clear of the legend above it (wine's held-out accuracy is often exactly 100 %).
ACCURACY_HEADROOM = 0.12
NICE_STEPS = (0.5, 1, 2, 5, 10, 20, 25)  # accuracy ticks are multiples of one of these
MOST_TICKS = 7
# The confusion matrix: a count's text at this size fits a cell of CELL_PX (a digit is ~0.62 em).
CONFUSION_FONT = 13
DIGIT_EM = 0.62


def label(text: str) -> str:
    """User-typed text inside a plotly label: plotly reads <b>, <a href> and friends."""
    return html.escape(str(text))


def accuracy_range(values_percent: Sequence[float]) -> list[float]:
    """Zoom to the data: 89→98 % should not be a flat line at the top of a 0-100 axis."""
    finite = [v for v in values_percent if math.isfinite(v)]
    if not finite:
        return [0.0, 100.0]
    floor = math.floor((min(finite) - 2.0) / ACCURACY_FLOOR_STEP) * ACCURACY_FLOOR_STEP
    bottom = max(0.0, min(floor, 90.0))
    return [bottom, 100.0 + ACCURACY_HEADROOM * (100.0 - bottom)]


def accuracy_ticks(axis_range: Sequence[float]) -> list[float]:
    """Round ticks from the bottom of the axis to 100 % (never 88.39 or 105): a nice step, at most 7 ticks."""
    bottom = axis_range[0]
    span = 100.0 - bottom
    step = next((s for s in NICE_STEPS if span / s <= MOST_TICKS - 1), 50)
    first = math.ceil(bottom / step - 1e-9) * step
    count = int(math.floor((100.0 - first) / step + 1e-9)) + 1
    return [round(first + i * step, 6) for i in range(count)]


def accuracy_axis(values_percent: Sequence[float], **extra) -> dict:
    """A percent axis zoomed to the data, with head-room above 100 % and round ticks."""
    axis_range = accuracy_range(values_percent)
    ticks = accuracy_ticks(axis_range)
    return dict(range=axis_range, tickmode="array", tickvals=ticks, ticktext=[f"{v:g}" for v in ticks], **extra)


# ---- the live curve -----------------------------------------------------------------


def spaced_labels(xs: list[float], texts: list[str], span: float, most: int = ACCURACY_LABELS) -> list[str]:
    """The texts of the points at least ``span / most`` apart along x, from the last point back; ""
    for the rest. A 50-epoch run paused at epoch 5 has its points a fiftieth of the axis apart: on a
    phone their labels printed on top of each other, so only the newest is shown."""
    gap = span / most
    shown, last = [""] * len(xs), None
    for i in range(len(xs) - 1, -1, -1):
        if last is None or last - xs[i] >= gap - 1e-9:
            shown[i], last = texts[i], xs[i]
    return shown


def loss_figure(
    history: History,
    epochs: int | None = None,
    height: int = 360,
    held_out: bool = False,
    per_epoch: int | None = None,
    window: object | None = None,
) -> go.Figure:
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
    epoch_word, step_word = plain("figures.epoch"), plain("figures.step")
    data = [
        go.Scatter(
            x=[p.epoch for p in points],
            y=[p.loss for p in points],
            customdata=[p.step for p in points],
            mode="lines",
            name=plain("figures.training_loss"),
            line=dict(color=LOSS_COLOR, dash="solid"),
            hovertemplate=f"{epoch_word} %{{x:.2f}} · {step_word} %{{customdata}}<br>"
            f"{plain('figures.loss')} %{{y:.4f}}<extra></extra>",
        ),
        go.Scatter(
            x=[s.epoch for s in stats],
            y=[s.test_loss for s in stats],
            mode="lines+markers",
            name=plain(f"figures.{test}_loss"),
            line=dict(color=TEST_LOSS_COLOR, dash="dot"),
            marker=dict(symbol="square", size=7),
            hovertemplate=f"{epoch_word} %{{x}}<br>{plain(f'figures.{test}_loss')} %{{y:.4f}}<extra></extra>",
        ),
        go.Scatter(
            x=[s.epoch for s in stats],
            y=accuracy,
            yaxis="y2",
            mode="lines+markers+text",
            text=spaced_labels([s.epoch for s in stats], [f"{a:.1f}%" for a in accuracy], x_max),
            textposition="top center",
            cliponaxis=False,
            name=plain(f"figures.{test}_accuracy"),
            line=dict(color=ACCURACY_COLOR, dash="dash"),
            marker=dict(symbol="diamond", size=8),
            hovertemplate=f"{epoch_word} %{{x}}<br>{plain(f'figures.{test}_accuracy')} %{{y:.2f}}%<extra></extra>",
        ),
    ]
    layout = dict(
        height=height,
        margin=dict(l=10, r=30, t=30, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
        xaxis=dict(title=dict(text=epoch_word), range=[0, x_max * 1.02]),
        yaxis=dict(title=dict(text=plain("figures.cross_entropy")), rangemode="tozero"),
        yaxis2=accuracy_axis(
            accuracy,
            title=dict(text=plain(f"figures.{test}_accuracy_percent")),
            overlaying="y",
            side="right",
            showgrid=False,
        ),
        uirevision="live",  # keep the user's zoom while the figure is redrawn
    )
    if window is not None:  # a paused run: the batches since the last point, so a Step shows at once
        last = points[-1] if points else None
        data.append(
            go.Scatter(
                x=[last.epoch, window.epoch] if last else [window.epoch],
                y=[last.loss, window.loss] if last else [window.loss],
                customdata=[last.step, window.step] if last else [window.step],
                mode="lines+markers",
                name=plain("figures.since_last_point"),
                line=dict(color=LOSS_COLOR, dash="dot"),
                marker=dict(symbol="circle-open", size=8),
                hovertemplate=f"{epoch_word} %{{x:.2f}} · {step_word} %{{customdata}}<br>"
                f"{plain('figures.loss')} %{{y:.4f}}<extra></extra>",
            )
        )
    layout["shapes"], layout["annotations"] = change_marks(history, per_epoch)
    return describe(go.Figure(data=data, layout=layout), loss_summary(history, held_out))


def loss_summary(history: History, held_out: bool = False) -> str:
    """The live curve in words: where the loss and the accuracy are now."""
    points, stats = history.running_loss, history.epochs
    if not points and not stats:
        return plain("figures.alt.loss_empty")
    loss = points[-1].loss if points else float("nan")
    accuracy = 100 * stats[-1].test_accuracy if stats else float("nan")
    return plain(
        "figures.alt.loss_held_out" if held_out else "figures.alt.loss",
        epochs=len(stats),
        loss=loss,
        accuracy=accuracy,
    )


CHANGE_COLOR = "#9467bd"


def change_word(name: str, value: float) -> str:
    """E.g. "lr 0.02" or "momentum 0.9": a live change, as the curve and the runs table show it."""
    return f"{plain(f'steer.change.{name}')} {value:g}"


def change_marks(history: History, per_epoch: int | None = None) -> tuple[list[dict], list[dict]]:
    """A dotted vertical line and the new value at each live change (plotly shapes and annotations)."""
    changes = getattr(history, "changes", [])
    points = history.running_loss
    if per_epoch is None and points and points[-1].epoch > 0:
        per_epoch = points[-1].step / points[-1].epoch
    if not changes or not per_epoch:
        return [], []
    shapes, annotations = [], []
    by_step: dict[int, list[str]] = {}
    for change in changes:
        by_step.setdefault(change.step, []).append(change_word(change.name, change.value))
    for i, (step, words) in enumerate(by_step.items()):
        x = step / per_epoch
        shapes.append(
            dict(type="line", xref="x", yref="paper", x0=x, x1=x, y0=0, y1=1, line=dict(color=CHANGE_COLOR, dash="dot"))
        )
        annotations.append(
            dict(
                x=x,
                y=1 - 0.08 * (i % 3),  # neighbours step down so their labels do not overlap
                xref="x",
                yref="paper",
                text=label(", ".join(words)),
                showarrow=False,
                xanchor="left",
                font=dict(color=CHANGE_COLOR, size=11),
                bgcolor="rgba(255,255,255,0.7)",
            )
        )
    return shapes, annotations


def changes_text(history: History | None) -> str:
    """A run's live changes for a table cell: "lr 0.02 @ 300 · momentum 0.9 @ 600" (step after @)."""
    changes = getattr(history, "changes", None) or []
    return " · ".join(f"{change_word(c.name, c.value)} @ {c.step:,}" for c in changes)


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
    axis_word = plain(f"figures.{by}")
    all_accuracy = []
    for index, (name, history) in enumerate(curves):
        style, shown = palette.series_style(index), label(name)
        color = style.color
        fig.add_trace(
            go.Scatter(
                x=[getattr(p, by) for p in history.running_loss],
                y=[p.loss for p in history.running_loss],
                mode="lines",
                name=shown,
                legendgroup=shown,
                line=dict(color=color, dash=style.dash),
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
                line=dict(color=color, dash=style.dash),
                marker=dict(symbol=style.marker, size=8),
                hovertemplate=(
                    f"{shown}<br>{axis_word} %{{x}}<br>{plain('figures.accuracy')} %{{y:.2f}}%<extra></extra>"
                ),
            ),
            row=2,
            col=1,
        )
    fig.update_xaxes(title_text=axis_word, row=2, col=1)
    fig.update_yaxes(title_text=plain("figures.loss"), rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="%", **accuracy_axis(all_accuracy), row=2, col=1)
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", yanchor="bottom", y=1.06, x=0)
    )
    best = [
        plain("figures.alt.run", name=name, accuracy=100 * h.epochs[-1].test_accuracy) for name, h in curves if h.epochs
    ]
    return describe(fig, plain("figures.alt.compare", runs=len(curves), results="; ".join(best) or "—"))


def run_label(run) -> str:
    """The run's name, and for a run a stopped server interrupted, where it stopped."""
    if getattr(run, "status", "finished") != "interrupted":
        return run.name
    epochs = plain("resume.in_table", epoch=run.epochs_done, epochs=run.config.epochs)
    return f"{run.name} ({epochs})"


def runs_frame(runs: Iterable) -> pd.DataFrame:
    """One row per run: its name, how well it did and the lecture's two knobs (lr, momentum) first —
    what the table is for, in view beside Train's controls — then the rest of what was trained and
    how; numbers as numbers, for formatting."""
    rows = []
    for run in runs:
        spec, config = run.spec, run.config
        rows.append(
            {
                plain("runs.col.name"): run_label(run),
                plain("runs.col.accuracy"): 100 * run.accuracy if run.accuracy is not None else None,
                "lr": config.lr,
                plain("runs.col.momentum"): config.momentum if config.optimizer == "sgd" else None,
                plain("runs.col.model"): spec.label()
                if spec.kind != "mlp"
                else "-".join(map(str, spec.hidden_sizes)) or plain("controls.no_hidden"),
                plain("runs.col.optimizer"): plain(f"choice.optimizer.{config.optimizer}"),
                plain("runs.col.batch"): config.batch_size,
                plain("runs.col.epochs"): config.epochs,
                plain("runs.col.params"): run.parameters,
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
            # plotly shrinks a bar's text to the bar's width (5 px tall in a narrow column): never
            constraintext="none",
            textfont=dict(size=PER_CLASS_FONT),
            cliponaxis=False,
            marker_color=palette.BLUE,
            hovertemplate=f"{plain('figures.digit')} %{{x}}: %{{y:.2f}}%<extra></extra>",
        )
    )
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=20, b=10),
        xaxis=dict(
            title=plain("figures.true_digit"), type="category", tickmode="array", tickvals=digits, ticktext=digits
        ),
        yaxis=accuracy_axis(values, title=plain("figures.test_accuracy_percent")),
    )
    worst = int(np.argmin(values)) if values else 0
    return describe(
        fig,
        plain("figures.alt.per_class", worst=worst, worst_accuracy=values[worst] if values else float("nan"))
        + " "
        + ", ".join(f"{d}: {v:.1f}%" for d, v in zip(digits, values)),
    )


PER_CLASS_FONT = 12
PER_CLASS_MIN_PX = 40  # a bar this wide holds "100.0" at PER_CLASS_FONT


def confusion_cell_px(confusion: Sequence[Sequence[int]], font: int = CONFUSION_FONT) -> int:
    """The narrowest cell in which the largest count's digits fit at ``font`` px, with air around them."""
    largest = int(np.asarray(confusion).max(initial=0))
    digits = max(len(str(largest)), 4)  # room for MNIST's 1,135 sevens whatever this run's counts are
    return math.ceil(digits * DIGIT_EM * font + 10)


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
        textfont=dict(size=CONFUSION_FONT, color=palette.TEXT),
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
                colorscale=palette.CORRECT_SCALE,
                zmin=0,
                zmax=max(int(counts.diagonal().max()), 1),
                name="correct",
                **cell,
            ),
            go.Heatmap(
                z=np.where(diagonal, np.nan, counts).tolist(),
                colorscale=palette.MISTAKES_SCALE,
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
                # a plain list: a NumPy array reaches plotly.js as a typed array, whose rows come back
                # from a click as {"0": …, "1": …}
                customdata=np.stack([true_idx.ravel(), pred_idx.ravel(), counts.ravel()], axis=1).tolist(),
                # hoverinfo="skip" would also make plotly drop the clicks: the markers say what the cell says
                hovertemplate=hover.replace("%{y}", "%{customdata[0]}")
                .replace("%{x}", "%{customdata[1]}")
                .replace("%{z}", "%{customdata[2]}"),
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
    cell = confusion_cell_px(counts)
    fig.update_layout(height=height or min(130 + cell * n, 900), margin=dict(l=10, r=10, t=60, b=10))
    mistakes = np.where(diagonal, 0, counts)
    true, pred = np.unravel_index(int(mistakes.argmax()), mistakes.shape)
    return describe(
        fig,
        plain(
            "figures.alt.confusion",
            correct=int(counts.diagonal().sum()),
            total=int(counts.sum()),
            true=names[true],
            pred=names[pred],
            count=int(mistakes[true, pred]),
        ),
    )


def confusion_min_width(confusion: Sequence[Sequence[int]]) -> int:
    """The width (px) a page gives the confusion matrix: every cell ``confusion_cell_px`` wide, plus the axes."""
    n = len(confusion)
    return n * confusion_cell_px(confusion) + 90


def selected_cell(event) -> tuple[int, int] | None:
    """(true, predicted) of the confusion cell a plotly selection event points at."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for point in points:
        custom = point.get("customdata")
        if isinstance(custom, Mapping):  # a typed array's row, as JSON writes it
            custom = [custom.get(str(i), custom.get(i)) for i in range(len(custom))]
        if custom is not None and len(custom) >= 2 and None not in custom[:2]:
            return int(custom[0]), int(custom[1])
    return None


GALLERY_PX = dict(title=34, image=120, between=4, bars=70, ticks=18, gap=14)  # one mistake, top to bottom
GALLERY_TITLE_FONT = 11
GALLERY_TICK_FONT = 9


def gallery_figure(
    images: np.ndarray, probs: np.ndarray, true: Sequence[int], pred: Sequence[int], cols: int = 4
) -> go.Figure:
    """Each mistake as its image above its softmax bars (the true class blue, the guess vermillion and hatched).

    images [K, 28, 28] uint8, probs [K, 10]. Every part has its height in pixels (``GALLERY_PX``):
    the title (two short lines, so four fit side by side on a phone), the image, the bars and their
    digit labels, then a gap, so a title never lands on the bars or the tick labels of the row above.
    """
    k = len(images)
    rows = max(1, -(-k // cols))
    px = GALLERY_PX
    block = sum(px.values())
    margin_t, margin_b = 4, 4
    height = rows * block + margin_t + margin_b

    def frac(from_top: float) -> float:  # pixels below the plot's top → paper fraction
        return 1.0 - from_top / (rows * block)

    fig = make_subplots(rows=2 * rows, cols=cols, horizontal_spacing=0.04, vertical_spacing=0.0)
    classes = probs.shape[1]
    for i in range(k):
        r, col = i // cols, i % cols + 1
        row = 2 * r + 1
        image_top = r * block + px["title"]
        bars_top = image_top + px["image"] + px["between"]
        fig.add_trace(
            go.Heatmap(z=images[i][::-1], colorscale="gray", showscale=False, hoverinfo="skip"), row=row, col=col
        )
        colors = [palette.CONTEXT] * classes
        patterns = [""] * classes
        colors[pred[i]], patterns[pred[i]] = palette.WRONG, palette.WRONG_PATTERN
        colors[true[i]] = palette.CORRECT
        fig.add_trace(
            go.Bar(
                x=[str(c) for c in range(classes)],
                y=np.asarray(probs[i]).tolist(),
                marker=dict(color=colors, pattern=dict(shape=patterns, fgcolor="#FFFFFF")),
                showlegend=False,
                hovertemplate="p(%{x}) = %{y:.3f}<extra></extra>",
            ),
            row=row + 1,
            col=col,
        )
        square_pixels(fig, row, col)
        fig.update_yaxes(  # on a narrow screen the image shrinks toward its title, not into the middle
            domain=[frac(image_top + px["image"]), frac(image_top)],
            constrain="domain",
            constraintoward="top",
            row=row,
            col=col,
        )
        fig.update_yaxes(
            domain=[frac(bars_top + px["bars"]), frac(bars_top)],
            range=[0, 1],
            showticklabels=False,
            row=row + 1,
            col=col,
        )
        fig.update_xaxes(type="category", tickfont=dict(size=GALLERY_TICK_FONT), row=row + 1, col=col)
        x_domain = fig.get_subplot(row, col).xaxis.domain
        fig.add_annotation(
            text=plain("figures.mistake_title", true=true[i], pred=pred[i], percent=100 * probs[i][pred[i]]),
            x=(x_domain[0] + x_domain[1]) / 2,
            y=frac(image_top),
            xref="paper",
            yref="paper",
            xanchor="center",
            yanchor="bottom",
            showarrow=False,
            font=dict(size=GALLERY_TITLE_FONT, color=palette.TEXT),
        )
    fig.update_layout(height=height, margin=dict(l=5, r=5, t=margin_t, b=margin_b), bargap=0.1)
    return describe(
        fig,
        plain("figures.alt.gallery", count=k)
        + " "
        + "; ".join(
            plain("figures.alt.mistake", true=true[i], pred=pred[i], percent=100 * probs[i][pred[i]]) for i in range(k)
        ),
    )


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
    return describe(fig, plain("figures.alt.weights", count=k, side=side))


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
    if spec.kind == "cnn2":
        return "1×28×28 → conv 5×5 (24) → pool → conv 3×3 (32) → pool → 800 → 256 → 10"
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
