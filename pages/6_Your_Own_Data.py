"""Your own data: the lecture's exercise — the same softmax classifier on a table of numbers."""

import math

import streamlit as st

from core.tabular import MAX_CLASSES, MAX_TEST_FRACTION, MIN_TEST_FRACTION, TabularError
from playground import csv_reading as reading
from playground import session
from playground import settings as cfg
from playground import tabular_ui as ui
from playground import widgets
from playground.figures import tabular as figs
from playground.resources import get_training_queue

st.set_page_config(page_title="Your own data · Softmax Playground", page_icon="📋", layout="wide")

P = "own."  # widget and state keys; tests find them as at.radio(key="own.source") etc.
DEMO, UPLOAD = "demo", "upload"
SHOWN_ROWS = 1_000  # rows of the probability table drawn on the page; the download has them all

st.title("📋 Your own data")
st.markdown(f"""
The lecture ends with an exercise: *implement a classifier for* another data set — a table with numeric
features and several classes, like the Otto product categories. Here the same network and the same
training loop run on **your table**: every numeric column is a feature, one column is the class.
Features are **standardized** ($x' = (x-\\mu)/\\sigma$ with the training rows' $\\mu$ and $\\sigma$ — the
tabular version of MNIST's `Normalize`), a stratified **held-out** part measures the accuracy, and the
softmax gives every row a probability per class. CSV files up to {reading.MAX_UPLOAD_MB} MB, at most
{MAX_CLASSES} classes.
""")


def seed_widget(name: str, value) -> str:
    """A control's key, holding the value it had before this page was left (Streamlit forgets it)."""
    return widgets.remembered(P, name, value)


# ---- the table ----------------------------------------------------------------------------------


def forget_cleared_upload() -> None:
    """The user removed the file (leaving the page does not call this): forget its table too."""
    if st.session_state.get(P + "upload") is None:
        st.session_state.pop(P + "parsed", None)


def parsed_upload(upload) -> tuple[str, object]:
    """("ok", DataFrame) or ("error", message) for this upload, read once per file."""
    parsed = st.session_state.get(P + "parsed")
    if parsed is None or parsed[0] != upload.file_id:
        try:
            outcome = ("ok", reading.read_csv_upload(upload.getvalue(), upload.name))
        except reading.CsvError as error:
            outcome = ("error", f"Cannot use {upload.name}: {error}")
        parsed = (upload.file_id, upload.name, outcome)
        st.session_state[P + "parsed"] = parsed
    return parsed[2]


def load_table():
    """(DataFrame, its name, an id) of the chosen source, or (None, "", None) with the reason shown."""
    source = st.radio("Data", (DEMO, UPLOAD), key=seed_widget("source", DEMO), horizontal=True,
                      format_func={DEMO: "Iris demo (no download)", UPLOAD: "Upload a CSV"}.get)
    if source == DEMO:
        st.caption("Fisher's iris flowers: 150 rows, 4 measurements in cm, 3 species. Shipped with plotly.")
        return demo_table(), "Iris demo", DEMO
    upload = st.file_uploader(
        f"CSV file (up to {reading.MAX_UPLOAD_MB} MB)", type=["csv"], key=P + "upload",
        max_upload_size=reading.MAX_UPLOAD_MB,
        on_change=forget_cleared_upload,
        help="First row: column names. One row per example; numeric columns are the features, "
             "one column (numbers or text) is the class.")
    parsed = st.session_state.get(P + "parsed")
    if upload is None and parsed is not None and parsed[2][0] == "ok":  # back from another page
        st.caption(f"Still using **{parsed[1]}**, uploaded earlier. Upload another file to replace it.")
        return parsed[2][1], parsed[1], parsed[0]
    if upload is None:
        st.info("Upload a CSV file with a header row, or switch to the iris demo.")
        return None, "", None
    kind, value = parsed_upload(upload)
    if kind == "error":
        st.error(value, icon="⚠️")
        return None, "", None
    return value, upload.name, upload.file_id


