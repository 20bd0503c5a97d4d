"""Plotly figures and tables for the momentum lab.

Builders take a `core.momentum.Surface`, `Path`s or `UpdateStep`s and return a figure or a
DataFrame; none calls Streamlit, so they are tested without a page.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.momentum import Path, Surface, UpdateStep, loss_increases, reversals, steps_to_reach, surface_grid

PATH_COLORS = (("gd", "#d62728"), ("momentum", "#2ca02c"), ("nesterov", "#9467bd"), ("adam", "#111111"))
CONTOUR_COLORS = [[0.0, "#f7fbff"], [1.0, "#6baed6"]]  # light, so the paths stand out
CONTOUR_FLOOR = 1e-3  # log10(L − L* + floor): the contours stay finite at the minimum
LOG_FLOOR = 1e-16  # L − L* below this is drawn at it on a log axis (it is 0 to float64 precision)
CONVERGED_WITHIN = 1e-3  # "reached the minimum": L − L* ≤ this


def path_color(optimizer: str) -> str:
    return dict(PATH_COLORS)[optimizer]


def _path_name(path: Path) -> str:
    return f"{path.label} (diverged at step {path.diverged_at})" if path.diverged else path.label


def contour_height(surface: Surface, width: int = 480) -> int:
    """A height that gives the box (drawn with equal x and y scales) about `width` pixels of room."""
    x_min, x_max, y_min, y_max = surface.box
    return int(min(max(width * (y_max - y_min) / (x_max - x_min) + 110, 340), 640))


def contour_figure(surface: Surface, paths: Sequence[Path], grid: int = 120, height: int | None = None) -> go.Figure:
    """The loss surface as contours of log10(L − L*) with each optimizer's path, the start and the minima.

    x and y share one scale, so a path that crosses the valley at right angles looks like it.
    """
    xs, ys, values = surface_grid(surface, grid)  # [n], [n], [n, n]
    figure = go.Figure(go.Contour(
        x=xs, y=ys, z=np.log10(values - surface.min_value + CONTOUR_FLOOR), ncontours=30,
        colorscale=CONTOUR_COLORS, customdata=values, name="loss", showscale=False,  # darker = higher
        hovertemplate="x = %{x:.3f}, y = %{y:.3f}<br>L = %{customdata:.4g}<extra></extra>",
    ))
    for path in paths:
        steps = np.arange(len(path.points))
        figure.add_trace(go.Scatter(
            x=path.points[:, 0], y=path.points[:, 1], mode="lines+markers", name=_path_name(path),
            line=dict(color=path_color(path.optimizer), width=2), marker=dict(size=4),
            customdata=np.column_stack([steps, path.losses]),
            hovertemplate="step %{customdata[0]}<br>(%{x:.4f}, %{y:.4f})<br>L = %{customdata[1]:.4g}"
                          f"<extra>{path.label}</extra>",
        ))
    if paths:
        x0, y0 = paths[0].points[0]
        figure.add_trace(go.Scatter(x=[x0], y=[y0], mode="markers", name="start",
                                    marker=dict(symbol="star", size=16, color="#ff7f0e",
                                                line=dict(color="black", width=1))))
    figure.add_trace(go.Scatter(
        x=[m[0] for m in surface.minima], y=[m[1] for m in surface.minima], mode="markers", name="minimum",
        marker=dict(symbol="x", size=13, color="black"),
        hovertemplate=f"minimum, L* = {surface.min_value:g}<extra></extra>",
    ))
    if surface.saddles:
        figure.add_trace(go.Scatter(
            x=[s[0] for s in surface.saddles], y=[s[1] for s in surface.saddles], mode="markers",
            name="saddle point", marker=dict(symbol="diamond-open", size=13, color="black", line=dict(width=2)),
        ))
    x_min, x_max, y_min, y_max = surface.box
    figure.update_layout(
        height=height or contour_height(surface), margin=dict(l=10, r=10, t=10, b=10),
        legend=dict(orientation="h", y=-0.15),
        xaxis=dict(title="x", range=[x_min, x_max], constrain="domain"),
        yaxis=dict(title="y", range=[y_min, y_max], scaleanchor="x", scaleratio=1, constrain="domain"),
    )
    return figure


def loss_figure(surface: Surface, paths: Sequence[Path], log_y: bool = True, height: int = 480) -> go.Figure:
    """Loss against iteration for each optimizer: L − L* on a log axis (or L itself on a linear one)."""
    figure = go.Figure()
    for path in paths:
        steps = np.arange(len(path.losses))
        gap = np.maximum(path.losses - surface.min_value, LOG_FLOOR) if log_y else path.losses
        figure.add_trace(go.Scatter(
            x=steps, y=gap, mode="lines", name=_path_name(path),
            line=dict(color=path_color(path.optimizer), width=2), customdata=path.losses,
            hovertemplate="step %{x}<br>L = %{customdata:.6g}" + f"<extra>{path.label}</extra>",
        ))
    y_title = f"L(θₜ) − L*  (L* = {surface.min_value:g})" if log_y else "L(θₜ)"
    figure.update_layout(
        height=height, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=-0.12),
        xaxis=dict(title="iteration t"),
        yaxis=dict(title=y_title, type="log" if log_y else "linear", exponentformat="power"),
    )
    return figure


def update_table(rows: Sequence[UpdateStep]) -> pd.DataFrame:
    """One row per update: θₜ₋₁, ∇L, γ·vₜ₋₁, η·∇L, vₜ = their sum, θₜ = θₜ₋₁ − vₜ, L(θₜ)."""
    def pair(name: str, values) -> dict:
        return {f"{name} x": [v[0] for v in values], f"{name} y": [v[1] for v in values]}

    return pd.DataFrame({
        "t": [r.t for r in rows],
        **pair("θₜ₋₁", [r.theta_before for r in rows]),
        **pair("∇L", [r.grad for r in rows]),
        **pair("γ·vₜ₋₁", [r.momentum_term for r in rows]),
        **pair("η·∇L", [r.gradient_term for r in rows]),
        **pair("vₜ", [r.v for r in rows]),
        **pair("θₜ", [r.theta for r in rows]),
        "L(θₜ)": [r.loss for r in rows],
    }).set_index("t")


def summary_table(surface: Surface, paths: Sequence[Path]) -> pd.DataFrame:
    """Per optimizer: final loss, steps to get within 1e-3 of L*, zig-zags, uphill steps, divergence."""
    def reached(path: Path):
        t = steps_to_reach(path, surface.min_value, CONVERGED_WITHIN)
        return "—" if t is None else str(t)

    return pd.DataFrame({
        "optimizer": [p.label for p in paths],
        "final loss": [p.final_loss for p in paths],
        "final x": [float(p.final_point[0]) for p in paths],
        "final y": [float(p.final_point[1]) for p in paths],
        f"steps to L − L* ≤ {CONVERGED_WITHIN:g}": [reached(p) for p in paths],
        "x reversals": [reversals(p, 0) for p in paths],
        "y reversals": [reversals(p, 1) for p in paths],
        "steps uphill": [loss_increases(p) for p in paths],
        "diverged at step": ["—" if p.diverged_at is None else str(p.diverged_at) for p in paths],
    }).set_index("optimizer")
