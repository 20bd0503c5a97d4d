"""The softmax & cross-entropy lab: logits → softmax → loss, every step with numbers to check by hand."""

import numpy as np
import streamlit as st

from core.softmax import SoftmaxError, naive_softmax, parse_logits, softmax, walkthrough
from playground import charts, fmt, i18n, nav, tables
from playground.figures import softmax as figs
from playground.i18n import plain, t

page = nav.setup("softmax")

LECTURE_LOGITS = "0.2, 0.1, -0.1"
HUGE_LOGITS = "1000, 0, -1000"

st.title(t("softmax.title"))
st.markdown(t("softmax.intro"))

# ---- inputs ---------------------------------------------------------------------------------

c1, c2, c3 = st.columns([2, 1, 1.3])
text = c1.text_input(plain("softmax.logits_label"), value=LECTURE_LOGITS, key="lab.logits")
try:
    logits = parse_logits(text)
except SoftmaxError as error:
    st.error(t("softmax.cannot_read", reason=i18n.Markdown(i18n.error_text(error))), icon="⚠️")
    st.stop()
c1.caption(t("softmax.read_as", count=len(logits), values=", ".join(fmt.number(z, "g") for z in logits)))

classes = list(range(len(logits)))
if st.session_state.get("lab.target") not in classes:  # fewer classes than before: back to class 0
    st.session_state["lab.target"] = 0
target = c2.selectbox(plain("softmax.target_label"), classes, key="lab.target")
temperature = c3.slider(
    plain("softmax.temperature_label"),
    min_value=0.1,
    max_value=5.0,
    value=1.0,
    step=0.1,
    key="lab.temperature",
    help=plain("softmax.temperature_help"),
)
try:
    wt = walkthrough(logits, target, temperature)
except SoftmaxError as error:
    st.error(t("softmax.cannot_compute", reason=i18n.Markdown(i18n.error_text(error))), icon="⚠️")
    st.stop()

# ---- every step ---------------------------------------------------------------------------------

with st.container(key="lab-loss"):
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(plain("softmax.metric_loss"), fmt.number(wt.loss))
    m2.metric(plain("softmax.metric_p_target", target=target), fmt.number(wt.probs[target]))
    m3.metric(plain("softmax.metric_prediction"), str(wt.prediction))
    m4.metric(
        plain("softmax.metric_entropy"),
        plain("softmax.nats", value=fmt.number(wt.entropy)),
        help=plain("softmax.entropy_help"),
    )

st.subheader(t("softmax.every_step"))
tables.show(
    figs.walkthrough_table(wt),
    {name: ".6g" for name in ("z", "z / T", "z/T − max", "exp", "probs", "log probs", "∂loss/∂z")},
    key="lab-steps",
)
st.markdown(t("softmax.exp_sum", exp_sum=fmt.number(wt.exp_sum, ".6f")))
charts.plotly(figs.step_bars_figure(wt), key="lab.steps_chart")

# ---- three routes -------------------------------------------------------------------------------

st.subheader(t("softmax.three_routes"))
left, right = st.columns([1.2, 1], gap="large")
with left:
    tables.show(
        figs.routes_table(wt), {plain("figures.loss"): ".10f", plain("figures.difference"): "+.2e"}, key="lab-routes"
    )
    verdict = st.success if wt.max_route_difference < 1e-6 else st.warning
    verdict(t("softmax.largest_difference", difference=fmt.number(wt.max_route_difference, ".2e")))
with right:
    st.code(
        f"""import numpy as np, torch, torch.nn as nn
z = {np.round(wt.z_scaled, 6).tolist()}  # z / T
y = np.eye({wt.num_classes})[{target}]  # one-hot
y_pred = np.exp(z) / np.exp(z).sum()
-np.sum(y * np.log(y_pred))  # NumPy: {wt.loss_numpy:.6f}
nn.CrossEntropyLoss()(torch.tensor([z]), torch.tensor([{target}]))
# {wt.loss_torch_ce:.6f}
nn.NLLLoss()(nn.LogSoftmax(dim=1)(torch.tensor([z])), torch.tensor([{target}]))
# {wt.loss_nll_logsoftmax:.6f}""",
        language="python",
        wrap_lines=True,
    )

# ---- −log p and the gradient ------------------------------------------------------------------

left, right = st.columns(2, gap="large")
with left:
    st.subheader(t("softmax.loss_against_p"))
    charts.plotly(figs.neg_log_figure(float(wt.probs[target])), key="lab.neglog_chart")
    st.caption(t("softmax.loss_against_p_caption"))
with right:
    st.subheader(t("softmax.gradient_title"))
    charts.plotly(figs.gradient_figure(wt), key="lab.gradient_chart")
    st.caption(t("softmax.gradient_caption"))

# ---- overflow -------------------------------------------------------------------------------------

st.subheader(t("softmax.overflow_title"))
huge_text = st.text_input(plain("softmax.huge_label"), value=HUGE_LOGITS, key="lab.huge_logits")
try:
    huge = parse_logits(huge_text)
except SoftmaxError as error:
    st.error(t("softmax.cannot_read", reason=i18n.Markdown(i18n.error_text(error))), icon="⚠️")
else:
    naive = naive_softmax(huge)
    tables.show(
        figs.overflow_table(huge, naive, softmax(huge)),
        {"z": "g", "exp(z)": ".6g", plain("figures.naive"): ".6g", plain("figures.stable"): ".6g"},
        key="lab-overflow",
    )
    if np.isfinite(naive).all():
        st.info(t("softmax.naive_works"))
    else:
        st.error(t("softmax.naive_breaks"), icon="💥")

# ---- the exercise --------------------------------------------------------------------------------

st.subheader(t("softmax.exercise_title"))
st.markdown(
    t(
        "softmax.exercise",
        target=target,
        ce=fmt.number(wt.loss_torch_ce, ".8f"),
        nll=fmt.number(wt.loss_nll_logsoftmax, ".8f"),
        difference=fmt.number(abs(wt.loss_torch_ce - wt.loss_nll_logsoftmax), ".1e"),
    )
)
