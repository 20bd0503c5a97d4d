"""The momentum lab: gradient descent and momentum race on a 2-D loss surface, every update with numbers."""

import numpy as np
import streamlit as st

from core import momentum as mo
from playground import charts, fmt, i18n, lessons, nav, tables, widgets
from playground import momentum_lab as lab
from playground.figures import momentum as figs
from playground.i18n import plain, t
from playground.room import get_room
from playground.settings import LR_GRID, TrainSettings, lr_advice
from playground.train_run import send_to_train_page

page = nav.setup("momentum")
room = get_room()

P, CUSTOM = lab.P, lab.CUSTOM
MAX_TABLE_STEPS = 20

st.title(t("momentum.title"))
st.markdown(t("momentum.intro"))

lab.restore_controls()
lesson = lessons.show_banner(room, "momentum")
locked: dict = {}
if lesson is not None:
    values, notes = lab.lesson_values(lesson.values)
    locked = {name: values[name] for name in lesson.locked if name in values}
    if lessons.applied_once(lesson):
        lab.apply_lesson(values)
        for note in notes:
            st.warning(note, icon="🔗")
    lab.apply_lesson(locked)  # the fixed ones stay fixed whatever the tab did before


def shown(name: str) -> bool:
    """A control a lesson fixed is not drawn: its value is written instead."""
    if name in locked:
        lab.locked_caption(name, locked[name])
        return False
    return True


if not locked:
    st.selectbox(
        plain("momentum.show_me"),
        (CUSTOM, *mo.PRESET_KEYS),
        key=widgets.worded(P + "preset"),
        on_change=lab.apply_preset,
        format_func=lambda k: plain("momentum.my_settings") if k == CUSTOM else plain(f"momentum.preset.{k}.title"),
        help=plain("momentum.show_me_help"),
    )
preset_key = st.session_state.get(P + "preset", CUSTOM)

with st.container(border=True):
    c1, c2, c3 = st.columns([1.3, 1, 1])
    with c1:
        if shown("surface"):
            st.selectbox(
                plain("momentum.label.surface"),
                mo.SURFACE_KEYS,
                key=widgets.worded(P + "surface"),
                on_change=lab.apply_surface_defaults,
                format_func=lambda k: plain(f"momentum.surface.{k}"),
            )
    surface = mo.get_surface(st.session_state[P + "surface"])
    c1.latex(surface.formula)
    x_min, x_max, y_min, y_max = surface.box
    with c2:
        if shown("x0"):
            st.number_input(plain("momentum.label.x0"), x_min, x_max, step=0.1, format="%.3f", key=P + "x0")
        if shown("y0"):
            st.number_input(plain("momentum.label.y0"), y_min, y_max, step=0.1, format="%.3f", key=P + "y0")
    with c3:
        if shown("extra"):
            st.multiselect(
                plain("momentum.label.extra"),
                lab.EXTRA_OPTIMIZERS,
                key=widgets.worded(P + "extra"),
                format_func=figs.optimizer_name,
                help=plain("momentum.extra_help", betas=mo.ADAM_BETAS),
            )
        st.toggle(plain("momentum.log_axis"), key=P + "log_y")
    c4, c5, c6 = st.columns(3)
    with c4:
        if shown("lr"):
            st.select_slider(plain("momentum.label.lr"), mo.LAB_LR_GRID, key=P + "lr", format_func=lambda v: f"{v:g}")
    with c5:
        if shown("gamma"):
            st.slider(plain("momentum.label.gamma"), 0.0, 0.99, step=0.01, key=P + "gamma")
    with c6:
        if shown("steps"):
            st.slider(plain("momentum.label.steps"), 5, 500, step=5, key=P + "steps")

x0, y0 = float(st.session_state[P + "x0"]), float(st.session_state[P + "y0"])
lr, gamma, steps = st.session_state[P + "lr"], st.session_state[P + "gamma"], int(st.session_state[P + "steps"])
extra, log_y = st.session_state[P + "extra"], st.session_state[P + "log_y"]
eff = mo.effective_lr(lr, gamma)
st.caption(t("momentum.effective", lr=lr, gamma=gamma, eff=eff, times=1 / (1 - gamma)))

if preset_key != CUSTOM:
    preset = mo.get_preset(preset_key)
    unchanged = (surface.key, (x0, y0), lr, gamma, steps) == (
        preset.surface,
        preset.start,
        preset.lr,
        preset.gamma,
        preset.steps,
    )
    st.info(
        t(
            "momentum.preset_box",
            title=plain(f"momentum.preset.{preset_key}.title"),
            lesson=i18n.Markdown(t(f"momentum.preset.{preset_key}.lesson")),
        )
        + ("" if unchanged else " " + t("momentum.preset_changed")),
        icon="👀",
    )

