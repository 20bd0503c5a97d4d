"""Which layer learns? The live panel's figures: per layer gradient norms and update ratios, and histograms.

Built from a ``core.layer_stats.LayerTrace`` (plain numbers); no Streamlit here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.colors
import plotly.graph_objects as go

from playground.i18n import plain

if TYPE_CHECKING:
    from core.layer_stats import Histogram, LayerTrace

PALETTE = plotly.colors.qualitative.Plotly


def layer_label(index: int, name: str) -> str:
    """ "layer 1 (linears.0)": students count layers from the input, the model names them."""
    return plain("layers.layer", number=index + 1, name=name)


def layer_curves_figure(trace: LayerTrace, height: int = 420) -> go.Figure:
    """Top: ‖∂L/∂W‖ per layer; bottom: ‖ΔW‖/‖W‖ per layer; both by step on a log scale."""
    steps = [p.step for p in trace.points]
    data = []
    for i, name in enumerate(trace.layers):
        color = PALETTE[i % len(PALETTE)]
        label = layer_label(i, name)
        data.append(
            go.Scatter(
                x=steps,
                y=[_positive(p.grad_norms[i]) for p in trace.points],
                mode="lines",
                name=label,
                legendgroup=name,
                line=dict(color=color),
                hovertemplate=f"{label}<br>{plain('figures.step')} %{{x}}<br>‖∂L/∂W‖ %{{y:.3g}}<extra></extra>",
            )
        )
        data.append(
            go.Scatter(
                x=steps,
                y=[_positive(p.update_ratios[i]) for p in trace.points],
                mode="lines",
                name=label,
                legendgroup=name,
                showlegend=False,
                xaxis="x2",
                yaxis="y2",
                line=dict(color=color, dash="dot"),
                hovertemplate=f"{label}<br>{plain('figures.step')} %{{x}}<br>‖ΔW‖/‖W‖ %{{y:.3g}}<extra></extra>",
            )
        )
    layout = dict(
        height=height,
        margin=dict(l=10, r=10, t=30, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
        xaxis=dict(anchor="y", domain=[0, 1], matches="x2", showticklabels=False),
        yaxis=dict(type="log", domain=[0.55, 1], title=dict(text=plain("layers.grad_norm"))),
        xaxis2=dict(anchor="y2", domain=[0, 1], title=dict(text=plain("figures.step"))),
        yaxis2=dict(type="log", domain=[0, 0.45], title=dict(text=plain("layers.update_ratio"))),
        uirevision="layers",
    )
    return go.Figure(data=data, layout=layout)


def _positive(value: float) -> float | None:
    """A log axis cannot show 0: a gap instead."""
    return value if value > 0 else None


def layer_histograms_figure(weights: Histogram, grads: Histogram, height: int = 260) -> go.Figure:
    """Side by side: the chosen layer's weights and its gradients at one step."""
    data = [
        _bars(weights, plain("layers.weights"), "x", "y", PALETTE[0]),
        _bars(grads, plain("layers.gradients"), "x2", "y2", PALETTE[1]),
    ]
    layout = dict(
        height=height,
        margin=dict(l=10, r=10, t=30, b=10),
        showlegend=False,
        bargap=0.02,
        xaxis=dict(domain=[0, 0.47], anchor="y", title=dict(text=plain("layers.weights"))),
        yaxis=dict(anchor="x", title=dict(text=plain("layers.count"))),
        xaxis2=dict(domain=[0.53, 1], anchor="y2", title=dict(text=plain("layers.gradients")), exponentformat="e"),
        yaxis2=dict(anchor="x2"),
    )
    return go.Figure(data=data, layout=layout)


def _bars(histogram: Histogram, name: str, xaxis: str, yaxis: str, color: str) -> go.Bar:
    edges = histogram.edges
    centers = [(a + b) / 2 for a, b in zip(edges, edges[1:])]
    width = edges[1] - edges[0] if len(edges) > 1 else 1.0
    return go.Bar(
        x=centers,
        y=list(histogram.counts),
        width=width,
        name=name,
        xaxis=xaxis,
        yaxis=yaxis,
        marker=dict(color=color),
        hovertemplate=f"{name} %{{x:.3g}}<br>{plain('layers.count')} %{{y}}<extra></extra>",
    )
