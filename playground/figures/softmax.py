"""Plotly figures (and tables) for the Draw page and the softmax lab.

Every builder takes plain arrays (or a ``core.softmax.Walkthrough``) and returns a figure or a
DataFrame; none calls Streamlit, so they are tested without a page. Texts are the user's language.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from playground.figures import palette
from playground.figures.palette import describe
from playground.figures.training import label
from playground.i18n import plain

if TYPE_CHECKING:
    from core.softmax import Walkthrough

BAR_COLOR = palette.CONTEXT
WINNER_COLOR = palette.VERMILLION
TARGET_COLOR = palette.BLUE
GRAD_UP_COLOR = palette.VERMILLION  # positive gradient: gradient descent pushes this logit down
GRAD_DOWN_COLOR = palette.BLUE
GRADIENT_BAR_WIDTH = 0.5  # of a class's slot: the bar on its left, autograd's marker on its right
GRADIENT_SHIFT = 0.15
GRADIENT_MARKER_SHIFT = 0.25


def _class_names(n: int, labels: Sequence | None) -> list[str]:
    return [label(name) for name in labels] if labels is not None else [str(i) for i in range(n)]


def probs_bar_figure(
    probs, labels: Sequence | None = None, title: str | None = None, height: int = 320, static: bool = False
) -> go.Figure:
    """One bar per class, the winner highlighted, each labelled with its probability in %.

    ``static`` drops the transitions and hover machinery, for a chart redrawn often.
    """
    probs = np.asarray(probs, dtype=np.float64)
    names = _class_names(len(probs), labels)
    winner = int(np.argmax(probs))
    colors = [WINNER_COLOR if i == winner else BAR_COLOR for i in range(len(probs))]
    figure = go.Figure(
        go.Bar(
            x=names,
            y=probs,
            marker_color=colors,
            text=[f"{p:.1%}" for p in probs],
            textposition="outside",
            cliponaxis=False,
            hovertemplate=f"{plain('figures.class')} %{{x}}: p = %{{y:.6f}}<extra></extra>",
        )
    )
    figure.update_layout(
        title=title,
        height=height,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        xaxis=dict(title=plain("figures.class"), type="category"),
        yaxis=dict(title=plain("figures.softmax_probability"), range=[0, 1.12], tickformat=".0%"),
        showlegend=False,
    )
    if static:
        figure.update_layout(hovermode=False, dragmode=False)
    return describe(
        figure, plain("figures.alt.probs", count=len(probs), winner=names[winner], percent=100 * probs[winner])
    )


def step_bars_figure(wt: Walkthrough, height: int = 300) -> go.Figure:
    """The walkthrough's steps side by side: z/T, z/T − max, exp, probs, log probs."""
    names = _class_names(wt.num_classes, None)
    steps = [
        ("z / T" if wt.temperature != 1 else "z", wt.z_scaled),
        ("z/T − max(z/T)", wt.shifted),
        ("exp(z/T − max)", wt.exp),
        ("probs = exp / Σ exp", wt.probs),
        ("log probs", wt.log_probs),
    ]
    figure = make_subplots(rows=1, cols=len(steps), subplot_titles=[title for title, _ in steps])
    for col, (title, values) in enumerate(steps, start=1):
        colors = [TARGET_COLOR if i == wt.target else BAR_COLOR for i in range(wt.num_classes)]
        figure.add_trace(
            go.Bar(
                x=names,
                y=values,
                marker_color=colors,
                name=title,
                hovertemplate=f"{plain('figures.class')} %{{x}}: %{{y:.6g}}<extra>{title}</extra>",
            ),
            row=1,
            col=col,
        )
    figure.update_xaxes(type="category")
    figure.update_layout(height=height, showlegend=False, margin=dict(l=10, r=10, t=40, b=10))
    return describe(figure, plain("figures.alt.steps", count=wt.num_classes, target=wt.target))


def neg_log_figure(p_target: float, height: int = 320) -> go.Figure:
    """loss = −log p of the true class: 0 at p = 1, growing without bound as p → 0."""
    p = np.linspace(0.001, 1.0, 400)
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=p,
            y=-np.log(p),
            mode="lines",
            name="−log p",
            hovertemplate=f"p = %{{x:.3f}}<br>{plain('figures.loss')} = %{{y:.3f}}<extra></extra>",
        )
    )
    p_shown = max(float(p_target), 1e-300)
    loss = -np.log(p_shown)
    figure.add_trace(
        go.Scatter(
            x=[p_shown],
            y=[loss],
            mode="markers+text",
            name=plain("figures.this_example"),
            marker=dict(size=12, color=WINNER_COLOR),
            text=[f"p = {p_target:.4f}, {plain('figures.loss')} = {loss:.4f}"],
            textposition="top right",
        )
    )
    figure.update_layout(
        height=height,
        showlegend=False,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(title=plain("figures.p_target"), range=[0, 1.02]),
        yaxis=dict(title=plain("figures.neg_log_p"), range=[0, max(7.0, loss * 1.1)]),
    )
    return describe(figure, plain("figures.alt.neg_log", p=p_target, loss=-math.log(max(p_target, 1e-300))))


