"""Figures, tables and captions for the MNIST data lab.

Builders take plain arrays (or `core.transforms` results) and return a figure, a DataFrame or
a string; none calls Streamlit, so they are tested without a page. Images are drawn as MNIST
stores them: 0 (background) black, 255 (ink) white, row 0 at the top.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.data import MNIST_MEAN, MNIST_STD
from playground.figures import palette
from playground.figures.palette import describe
from playground.figures.softmax import values_summary
from playground.i18n import plain, t

if TYPE_CHECKING:
    from core.transforms import Histogram, PixelStats, TransformStep

ALL_DIGITS = "all"
TRAIN_COLOR = palette.BLUE
TEST_COLOR = palette.SKY_BLUE
PICKED_COLOR = palette.VERMILLION
PICKED_TEXT = palette.TEXT_ACCENT  # vermillion itself is 4.2:1 on white: too light for text
LECTURE_COLOR = palette.GREEN
GAP = -1  # the grid's value between images, drawn white
# 0..255 from black to white like MNIST's bytes, and the one value below them (GAP) white.
GRID_COLORSCALE = [[0.0, "#ffffff"], [0.9 / 256, "#ffffff"], [1 / 256, "#000000"], [1.0, "#ffffff"]]
LABEL_ROWS = 9  # mosaic rows above each image, room for its caption
GAP_COLS = 3


def counts_sentence(train_counts: Sequence[int]) -> str:
    """How balanced the digits are, in words."""
    low, high = min(train_counts), max(train_counts)
    if low == high:
        return t("data.balanced_exactly", count=f"{low:,}")
    return t("data.balanced_nearly", low=f"{low:,}", high=f"{high:,}")


# ---- the grid ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GridPage:
    """One page of the image grid: which training images, out of how many."""

    indices: np.ndarray  # [K] int64 training-set indices shown on this page
    page: int  # 1-based, clamped into 1..pages
    pages: int
    matching: int  # how many images the digit filter lets through
    per_page: int

    @property
    def first(self) -> int:
        """1-based position of the first shown image among the matching ones (0 when none)."""
        return (self.page - 1) * self.per_page + 1 if len(self.indices) else 0

    @property
    def last(self) -> int:
        return (self.page - 1) * self.per_page + len(self.indices)


def grid_page(labels, digit: int | str, page: int, per_page: int) -> GridPage:
    """The training indices for ``page`` (1-based) of the images labelled ``digit`` (or all), in order."""
    labels = np.asarray(labels)
    matching = np.arange(len(labels)) if digit == ALL_DIGITS else np.flatnonzero(labels == int(digit))
    pages = max(1, math.ceil(len(matching) / per_page))
    page = min(max(int(page), 1), pages)
    start = (page - 1) * per_page
    return GridPage(matching[start : start + per_page].astype(np.int64), page, pages, len(matching), per_page)


def _mosaic(images: np.ndarray, cols: int) -> tuple[np.ndarray, int]:
    """Images [K, 28, 28] tiled into one int16 array: GAP between tiles and in a caption strip above each."""
    k, h, w = images.shape
    rows = max(1, math.ceil(k / cols))
    cell_h, cell_w = LABEL_ROWS + h, w + GAP_COLS
    mosaic = np.full((rows * cell_h, cols * cell_w - GAP_COLS), GAP, dtype=np.int16)
    for i, image in enumerate(images):
        top, left = (i // cols) * cell_h + LABEL_ROWS, (i % cols) * cell_w
        mosaic[top : top + h, left : left + w] = image
    return mosaic, rows


def image_grid_figure(
    images, indices: Sequence[int], labels: Sequence[int], cols: int = 8, picked: int | None = None
) -> go.Figure:
    """Training images in one heatmap (one trace: fast to build and small to send), each captioned
    "label · #index". An invisible marker sits on each image so a click can say which one (its customdata).
    """
    images = np.asarray(images).reshape(-1, 28, 28)  # [K, 28, 28] uint8
    cols = max(1, min(cols, len(images)))
    mosaic, rows = _mosaic(images, cols)
    cell_h, cell_w = LABEL_ROWS + 28, 28 + GAP_COLS
    centers_x = [(i % cols) * cell_w + 13.5 for i in range(len(images))]
    centers_y = [(i // cols) * cell_h + LABEL_ROWS + 13.5 for i in range(len(images))]
    heatmap = go.Heatmap(z=mosaic, zmin=GAP, zmax=255, colorscale=GRID_COLORSCALE, showscale=False, hoverinfo="skip")
    markers = go.Scatter(
        x=centers_x,
        y=centers_y,
        mode="markers",
        customdata=[int(i) for i in indices],
        marker=dict(symbol="square", size=30, opacity=0.01, color="black"),
        showlegend=False,
        hovertemplate=f"{plain('data.grid_hover')} #%{{customdata}}<extra>{plain('data.grid_hover_hint')}</extra>",
        name="images",
    )
    captions = [
        dict(
            x=x,
            y=(i // cols) * cell_h + LABEL_ROWS / 2,
            text=f"{int(label)} · #{int(index)}",
            showarrow=False,
            font=dict(size=10, color=PICKED_TEXT if index == picked else palette.BLACK),
        )
        for i, (x, index, label) in enumerate(zip(centers_x, indices, labels))
    ]
    figure = go.Figure(
        [heatmap, markers],
        layout=dict(
            annotations=captions,
            height=85 * rows + 10,
            margin=dict(l=0, r=0, t=5, b=5),
            xaxis=dict(visible=False, range=[-0.5, mosaic.shape[1] - 0.5]),
            yaxis=dict(visible=False, autorange="reversed", scaleanchor="x", constrain="domain"),
            clickmode="event+select",
            dragmode=False,
        ),
    )
    return describe(figure, plain("figures.alt.grid", count=len(images), labels=", ".join(str(int(x)) for x in labels)))


def clicked_index(event) -> int | None:
    """The training index of the image a plotly selection event (a click on the grid) points at."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for point in points:
        value = point.get("customdata")
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        if value is not None:
            return int(value)
    return None


