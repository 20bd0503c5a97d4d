"""Draw a digit, watch the softmax: the canvas, the bars, the preprocessing and the numbers behind them."""

import numpy as np
import streamlit as st

from core.softmax import walkthrough
from core.training import CheckpointError
from playground import default_model, draw, jobs, session
from playground.figures import softmax as figs
from playground.resources import get_mnist

st.set_page_config(page_title="Draw · Softmax Playground", page_icon="✏️", layout="wide")

CANVAS_KEY = "draw_canvas"
CANVAS_SIZE = 280  # 10× MNIST's 28 px

st.title("✏️ Draw a digit")
st.caption("White pen on black, like MNIST. Lift the pen and the softmax answers: ten probabilities "
           "that sum to 1. Undo and clear are on the canvas's toolbar.")


# ---- which model predicts ----------------------------------------------------------------


def upload_checkpoint() -> None:
    """A checkpoint file becomes a run of this session and the active model; bad files change nothing."""
    upload = st.file_uploader("Predict with a checkpoint file", type=["pt", "pth", "ckpt"], key="draw.upload",
                              help="A file saved with Download on the Train page. It is read safely: "
                                   "no code inside it runs.")
    if upload is None:
        return
    restored = st.session_state.setdefault("draw.restored_uploads", {})
    if upload.file_id not in restored:
        try:
            run = jobs.run_from_checkpoint(upload.getvalue(), upload.name, get_mnist().test)
            session.add_run(run)
            session.set_active_run(run.id)
            restored[upload.file_id] = ("ok", f"Now predicting with **{run.name}** from {upload.name}.")
        except CheckpointError as error:
            restored[upload.file_id] = ("error", f"Could not use {upload.name}: {error}. "
                                                 "Nothing was changed; the model below still predicts.")
        st.rerun()  # redraw the model picker and the model line with the new active run
    kind, message = restored[upload.file_id]
    (st.success if kind == "ok" else st.error)(message)


def choose_run() -> None:
    """With several runs in this session, the student picks which one predicts."""
    runs = session.list_runs()
    if len(runs) < 2:
        return
    active = session.active_run()
    if active is not None:  # the Train page or an upload may have changed it since the last visit
        st.session_state["draw.run"] = active.id
    st.selectbox("Model", [run.id for run in runs], key="draw.run",
                 format_func=lambda run_id: session.get_run(run_id).name,
                 on_change=lambda: session.set_active_run(st.session_state["draw.run"]))


with st.expander("Which model predicts? Use another one", expanded=False):
    st.markdown("The model trained last on the **Train** page predicts; before any, a default model "
                "does. You can also upload a checkpoint.")
    choose_run()
    upload_checkpoint()

# One container whatever happens inside (a progress bar, an error, the model line), so that the
# canvas below keeps its place in the page and is never remounted (which would wipe the drawing).
with st.container(key="draw-model"):
    run = session.active_run() or default_model.wait_for_default_model()
    if run is None:
        st.stop()
    st.info(f"Predicting with {draw.model_description(run)}", icon=":material/memory:")
    if run.origin == "default":
        st.caption("The default model was trained on the spot once for this server and is shared, "
                   "read-only, by every visitor. Train your own on the **Train** page and it takes over here.")


# ---- the canvas and the bars --------------------------------------------------------------

pad, answer = st.columns([1, 1.3], gap="large")

with pad:
    from streamlit_drawable_canvas import st_canvas  # imports only under a Streamlit runtime

    pen = st.slider("Pen width", min_value=5, max_value=40, value=18, step=1, key="draw.pen",
                    help="MNIST's strokes are about 2–3 px of 28, i.e. 20–30 px of this 280 px canvas.")
    canvas = st_canvas(
        stroke_width=pen, stroke_color="#FFFFFF", background_color="#000000",
        height=CANVAS_SIZE, width=CANVAS_SIZE, drawing_mode="freedraw",
        return_image_data=True, key=CANVAS_KEY,
    )

