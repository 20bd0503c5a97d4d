"""The momentum lab's controls: presets, surfaces, remembered values, and lessons that fix some of them."""

from __future__ import annotations

import math

import streamlit as st

from core import momentum as mo
from playground import widgets
from playground.i18n import plain, t

P = "momentum."  # widget keys; tests find them as at.slider(key="momentum.lr") etc.
CUSTOM = "custom"
SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
CONTROLS = ("preset", "surface", "x0", "y0", "extra", "log_y", "lr", "gamma", "steps", "table_steps", "worked_t")
LESSON_CONTROLS = ("surface", "x0", "y0", "extra", "lr", "gamma", "steps")  # what a teacher can preset or fix
EXTRA_OPTIMIZERS = ("nesterov", "adam")


def sub(n: int) -> str:
    """A number in subscript digits, for θ₁₂ and v₁₂: sub(12) is "₁₂"."""
    return str(n).translate(SUBSCRIPTS)


def put_settings(surface: str, start, lr: float, gamma: float, steps: int) -> None:
    """Set the controls' values: on the first visit or from a callback, i.e. before the widgets are drawn."""
    st.session_state[P + "surface"] = surface
    st.session_state[P + "x0"], st.session_state[P + "y0"] = float(start[0]), float(start[1])
    st.session_state[P + "lr"] = lr
    st.session_state[P + "gamma"] = gamma
    st.session_state[P + "steps"] = steps


def apply_preset() -> None:
    key = st.session_state[P + "preset"]
    if key != CUSTOM:
        preset = mo.get_preset(key)
        put_settings(preset.surface, preset.start, preset.lr, preset.gamma, preset.steps)


def apply_surface_defaults() -> None:
    """A new surface starts from its own start point and an lr that suits its curvature."""
    surface = mo.get_surface(st.session_state[P + "surface"])
    put_settings(surface.key, surface.start, surface.lr, surface.gamma, surface.steps)
    st.session_state[P + "preset"] = CUSTOM


def restore_controls() -> None:
    """Give each control its value from an earlier visit or, on the first visit, its default."""
    start = mo.QUADRATIC
    widgets.remember_all(
        P,
        {
            "preset": CUSTOM,
            "surface": start.key,
            "x0": float(start.start[0]),
            "y0": float(start.start[1]),
            "extra": [],
            "log_y": True,
            "lr": start.lr,
            "gamma": start.gamma,
            "steps": start.steps,
            "table_steps": 5,
            "worked_t": 1,
        },
    )


def lesson_values(values: dict) -> tuple[dict, list[str]]:
    """A lesson's values, checked as if typed into the controls: bad ones are dropped with a note."""
    checked, notes = {}, []
    surface = values.get("surface", st.session_state.get(P + "surface"))
    if surface not in mo.SURFACE_KEYS:
        notes.append(plain("momentum.lesson_bad", name="surface"))
        surface = mo.QUADRATIC.key
    checked["surface"] = surface
    box = mo.get_surface(surface).box
    bounds = {"x0": (box[0], box[1]), "y0": (box[2], box[3]), "gamma": (0.0, 0.99), "steps": (5, 500)}
    for name, (low, high) in bounds.items():
        if name in values:
            value = values[name]
            if isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high:
                checked[name] = int(value) if name == "steps" else float(value)
            else:
                notes.append(plain("momentum.lesson_bad", name=name))
    if "lr" in values:
        if values["lr"] in mo.LAB_LR_GRID:
            checked["lr"] = values["lr"]
        else:
            notes.append(plain("momentum.lesson_bad", name="lr"))
    if "extra" in values:
        extra = values["extra"] if isinstance(values["extra"], list) else []
        checked["extra"] = [o for o in extra if o in EXTRA_OPTIMIZERS]
    return checked, notes


def apply_lesson(values: dict) -> None:
    for name, value in values.items():
        st.session_state[P + name] = value
    st.session_state[P + "preset"] = CUSTOM


def locked_caption(name: str, value) -> None:
    shown = mo.get_surface(value).key if name == "surface" else value
    if name == "surface":
        shown = plain(f"momentum.surface.{value}")
    elif name == "extra":
        shown = ", ".join(plain(f"momentum.optimizer.{o}") for o in value) or "—"
    st.caption(t("controls.locked", label=plain(f"momentum.label.{name}"), value=str(shown)))
