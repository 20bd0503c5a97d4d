"""Figures of what the network does with one input (``core.insight``): layers, first-layer units, saliency.

Builders take ``core.insight`` results and plain arrays and return figures; none calls Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from playground.figures import palette
from playground.figures.palette import describe
from playground.figures.training import square_pixels
from playground.i18n import plain

MAPS_PER_ROW = 10


def _grid(values: np.ndarray) -> np.ndarray:
    """A vector of units as a near-square grid (rows of 16 or 32), NaN-padded: easier to see than a strip."""
    n = len(values)
    cols = 32 if n > 256 else 16 if n > 32 else max(1, n)
    rows = math.ceil(n / cols)
    grid = np.full(rows * cols, np.nan, dtype=np.float64)
    grid[:n] = values
    return grid.reshape(rows, cols)


def mlp_layers_figure(anatomy) -> go.Figure:
    """Each hidden layer's activations as a grid of cells (white = 0), then the ten logits."""
    layers = anatomy.layers
    titles = [
        plain("inside_draw.layer_title", layer=i + 1, units=layer.values.size, zeros=layer.zero_count)
        for i, layer in enumerate(layers)
    ] + [plain("inside_draw.logits_title")]
    heights = [max(1, _grid(layer.values).shape[0]) for layer in layers] + [6]
    fig = make_subplots(
        rows=len(titles),
        cols=1,
        subplot_titles=titles,
        row_heights=heights,
        vertical_spacing=0.25 / max(len(titles), 1),
    )
    for row, layer in enumerate(layers, start=1):
        grid = _grid(layer.values.astype(np.float64))
        unit_index = np.arange(grid.size).reshape(grid.shape)
        fig.add_trace(
            go.Heatmap(
                z=grid,
                customdata=unit_index,
                colorscale="Oranges",
                zmin=0,
                zmax=max(float(np.nanmax(grid)), 1e-6) if np.isfinite(grid).any() else 1,
                showscale=False,
                xgap=1,
                ygap=1,
                hovertemplate=f"{plain('figures.unit', index='%{customdata}')}: %{{z:.4f}}<extra></extra>",
            ),
            row=row,
            col=1,
        )
        fig.update_xaxes(visible=False, row=row, col=1)
        fig.update_yaxes(visible=False, autorange="reversed", row=row, col=1)
    logits = anatomy.logits
    colors = [palette.VERMILLION if i == anatomy.prediction else palette.CONTEXT for i in range(len(logits))]
    fig.add_trace(
        go.Bar(
            x=[str(i) for i in range(len(logits))],
            y=logits,
            marker_color=colors,
            text=[f"{v:.2f}" for v in logits],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="z[%{x}] = %{y:.4f}<extra></extra>",
        ),
        row=len(titles),
        col=1,
    )
    fig.update_xaxes(type="category", row=len(titles), col=1)
    fig.update_layout(
        height=90 + 22 * sum(heights) + 60 * len(titles), showlegend=False, margin=dict(l=10, r=10, t=40, b=10)
    )
    fig.update_annotations(font_size=12)
    return describe(fig, plain("figures.alt.layers", layers=len(layers), prediction=anatomy.prediction))


def cnn_maps_figure(anatomy, stage: str) -> go.Figure:
    """One stage's feature maps (``conv1``, ``pool1``, ``conv2``, ``pool2``) as small grey images."""
    layer = next(layer for layer in anatomy.layers if layer.name == stage)
    maps = layer.values  # [C, H, W]
    channels = maps.shape[0]
    cols = min(MAPS_PER_ROW, channels)
    rows = math.ceil(channels / cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        horizontal_spacing=0.01,
        vertical_spacing=0.04,
        subplot_titles=[str(c) for c in range(channels)],
    )
    limit = float(np.abs(maps).max()) or 1.0
    for c in range(channels):
        r, k = c // cols + 1, c % cols + 1
        fig.add_trace(
            go.Heatmap(
                z=maps[c][::-1],
                zmin=-limit if layer.kind == "conv" else 0,
                zmax=limit,
                colorscale="RdBu_r" if layer.kind == "conv" else "gray",
                showscale=False,
                hovertemplate="%{z:.3f}<extra></extra>",
            ),
            row=r,
            col=k,
        )
        square_pixels(fig, r, k)
    fig.update_annotations(font_size=10)
    fig.update_layout(height=110 * rows + 30, margin=dict(l=5, r=5, t=25, b=5))
    return describe(fig, plain("figures.alt.maps", stage=stage, count=len(layer.values)))


def units_figure(units: Sequence, image: np.ndarray) -> go.Figure:
    """For each strongly firing first-layer unit: its 28×28 weights, and the input multiplied by them."""
    cols = len(units)
    titles = [plain("inside_draw.unit_title", index=u.index, value=u.post_activation) for u in units]
    titles += [plain("inside_draw.unit_times_input") for _ in units]
    fig = make_subplots(rows=2, cols=cols, subplot_titles=titles, horizontal_spacing=0.015, vertical_spacing=0.1)
    for k, unit in enumerate(units, start=1):
        for row, values in ((1, unit.weights), (2, unit.contributions)):
            limit = float(np.abs(values).max()) or 1.0
            fig.add_trace(
                go.Heatmap(
                    z=np.asarray(values)[::-1],
                    zmin=-limit,
                    zmax=limit,
                    zmid=0,
                    colorscale="RdBu_r",
                    showscale=False,
                    hovertemplate="%{z:.4f}<extra></extra>",
                ),
                row=row,
                col=k,
            )
            square_pixels(fig, row, k)
    fig.update_annotations(font_size=10)
    fig.update_layout(height=330, margin=dict(l=5, r=5, t=30, b=5))
    return describe(fig, plain("figures.alt.units", count=len(units), units=", ".join(str(u.index) for u in units)))


def saliency_figure(image: np.ndarray, saliency: np.ndarray, target: int) -> go.Figure:
    """The input in grey, and ∂logit[target]/∂pixel beside it (red raises the logit, blue lowers it)."""
    limit = float(np.abs(saliency).max()) or 1.0
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.06,
        subplot_titles=(plain("inside_draw.input_title"), plain("inside_draw.saliency_title", target=target)),
    )
    fig.add_trace(
        go.Heatmap(
            z=np.asarray(image)[::-1],
            colorscale="gray",
            zmin=0,
            zmax=1,
            showscale=False,
            hovertemplate="%{z:.3f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Heatmap(
            z=np.asarray(saliency)[::-1],
            colorscale="RdBu_r",
            zmin=-limit,
            zmax=limit,
            zmid=0,
            colorbar=dict(thickness=10, len=0.8),
            hovertemplate="∂z/∂x = %{z:.4f}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    square_pixels(fig, 1, 1)
    square_pixels(fig, 1, 2)
    fig.update_layout(height=320, margin=dict(l=5, r=5, t=30, b=5))
    return describe(fig, plain("figures.alt.saliency", target=target))
