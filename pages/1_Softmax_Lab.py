"""The softmax & cross-entropy lab: logits → softmax → loss, every step with numbers to check by hand."""

import numpy as np
import streamlit as st

from core.softmax import naive_softmax, softmax, walkthrough
from playground.draw import parse_logits
from playground.figures import softmax as figs

st.set_page_config(page_title="Softmax lab · Softmax Playground", page_icon="🧮", layout="wide")

LECTURE_LOGITS = "0.2, 0.1, -0.1"
HUGE_LOGITS = "1000, 0, -1000"

st.title("🧮 Softmax & cross-entropy lab")
st.markdown(r"""
The last layer of a classifier gives one raw score per class, the **logits** $z$. Softmax turns them
into probabilities, $\hat y_i = e^{z_i} / \sum_j e^{z_j}$ (`exp` makes every score positive, the sum
makes them add up to 1), and cross-entropy scores them against the true class:
$\text{loss} = -\sum_i y_i \log \hat y_i = -\log \hat y_{\text{target}}$.
The lecture's example: $z = [0.2, 0.1, -0.1]$ with target 0 gives a loss of **0.9729**.
""")

# ---- inputs ---------------------------------------------------------------------------------

c1, c2, c3 = st.columns([2, 1, 1.3])
text = c1.text_input("Logits z (2 to 10 numbers, comma-separated)", value=LECTURE_LOGITS, key="lab.logits")
try:
    logits = parse_logits(text)
except ValueError as error:
    st.error(f"Cannot read the logits: {error}.", icon="⚠️")
    st.stop()

classes = list(range(len(logits)))
if st.session_state.get("lab.target") not in classes:  # fewer classes than before: back to class 0
    st.session_state["lab.target"] = 0
target = c2.selectbox("Target (true class)", classes, key="lab.target")
temperature = c3.slider("Temperature T", min_value=0.1, max_value=5.0, value=1.0, step=0.1, key="lab.temperature",
                        help="The softmax of z / T: T < 1 sharpens it, T > 1 flattens it, the ranking stays.")
try:
    wt = walkthrough(logits, target, temperature)
except ValueError as error:
    st.error(f"Cannot compute the softmax: {error}.", icon="⚠️")
    st.stop()

# ---- every step ---------------------------------------------------------------------------------

with st.container(key="lab-loss"):
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Cross-entropy loss", f"{wt.loss:.4f}")
    m2.metric(f"p[target = {target}]", f"{wt.probs[target]:.4f}")
    m3.metric("Prediction (argmax)", str(wt.prediction))
    m4.metric("Entropy", f"{wt.entropy:.4f} nats", help="−Σ p log p: how unsure the softmax is, not whether it is right.")

st.subheader("Every step")
st.dataframe(figs.walkthrough_table(wt).style.format("{:.6g}"), width="stretch")
st.markdown(f"Σ exp = **{wt.exp_sum:.6f}**. Subtracting max(z/T) changes nothing (softmax(z) = softmax(z − c)) "
            "but keeps `exp` from overflowing.")
st.plotly_chart(figs.step_bars_figure(wt), key="lab.steps_chart")

# ---- three routes -------------------------------------------------------------------------------

st.subheader("The same loss by three routes")
left, right = st.columns([1.2, 1], gap="large")
with left:
    st.dataframe(figs.routes_table(wt).style.format("{:.10f}", subset=["loss"])
                 .format("{:+.2e}", subset=["difference from −log p"]), width="stretch")
    verdict = st.success if wt.max_route_difference < 1e-6 else st.warning
    verdict(f"Largest difference between the routes: {wt.max_route_difference:.2e}")
with right:
    st.code(f"""import numpy as np, torch, torch.nn as nn
z = {np.round(wt.z_scaled, 6).tolist()}  # z / T
y = np.eye({wt.num_classes})[{target}]           # one-hot
y_pred = np.exp(z) / np.exp(z).sum()
-np.sum(y * np.log(y_pred))         # NumPy: {wt.loss_numpy:.6f}
nn.CrossEntropyLoss()(torch.tensor([z]), torch.tensor([{target}]))  # {wt.loss_torch_ce:.6f}
nn.NLLLoss()(nn.LogSoftmax(dim=1)(torch.tensor([z])), torch.tensor([{target}]))  # {wt.loss_nll_logsoftmax:.6f}""",
            language="python")

# ---- −log p and the gradient ------------------------------------------------------------------

left, right = st.columns(2, gap="large")
with left:
    st.subheader("Loss against p[target]")
    st.plotly_chart(figs.neg_log_figure(float(wt.probs[target])), key="lab.neglog_chart")
    st.caption("−log p is 0 when the true class gets probability 1 and grows without bound as it goes to 0: "
               "a confident wrong answer costs a lot.")
with right:
    st.subheader("Gradient ∂loss/∂z = (probs − one-hot) / T")
    st.plotly_chart(figs.gradient_figure(wt), key="lab.gradient_chart")
    st.caption("Gradient descent lowers logits with a positive gradient and raises the target's "
               "(negative). Bars: the formula; crosses: PyTorch autograd.")

# ---- overflow -------------------------------------------------------------------------------------

st.subheader("Why subtract the maximum? Huge logits")
huge_text = st.text_input("Logits to try", value=HUGE_LOGITS, key="lab.huge_logits")
try:
    huge = parse_logits(huge_text)
except ValueError as error:
    st.error(f"Cannot read these logits: {error}.", icon="⚠️")
else:
    naive = naive_softmax(huge)
    stable = softmax(huge)
    st.dataframe(figs.overflow_table(huge, naive, stable), width="stretch")
    if np.isfinite(naive).all():
        st.info("Here the naive formula still works; try 1000, 0, -1000 to see it fail.")
    else:
        st.error("The naive `exp(z) / sum(exp(z))` breaks: exp(1000) overflows float64 to `inf`, and "
                 "`inf / inf` is `nan`. The stable softmax computes `exp(z − max z)`, whose largest term is "
                 "exp(0) = 1, and gets the right answer.", icon="💥")

# ---- the exercise --------------------------------------------------------------------------------

st.subheader("Exercise: CrossEntropyLoss ≡ LogSoftmax + NLLLoss")
st.markdown(f"""
For these logits and target {target}:
`nn.CrossEntropyLoss()(z, y)` = **{wt.loss_torch_ce:.8f}** and
`nn.NLLLoss()(nn.LogSoftmax(dim=1)(z), y)` = **{wt.loss_nll_logsoftmax:.8f}**
(difference {abs(wt.loss_torch_ce - wt.loss_nll_logsoftmax):.1e}).
`LogSoftmax` gives log ŷ; `NLLLoss` picks −log ŷ[target] (and averages over the batch).
`CrossEntropyLoss` does both in one, computing `z − max z − log Σ exp(z − max z)` so it stays finite.

**Why the model's last layer has no softmax:** `nn.CrossEntropyLoss` expects raw logits and applies
log-softmax itself. A softmax in the model would be applied twice — the loss would then see
probabilities as if they were scores, its gradients shrink and training stalls — and taking `log` of a
probability that rounded to 0 would give −∞. For predictions, `softmax(logits)` is applied afterwards,
as the Draw page does; the argmax is the same either way.
""")
