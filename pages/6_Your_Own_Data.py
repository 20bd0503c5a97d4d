"""Your own data: the lecture's exercise — the same softmax classifier on a table of numbers."""

import streamlit as st

from core.tabular import MAX_CLASSES, TabularError
from playground import charts, fmt, i18n, nav, runkit, tables, widgets
from playground import csv_reading as reading
from playground import own_data as own
from playground.figures import tabular as figs
from playground.figures.training import confusion_figure
from playground.i18n import plain, t
from playground.room import get_room
from playground.session import rebuilt_when_changed

page = nav.setup("own")
room = get_room()

P = "own."  # state keys; the controls' widgets are "own.w.<name>"
DEMO, UPLOAD = "demo", "upload"
SHOWN_ROWS = 200  # rows of the probability table drawn on the page; the download has them all
SKIPPABLE = ("csv.short_first_line", "csv.counts_first_line")

st.title(t("own.title"))
st.markdown(t("own.intro", megabytes=reading.MAX_UPLOAD_MB, classes=MAX_CLASSES))


# ---- the table ----------------------------------------------------------------------------------


def forget_cleared_upload() -> None:
    """The user removed the file (leaving the page does not call this): forget its table too."""
    if st.session_state.get(P + "upload") is None:
        st.session_state.pop(P + "parsed", None)


def parsed_upload(upload, skip_first_line: bool):
    """("ok", DataFrame) or ("error", CsvError) for this upload, read once per file and choice."""
    key = (upload.file_id, skip_first_line)
    parsed = st.session_state.get(P + "parsed")
    if parsed is None or parsed[0] != key:
        try:
            outcome = ("ok", reading.read_csv_upload(upload.getvalue(), upload.name, skip_first_line))
        except reading.CsvError as error:
            outcome = ("error", error)
        parsed = (key, upload.name, outcome)
        st.session_state[P + "parsed"] = parsed
    return parsed[2]


def load_table():
    """(DataFrame, its name, an id) of the chosen source, or (None, "", None) with the reason shown."""
    # kept across a visit to another page (Streamlit forgets a widget once its page is left), so a
    # student coming back finds the table they uploaded, not the demo
    source = st.radio(
        plain("own.source"),
        (DEMO, UPLOAD),
        key=widgets.worded(widgets.remembered(P, "source", DEMO)),
        horizontal=True,
        format_func=lambda v: plain(f"own.source_{v}"),
    )
    widgets.remember(P, ("source",))
    if source == DEMO:
        st.caption(t("own.iris_caption"))
        return demo_table(), plain("own.iris_name"), DEMO
    upload = st.file_uploader(
        plain("own.upload", megabytes=reading.MAX_UPLOAD_MB),
        type=["csv"],
        key=P + "upload",
        max_upload_size=reading.MAX_UPLOAD_MB,
        on_change=forget_cleared_upload,
        help=plain("own.upload_help"),
    )
    parsed = st.session_state.get(P + "parsed")
    if upload is None and parsed is not None and parsed[2][0] == "ok":  # back from another page
        st.caption(t("own.still_using", name=parsed[1]))
        return parsed[2][1], parsed[1], f"{parsed[0][0]}:{parsed[0][1]}"
    if upload is None:
        st.info(t("own.upload_prompt"))
        return None, "", None
    skip = st.session_state.get(P + "skip_first_line", False)
    kind, value = parsed_upload(upload, skip)
    if kind == "error":
        st.error(t("own.cannot_use", reason=i18n.Markdown(i18n.error_text(value))), icon="⚠️")
        if value.code in SKIPPABLE:
            st.checkbox(plain("own.skip_first_line"), key=P + "skip_first_line")
        return None, "", None
    if skip:
        st.checkbox(plain("own.skip_first_line"), key=P + "skip_first_line")
    return value, upload.name, f"{upload.file_id}:{skip}"


@st.cache_data(show_spinner=False)
def demo_table():
    return reading.iris_demo()


def choose_target(df, table_id: str) -> str:
    columns = [str(c) for c in df.columns]
    if st.session_state.get(P + "target_table") != table_id or st.session_state.get(P + "target") not in columns:
        st.session_state[P + "target"] = str(reading.guess_target(df))  # a new table: guess its class column
        st.session_state[P + "target_table"] = table_id
    return st.selectbox(plain("own.target"), columns, key=P + "target")


def table_data(df, table_id: str, target: str):
    """The checked TabularData, or None with the reason on the page."""
    features, _ = reading.feature_columns(df, target)
    drop = False
    if reading.missing_counts(df, [*features, target]):
        drop = st.checkbox(plain("own.drop_missing"), key=P + "drop_missing", help=plain("own.drop_missing_help"))
    key = (table_id, target, drop)  # one conversion per table and choice, not per rerun
    cached = st.session_state.get(P + "data")
    if cached is None or cached[0] != key:
        try:
            cached = (key, reading.table_to_data(df, target, drop_missing=drop), None)
        except (TabularError, reading.CsvError) as error:
            cached = (key, None, error)
        st.session_state[P + "data"] = cached
    if cached[2] is not None:
        st.error(t("own.cannot_train", reason=i18n.Markdown(i18n.error_text(cached[2]))), icon="⚠️")
    return cached[1]


def describe(data) -> None:
    c1, c2, c3 = st.columns(3)
    c1.metric(plain("own.rows"), fmt.count(data.num_rows))
    c2.metric(plain("own.features"), data.num_features)
    c3.metric(plain("own.classes"), data.num_classes)
    for note in data.notes:
        st.info(i18n.note_text(note), icon="ℹ️")
    classes_col, features_col = st.columns([2, 3])
    with classes_col:
        st.markdown(f"**{t('own.classes_title')}**")
        tables.show(
            figs.class_table(data), {plain("own.col.rows"): fmt.count, plain("own.col.share"): ".1f"}, key="own-classes"
        )
    with features_col:
        st.markdown(f"**{t('own.features_title')}**")
        tables.show(
            figs.feature_table(data),
            {
                plain("own.col.mean"): ".4g",
                plain("own.col.std"): ".4g",
                plain("own.col.min"): ".4g",
                plain("own.col.max"): ".4g",
            },
            key="own-features",
        )


