"""Plotly figures and tables for the momentum lab.

Builders take a `core.momentum.Surface`, `Path`s or `UpdateStep`s and return a figure or a
DataFrame; none calls Streamlit, so they are tested without a page.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.momentum import Path, Surface, UpdateStep, loss_increases, reversals, steps_to_reach, surface_grid
from playground import fmt
from playground.figures import palette
from playground.figures.palette import describe
from playground.i18n import plain

PATH_COLORS = (
    ("gd", palette.VERMILLION),
    ("momentum", palette.BLUE),
    ("nesterov", palette.GREEN),
    ("adam", palette.BLACK),
)
PATH_DASHES = {"gd": "solid", "momentum": "dash", "nesterov": "dot", "adam": "dashdot"}  # not by colour alone
CONTOUR_COLORS = [[0.0, "#f7fbff"], [1.0, "#6baed6"]]  # light, so the paths stand out
CONTOUR_FLOOR = 1e-3  # log10(L − L* + floor): the contours stay finite at the minimum
LOG_FLOOR = 1e-16  # L − L* below this is drawn at it on a log axis (it is 0 to float64 precision)
CONVERGED_WITHIN = 1e-3  # "reached the minimum": L − L* ≤ this


def path_color(optimizer: str) -> str:
    return dict(PATH_COLORS)[optimizer]


def optimizer_name(optimizer: str) -> str:
    """ "gradient descent", "momentum", … in the user's language."""
    return plain(f"momentum.optimizer.{optimizer}")


def _path_name(path: Path) -> str:
    name = optimizer_name(path.optimizer)
    return plain("momentum.diverged_name", name=name, step=path.diverged_at) if path.diverged else name


def contour_height(surface: Surface, width: int = 480) -> int:
    """A height that gives the box (drawn with equal x and y scales) about `width` pixels of room."""
    x_min, x_max, y_min, y_max = surface.box
    return int(min(max(width * (y_max - y_min) / (x_max - x_min) + 110, 340), 640))


def contour_figure(surface: Surface, paths: Sequence[Path], grid: int = 120, height: int | None = None) -> go.Figure:
    """The loss surface as contours of log10(L − L*) with each optimizer's path, the start and the minima.

    x and y share one scale, so a path that crosses the valley at right angles looks like it.
    """
    xs, ys, values = surface_grid(surface, grid)  # [n], [n], [n, n]
    figure = go.Figure(
        go.Contour(
            x=xs,
            y=ys,
            z=np.log10(values - surface.min_value + CONTOUR_FLOOR),
            ncontours=30,
            colorscale=CONTOUR_COLORS,
            customdata=values,
            name="loss",
            showscale=False,  # darker = higher
            hovertemplate="x = %{x:.3f}, y = %{y:.3f}<br>L = %{customdata:.4g}<extra></extra>",
        )
    )
    for path in paths:
        steps = np.arange(len(path.points))
        figure.add_trace(
            go.Scatter(
                x=path.points[:, 0],
                y=path.points[:, 1],
                mode="lines+markers",
                name=_path_name(path),
                line=dict(color=path_color(path.optimizer), width=2, dash=PATH_DASHES[path.optimizer]),
                marker=dict(size=4),
                customdata=np.column_stack([steps, path.losses]),
                hovertemplate=f"{plain('figures.step')} %{{customdata[0]}}<br>(%{{x:.4f}}, %{{y:.4f}})<br>"
                f"L = %{{customdata[1]:.4g}}<extra>{optimizer_name(path.optimizer)}</extra>",
            )
        )
    if paths:
        x0, y0 = paths[0].points[0]
        figure.add_trace(
            go.Scatter(
                x=[x0],
                y=[y0],
                mode="markers",
                name=plain("momentum.start"),
                marker=dict(symbol="star", size=16, color=palette.ORANGE, line=dict(color="black", width=1)),
            )
        )
    figure.add_trace(
        go.Scatter(
            x=[m[0] for m in surface.minima],
            y=[m[1] for m in surface.minima],
            mode="markers",
            name=plain("momentum.minimum"),
            marker=dict(symbol="x", size=13, color="black"),
            hovertemplate=f"{plain('momentum.minimum')}, L* = {surface.min_value:g}<extra></extra>",
        )
    )
    if surface.saddles:
        figure.add_trace(
            go.Scatter(
                x=[s[0] for s in surface.saddles],
                y=[s[1] for s in surface.saddles],
                mode="markers",
                name=plain("momentum.saddle_point"),
                marker=dict(symbol="diamond-open", size=13, color="black", line=dict(width=2)),
            )
        )
    x_min, x_max, y_min, y_max = surface.box
    figure.update_layout(
        height=height or contour_height(surface),
        margin=dict(l=10, r=10, t=10, b=10),
        legend=dict(orientation="h", y=-0.15),
        xaxis=dict(title="x", range=[x_min, x_max], constrain="domain"),
        yaxis=dict(title="y", range=[y_min, y_max], scaleanchor="x", scaleratio=1, constrain="domain"),
    )
    return describe(figure, plain("figures.alt.contour", paths=paths_summary(paths)))


