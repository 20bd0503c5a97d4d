"""Draw a digit, watch the softmax: the canvas and the bars answer a stroke on their own; the
preprocessing, the worked numbers and the look inside the network follow below.

A new visitor gets the pad first, before the room: after a restart the room costs PyTorch's import,
MNIST and the default model (about 1.5 s on a 2-core laptop), and the pad's own parts need none of
it (``playground.draw_pad``). The imports that need PyTorch come after that first pad.
"""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from playground import draw_pad, fmt, i18n, nav, push
from playground.draw_tools import pad_tools
from playground.i18n import plain, t

page = nav.setup("draw", room=False)

CANVAS_KEY = "draw_canvas"
SOURCE_KEY = "draw.source"  # "canvas" or ("test", index): what the model reads now
TRUE_KEY = "draw.true_label"  # the class the student says it is (None: the prediction)
WAITING_KEY = "draw.input_waiting"  # the pad got a drawing before the model was there to answer it
NO_MODEL_KEY = "draw.no_model"  # the last run found no model (or no MNIST): no pad until there is one
MODEL_LINE_KEY = "draw.model_line"  # the last run's line about the model
STEP_BOX = 150  # px: every preprocessing image is drawn in a box of this size, its shape kept
DETAILS_DUE = "draw.details_due"
DEFAULT_LOAD_WAIT_S = 3.0  # the kept default model loads in well under a second after a restart

st.title(t("draw.title"))
st.caption(t("draw.caption"))
with st.expander(plain("draw.which_model"), expanded=False):
    st.markdown(t("draw.which_model_text"))
    model_choice = st.container()
model_box = st.container(key="draw-model")
with model_box:  # a line in the model's place while it loads (the last run's, if any): the pad moves less
    model_line_slot = st.empty()
    model_line_slot.caption(st.session_state.get(MODEL_LINE_KEY) or t("draw.model_loading"))
# The pad's place: first for a new visitor, after the model otherwise; a container in both orders
# (an `st.empty` here would be replaced by the pad's block in every run).
pad_slot = st.container()

# Set once the room and the model are there (below); the pad's later reruns read them.
room = mnist = model = model_history = None


# ---- which model predicts ----------------------------------------------------------------


def choose_model() -> None:
    student_runs = runs.list_runs(page.student, room)
    if student_runs:
        ids = ["newest", *[r.id for r in student_runs]]
        names = {"newest": plain("draw.newest_run"), **{r.id: r.name for r in student_runs}}
        picked = runs.picked_run(page.student, room)
        active = runs.active_run(page.student, room)
        st.session_state["draw.model"] = active.id if picked and active is not None else "newest"
        st.selectbox(
            plain("draw.model_picker"),
            ids,
            key="draw.model",
            format_func=names.get,
            on_change=model_chosen,
            args=(student_runs,),
        )
    uploads.checkpoint_upload(room, page.student, "draw.upload", activate=True)


def model_chosen(student_runs) -> None:
    chosen = st.session_state["draw.model"]
    if chosen == "newest":  # the app chooses again: the newest run, unless it is far worse
        automatic = runs.automatic_run(page.student, room)
        runs.set_active(page.student, automatic.id if automatic is not None else None, room, picked=False)
    else:
        runs.set_active(page.student, chosen, room, picked=True)


def model_warnings(run) -> None:
    """Say so when the model predicting is far worse than the default model, or when the newest
    run was kept off Draw for being far worse than the model before it."""
    default = room.default_accuracy()
    if run is not None and runs.far_below(run.accuracy, default):
        st.warning(
            t(
                "draw.poor_model",
                name=run.name,
                accuracy=fmt.percent(run.accuracy, 1),
                default=fmt.percent(default, 1),
            ),
            icon="⚠️",
        )
        return
    student_runs = runs.list_runs(page.student, room)
    newest = student_runs[-1] if student_runs else None
    if newest is None or runs.picked_run(page.student, room) or (run is not None and run.id == newest.id):
        return
    reference = run.accuracy if run is not None else default
    if runs.far_below(newest.accuracy, reference):
        st.info(
            t(
                "draw.newest_kept_out",
                name=newest.name,
                accuracy=fmt.percent(newest.accuracy, 1),
                reference=fmt.percent(reference, 1),
            ),
            icon="ℹ️",
        )