@st.cache_data(show_spinner=False)
def demo_table():
    return reading.iris_demo()


def choose_target(df) -> str:
    columns = [str(c) for c in df.columns]
    key = seed_widget("target", None)
    if st.session_state[key] not in columns:  # a new table: guess its class column
        st.session_state[key] = str(reading.guess_target(df))
    return st.selectbox("Target column (the class to predict)", columns, key=P + "target")


def table_data(df, table_id: str, target: str):
    """The checked TabularData, or None with the reason on the page."""
    features, _ = reading.feature_columns(df, target)
    drop = False
    missing = reading.missing_counts(df, [*features, target])
    if missing:
        drop = st.checkbox("Drop rows with missing values", key=seed_widget("drop_missing", False),
                           help="Rows with an empty cell in a feature or the target are left out.")
    key = (table_id, target, drop)  # one conversion per table and choice, not per rerun
    cached = st.session_state.get(P + "data")
    if cached is None or cached[0] != key:
        try:
            cached = (key, reading.table_to_data(df, target, drop_missing=drop), None)
        except (TabularError, reading.CsvError) as error:
            cached = (key, None, f"Cannot train on this table: {error}")
        st.session_state[P + "data"] = cached
    if cached[2]:
        st.error(cached[2], icon="⚠️")
    return cached[1]


def describe(data) -> None:
    c1, c2, c3 = st.columns(3)
    c1.metric("Rows", f"{data.num_rows:,}")
    c2.metric("Features", data.num_features)
    c3.metric("Classes", data.num_classes)
    for note in data.notes:
        st.info(note.text, icon="ℹ️")
    classes_col, features_col = st.columns([2, 3])
    with classes_col:
        st.markdown("**Classes**")
        st.dataframe(ui.class_table(data), hide_index=True, key=P + "classes",
                     column_config={"share %": st.column_config.NumberColumn(format="%.1f")})
    with features_col:
        st.markdown("**Features** (as uploaded, before standardizing)")
        st.dataframe(ui.feature_table(data).style.format("{:.4g}", subset=["mean", "std", "min", "max"]),
                     hide_index=True, key=P + "features")


# ---- controls -----------------------------------------------------------------------------------

CONTROLS = ("depth", *(f"hidden.{i}" for i in range(cfg.MAX_HIDDEN_LAYERS)), "activation", "optimizer", "lr",
            "momentum", "batch_size", "epochs", "seed", "test_fraction", "log_every")