def class_counts_figure(
    train_counts: Sequence[int], test_counts: Sequence[int], picked: int | str = ALL_DIGITS, height: int = 300
) -> go.Figure:
    """Images per digit, training and test side by side; the picked digit's training bar in red."""
    digits = [str(d) for d in range(len(train_counts))]
    train_colors = [
        PICKED_COLOR if picked != ALL_DIGITS and d == int(picked) else TRAIN_COLOR for d in range(len(train_counts))
    ]
    fig = go.Figure(
        [
            go.Bar(
                x=digits,
                y=list(train_counts),
                name=plain("data.training"),
                marker_color=train_colors,
                text=[f"{c:,}" for c in train_counts],
                textposition="outside",
                cliponaxis=False,
                hovertemplate=(
                    f"{plain('figures.digit')} %{{x}}: %{{y:,}} {plain('data.training_images')}<extra></extra>"
                ),
            ),
            go.Bar(
                x=digits,
                y=list(test_counts),
                name=plain("data.test"),
                marker_color=TEST_COLOR,
                hovertemplate=f"{plain('figures.digit')} %{{x}}: %{{y:,}} {plain('data.test_images')}<extra></extra>",
            ),
        ]
    )
    fig.update_layout(
        height=height,
        barmode="group",
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(title=plain("figures.digit"), type="category"),
        yaxis=dict(title=plain("data.images")),
        legend=dict(orientation="h", y=1.1),
    )
    return describe(
        fig,
        plain(
            "figures.alt.class_counts",
            train=", ".join(f"{d}: {c:,}" for d, c in enumerate(train_counts)),
            test=", ".join(f"{d}: {c:,}" for d, c in enumerate(test_counts)),
        ),
    )


# ---- one image ----------------------------------------------------------------------------


def pixel_values_figure(values, zmin: float, zmax: float, decimals: int = 0, height: int = 860) -> go.Figure:
    """A 28×28 image as a heatmap with every pixel's value written on it (row 0 at the top)."""
    values = np.asarray(values, dtype=np.float64).reshape(28, 28)
    fig = go.Figure(
        go.Heatmap(
            z=values,
            zmin=zmin,
            zmax=zmax,
            colorscale="gray",
            colorbar=dict(thickness=12, len=0.6),
            texttemplate=f"%{{z:.{decimals}f}}",
            textfont=dict(size=9 if decimals else 10),
            hovertemplate=f"{plain('figures.row')} %{{y}}, {plain('figures.col')} %{{x}}: "
            f"%{{z:.{4 if decimals else 0}f}}<extra></extra>",
        )
    )
    fig.update_xaxes(title=plain("data.column_w"), dtick=4, side="top", constrain="domain")
    fig.update_yaxes(title=plain("data.row_h"), dtick=4, autorange="reversed", scaleanchor="x", constrain="domain")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10))
    return describe(fig, values_summary(values))