def the_model():
    """(model, one line about it, the run's history or None); stops the page while none is ready."""
    run = runs.active_run(page.student, room)
    model_warnings(run)
    if run is not None:
        accuracy = fmt.percent(run.accuracy, 1) if run.accuracy is not None else "—"
        return (
            run.model,
            t("draw.predicting_with", name=run.name, label=fmt.model(run.spec), accuracy=accuracy),
            run.history,
        )
    state = room.default_model.wait_while_loading(DEFAULT_LOAD_WAIT_S)
    if state.ready:
        accuracy = fmt.percent(state.history.final_accuracy, 1)
        return state.model, t("draw.predicting_default", accuracy=accuracy), state.history
    without_pad()
    default_model_progress()
    st.stop()


@st.fragment(run_every=0.5)
def default_model_progress() -> None:
    """Only while the shared default model is prepared (once per machine, about 10 s)."""
    state = room.default_model.state()
    if state.ready:
        st.rerun(scope="app")
    if state.status == "failed":
        st.error(t("draw.default_failed", reason=i18n.Markdown(i18n.error_text(state.error))))
        return
    fraction = state.progress.fraction if state.progress is not None else 0.0
    st.info(t("draw.default_training"), icon="⏳")
    st.progress(fraction, text=plain("draw.default_progress", percent=fmt.percent(fraction, 0)))


def without_pad() -> None:
    """No model or no MNIST: nothing would answer a drawing, so no pad (and no "Loading" line). A pad
    drawn first goes with a run that puts the model first and stops before the pad."""
    st.session_state[NO_MODEL_KEY] = True
    st.session_state.pop(MODEL_LINE_KEY, None)
    if pad_first:
        st.rerun()
    model_line_slot.empty()


# ---- the input ------------------------------------------------------------------------------


def stroked() -> None:
    """A stroke (or Clear, Undo): the drawing is the input again."""
    st.session_state[SOURCE_KEY] = "canvas"
    st.session_state[TRUE_KEY] = None
    rerun_for_new_input()


def test_image_clicked(how: str) -> None:
    rng = np.random.default_rng()
    digit = st.session_state.get("draw.test_digit")
    index = draw.pick_test_image(mnist.test_labels, how, digit, model_history, rng)
    st.session_state[SOURCE_KEY] = ("test", index)
    st.session_state[TRUE_KEY] = int(mnist.test_labels[index])  # the true label, preselected for the loss
    # The buttons sit outside the pad's fragment: the click reruns the page, pad and details together.


def rerun_for_new_input() -> None:
    """The pad answers now; the details follow from the server once the bars are out (where the
    server cannot push, as under AppTest, both rerun together)."""
    if push.available():
        st.session_state[DETAILS_DUE] = True
        st.rerun(scope="draw-pad")
    st.rerun(scope=["draw-pad", "draw-details"])


def send_details_later() -> None:
    """The details follow from the server: after the bars are drawn, one tab of the room at a time."""
    if st.session_state.pop(DETAILS_DUE, False) and page.session_id is not None and room is not None:
        room.later.request(page.session_id, "draw-details")


def model_first() -> bool:
    """Something for the model to answer already (a drawing or a test image from an earlier run, a
    drawing the pad got before the model was there), or no model at the last run."""
    return (
        st.session_state.get("draw.input") is not None
        or isinstance(st.session_state.get(SOURCE_KEY), tuple)
        or st.session_state.get(WAITING_KEY, False)
        or st.session_state.get(NO_MODEL_KEY, False)
    )


def answerable_input(canvas) -> tuple[draw.DrawInput | None, str | None]:
    """``current_input``, once the model is there. Before that (the pad drawn first, or the default
    model still training) a drawing waits, and the page runs again for it once the model is ready."""
    if model is None:
        st.session_state[WAITING_KEY] = canvas is not None and canvas.image_bytes is not None
        return None, None
    st.session_state.pop(WAITING_KEY, None)
    return current_input(canvas)


def current_input(canvas) -> tuple[draw.DrawInput | None, str | None]:
    """(the input, a message when the canvas sent something that is not a drawing)."""
    source = st.session_state.get(SOURCE_KEY, "canvas")
    if isinstance(source, tuple):
        return draw.test_input(mnist.test_images, mnist.test_labels, source[1]), None
    png = canvas.image_bytes if canvas is not None else None
    if png is None:
        return None, None
    try:
        return draw.canvas_input(draw.decode_canvas_png(png)), None
    except draw.DrawError as error:
        return None, i18n.error_text(error)