def draw_controls(n_rows: int) -> ui.OwnSettings:
    d = ui.OwnSettings()
    with st.container(border=True):
        st.markdown("**Network**")
        depth = st.number_input("Hidden layers", 0, cfg.MAX_HIDDEN_LAYERS, step=1, key=seed_widget("depth", len(d.hidden_sizes)),
                                help="0 is softmax regression: one Linear layer from the features to the logits.")
        sizes, columns = [], st.columns(4)
        for i in range(int(depth)):
            default = d.hidden_sizes[i] if i < len(d.hidden_sizes) else max(1, sizes[-1] // 2)
            with columns[i % 4]:
                sizes.append(int(st.number_input(f"layer {i + 1}", cfg.HIDDEN_MIN, cfg.HIDDEN_MAX, step=8,
                                                 key=seed_widget(f"hidden.{i}", default))))
        activation = st.radio("Activation", cfg.ACTIVATIONS, key=seed_widget("activation", d.activation),
                              horizontal=True, disabled=not sizes)
    with st.container(border=True):
        st.markdown("**Optimizer**")
        optimizer = st.radio("Optimizer", cfg.OPTIMIZERS, key=seed_widget("optimizer", d.optimizer), horizontal=True,
                             format_func={"sgd": "SGD + momentum", "adam": "Adam"}.get)
        lr = st.select_slider("Learning rate (log scale)", cfg.LR_GRID, key=seed_widget("lr", d.lr),
                              format_func=lambda v: f"{v:g}")
        lr_note = st.empty()
        momentum = st.slider("Momentum", cfg.MOMENTUM_MIN, cfg.MOMENTUM_MAX, step=0.01,
                             key=seed_widget("momentum", d.momentum), disabled=optimizer != "sgd")
    with st.container(border=True):
        st.markdown("**Training loop**")
        left, right = st.columns(2)
        batch_size = left.number_input("Batch size", 1, 4096, step=8, key=seed_widget("batch_size", d.batch_size))
        batch_note = left.empty()
        seed = left.number_input("Random seed", cfg.SEED_MIN, cfg.SEED_MAX, step=1, key=seed_widget("seed", d.seed),
                                 help="Chooses the held-out rows, the initial weights and the shuffles.")
        epochs = right.number_input("Epochs", 1, 1000, step=10, key=seed_widget("epochs", d.epochs))
        epochs_note = right.empty()
        log_every = right.number_input("Log the running loss every … batches", 1, 100_000, step=1,
                                       key=seed_widget("log_every", d.log_every))
        log_note = right.empty()
        test_fraction = st.slider("Held-out fraction", MIN_TEST_FRACTION, MAX_TEST_FRACTION, step=0.05,
                                  key=seed_widget("test_fraction", d.test_fraction),
                                  help="This share of every class is kept out of training and measures the accuracy.")
    settings = ui.OwnSettings(tuple(sizes), activation, optimizer, float(lr), float(momentum), int(batch_size),
                              int(epochs), int(seed), float(test_fraction), int(log_every))
    n_train = n_rows - max(1, round(n_rows * settings.test_fraction))  # about: the split rounds per class
    notes = settings.advice(n_train)
    for name, slot in (("lr", lr_note), ("batch_size", batch_note), ("epochs", epochs_note), ("log_every", log_note)):
        if name in notes:
            slot.caption(f":orange[⚠ {notes[name]}]")
    return settings


# ---- training -----------------------------------------------------------------------------------


def start_clicked(data, settings: ui.OwnSettings, source: str) -> None:
    try:
        ui.start_training(data, settings, source, get_training_queue())
    except (ValueError, RuntimeError) as error:
        st.session_state[P + "start_error"] = str(error)


def draw_status(own: ui.OwnJob, snap) -> None:
    epochs = own.settings.epochs
    if snap.status == "queued":
        place = f"number {snap.queue_position} in line" if snap.queue_position else "next in line"
        st.info(f"⏳ Queued: another run is training on this server; you are {place}. It starts by itself.")
    elif snap.status == "running":
        rate = f" · {snap.samples_per_s:,.0f} rows/s" if snap.samples_per_s else ""
        st.progress(snap.fraction, text=f"epoch {min(epochs, math.floor(snap.epoch) + 1)}/{epochs} · "
                                        f"batch {snap.step:,}/{snap.total_steps:,}{rate}")
    elif snap.status == "finished":
        st.success(f"✅ {snap.message.replace('Test accuracy', 'Held-out accuracy')}")
    elif snap.status == "stopped":
        kept = "The results below are from the model trained so far." if snap.step else "Nothing was trained."
        st.warning(f"⏹ {snap.message.replace('Test accuracy', 'Held-out accuracy')} {kept}")
    elif snap.status == "diverged":
        st.error(f"💥 {snap.message} Divide the learning rate by 10 (or lower the momentum) and train again.")
    elif snap.status == "failed":
        st.error(f"❌ {snap.message}")


def live_panel() -> None:
    own = ui.current_job()
    if own is None:
        st.info("Press **Train** to start. The loss curve appears here and updates while the model learns.")
        return
    snap = own.snapshot()
    if not snap.done:
        st.button("⏹ Stop", key=P + "stop", on_click=ui.stop_training, help="Stops within one batch.")
    st.caption(f"{'Trained' if snap.done else 'Training'} on **{own.source}**: {len(own.split.train_idx):,} training rows, "
               f"{len(own.split.test_idx):,} held-out rows, {own.settings.spec(own.data).label()}.")
    draw_status(own, snap)
    version = (id(own), len(snap.history.running_loss), len(snap.history.epochs))
    figure = session.rebuilt_when_changed(P + "live_figure", version,
                                          lambda: figs.live_loss_figure(snap.history, epochs=own.settings.epochs))
    st.plotly_chart(figure, key=P + "live_chart", config={"displayModeBar": False})
    if snap.done and st.session_state.get(P + "announced") is not own:
        st.session_state[P + "announced"] = own
        st.rerun(scope="app")  # the Train button and the results refresh


def draw_results(own: ui.OwnJob) -> None:
    probs = own.probs()
    if probs is None:
        return
    history = own.snapshot().history
    data, split = own.data, own.split
    st.subheader("Results on the held-out rows")
    c1, c2, c3 = st.columns(3)
    c1.metric("Held-out accuracy", f"{100 * history.final_accuracy:.1f}%")
    c2.metric("Held-out rows", f"{len(split.test_idx):,}")
    c3.metric("Mistakes", f"{history.misclassified_total:,}")
    if len(split.test_idx) < 100:  # small tables: the score moves in big steps with the split
        st.caption(f"With {len(split.test_idx)} held-out rows each mistake costs {100 / len(split.test_idx):.1f} "
                   "points: change the random seed (a different split) to see how much the score depends on "
                   "which rows were held out.")
    for note in split.standardizer.notes(data.feature_names):
        st.info(note, icon="ℹ️")
    st.plotly_chart(figs.confusion_figure(history.confusion, data.class_names), key=P + "confusion",
                    config={"displayModeBar": False})
    st.markdown("**The softmax for every held-out row** (features as uploaded)")
    frame = ui.predictions_frame(data, split.test_idx, probs, rows="held-out")
    shown = frame.head(SHOWN_ROWS)
    if len(frame) > SHOWN_ROWS:
        st.caption(f"The first {SHOWN_ROWS:,} of {len(frame):,} held-out rows; the download has them all.")
    st.dataframe(shown, hide_index=True, key=P + "probs", column_config={
        ui.probability_column(name): st.column_config.ProgressColumn(format="%.3f", min_value=0.0, max_value=1.0)
        for name in data.class_names})
    rows = st.radio("Rows in the download", ("held-out", "all"), key=P + "download_rows", horizontal=True,
                    format_func={"held-out": "held-out rows only",
                                 "all": "all rows (a column says which were trained on)"}.get)
    stem = own.source.split(" · ")[0].rsplit(".", 1)[0].replace(" ", "_")
    st.download_button(f"⬇ Download predictions ({rows} rows, CSV)",
                       data=lambda: ui.to_csv_bytes(ui.predictions_frame(data, split.test_idx, probs, rows=rows)),
                       file_name=f"{stem}_predictions_{rows}.csv", mime="text/csv", key=P + "download",
                       on_click="ignore")


# ---- the page -----------------------------------------------------------------------------------

df, table_name, table_id = load_table()
data = None
if df is not None:
    target = choose_target(df)
    data = table_data(df, table_id, target)
if data is not None:
    describe(data)
    with st.expander("The first rows of the table"):
        st.dataframe(df.head(20), key=P + "preview")

busy = ui.is_busy()
st.header("Train the softmax classifier")
if data is None:
    st.caption("Choose a table the classifier can use to set up a run.")
    main_col = st.container()
else:
    controls_col, main_col = st.columns([2, 3], gap="large")
    with controls_col:
        settings = draw_controls(data.num_rows)
with main_col:
    if data is not None:
        errors = settings.errors(data)
        for error in errors:
            st.error(error)
        st.button("▶ Train", key=P + "train", type="primary", disabled=busy or bool(errors),
                  on_click=start_clicked, args=(data, settings, f"{table_name} · target {target}"),
                  help="Already training: stop the current run first." if busy else None)
    if error := st.session_state.pop(P + "start_error", None):
        st.error(error)
    st.fragment(live_panel, run_every=0.5 if busy else None)()
own = ui.current_job()
if own is not None and own.job.done:
    draw_results(own)
widgets.remember(P, ("source", "target", "drop_missing", *CONTROLS))