def flat_vector_figure(vector, height: int = 260) -> go.Figure:
    """The 784 numbers the MLP sees, in order: row 0's 28 pixels, then row 1's, … (dotted lines between rows)."""
    vector = np.asarray(vector, dtype=np.float64).reshape(-1)
    fig = go.Figure(
        go.Scatter(
            x=np.arange(len(vector)),
            y=vector,
            mode="lines",
            line=dict(color=TRAIN_COLOR, width=1),
            customdata=np.stack([np.arange(len(vector)) // 28, np.arange(len(vector)) % 28], axis=1),
            hovertemplate=f"x[%{{x}}] = %{{y:.4f}}<br>({plain('figures.row')} %{{customdata[0]}}, "
            f"{plain('figures.col')} %{{customdata[1]}})<extra></extra>",
        )
    )
    row_lines = [
        dict(
            type="line",
            xref="x",
            yref="paper",
            x0=row * 28 - 0.5,
            x1=row * 28 - 0.5,
            y0=0,
            y1=1,
            line=dict(color="#dddddd", width=1, dash="dot"),
        )
        for row in range(1, len(vector) // 28)
    ]
    fig.update_layout(shapes=row_lines)
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(title=plain("data.vector_position"), range=[-1, len(vector)]),
        yaxis=dict(title=plain("data.value")),
    )
    return describe(
        fig,
        plain(
            "figures.alt.vector",
            count=int(np.asarray(vector).size),
            low=float(np.min(vector)),
            high=float(np.max(vector)),
        ),
    )


def steps_frame(steps: Sequence[TransformStep]) -> pd.DataFrame:
    """One row per transform step: the code, and the shape, dtype and value range it leaves."""
    return pd.DataFrame(
        {
            plain("data.col.step"): [plain(f"data.step.{s.key}") for s in steps],
            plain("data.col.code"): [s.code for s in steps],
            plain("data.col.shape"): [str(list(s.shape)) for s in steps],
            plain("data.col.dtype"): [s.dtype for s in steps],
            plain("data.col.min"): [s.min for s in steps],
            plain("data.col.max"): [s.max for s in steps],
            plain("data.col.mean"): [s.mean for s in steps],
        }
    )


# ---- the whole training set --------------------------------------------------------------------


def histograms_figure(
    before: Histogram, after: Histogram, stats: PixelStats, log_y: bool = True, height: int = 340
) -> go.Figure:
    """Pixel values before (÷ 255) and after Normalize, side by side, with each side's mean marked."""
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.08,
        subplot_titles=(
            plain("data.hist_before", mean=stats.mean, std=stats.std),
            plain(
                "data.hist_after",
                lecture_mean=MNIST_MEAN,
                lecture_std=MNIST_STD,
                mean=stats.norm_mean,
                std=stats.norm_std,
            ),
        ),
    )
    for col, (hist, mean, std) in enumerate(
        ((before, stats.mean, stats.std), (after, stats.norm_mean, stats.norm_std)), start=1
    ):
        fig.add_trace(
            go.Bar(
                x=hist.centers,
                y=hist.counts,
                width=hist.widths,
                marker_color=TRAIN_COLOR,
                customdata=np.stack([hist.edges[:-1], hist.edges[1:]], axis=1),
                showlegend=False,
                hovertemplate=f"%{{customdata[0]:.3f}} – %{{customdata[1]:.3f}}: %{{y:,}} "
                f"{plain('data.pixels')}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.add_vline(x=mean, line=dict(color=PICKED_COLOR, width=2), row=1, col=col)
        fig.add_vrect(x0=mean - std, x1=mean + std, fillcolor=PICKED_COLOR, opacity=0.08, line_width=0, row=1, col=col)
    fig.update_yaxes(type="log" if log_y else "linear", title_text=plain("data.pixels"), row=1, col=1)
    fig.update_yaxes(type="log" if log_y else "linear", row=1, col=2)
    fig.update_xaxes(title_text=plain("data.pixel_value"), row=1, col=1)
    fig.update_xaxes(title_text=plain("data.normalized_value"), row=1, col=2)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=height, bargap=0, margin=dict(l=10, r=10, t=40, b=10))
    return describe(fig, plain("figures.alt.histograms", mean=stats.mean, std=stats.std))


def stats_frame(stats: PixelStats) -> pd.DataFrame:
    """The live numbers next to the lecture's, and what Normalize makes of the pixels."""
    return pd.DataFrame(
        {
            "": [plain("data.col.mean"), plain("data.col.std")],
            plain("data.stats.this_set"): [stats.mean, stats.std],
            plain("data.stats.lecture"): [MNIST_MEAN, MNIST_STD],
            plain("data.stats.after"): [stats.norm_mean, stats.norm_std],
        }
    )