def prediction_for(drawn: draw.DrawInput) -> draw.DrawPrediction:
    """Predicted once per input and model: the details below reuse it."""
    key = (drawn.key, id(model))
    cached = st.session_state.get("draw.prediction")
    if cached is None or cached[0] != key:
        cached = (key, draw.predict(model, drawn))
        st.session_state["draw.prediction"] = cached
    return cached[1]


# ---- the pad: canvas, prediction and bars (the part a stroke reruns) -------------------------------


@st.fragment(key="draw-pad")
def pad() -> None:
    from streamlit_drawable_canvas import st_canvas  # imports only under a Streamlit runtime

    started = time.perf_counter()
    answer_line = st.container(key="draw-answer-line")
    pad_col, answer_col = st.columns([1, 1.3], gap="large")
    with pad_col:
        with st.container(key="draw-pad-canvas"):
            canvas = st_canvas(
                stroke_width=st.session_state.get("draw.pen", 18),
                stroke_color="#FFFFFF",
                background_color="#000000",
                height=draw_pad.CANVAS_SIZE,
                width=draw_pad.CANVAS_SIZE,
                drawing_mode="freedraw",
                return_image_data=True,
                key=CANVAS_KEY,
                on_change=stroked,
            )
            drawn, problem = answerable_input(canvas)
            if drawn is not None and drawn.source == "test":
                show_test_image_on_pad(drawn)
        pad_tools(CANVAS_KEY, undo=plain("draw.undo"), clear=plain("draw.clear"))
    st.session_state["draw.input"] = drawn
    with answer_col:
        # The bars stay in one place, empty before the first stroke; the words go below them.
        result = prediction_for(drawn) if drawn is not None else None
        with st.container(key="draw-probs"):
            probs = result.probs if result is not None else np.zeros(draw_pad.NUM_CLASSES)
            st.html(draw_pad.probs_bars_html(probs, plain("draw.bars_title"), empty=result is None))
        if problem is not None:
            st.error(t("draw.bad_drawing", reason=i18n.Markdown(problem)))
        if st.session_state.get(WAITING_KEY):
            st.info(t("draw.model_preparing"), icon="⏳")
        elif result is None:
            st.info(t("draw.hint"), icon="✏️")
        else:
            st.caption(t("draw.confident_not_correct"))
            draw.record_stroke_time(1000 * (time.perf_counter() - started))
    send_details_later()  # also after Clear: the details of the old drawing go
    with answer_line:
        show_answer(drawn, result)


def show_test_image_on_pad(drawn: draw.DrawInput) -> None:
    """The test image the bars answer for, drawn over the pad; the next stroke goes through it to the
    canvas below and brings the drawing back."""
    st.html(
        draw.test_image_overlay_html(
            drawn.image, plain("draw.test_pad.alt", index=drawn.test_index, label=drawn.test_label)
        )
    )


def show_answer(drawn: draw.DrawInput | None, result: draw.DrawPrediction | None) -> None:
    """The answer above the pad; dashes before the first stroke, so the pad never moves under the pen."""
    with st.container(key="draw-prediction", horizontal=True):
        with st.container(key="draw-predicted-digit", width="content"):  # the browser test reads the digit here
            st.metric(plain("draw.prediction"), str(result.prediction) if result is not None else "—")
        st.metric(
            plain("draw.probability"), fmt.percent(result.confidence, 1) if result is not None else "—", width="content"
        )
        entropy = plain("softmax.nats", value=fmt.number(result.entropy, ".2f")) if result is not None else "—"
        st.metric(
            plain("draw.entropy"),
            entropy,
            width="content",
            help=plain("draw.entropy_help", max=fmt.number(draw_pad.max_entropy(), ".2f")),
        )
        if drawn is not None and drawn.source == "test":
            st.metric(plain("draw.true_digit"), str(drawn.test_label), width="content")


def pad_options() -> None:
    """Below the pad and outside its fragment (a stroke does not resend them): the pen, test images."""
    pen_col, test_col = st.columns([1, 2.3], gap="large")
    with pen_col:
        st.slider(
            plain("draw.pen_width"),
            min_value=5,
            max_value=40,
            value=18,
            step=1,
            key="draw.pen",
            help=plain("draw.pen_help"),
        )
    with test_col:
        test_image_buttons()


