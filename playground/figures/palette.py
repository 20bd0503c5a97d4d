"""The one colour palette of every chart: Okabe–Ito, which readers with any colour-vision deficiency
tell apart (plotly's default puts red next to green), and text colours that keep WCAG's 4.5:1
contrast on the backgrounds they are drawn on.

Meaning never rests on colour alone: runs also differ by dash and marker (``series_style``), a
guessed class is also hatched, and every chart carries a text summary (``describe``).
"""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go

# Okabe & Ito (2008), "Color Universal Design".
BLACK = "#000000"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
GREEN = "#009E73"  # bluish green
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"  # reddish purple
GREY = "#BBBBBB"
LIGHT_BLUE = "#CFE6F7"  # sky blue at a quarter, for bars that are context, not the answer

# Runs and lines, in order: the next run never looks like the one before, even in grey.
SERIES = (BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY_BLUE, BLACK, YELLOW)
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
MARKERS = ("circle", "square", "diamond", "triangle-up", "x", "star", "cross", "triangle-down")

# What a chart means by a colour.
CORRECT = BLUE  # the true class, a right answer
WRONG = VERMILLION  # a wrong guess, a mistake
WRONG_PATTERN = "/"  # …also hatched: not by colour alone
HIGHLIGHT = ORANGE  # the one thing picked (an image, a digit)
CONTEXT = LIGHT_BLUE

# Heatmap scales whose darkest end still carries dark text at 4.5:1.
CORRECT_SCALE = [[0.0, "#EAF4FB"], [1.0, SKY_BLUE]]
MISTAKES_SCALE = [[0.0, "#FFFFFF"], [1.0, ORANGE]]

# Text colours and the backgrounds they are used on (see tests/playground/test_palette.py).
PAGE = "#FFFFFF"
TEXT = "#31333F"  # Streamlit's own text colour, which its plotly theme gives every chart
TEXT_ACCENT = "#A33A00"  # vermillion darkened to 4.5:1 on white: a picked label, a warning in a chart
TEXT_ON_DARK = "#FFFFFF"
TEXT_COLOURS = {TEXT: (PAGE, CORRECT_SCALE[-1][1], MISTAKES_SCALE[-1][1]), TEXT_ACCENT: (PAGE,), BLACK: (PAGE,)}


@dataclass(frozen=True)
class SeriesStyle:
    color: str
    dash: str
    marker: str


def series_style(index: int) -> SeriesStyle:
    """The ``index``-th run's colour, dash and marker: two runs differ in all three."""
    return SeriesStyle(SERIES[index % len(SERIES)], DASHES[index % len(DASHES)], MARKERS[index % len(MARKERS)])


# ---- contrast (WCAG 2.x) --------------------------------------------------------------------------


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: str) -> float:
    """Relative luminance of "#RRGGBB"."""
    text = color.lstrip("#")
    if len(text) != 6:
        raise ValueError(f"not a #RRGGBB colour: {color!r}")
    r, g, b = (int(text[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio, 1 to 21; body text needs 4.5."""
    a, b = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


# ---- the text alternative -------------------------------------------------------------------------


def describe(fig: go.Figure, summary: str) -> go.Figure:
    """Attach the chart's text alternative (what a screen reader reads instead of the picture)."""
    meta = dict(fig.layout.meta) if isinstance(fig.layout.meta, dict) else {}
    fig.update_layout(meta={**meta, "summary": summary})
    return fig


def summary(fig: go.Figure) -> str:
    """The text alternative ``describe`` attached ("" when none)."""
    meta = fig.layout.meta
    return str(meta.get("summary", "")) if isinstance(meta, dict) else ""