def gradient_figure(wt: Walkthrough, height: int = 300) -> go.Figure:
    """∂loss/∂z as bars (the formula) with autograd's values as markers beside them.

    Each class has a slot: its bar on the left with the value written past its end, autograd's
    marker on the right at the same height, so the marker never covers the label (on top of the
    bar it sat on the label's first digits).
    """
    names = _class_names(wt.num_classes, None)
    slots = np.arange(wt.num_classes)
    colors = [GRAD_UP_COLOR if g > 0 else GRAD_DOWN_COLOR for g in wt.grad_formula]
    figure = go.Figure()
    figure.add_trace(
        go.Bar(
            x=slots - GRADIENT_SHIFT,
            y=wt.grad_formula,
            width=GRADIENT_BAR_WIDTH,
            customdata=names,
            marker_color=colors,
            name="(probs − one-hot) / T",
            text=[f"{g:+.4f}" for g in wt.grad_formula],
            textposition="outside",
            cliponaxis=False,
            hovertemplate=f"{plain('figures.class')} %{{customdata}}: %{{y:+.6f}}"
            f"<extra>{plain('figures.formula')}</extra>",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=slots + GRADIENT_MARKER_SHIFT,
            y=wt.grad_autograd,
            customdata=names,
            mode="markers",
            name=plain("figures.autograd"),
            marker=dict(symbol="x", size=11, color="black"),
            hovertemplate=f"{plain('figures.class')} %{{customdata}}: %{{y:+.6f}}"
            f"<extra>{plain('figures.autograd')}</extra>",
        )
    )
    figure.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(
            title=plain("figures.class"),
            tickvals=slots.tolist(),
            ticktext=names,
            range=[-0.6, wt.num_classes - 0.4],
            zeroline=False,
        ),
        yaxis=dict(title="∂loss/∂z"),
        legend=dict(orientation="h", y=1.12),
    )
    return describe(figure, plain("figures.alt.gradient", values=", ".join(f"{g:+.3f}" for g in wt.grad_formula)))


def pixel_heatmap(values, title: str | None = None, height: int = 300) -> go.Figure:
    """A 2-D array as a grey image with each pixel's value on hover (row 0 at the top)."""
    values = np.asarray(values, dtype=np.float64)
    figure = go.Figure(
        go.Heatmap(
            z=values,
            colorscale="Greys",
            reversescale=True,
            showscale=True,
            hovertemplate=f"{plain('figures.row')} %{{y}}, {plain('figures.col')} %{{x}}: %{{z:.4f}}<extra></extra>",
        )
    )
    figure.update_layout(
        title=title,
        height=height,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        yaxis=dict(autorange="reversed", scaleanchor="x", constrain="domain"),
        xaxis=dict(constrain="domain"),
    )
    return describe(figure, values_summary(values))


def walkthrough_table(wt: Walkthrough) -> pd.DataFrame:
    """One row per class, one column per step: the numbers to check by hand."""
    return pd.DataFrame(
        {
            plain("figures.class"): range(wt.num_classes),
            "z": wt.z,
            "z / T": wt.z_scaled,
            "z/T − max": wt.shifted,
            "exp": wt.exp,
            "probs": wt.probs,
            "log probs": wt.log_probs,
            "one-hot y": wt.one_hot.astype(int),
            "∂loss/∂z": wt.grad_formula,
        }
    )


def routes_table(wt: Walkthrough) -> pd.DataFrame:
    """The loss by every route and its difference from −log p[target] (route names are code)."""
    routes = wt.losses
    return pd.DataFrame(
        {
            plain("figures.route"): list(routes),
            plain("figures.loss"): list(routes.values()),
            plain("figures.difference"): [loss - wt.loss for loss in routes.values()],
        }
    )


def overflow_table(z, naive_probs, stable_probs) -> pd.DataFrame:
    """Naive exp(z)/Σexp(z) next to the max-shifted softmax, class by class."""
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(over="ignore"):
        exp_z = np.exp(z)
    return pd.DataFrame(
        {
            plain("figures.class"): range(len(z)),
            "z": z,
            "exp(z)": exp_z,
            plain("figures.naive"): np.asarray(naive_probs, dtype=np.float64),
            plain("figures.stable"): np.asarray(stable_probs, dtype=np.float64),
        }
    )


def values_summary(values) -> str:
    """An image of numbers in words: its shape and range."""
    array = np.asarray(values, dtype=np.float64)
    rows, cols = array.shape[-2:] if array.ndim >= 2 else (1, array.size)
    low, high = (float(np.nanmin(array)), float(np.nanmax(array))) if array.size else (0.0, 0.0)
    return plain("figures.alt.pixels", rows=rows, cols=cols, low=low, high=high)
