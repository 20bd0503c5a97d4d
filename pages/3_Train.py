"""Train and watch it learn: tune the network and the optimizer, train, compare, look inside."""

import streamlit as st

from core.models import layer_table
from playground import fmt, i18n, lessons, nav, runkit, steer, tables, train_compare, train_inside
from playground import train_run as tr
from playground.figures import training as figs
from playground.i18n import plain, t
from playground.room import get_room

LAYOUT_CSS = """<style>
@media (max-width: 640px) {
  [data-testid="stColumn"]:has(.st-key-train-run) { order: -1; }
}
</style>"""

page = nav.setup("train")
room = get_room()

st.title(t("train.title"))
st.caption(t("train.caption"))

mnist = nav.mnist_or_stop(room)

lesson = lessons.show_banner(room, "train")
stored = runkit.current_settings(tr.TRAIN)
notes = runkit.url_notes(tr.TRAIN)
locked = {}
steer.remember_rights(steer.rights_for(lesson.locked if lesson is not None else {}))
if lesson is not None:
    lesson_values, lesson_notes, locked = tr.lesson_settings(lesson)
    if lessons.applied_once(lesson):
        stored, notes = lesson_values, notes + lesson_notes
        runkit.store_settings(tr.TRAIN, stored)
        runkit.forget_widgets(tr.TRAIN)
for note in notes:
    st.warning(t("train.link_note", note=i18n.Markdown(note.text())), icon="🔗")


def start_clicked(settings) -> None:
    watch_training()
    tr.start_run(room, page.student, settings)


def watch_training() -> None:
    """A run started from Compare runs or Look inside ("Set up a CNN run"): its curve is on Training."""
    st.session_state[VIEW_KEY] = plain("train.tab_training")


VIEW_KEY = "train.view"
TABS = ("training", "compare", "inside")  # the tabs' texts: train.tab_<name>


if (requested := tr.take_start_request()) is not None:  # sent from another page with "start a run"
    if runkit.training(room, page.student, "train"):
        st.warning(t("train.already_running_sent"), icon="⏳")
    elif tr.start_run(room, page.student, requested) is not None:
        watch_training()
        st.toast(t("train.started_sent", lr=requested.lr, momentum=requested.momentum))

busy = runkit.training(room, page.student, "train")

# The live curve belongs on the first screen: the room's notes go under the controls (left), the
# Train button sits beside its estimate, and on a phone (columns stacked) the run comes first.
st.html(LAYOUT_CSS)
controls_col, main_col = st.columns([2, 3], gap="large")
with controls_col:
    settings = runkit.draw_controls(tr.TRAIN, stored, room.images_per_run(), locked, room.limits)
    runkit.store_settings(tr.TRAIN, settings)
    if mnist.is_subset:
        st.warning(
            t("data.subset_warning", train=fmt.count(len(mnist.train_labels)), test=fmt.count(len(mnist.test_labels))),
            icon="🗂️",
        )
    lessons.room_limits_caption(room)
    if not locked:
        st.button(
            t("train.setup_cnn2"), key="train.setup_cnn2", on_click=tr.set_up_cnn2, help=plain("train.setup_cnn2_help")
        )

with main_col, st.container(key="train-run"):
    errors = settings.errors()
    for error in errors:
        st.error(i18n.error_text(error))
    run_plan = runkit.plan(room, settings, len(mnist.train_labels), len(mnist.test_labels))
    startable = not errors and run_plan.allowed
    # The click is read before the button is drawn, not handed to a callback with the settings as its
    # argument: those are the settings of the last page run that reached the button, and a click that
    # cut short the run of a change started the run without that change. This run drew the controls
    # with the values the click sent; the button is then drawn once, disabled while the run trains.
    if runkit.pressed("train.start") and not busy and startable:
        start_clicked(settings)
        busy = runkit.training(room, page.student, "train")
    with st.container(horizontal=True, vertical_alignment="center", key="train-start-row"):
        st.button(
            t("train.start"),
            key="train.start",
            type="primary",
            disabled=busy or not startable,
            help=plain("train.start_busy_help") if busy else None,
        )
        with st.container():
            runkit.show_plan(run_plan, "train.estimate")
    if error := st.session_state.pop(tr.TRAIN.prefix + "start_error", None):
        st.error(error)
    # Keyed tabs that rerun: Train pressed on another tab opens Training, where its curve is.
    tr.keep_view_across_languages(VIEW_KEY, TABS)
    training_tab, compare_tab, inside_tab = st.tabs(
        [plain(f"train.tab_{tab}") for tab in TABS],
        key=VIEW_KEY,
        on_change="rerun",
    )
    with training_tab:  # always: the live panel (a fragment the room refreshes) is the run itself
        tr.interrupted_panel(room, page.student, busy)
        runkit.live_panel(tr.TRAIN, room, page.student, page.session_id, tr.live_body, tr.idle)
        with st.expander(plain("train.architecture"), expanded=True):
            spec = settings.spec()
            st.markdown(f"**{fmt.model(spec)}** &nbsp; `{figs.architecture_chain(spec)}`")
            frame = figs.architecture_frame(layer_table(spec))
            tables.show(frame, {plain("arch.col.params"): fmt.count}, key="train-architecture")
            st.caption(t("train.parameters", count=fmt.count(frame.iloc[-1, -1])))
    # Compare runs and Look inside run only when open: their tables and a finished run's charts cost
    # a page run far more than the curve (thirty students whose runs end together rerun this page).
    if compare_tab.open:
        with compare_tab:
            train_compare.draw(room, page.student)
    if inside_tab.open:
        with inside_tab:
            train_inside.draw(room, page.student, tr.set_up_cnn)