def test_image_buttons() -> None:
    st.markdown(f"**{t('draw.try_test_image')}**")
    with st.container(horizontal=True, key="draw-test-buttons"):
        st.button(t("draw.test_random"), key="draw.test_random", on_click=test_image_clicked, args=("random",))
        st.button(
            t("draw.test_mistake"),
            key="draw.test_mistake",
            on_click=test_image_clicked,
            args=("mistake",),
            disabled=model_history is None or not model_history.misclassified,
            help=plain("draw.test_mistake_help"),
        )
    with st.container(horizontal=True, vertical_alignment="bottom", key="draw-test-digit"):
        st.selectbox(plain("draw.test_digit"), list(range(10)), key="draw.test_digit", width=110)
        st.button(t("draw.test_of_digit"), key="draw.test_digit_button", on_click=test_image_clicked, args=("digit",))


pad_first = not model_first()
if pad_first:
    with pad_slot:
        pad()

# ---- the room, MNIST and the model: PyTorch from here on ----------------------------------------

from core import insight
from core.softmax import walkthrough
from playground import charts, draw, runs, tables, uploads, widgets
from playground.figures import inside as inside_figs
from playground.figures import softmax as figs

room = nav.enter_room(page)
with model_box:  # without MNIST the page says why where the model's line is, and has no pad
    mnist = nav.mnist_or_stop(room, before_stop=without_pad)
with model_choice:
    choose_model()
with model_box:
    model, model_line, model_history = the_model()
    model_line_slot.caption(model_line)
st.session_state[MODEL_LINE_KEY] = model_line
st.session_state.pop(NO_MODEL_KEY, None)
if not pad_first:
    with pad_slot:
        pad()
elif st.session_state.get(WAITING_KEY):  # a drawing came with this run, before the model: answer it
    st.rerun()
pad_options()


# ---- below the pad: preprocessing, worked numbers, the look inside --------------------------------


def square_box(image: np.ndarray) -> np.ndarray:
    """Pad an image with black to a square, so a tall, narrow 1 keeps its shape in a fixed box."""
    h, w = image.shape
    side = max(h, w)
    box = np.zeros((side, side), dtype=np.float32)
    top, left = (side - h) // 2, (side - w) // 2
    box[top : top + h, left : left + w] = image
    return box


def show_preprocessing(drawn: draw.DrawInput) -> None:
    st.subheader(t("draw.preprocessing_title"))
    if drawn.source == "test":
        st.caption(t("draw.test_image_caption", index=drawn.test_index, label=drawn.test_label))
        st.image(
            np.clip(drawn.image, 0, 1), width=STEP_BOX, clamp=True, caption=plain("draw.step_centred", shape="28×28")
        )
        return
    st.caption(t("draw.preprocessing_caption"))
    steps = drawn.steps
    shapes = steps.shapes
    shown = [
        (steps.ink, plain("draw.step_drawn", shape="×".join(map(str, shapes["canvas"])))),
        (steps.cropped, plain("draw.step_cropped", shape="×".join(map(str, shapes["cropped"])))),
        (steps.resized, plain("draw.step_resized", shape="×".join(map(str, shapes["resized"])))),
        (steps.centred, plain("draw.step_centred", shape="×".join(map(str, shapes["centred"])))),
    ]
    with st.container(horizontal=True, key="draw-steps"):
        for image, caption in shown:
            st.image(square_box(np.clip(image, 0.0, 1.0)), caption=caption, clamp=True, width=STEP_BOX)
        with st.container(width=STEP_BOX + 90):
            charts.plotly(
                figs.pixel_heatmap(steps.tensor[0].numpy(), height=STEP_BOX + 40),
                key="draw.tensor_heatmap",
                config={"displayModeBar": False},
            )
            st.caption(t("draw.step_tensor", shape="×".join(map(str, shapes["tensor"]))))


def true_label_control(result: draw.DrawPrediction) -> int:
    """The class the loss is computed for: the prediction unless the student picks another."""
    chosen = st.session_state.get(TRUE_KEY)
    st.session_state["draw.true_pick"] = chosen if chosen is not None else result.prediction
    st.segmented_control(
        plain("draw.true_label"),
        list(range(10)),
        key="draw.true_pick",
        on_change=true_label_picked,
        help=plain("draw.true_label_help"),
    )
    if chosen is None:
        st.caption(t("draw.true_follows", digit=result.prediction))
    return chosen if chosen is not None else result.prediction