# ---- the race -------------------------------------------------------------------------------------

start = (x0, y0)
try:
    paths = mo.race(surface, ("gd", "momentum", *extra), start, lr, gamma, steps)
except mo.MomentumError as error:  # the widgets keep values valid; this is for the unexpected
    st.error(t("momentum.cannot_run", reason=i18n.Markdown(i18n.error_text(error))), icon="⚠️")
    st.stop()

for path in paths:
    name = figs.optimizer_name(path.optimizer)
    if path.diverged:
        growing = path.optimizer in ("momentum", "nesterov") and gamma > 0
        st.warning(
            t(
                "momentum.diverged_growing" if growing else "momentum.diverged",
                name=name,
                step=path.diverged_at,
                lr=lr,
                eff=eff,
            ),
            icon="💥",
        )
    elif not surface.in_box(path.final_point):
        st.info(t("momentum.outside", name=name, x=path.final_point[0], y=path.final_point[1]))

with st.container(key="momentum-final"):
    for column, path in zip(st.columns(len(paths)), paths):
        column.metric(
            plain("momentum.final_loss", name=figs.optimizer_name(path.optimizer)),
            fmt.number(path.final_loss, ".4g"),
            help=plain("momentum.final_loss_help", steps=len(path.points) - 1, minimum=surface.min_value),
        )

left, right = st.columns([1.3, 1], gap="large")
with left:
    st.subheader(t("momentum.paths"))
    charts.plotly(figs.contour_figure(surface, paths), key=P + "contour", config={"displayModeBar": False})
with right:
    st.subheader(t("momentum.loss_title"))
    charts.plotly(figs.loss_figure(surface, paths, log_y=log_y), key=P + "loss", config={"displayModeBar": False})
tables.show(figs.summary_table(surface, paths), figs.summary_formats(), key="momentum-summary")
st.caption(t("momentum.summary_caption"))

# ---- the rule, with numbers ----------------------------------------------------------------------

st.subheader(t("momentum.rule_title"))
c1, c2, _ = st.columns([1, 1, 2])
k = c1.number_input(plain("momentum.updates_to_show"), 1, MAX_TABLE_STEPS, step=1, key=P + "table_steps")
rows = mo.update_steps(surface, start, lr, gamma, int(k))
if rows:
    # fewer updates than before (or a diverging run): show the last one there is
    st.session_state[P + "worked_t"] = min(st.session_state.get(P + "worked_t", 1), len(rows))
    worked = c2.number_input(plain("momentum.work_out"), 1, len(rows), step=1, key=P + "worked_t")
    tables.show(figs.update_table(rows), figs.UPDATE_FORMATS, key="momentum-updates")
    row = rows[int(worked) - 1]
    vec = figs.pair_text
    st.markdown(
        t(
            "momentum.worked",
            lr=lr,
            gamma=gamma,
            before=lab.sub(row.t - 1),
            after=lab.sub(row.t),
            theta_before=vec(row.theta_before),
            grad=vec(row.grad),
            v_before=vec(row.v_before),
            momentum_term=vec(row.momentum_term),
            gradient_term=vec(row.gradient_term),
            v=vec(row.v),
            theta=vec(row.theta),
            loss_before=fmt.number(row.loss_before, ".6g"),
            loss=fmt.number(row.loss, ".6g"),
        )
    )
else:
    st.warning(t("momentum.first_diverged"))
st.caption(t("momentum.pytorch_form"))

widgets.remember(P, lab.CONTROLS)

# ---- the bridge to MNIST --------------------------------------------------------------------------

st.subheader(t("momentum.mnist_title"))
mnist_lr = mo.nearest_on_log_grid(lr, LR_GRID)
if np.isclose(mnist_lr, lr):
    st.caption(t("momentum.on_grid", lr=lr))
else:
    st.info(
        t("momentum.snapped", grid=", ".join(f"{v:g}" for v in LR_GRID[:4]), last=LR_GRID[-1], lr=lr, sent=mnist_lr),
        icon="📏",
    )
st.caption(t("momentum.curvatures"))
advice = lr_advice(TrainSettings(optimizer="sgd", lr=mnist_lr, momentum=gamma))
if advice is not None:
    st.caption(f":orange[⚠ {advice.text()}]")
if st.button(t("momentum.send", lr=mnist_lr, momentum=gamma), key=P + "send", type="primary"):
    try:
        send_to_train_page(lr=mnist_lr, momentum=gamma, start=True)
    except ValueError as error:
        st.error(t("momentum.cannot_send", reason=i18n.Markdown(i18n.error_text(error))), icon="⚠️")
