"""Steering the Train page's run: Pause / Resume, Step, live lr and momentum, and "which layer learns?".

Every control sends a message to the job through the room (``Room.pause``, ``step``, ``set_hyper``),
exactly like Stop: the trainer applies it between two batches, so the page never touches the
live model. A lesson can hide these controls: locking ``steer`` hides Pause and Step, locking
``lr`` or ``momentum`` hides their live change (the value stays the lesson's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import streamlit as st

from core.jobs import JobSnapshot
from playground import fmt, i18n
from playground.figures import layers as layer_figs
from playground.i18n import plain, t
from playground.room import Room, RoomJob
from playground.settings import BY_NAME, LR_GRID, MOMENTUM_MAX

STEER = "steer"  # the lesson's name for Pause / Step (not a training setting)
P = "train.steer."  # widget keys: .st-key-train-steer-<name> in the browser
RIGHTS_KEY = P + "rights"


@dataclass(frozen=True)
class Rights:
    """Which steering controls this page shows."""

    run: bool = True  # Pause / Resume / Step
    lr: bool = True
    momentum: bool = True

    @property
    def change(self) -> bool:
        return self.lr or self.momentum


def rights_for(locked: Mapping[str, object]) -> Rights:
    """A lesson's locks: a locked setting cannot be changed live either."""
    return Rights(run=STEER not in locked, lr="lr" not in locked, momentum="momentum" not in locked)


def remember_rights(rights: Rights) -> None:
    st.session_state[RIGHTS_KEY] = rights


def current_rights() -> Rights:
    return st.session_state.get(RIGHTS_KEY, Rights())


# --------------------------------------------------------------------------- the live values


def live_value(entry: RoomJob, snap: JobSnapshot, name: str) -> float:
    """The value ``name`` has now: the last change (sent or applied), else the run's config."""
    for pending_name, value in reversed(snap.pending):
        if pending_name == name:
            return value
    for change in reversed(snap.history.changes):
        if change.name == name:
            return change.value
    config = entry.job.config
    if name == "momentum" and config.optimizer == "adam":
        return 0.9  # Adam's default beta1
    return getattr(config, name)


def where(entry: RoomJob, snap: JobSnapshot) -> dict:
    """Step, epoch and batch within the epoch, for the paused message."""
    per_epoch = max(1, -(-snap.total_steps // max(entry.job.config.epochs, 1)))
    epoch = snap.step // per_epoch + 1
    batch = snap.step - (epoch - 1) * per_epoch
    if batch == 0 and snap.step:
        epoch, batch = epoch - 1, per_epoch
    return {"step": snap.step, "epoch": epoch, "batch": batch, "batches": per_epoch}


# --------------------------------------------------------------------------- the controls


def draw_controls(room: Room, entry: RoomJob, snap: JobSnapshot, rights: Rights) -> None:
    """The steering bar under the live curve: what the run's owner may do while it trains."""
    if snap.done or entry.job.stop_requested or not (rights.run or rights.change):
        return
    if snap.paused:
        st.info(t("steer.paused", **where(entry, snap)), icon="⏸")
    if rights.run:
        with st.container(horizontal=True, key="train-steer-bar"):
            if snap.paused:
                st.button(t("steer.resume"), key=P + "resume", on_click=room.resume, args=(entry,), type="primary")
                st.button(
                    t("steer.step_batch"),
                    key=P + "step_batch",
                    on_click=room.step,
                    args=(entry, 1),
                    help=plain("steer.step_batch_help"),
                )
                st.button(
                    t("steer.step_epoch"),
                    key=P + "step_epoch",
                    on_click=room.step_epoch,
                    args=(entry,),
                    help=plain("steer.step_epoch_help"),
                )
            else:
                st.button(
                    t("steer.pause"),
                    key=P + "pause",
                    on_click=room.pause,
                    args=(entry,),
                    help=plain("steer.pause_help"),
                )
    if rights.change:
        _change_form(room, entry, snap, rights)


def _change_form(room: Room, entry: RoomJob, snap: JobSnapshot, rights: Rights) -> None:
    adam = entry.job.config.optimizer == "adam"
    run_key = entry.job.id  # fresh widgets for every run: they start at that run's values
    with st.expander(plain("steer.change_title"), expanded=snap.paused):
        with st.form(key=f"{P}form.{run_key}", border=False):
            values = {}
            if rights.lr:
                lr = live_value(entry, snap, "lr")
                values["lr"] = float(
                    st.select_slider(
                        plain("steer.lr"),
                        sorted(set(LR_GRID) | {lr}),
                        value=lr,
                        format_func=lambda v: f"{v:g}",
                        key=f"{P}lr.{run_key}",
                    )
                )
            if rights.momentum:
                momentum = live_value(entry, snap, "momentum")
                values["momentum"] = float(
                    st.slider(
                        plain("steer.beta1" if adam else "steer.momentum"),
                        0.0,
                        MOMENTUM_MAX,
                        value=float(min(momentum, MOMENTUM_MAX)),
                        step=BY_NAME["momentum"].step,
                        key=f"{P}momentum.{run_key}",
                        help=plain("steer.beta1_help" if adam else "steer.momentum_help"),
                    )
                )
            submitted = st.form_submit_button(t("steer.apply"), key=f"{P}apply")
        if submitted:
            changed = {n: v for n, v in values.items() if v != live_value(entry, snap, n)}
            if changed:
                try:
                    room.set_hyper(entry, **changed)
                except ValueError as error:  # a coded ConfigError: worded in the user's language
                    st.error(i18n.error_text(error))
                else:
                    st.toast(t("steer.sent", changes=", ".join(f"{n} {v:g}" for n, v in changed.items())))
        if snap.pending:
            st.caption(t("steer.pending", changes=", ".join(f"{n} {v:g}" for n, v in snap.pending)))
        st.caption(t("steer.change_note"))


# --------------------------------------------------------------------------- which layer learns?


def layers_panel(snap: JobSnapshot) -> None:
    """Per layer gradient norm and update ratio over time; histograms of one layer at the latest step."""
    trace = snap.layers
    with st.expander(plain("layers.title"), expanded=False):
        if trace is None or not trace.points:
            st.caption(t("layers.empty"))
            return
        st.caption(t("layers.caption"))
        st.plotly_chart(
            layer_figs.layer_curves_figure(trace), key="train.layers_chart", config={"displayModeBar": False}
        )
        hist = trace.histograms
        if hist is None:
            return
        names = list(trace.layers)
        chosen = st.selectbox(
            plain("layers.choose"),
            range(len(names)),
            format_func=lambda i: layer_figs.layer_label(i, names[i]),
            key="train.layers_choice",
        )
        chosen = min(chosen or 0, len(names) - 1)
        st.caption(t("layers.histograms", step=fmt.count(hist.step)))
        st.plotly_chart(
            layer_figs.layer_histograms_figure(hist.weights[chosen], hist.grads[chosen]),
            key="train.layers_hist",
            config={"displayModeBar": False},
        )