def true_label_picked() -> None:
    picked = st.session_state.get("draw.true_pick")
    st.session_state[TRUE_KEY] = None if picked is None else int(picked)


def show_numbers(drawn: draw.DrawInput, result: draw.DrawPrediction) -> int:
    st.subheader(t("draw.numbers_title"))
    label_col, temperature_col = st.columns([1, 1], gap="large")
    with label_col:
        target = true_label_control(result)
    with temperature_col:
        temperature = st.slider(
            plain("draw.temperature"),
            min_value=0.1,
            max_value=5.0,
            value=1.0,
            step=0.1,
            key="draw.temperature",
            help=plain("softmax.temperature_help"),
        )
    wt = walkthrough(result.logits, target, temperature)
    tables.show(  # the page's whole width: seven columns of numbers need about 640 px
        figs.walkthrough_table(wt),
        {name: ".4g" for name in ("z", "z / T", "z/T − max", "exp", "probs", "log probs", "∂loss/∂z")},
        key="draw-numbers",
    )
    st.markdown(
        t(
            "draw.numbers_line",
            exp_sum=fmt.number(wt.exp_sum),
            target=target,
            loss=fmt.number(wt.loss),
            entropy=fmt.number(wt.entropy, ".3f"),
        )
    )
    routes_col, bars_col = st.columns([1, 1], gap="large")
    with bars_col:
        if temperature != 1.0:
            charts.plotly(
                figs.probs_bar_figure(wt.probs, title=plain("draw.temperature_bars", t=temperature), height=260),
                key="draw.temperature_chart",
            )
    with routes_col:
        tables.show(
            figs.routes_table(wt), {plain("figures.loss"): ".6f", plain("figures.difference"): ".3e"}, key="draw-routes"
        )
        st.caption(t("draw.routes_agree", difference=fmt.number(wt.max_route_difference, ".1e")))
    return target


def show_inside(drawn: draw.DrawInput, result: draw.DrawPrediction) -> None:
    st.subheader(t("draw.inside_title"))
    anatomy = insight.activations(model, drawn.tensor)
    if anatomy.kind == "cnn":
        st.caption(t("draw.inside_cnn"))
        if "draw.stage" not in st.session_state:
            st.session_state["draw.stage"] = "conv1"
        stage = st.segmented_control(
            plain("draw.cnn_stage"),
            [layer.name for layer in anatomy.layers],
            key=widgets.worded("draw.stage"),
            format_func=lambda name: plain(f"draw.stage.{name}"),
        )
        charts.plotly(
            inside_figs.cnn_maps_figure(anatomy, stage or "conv1"), key="draw.maps", config={"displayModeBar": False}
        )
    else:
        st.caption(t("draw.inside_mlp"))
        charts.plotly(inside_figs.mlp_layers_figure(anatomy), key="draw.layers", config={"displayModeBar": False})
        units = insight.first_layer_units(model, drawn.tensor, k=6)
        st.markdown(f"**{t('draw.units_title')}**")
        st.caption(t("draw.units_caption"))
        charts.plotly(inside_figs.units_figure(units, drawn.image), key="draw.units", config={"displayModeBar": False})
    st.markdown(f"**{t('draw.saliency_heading')}**")
    why_col, _ = st.columns([1, 2])
    why = why_col.selectbox(
        plain("draw.why_class"),
        list(range(10)),
        index=result.prediction,
        key="draw.why",
        format_func=lambda c: plain("draw.why_option", digit=c, predicted=c == result.prediction),
    )
    charts.plotly(
        inside_figs.saliency_figure(drawn.image, insight.saliency(model, drawn.tensor, int(why)), int(why)),
        key="draw.saliency",
        config={"displayModeBar": False},
    )
    st.caption(t("draw.saliency_caption"))


@st.fragment(key="draw-details")
def details() -> None:
    try:
        drawn = st.session_state.get("draw.input")
        if drawn is None:
            return
        result = prediction_for(drawn)
        show_preprocessing(drawn)
        show_numbers(drawn, result)
        show_inside(drawn, result)
    finally:
        room.later.done(page.session_id, "draw-details")


details()
