"""The momentum lab: gradient descent and momentum race on a 2-D loss surface, every update with numbers."""

import numpy as np
import streamlit as st

from core import momentum as mo
from playground import settings as cfg
from playground import widgets
from playground.figures import momentum as figs

st.set_page_config(page_title="Momentum lab · Softmax Playground", page_icon="🎢", layout="wide")

P = "momentum."  # widget keys; tests find them as at.slider(key="momentum.lr") etc.
CUSTOM = "custom"
MAX_TABLE_STEPS = 20
SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")

st.title("🎢 Momentum lab")
st.markdown(r"""
Plain gradient descent steps downhill by $\eta\,\nabla L$ and forgets the step at once. The lecture's
**momentum** keeps a velocity $v$ that remembers the previous steps:

$$v \leftarrow \gamma\, v + \eta\, \nabla L(\theta), \qquad \theta \leftarrow \theta - v$$

with learning rate $\eta$ (`lr`) and momentum $\gamma$. Where the gradient keeps pointing the same way, $v$
grows to $\eta\,\nabla L / (1-\gamma)$ — an **effective step size** $\eta / (1-\gamma)$, 10× a plain step for
$\gamma = 0.9$. That gives the three effects the lecture names: **faster** along consistent directions,
**less zig-zag** across steep valleys (opposite gradients cancel in $v$), and **through flat regions and saddle
points** where $\nabla L$ is tiny. Too much momentum overshoots and oscillates. Pick a surface and race them.
""")


# ---- controls ------------------------------------------------------------------------------------


def sub(n: int) -> str:
    """A number in subscript digits, for θ₁₂ and v₁₂: sub(12) is "₁₂"."""
    return str(n).translate(SUBSCRIPTS)


def vec(a) -> str:
    return f"[{a[0]:.6g}, {a[1]:.6g}]"


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


CONTROLS = ("preset", "surface", "x0", "y0", "extra", "log_y", "lr", "gamma", "steps", "table_steps", "worked_t")


def restore_controls() -> None:
    """Give each control its value from an earlier visit or, on the first visit, its default."""
    start = mo.QUADRATIC
    widgets.remember_all(P, {
        "preset": CUSTOM, "surface": start.key, "x0": float(start.start[0]), "y0": float(start.start[1]),
        "extra": [], "log_y": True, "lr": start.lr, "gamma": start.gamma, "steps": start.steps,
        "table_steps": 5, "worked_t": 1,
    })


restore_controls()

presets = {p.key: p for p in mo.PRESETS}
preset_key = st.selectbox(
    "Show me …", (CUSTOM, *mo.PRESET_KEYS), key=P + "preset", on_change=apply_preset,
    format_func=lambda k: "— my own settings —" if k == CUSTOM else presets[k].title,
    help="Each choice sets surface, start point, lr, γ and steps to show one effect of momentum.",
)

with st.container(border=True):
    c1, c2, c3 = st.columns([1.3, 1, 1])
    surface_key = c1.selectbox("Loss surface", mo.SURFACE_KEYS, key=P + "surface", on_change=apply_surface_defaults,
                               format_func=lambda k: mo.get_surface(k).name)
    surface = mo.get_surface(surface_key)
    c1.latex(surface.formula)
    x_min, x_max, y_min, y_max = surface.box
    x0 = c2.number_input("Start x", x_min, x_max, step=0.1, format="%.3f", key=P + "x0")
    y0 = c2.number_input("Start y", y_min, y_max, step=0.1, format="%.3f", key=P + "y0")
    extra = c3.multiselect("Also race", ("nesterov", "adam"), key=P + "extra", format_func=mo.optimizer_label,
                           help="Nesterov: momentum that looks ahead. Adam: per-coordinate step sizes "
                                f"(β = {mo.ADAM_BETAS}, does not use γ).")
    log_y = c3.toggle("Loss on a log axis", key=P + "log_y")
    c4, c5, c6 = st.columns(3)
    lr = c4.select_slider("Learning rate η (log scale)", mo.LAB_LR_GRID, key=P + "lr", format_func=lambda v: f"{v:g}")
    gamma = c5.slider("Momentum γ", 0.0, 0.99, step=0.01, key=P + "gamma")
    steps = c6.slider("Steps", 5, 500, step=5, key=P + "steps")

eff = mo.effective_lr(lr, gamma)
st.caption(f"Effective step size η / (1 − γ) = {lr:g} / (1 − {gamma:g}) = **{eff:.4g}** — on a steady slope "
           f"momentum's steps grow to {1 / (1 - gamma):.3g}× a plain gradient step.")

if preset_key != CUSTOM:
    preset = presets[preset_key]
    unchanged = (surface_key, (x0, y0), lr, gamma, steps) == (preset.surface, preset.start, preset.lr,
                                                               preset.gamma, preset.steps)
    st.info(f"**{preset.title}.** {preset.lesson}"
            + ("" if unchanged else " *(You have changed the settings since choosing this.)*"), icon="👀")

# ---- the race -------------------------------------------------------------------------------------

start = (float(x0), float(y0))
try:
    paths = mo.race(surface, ("gd", "momentum", *extra), start, lr, gamma, int(steps))