result = draw.predict(run.model, canvas.image_data)

with answer:
    if result is None:
        st.info("Draw a digit on the black pad: one digit, large or small, anywhere. "
                "The bars appear when you lift the pen.", icon="👈")
        st.stop()
    with st.container(key="draw-prediction"):
        c1, c2, c3 = st.columns(3)
        with c1.container(key="draw-predicted-digit"):  # the browser test reads the digit here
            st.metric("Prediction", str(result.prediction))
        c2.metric("Its probability", f"{result.confidence:.1%}")
        c3.metric("Entropy", f"{result.entropy:.2f} nats",
                  help=f"−Σ p log p: 0 when the model is certain, log 10 = {draw.max_entropy():.2f} "
                       "when every digit is equally likely.")
    with st.container(key="draw-probs"):
        st.plotly_chart(figs.probs_bar_figure(result.probs, title="softmax(logits)"), key="draw.probs_chart")
    st.caption("Low entropy means *confident*, not *correct*: a scribble can still get one tall bar. "
               "The probabilities always sum to 1, whatever is drawn.")


# ---- preprocessing --------------------------------------------------------------------------

st.subheader("From your drawing to the model's input")
st.caption("MNIST's own recipe: crop the ink, scale its longer side to 20 px, centre its centre of mass "
           "in a 28×28 frame, then `Normalize((0.1307,), (0.3081,))`.")
steps = result.steps
shapes = steps.shapes
images = st.columns(5)
shown = [
    ("drawn", steps.ink, f"canvas H×W×C = {'×'.join(map(str, shapes['canvas']))}"),
    ("cropped", steps.cropped, f"{'×'.join(map(str, shapes['cropped']))} ink box"),
    ("20 px", steps.resized, f"{'×'.join(map(str, shapes['resized']))}, aspect kept"),
    ("centred 28×28", steps.centred, f"{'×'.join(map(str, shapes['centred']))}, centre of mass at (14, 14)"),
]
for column, (title, image, caption) in zip(images, shown):
    column.image(np.clip(image, 0.0, 1.0), caption=f"{title}: {caption}", clamp=True, width="stretch")
with images[4]:
    st.plotly_chart(figs.pixel_heatmap(steps.tensor[0].numpy(), height=220), key="draw.tensor_heatmap")
    st.caption(f"tensor C×H×W = {'×'.join(map(str, shapes['tensor']))}, normalized (hover for values)")


# ---- the worked numbers ----------------------------------------------------------------------

st.subheader("The numbers behind the bars")
left, right = st.columns([1, 1], gap="large")
with left:
    choice = st.selectbox("True label (what you meant to draw)", [None, *range(10)], key="draw.true_label",
                          format_func=lambda d: f"same as the prediction ({result.prediction})" if d is None else str(d))
    temperature = st.slider("Temperature T (softmax of z / T)", min_value=0.1, max_value=5.0, value=1.0,
                            step=0.1, key="draw.temperature",
                            help="T < 1 sharpens the softmax, T > 1 flattens it; the ranking never changes.")
target = result.prediction if choice is None else int(choice)
wt = walkthrough(result.logits, target, temperature)
with left:
    st.dataframe(figs.walkthrough_table(wt).style.format("{:.4g}"), width="stretch")
    st.markdown(f"Σ exp = **{wt.exp_sum:.4f}** · loss = −log p[{target}] = **{wt.loss:.4f}** · "
                f"entropy = **{wt.entropy:.3f}** nats")
with right:
    if temperature != 1.0:
        st.plotly_chart(figs.probs_bar_figure(wt.probs, title=f"softmax(z / {temperature:g})", height=260),
                        key="draw.temperature_chart")
    st.dataframe(figs.routes_table(wt).style.format("{:.3e}", subset=["difference from −log p"])
                 .format("{:.6f}", subset=["loss"]), width="stretch")
    st.caption(f"The three routes agree to {wt.max_route_difference:.1e}.")