def loss_figure(surface: Surface, paths: Sequence[Path], log_y: bool = True, height: int = 480) -> go.Figure:
    """Loss against iteration for each optimizer: L − L* on a log axis (or L itself on a linear one)."""
    figure = go.Figure()
    for path in paths:
        steps = np.arange(len(path.losses))
        gap = np.maximum(path.losses - surface.min_value, LOG_FLOOR) if log_y else path.losses
        figure.add_trace(
            go.Scatter(
                x=steps,
                y=gap,
                mode="lines",
                name=_path_name(path),
                line=dict(color=path_color(path.optimizer), width=2, dash=PATH_DASHES[path.optimizer]),
                customdata=path.losses,
                hovertemplate=f"{plain('figures.step')} %{{x}}<br>L = %{{customdata:.6g}}"
                f"<extra>{optimizer_name(path.optimizer)}</extra>",
            )
        )
    y_title = f"L(θₜ) − L*  (L* = {surface.min_value:g})" if log_y else "L(θₜ)"
    figure.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=10, b=10),
        legend=dict(orientation="h", y=-0.12),
        xaxis=dict(title=plain("momentum.iteration")),
        yaxis=dict(title=y_title, type="log" if log_y else "linear", exponentformat="power"),
    )
    return describe(figure, plain("figures.alt.momentum_loss", paths=paths_summary(paths)))


UPDATE_COLUMNS = ("θₜ₋₁", "∇L(θₜ₋₁)", "γ·vₜ₋₁", "η·∇L", "vₜ", "θₜ")  # formulas: the same in every language


def pair_text(pair) -> str:
    """A 2-vector as the worked numbers print it: ``-4.41391, 0.882782``."""
    return f"{fmt.number(pair[0], '.6g')}, {fmt.number(pair[1], '.6g')}"


def update_table(rows: Sequence[UpdateStep]) -> pd.DataFrame:
    """One row per update: θₜ₋₁, ∇L, γ·vₜ₋₁, η·∇L, vₜ = their sum, θₜ = θₜ₋₁ − vₜ, L(θₜ).

    Each vector is one cell (x, y), so seven columns fit a projector without clipping a sign.
    """
    vectors = [[r.theta_before, r.grad, r.momentum_term, r.gradient_term, r.v, r.theta] for r in rows]
    frame = pd.DataFrame([[tuple(map(float, v)) for v in row] for row in vectors], columns=list(UPDATE_COLUMNS))
    frame.insert(0, "t", [r.t for r in rows])
    frame["L(θₜ)"] = [r.loss for r in rows]
    return frame


UPDATE_FORMATS = {**{column: pair_text for column in UPDATE_COLUMNS}, "L(θₜ)": ".6g"}


def summary_table(surface: Surface, paths: Sequence[Path]) -> pd.DataFrame:
    """Per optimizer: final loss, steps to get within 1e-3 of L*, zig-zags, uphill steps, divergence."""

    def reached(path: Path):
        t = steps_to_reach(path, surface.min_value, CONVERGED_WITHIN)
        return "—" if t is None else str(t)

    return pd.DataFrame(
        {
            plain("momentum.col.optimizer"): [optimizer_name(p.optimizer) for p in paths],
            plain("momentum.col.final_loss"): [p.final_loss for p in paths],
            plain("momentum.col.final_point"): [tuple(map(float, p.final_point)) for p in paths],
            plain("momentum.col.steps_to", within=CONVERGED_WITHIN): [reached(p) for p in paths],
            plain("momentum.col.x_reversals"): [reversals(p, 0) for p in paths],
            plain("momentum.col.y_reversals"): [reversals(p, 1) for p in paths],
            plain("momentum.col.uphill"): [loss_increases(p) for p in paths],
            plain("momentum.col.diverged_at"): ["—" if p.diverged_at is None else str(p.diverged_at) for p in paths],
        }
    )


def summary_formats() -> dict:
    return {plain("momentum.col.final_loss"): ".4g", plain("momentum.col.final_point"): pair_text}


def paths_summary(paths: Sequence[Path]) -> str:
    """Each optimizer's path in words: where its loss ended, or where it diverged."""
    parts = [
        plain("figures.alt.path", name=_path_name(path), steps=len(path.losses) - 1, loss=float(path.losses[-1]))
        for path in paths
        if len(path.losses)
    ]
    return "; ".join(parts) or "—"