except ValueError as error:  # the widgets keep values valid; this is for the unexpected
    st.error(f"Cannot run the optimizers: {error}.", icon="⚠️")
    st.stop()

for path in paths:
    if path.diverged:
        st.warning(f"**{path.label} diverged at step {path.diverged_at}**: θ left |θ| ≤ 10⁶ (or overflowed), so "
                   f"the run stopped there. lr = {lr:g} is too large for this surface's steepest direction"
                   + (f" — with momentum the steps grow towards η / (1 − γ) = {eff:.3g}" if path.optimizer in
                      ("momentum", "nesterov") and gamma > 0 else "")
                   + ". Try a smaller lr or γ.", icon="💥")
    elif not surface.in_box(path.final_point):
        st.info(f"{path.label} ended outside the plotted area, at ({path.final_point[0]:.3g}, "
                f"{path.final_point[1]:.3g}).")

with st.container(key="momentum-final"):
    columns = st.columns(len(paths))
    for column, path in zip(columns, paths):
        column.metric(f"Final loss · {path.label}", f"{path.final_loss:.4g}",
                      help=f"L(θ) after {len(path.points) - 1} steps; the minimum is L* = {surface.min_value:g}.")

left, right = st.columns([1.3, 1], gap="large")
with left:
    st.subheader("The paths")
    st.plotly_chart(figs.contour_figure(surface, paths), key=P + "contour", config={"displayModeBar": False})
with right:
    st.subheader("Loss against iteration")
    st.plotly_chart(figs.loss_figure(surface, paths, log_y=log_y), key=P + "loss",
                    config={"displayModeBar": False})
st.dataframe(figs.summary_table(surface, paths), width="stretch")
st.caption("Reversals: how often the step along x or y changed sign — the zig-zags. "
           "Steps uphill: updates that raised the loss (overshooting).")

# ---- the rule, with numbers ----------------------------------------------------------------------

st.subheader("The update rule with numbers")
c1, c2, _ = st.columns([1, 1, 2])
k = c1.number_input("Updates to show", 1, MAX_TABLE_STEPS, step=1, key=P + "table_steps")
rows = mo.update_steps(surface, start, lr, gamma, int(k))
if rows:
    # fewer updates than before (or a diverging run): show the last one there is
    st.session_state[P + "worked_t"] = min(st.session_state.get(P + "worked_t", 1), len(rows))
    t = c2.number_input("Work out update t", 1, len(rows), step=1, key=P + "worked_t")
    st.dataframe(figs.update_table(rows).style.format("{:.6g}"), width="stretch")
    row = rows[int(t) - 1]
    before, after = sub(row.t - 1), sub(row.t)
    st.markdown(f"""
With η = {lr:g} and γ = {gamma:g}, at θ{before} = {vec(row.theta_before)}:

- ∇L(θ{before}) = {vec(row.grad)}
- v{after} = γ·v{before} + η·∇L(θ{before}) = {gamma:g}·{vec(row.v_before)} + {lr:g}·{vec(row.grad)} = \
{vec(row.momentum_term)} + {vec(row.gradient_term)} = **{vec(row.v)}**
- θ{after} = θ{before} − v{after} = {vec(row.theta_before)} − {vec(row.v)} = **{vec(row.theta)}**
- L goes from {row.loss_before:.6g} to {row.loss:.6g}
""")
else:
    st.warning("The very first update already diverged: there is nothing to work out. Try a smaller lr.")
st.caption("PyTorch writes the same rule as v ← γ·v + ∇L, θ ← θ − η·v (`torch.optim.SGD(momentum=γ)`); for a "
           "constant η that is the lecture's v divided by η, and θ follows exactly the same points.")

widgets.remember(P, CONTROLS)

# ---- the bridge to MNIST --------------------------------------------------------------------------

st.subheader("The same lr and γ on MNIST")
mnist_lr = mo.nearest_on_log_grid(lr, cfg.LR_GRID)
if np.isclose(mnist_lr, lr):
    st.caption(f"lr = {lr:g} is one of the Train page's learning rates.")
else:
    st.info(f"The Train page's learning rate moves on a 1-2-3-5 grid ({cfg.LR_GRID[0]:g}, {cfg.LR_GRID[1]:g}, "
            f"{cfg.LR_GRID[2]:g}, {cfg.LR_GRID[3]:g}, …, {cfg.LR_GRID[-1]:g}): lr = {lr:g} will be sent as "
            f"**{mnist_lr:g}**, its nearest value on a log scale.", icon="📏")
st.caption("A 2-D bowl and a network's loss have very different curvatures: an lr that is right here can crawl "
           "or blow up on MNIST. Compare the loss curve there with this picture.")
advice = cfg.TrainSettings(optimizer="sgd", lr=mnist_lr, momentum=gamma).advice().get("lr")
if advice:
    st.caption(f":orange[⚠ {advice}]")
if st.button(f"Train on MNIST with lr {mnist_lr:g} and momentum {gamma:g}", key=P + "send", type="primary"):
    try:
        cfg.send_to_train_page(lr=mnist_lr, momentum=gamma, start=True)
    except ValueError as error:
        st.error(f"The Train page cannot use these settings: {error}. Fix them on the Train page first.", icon="⚠️")