# ---- training -----------------------------------------------------------------------------------


def start_clicked(data, settings, source: str) -> None:
    own.start_run(room, page.student, data, settings, source)


def live_body(entry, snap) -> None:
    epochs = entry.job.config.epochs
    table = entry.details["table"]
    st.caption(
        t(
            "own.training_on",
            source=entry.name,
            train=fmt.count(len(table.split.train_idx)),
            held_out=fmt.count(len(table.split.test_idx)),
            label=fmt.model(entry.details["spec"]),
        )
    )
    runkit.show_status(own.TEXTS, entry, snap, epochs)
    figure = rebuilt_when_changed(
        P + "live_figure", (entry.job.id, snap.version), lambda: figs.live_loss_figure(snap.history, epochs=epochs)
    )
    charts.plotly(figure, key=P + "live_chart", config={"displayModeBar": False})


def idle() -> None:
    st.info(t("own.press_train"))


def show_results(entry, current) -> None:
    """The run's held-out results, when they belong to the table on the page now."""
    table = entry.details["table"]
    if not own.has_model(entry):
        return
    if current is None or table.table_id != own.table_fingerprint(current):
        st.info(t("own.results_of_other_table", name=entry.name))
        return
    history = entry.job.snapshot().history
    data, split = table.data, table.split
    probs = table.probs(entry.job.model or room.model(entry.store_id, entry.student))  # live, else stored
    st.subheader(t("own.results_title"))
    c1, c2, c3 = st.columns(3)
    c1.metric(plain("own.held_out_accuracy"), fmt.percent(history.final_accuracy, 1))
    c2.metric(plain("own.held_out_rows"), fmt.count(len(split.test_idx)))
    c3.metric(plain("own.mistakes"), fmt.count(history.misclassified_total))
    if len(split.test_idx) < 100:  # small tables: the score moves in big steps with the split
        st.caption(t("own.small_split", rows=len(split.test_idx), cost=fmt.number(100 / len(split.test_idx), ".1f")))
    constant = split.standardizer.constant_features(data.feature_names)
    if constant:
        st.info(t("own.constant_features", columns=", ".join(constant)), icon="ℹ️")
    charts.plotly(
        confusion_figure(history.confusion, data.class_names), key=P + "confusion", config={"displayModeBar": False}
    )
    st.markdown(f"**{t('own.softmax_title')}**")
    frame = figs.predictions_frame(data, split.test_idx, probs, rows="held-out")
    if len(frame) > SHOWN_ROWS:
        st.caption(t("own.first_rows", shown=fmt.count(SHOWN_ROWS), total=fmt.count(len(frame))))
    formats = {figs.probability_column(name): ".3f" for name in data.class_names}
    formats |= {feature: ".4g" for feature in data.feature_names}
    tables.show(frame.head(SHOWN_ROWS), formats, key="own-probs", wrap=True)
    rows = st.radio(
        plain("own.download_rows"),
        figs.PREDICTION_ROWS,
        key=widgets.worded(P + "download_rows"),
        horizontal=True,
        format_func=lambda v: plain(f"own.download_rows_{v.replace('-', '_')}"),
    )
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in entry.name.split(" · ")[0].rsplit(".", 1)[0])
    st.download_button(
        t("own.download", rows=plain(f"own.download_rows_{rows.replace('-', '_')}")),
        data=lambda: own.to_csv_bytes(figs.predictions_frame(data, split.test_idx, probs, rows=rows)),
        file_name=f"{stem}_predictions_{rows}.csv",
        mime="text/csv",
        key=P + "download",
        on_click="ignore",
    )


# ---- the page -----------------------------------------------------------------------------------

df, table_name, table_id = load_table()
data = target = None
if df is not None:
    target = choose_target(df, table_id)
    data = table_data(df, table_id, target)
if data is not None:
    describe(data)
    with st.expander(plain("own.first_rows_of_table")):
        tables.show(df.head(20).astype(str), key="own-preview")

busy = runkit.training(room, page.student, "own")
st.header(t("own.train_title"))
if data is None:
    st.caption(t("own.choose_table"))
    main_col = st.container()
else:
    controls_col, main_col = st.columns([2, 3], gap="large")
    with controls_col:
        settings = runkit.draw_controls(own.OWN, runkit.current_settings(own.OWN), int(data.num_rows * 0.8))
        runkit.store_settings(own.OWN, settings)
with main_col:
    if data is not None:
        errors = settings.errors(data.num_features, data.num_classes)
        for error in errors:
            st.error(i18n.error_text(error))
        source = plain("own.source_line", table=table_name, target=target)
        # The click is read before the button is drawn, with this run's settings (as on Train).
        if runkit.pressed(P + "train") and not busy and not errors:
            start_clicked(data, settings, source)
            busy = runkit.training(room, page.student, "own")
        st.button(
            t("own.train"),
            key=P + "train",
            type="primary",
            disabled=busy or bool(errors),
            help=plain("train.start_busy_help") if busy else None,
        )
    if error := st.session_state.pop(own.OWN.prefix + "start_error", None):
        st.error(error)
    runkit.live_panel(own.OWN, room, page.student, page.session_id, live_body, idle)
entry = room.job_of(page.student, "own")
if entry is not None and entry.job.done:
    show_results(entry, data)
