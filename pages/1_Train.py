"""Train and watch it learn: tune the network and the optimizer, train, compare, look inside."""

import math

import numpy as np
import streamlit as st

from core.models import count_parameters, layer_table
from core.momentum import effective_lr
from core.training import CheckpointError, History
from playground import jobs, session
from playground import settings as cfg
from playground.figures import training as figs
from playground.resources import get_mnist, get_training_queue

st.set_page_config(page_title="Train · Softmax Playground", page_icon="📉", layout="wide")

W = cfg.WIDGET_PREFIX  # widget keys; tests and the browser find them as .st-key-train-w-…
DIGITS = list(range(10))

st.title("📉 Train and watch it learn")
st.caption(
    "The lecture's network and optimizer are preset: press **Train**, watch the loss fall, "
    "then change one thing (momentum, activation, the CNN) and compare."
)

mnist = get_mnist()
n_train = len(mnist.train_labels)
if mnist.is_subset:
    st.warning(f"**Data:** {mnist.description}", icon="🗂️")
stored = cfg.current_settings()  # on the first visit: from the URL (a shared link)
for message in cfg.url_messages():
    st.warning(f"The link's settings: {message}", icon="🔗")


# ---- controls --------------------------------------------------------------------------


def seed_widget(name: str, value) -> str:
    """Give a widget its stored value the first time it is drawn on this visit."""
    key = W + name
    if key not in st.session_state:
        st.session_state[key] = value
    return key


def advice_slot(slots: dict, name: str) -> None:
    """Room under a control for a warning, filled once every control has been read."""
    slots[name] = st.empty()


def fill_advice(slots: dict, notes: dict[str, str]) -> None:
    for name, slot in slots.items():
        if name in notes:
            slot.caption(f":orange[⚠ {notes[name]}]")


def hidden_size_default(index: int, sizes: list[int]) -> int:
    """A new layer starts at half the previous one, like the lecture's 512-256-128-64."""
    return 512 if index == 0 else max(1, sizes[index - 1] // 2)


def model_controls(stored: cfg.TrainSettings, slots: dict) -> dict:
    kind = st.radio("Model", cfg.MODEL_KINDS, key=seed_widget("kind", stored.kind), horizontal=True,
                    format_func={"mlp": "MLP (fully connected)", "cnn": "CNN (convolutions)"}.get)
    if kind == "cnn":
        st.caption("Two 5×5 convolution layers with max-pooling, then one Linear layer to 10 logits.")
        return {"kind": kind}
    depth = st.number_input("Hidden layers", 0, cfg.MAX_HIDDEN_LAYERS, step=1,
                            key=seed_widget("depth", len(stored.hidden_sizes)),
                            help="0 hidden layers is softmax regression: one Linear layer 784 → 10.")
    sizes: list[int] = []
    columns = st.columns(4)
    for i in range(int(depth)):
        stored_size = stored.hidden_sizes[i] if i < len(stored.hidden_sizes) else hidden_size_default(i, sizes)
        with columns[i % 4]:
            sizes.append(int(st.number_input(f"layer {i + 1}", cfg.HIDDEN_MIN, cfg.HIDDEN_MAX, step=16,
                                             key=seed_widget(f"hidden.{i}", stored_size))))
    activation = st.radio("Activation", cfg.ACTIVATIONS, key=seed_widget("activation", stored.activation),
                          horizontal=True, disabled=not sizes,
                          help="Used between hidden layers; softmax lives in the loss.")
    advice_slot(slots, "activation")
    return {"kind": kind, "hidden_sizes": tuple(sizes), "activation": activation}


def optimizer_controls(stored: cfg.TrainSettings, slots: dict) -> dict:
    optimizer = st.radio("Optimizer", cfg.OPTIMIZERS, key=seed_widget("optimizer", stored.optimizer),
                         horizontal=True, format_func={"sgd": "SGD + momentum", "adam": "Adam"}.get)
    lr_options = sorted(set(cfg.LR_GRID) | {stored.lr})
    lr = st.select_slider("Learning rate (log scale)", lr_options, key=seed_widget("lr", stored.lr),
                          format_func=lambda v: f"{v:g}")
    advice_slot(slots, "lr")
    momentum = st.slider("Momentum", cfg.MOMENTUM_MIN, cfg.MOMENTUM_MAX, step=0.01,
                         key=seed_widget("momentum", float(stored.momentum)), disabled=optimizer != "sgd",
                         help="SGD only. Adam keeps its own running averages of the gradient.")
    return {"optimizer": optimizer, "lr": float(lr), "momentum": float(momentum)}


def loop_controls(stored: cfg.TrainSettings, slots: dict) -> dict:
    left, right = st.columns(2)
    with left:
        batch_size = st.number_input("Batch size", cfg.BATCH_MIN, cfg.BATCH_MAX, step=16,
                                     key=seed_widget("batch_size", stored.batch_size))
        advice_slot(slots, "batch_size")
        seed = st.number_input("Random seed", cfg.SEED_MIN, cfg.SEED_MAX, step=1,
                               key=seed_widget("seed", stored.seed),
                               help="Same seed, same settings → the same initial weights and shuffles.")
    with right:
        epochs = st.number_input("Epochs", cfg.EPOCHS_MIN, cfg.EPOCHS_MAX, step=1,
                                 key=seed_widget("epochs", stored.epochs))
        log_every = st.number_input("Log the running loss every … batches", cfg.LOG_EVERY_MIN,
                                    cfg.LOG_EVERY_MAX, step=50, key=seed_widget("log_every", stored.log_every))
        advice_slot(slots, "log_every")
    return {"batch_size": int(batch_size), "epochs": int(epochs), "seed": int(seed), "log_every": int(log_every)}


def draw_controls(stored: cfg.TrainSettings) -> cfg.TrainSettings:
    """All controls, each with its warning (if any) underneath."""
    slots: dict = {}
    choices: dict = {}
    with st.container(border=True):
        st.markdown("**Network**")
        choices |= model_controls(stored, slots)
    with st.container(border=True):
        st.markdown("**Optimizer**")
        choices |= optimizer_controls(stored, slots)
    with st.container(border=True):
        st.markdown("**Training loop**")
        choices |= loop_controls(stored, slots)
    settings = stored.with_overrides(**choices)
    fill_advice(slots, settings.advice(n_train))
    return settings


def draw_architecture(settings: cfg.TrainSettings) -> None:
    spec = settings.spec()
    st.markdown(f"**{spec.label()}** &nbsp; `{figs.architecture_chain(spec)}`")
    table = figs.architecture_frame(layer_table(spec))
    st.dataframe(table, hide_index=True, key="train.architecture",
                 column_config={"parameters": st.column_config.NumberColumn(format="localized")})
    st.caption(f"{int(table['parameters'].iloc[-1]):,} parameters to learn.")


# ---- live training ---------------------------------------------------------------------


def format_seconds(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "…"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def progress_line(snap, config) -> str:
    per_epoch = max(1, math.ceil(snap.total_steps / max(config.epochs, 1)))
    epoch = min(config.epochs, snap.step // per_epoch + 1)
    batch = snap.step - (epoch - 1) * per_epoch
    rate = f"{snap.samples_per_s:,.0f} samples/s" if snap.samples_per_s else "… samples/s"
    return (f"epoch {epoch}/{config.epochs} · batch {batch}/{per_epoch} · {rate} · "
            f"ETA {format_seconds(snap.eta_s)} · {snap.device}")


def draw_job_status(page_job: jobs.PageJob, snap) -> None:
    config = page_job.settings.config()
    if snap.status == "queued":
        place = f"number {snap.queue_position} in line" if snap.queue_position else "next in line"
        st.info(f"⏳ Queued: another session is training right now; you are {place}. "
                "Your run starts by itself — keep exploring meanwhile.")
    elif snap.status == "running":
        st.progress(snap.fraction, text=progress_line(snap, config))
    elif snap.status == "finished":
        seconds = sum(stats.seconds for stats in snap.history.epochs)
        images = n_train * len(snap.history.epochs)
        st.success(f"✅ {snap.message} {seconds:.1f} s of training ({images / max(seconds, 1e-9):,.0f} images/s). "
                   f"Added to your runs as **{page_job.name}**.")
    elif snap.status == "stopped":
        kept = (f"The model trained so far is kept as **{page_job.name}**." if page_job.collected
                else "It had not trained a batch yet, so there is no run to keep.")
        st.warning(f"⏹ {snap.message} {kept}")
    elif snap.status == "diverged":
        s = page_job.settings
        step_size = (f" With momentum {s.momentum:g}, each step is up to lr / (1 − momentum) = "
                     f"{effective_lr(s.lr, s.momentum):.3g} times the gradient." if s.optimizer == "sgd" else "")
        st.error(f"💥 {snap.message}{step_size} Divide the learning rate by 10 and train again.")
    elif snap.status == "failed":
        st.error(f"❌ {snap.message}")


def live_figure(page_job: jobs.PageJob, history: History):
    """The loss figure, rebuilt only when a point or an epoch was added since the last refresh."""
    version = (id(page_job), len(history.running_loss), len(history.epochs))
    return session.rebuilt_when_changed("train.live_figure", version,
                                        lambda: figs.loss_figure(history, epochs=page_job.settings.epochs))


def live_panel() -> None:
    page_job = jobs.current_job()
    if page_job is None:
        st.info("Press **Train** to start. The loss curve appears here and updates while the model learns.")
        return
    snap = page_job.snapshot()
    if snap.status in ("queued", "running"):
        st.button("⏹ Stop", key="train.stop", on_click=jobs.stop_training,
                  help="Stops within one batch and keeps the model trained so far.")
    draw_job_status(page_job, snap)
    st.plotly_chart(live_figure(page_job, snap.history), key="train.live_chart", config={"displayModeBar": False})
    accuracy = snap.history.test_accuracy
    if accuracy:
        st.metric("Test accuracy", f"{100 * accuracy[-1]:.2f}%",
                  delta=f"{100 * (accuracy[-1] - accuracy[-2]):+.2f} points" if len(accuracy) > 1 else None)
    if snap.done and not page_job.collected and st.session_state.get("train.announced") is not page_job:
        jobs.collect_run(page_job)
        st.session_state["train.announced"] = page_job
        st.rerun(scope="app")  # the Train button, the run list and the look-inside tab refresh


def start_clicked(settings: cfg.TrainSettings) -> None:
    try:
        jobs.start_training(settings, mnist.train, mnist.test, get_training_queue())
    except (ValueError, RuntimeError) as error:
        st.session_state["train.start_error"] = str(error)


# ---- compare runs ----------------------------------------------------------------------


def run_names() -> dict[str, str]:
    """id → name, captured now: a widget's format_func must not read session state later."""
    return {run.id: run.name for run in session.list_runs()}


def keep_overlay_current(ids: list[str]) -> None:
    """New runs join the overlay by themselves (one click less); deleted ones leave it."""
    seen = st.session_state.get("train.compare_seen", [])
    chosen = st.session_state.get("train.compare", [])
    st.session_state["train.compare"] = [i for i in chosen if i in ids] + [i for i in ids if i not in seen]
    st.session_state["train.compare_seen"] = ids


def draw_compare() -> None:
    runs = session.list_runs()
    if not runs:
        st.info("Finished and stopped runs appear here. Train twice with one setting changed to compare.")
    else:
        table = figs.runs_frame(runs)
        active = session.active_run()
        table.insert(0, "active", [active is not None and r.id == active.id for r in runs])
        st.dataframe(table.drop(columns=["id"]), hide_index=True, key="train.runs_table",
                     column_config={"accuracy %": st.column_config.NumberColumn(format="%.2f"),
                                    "lr": st.column_config.NumberColumn(format="%g")})
        ids = [r.id for r in runs]
        names = run_names()
        keep_overlay_current(ids)
        selected = st.multiselect("Runs to overlay", ids, format_func=names.get, key="train.compare")
        by = st.radio("x axis", ("epoch", "step"), horizontal=True, key="train.compare_by",
                      help="By epoch: same amount of data seen. By step: same number of updates.")
        if selected:
            curves = [(names[i], session.get_run(i).history) for i in selected]
            st.plotly_chart(figs.compare_figure(curves, by=by), key="train.compare_chart")
        draw_manage(runs)
    draw_upload()


def draw_manage(runs: list) -> None:
    st.markdown("**Manage a run**")
    ids = [r.id for r in runs]
    active = session.active_run()
    default = ids.index(active.id) if active else len(ids) - 1
    run_id = st.selectbox("Run", ids, index=default, format_func=run_names().get, key="train.manage_id")
    run = session.get_run(run_id)
    name_col, buttons = st.columns([2, 3], vertical_alignment="bottom")
    with name_col:
        new_name = st.text_input("Name", value=run.name, key=f"train.rename.{run.id}")
    with buttons:
        c1, c2, c3, c4 = st.columns(4)
        if c1.button("Rename", key="train.rename_btn", disabled=new_name.strip() == run.name):
            try:
                session.rename_run(run.id, new_name)
                st.rerun()
            except ValueError as error:
                st.error(str(error))
        is_active = active is not None and active.id == run.id
        if c2.button("Use on Draw page", key="train.activate", disabled=is_active,
                     help="The Draw page classifies your digits with the active model."):
            session.set_active_run(run.id)
            st.rerun()
        c3.download_button("Download", data=lambda: jobs.checkpoint_bytes(run),
                           file_name=f"{run.name.replace(' ', '_').replace('/', '-')}.pt",
                           mime="application/octet-stream", key="train.download", on_click="ignore",
                           help="A checkpoint: weights, architecture, settings and curves. Upload it again later.")
        if c4.button("Delete", key="train.delete", type="tertiary"):
            session.delete_run(run.id)
            st.rerun()
    if is_active:
        st.caption("✏️ This run is the active model on the Draw page.")


def draw_upload() -> None:
    upload = st.file_uploader("Restore a run from a checkpoint file", type=["pt", "pth", "ckpt"],
                              key="train.upload", max_upload_size=20,
                              help="Files saved with Download. They are read safely: no code inside them runs.")
    if upload is None:
        return
    restored = st.session_state.setdefault("train.restored_uploads", {})
    if upload.file_id not in restored:
        try:
            run = jobs.run_from_checkpoint(upload.getvalue(), upload.name, mnist.test)
            session.add_run(run)
            restored[upload.file_id] = ("ok", f"Restored **{run.name}** from {upload.name}.")
        except CheckpointError as error:
            restored[upload.file_id] = ("error", f"Could not restore {upload.name}: {error}. Nothing was changed.")
        st.rerun()
    kind, message = restored[upload.file_id]
    (st.success if kind == "ok" else st.error)(message)


# ---- look inside -----------------------------------------------------------------------


def pick_from_confusion_click(event) -> None:
    """A clicked cell becomes the true/predicted choice below (once per new click)."""
    cell = figs.selected_cell(event)
    if cell is not None and cell != st.session_state.get("train.last_cell"):
        st.session_state["train.last_cell"] = cell
        st.session_state["train.pick_true"], st.session_state["train.pick_pred"] = cell


def draw_gallery(run_id: str, history: History) -> None:
    any_digit = "any"
    choose_true, choose_pred = st.columns(2)
    true = choose_true.selectbox("True digit", [any_digit, *DIGITS], key="train.pick_true")
    pred = choose_pred.selectbox("Predicted as", [any_digit, *DIGITS], key="train.pick_pred")
    picked = [i for i, (t, p) in enumerate(zip(history.misclassified_true, history.misclassified_pred))
              if (true == any_digit or t == true) and (pred == any_digit or p == pred)]
    total_errors = sum(sum(row) for row in history.confusion) - sum(history.confusion[i][i] for i in DIGITS)
    st.caption(f"{len(picked)} such mistakes among the {total_errors:,} on the test set; "
               "the most confident mistakes first.")
    shown = picked[:12]
    if not shown:
        st.info("No mistakes of that kind. Click another cell or pick other digits.")
        return
    test_indices = [history.misclassified[i] for i in shown]

    def build():
        images = mnist.test_images[test_indices].numpy()  # [K, 28, 28]
        probs = np.asarray([history.misclassified_probs[i] for i in shown])  # [K, 10]
        return figs.gallery_figure(images, probs, [history.misclassified_true[i] for i in shown],
                                   [history.misclassified_pred[i] for i in shown])

    fig = cached_figure(("gallery", run_id, true, pred), build)
    st.plotly_chart(fig, key="train.gallery", config={"displayModeBar": False})


def cached_figure(key: tuple, build):
    """Build a slow figure (many subplots: ~0.4–0.7 s) once per run and choice, not on every rerun."""
    cache = st.session_state.setdefault("train.figure_cache", {})
    if key not in cache:
        if len(cache) >= 8:
            cache.pop(next(iter(cache)))
        cache[key] = build()
    return cache[key]


def draw_first_layer(run) -> None:
    model = run.model
    if run.spec.kind == "cnn":
        weights = model.conv1.weight.detach().cpu().numpy()  # [10, 1, 5, 5]
        st.caption("The CNN's first layer: ten 5×5 filters slid over the whole image.")
        fig = cached_figure(("weights", run.id), lambda: figs.weights_figure(
            weights, [f"filter {i}" for i in range(len(weights))], cols=10))
        st.plotly_chart(fig, key="train.weights", config={"displayModeBar": False})
        return
    weights = model.linears[0].weight.detach().cpu().numpy()  # [K, 784]
    if not run.spec.hidden_sizes:
        st.caption("No hidden layers: each row of the weight matrix is a **template** for one digit; "
                   "its logit is the dot product of the image with it (red adds evidence, blue takes it away).")
        titles = [f"digit {c}" for c in DIGITS]
        cols = 5
    else:
        count = min(len(weights), 32)
        st.caption(f"The first {count} of {len(weights)} units of the first hidden layer, each a 28×28 pattern "
                   "it responds to.")
        weights, titles, cols = weights[:count], [f"unit {i}" for i in range(count)], 8
    fig = cached_figure(("weights", run.id), lambda: figs.weights_figure(weights, titles, cols=cols))
    st.plotly_chart(fig, key="train.weights", config={"displayModeBar": False})


def draw_why_not_higher(runs: list) -> None:
    best = figs.best_by_kind(runs)
    st.markdown("**Why isn't accuracy higher?**")
    mlp, cnn = best.get("mlp"), best.get("cnn")
    if mlp and cnn:
        mlp_acc, cnn_acc = 100 * mlp.history.test_accuracy[-1], 100 * cnn.history.test_accuracy[-1]
        mlp_params, cnn_params = count_parameters(mlp.model), count_parameters(cnn.model)
        st.markdown(
            f"Your best MLP (**{mlp.name}**) reached **{mlp_acc:.2f}%** with {mlp_params:,} parameters; "
            f"your best CNN (**{cnn.name}**) reached **{cnn_acc:.2f}%** with {cnn_params:,}.\n\n"
            "Fully connected layers flatten the 28×28 image into 784 unrelated numbers: shuffle every "
            "image's pixels the same way and the MLP learns just as well — it never knew which pixels were "
            "neighbours. The CNN looks at 5×5 patches and reuses the same filter everywhere, so a stroke "
            "means the same thing wherever it is drawn. That prior knowledge about images is worth more "
            "than hundreds of thousands of extra weights."
        )
    else:
        missing = "a CNN" if mlp else "an MLP"
        st.markdown(
            f"Train {missing} too, and this panel compares the best of each. The lecture's MLP stops near "
            "97–98%: its fully connected layers treat the image as 784 unrelated numbers and ignore which "
            "pixels are neighbours. A small CNN (3 epochs are enough) uses that structure."
        )
        if mlp and st.button("Set up a CNN run (3 epochs)", key="train.setup_cnn"):
            cfg.store_settings(cfg.current_settings().with_overrides(kind="cnn", epochs=3))
            cfg.forget_widgets()
            st.rerun()


def draw_look_inside() -> None:
    runs = session.list_runs()
    if not runs:
        st.info("Train a model (or restore one under *Compare runs*) to look inside it.")
        return
    ids = [r.id for r in runs]
    active = session.active_run()
    run_id = st.selectbox("Run", ids, index=ids.index(active.id) if active else len(ids) - 1,
                          format_func=run_names().get, key="train.inspect_id")
    run = session.get_run(run_id)
    history = run.history
    if not history.confusion:
        st.info("This run has no test-set analysis yet.")
        return
    accuracy_col, confusion_col = st.columns([2, 3])
    with accuracy_col:
        st.markdown("**Test accuracy per digit**")
        st.plotly_chart(figs.per_class_figure(history.per_class_accuracy), key="train.per_class",
                        config={"displayModeBar": False})
        draw_why_not_higher(runs)
    with confusion_col:
        st.markdown("**Confusion matrix** — click a cell to see those mistakes")
        event = st.plotly_chart(figs.confusion_figure(history.confusion), key="train.confusion",
                                on_select="rerun", selection_mode="points", config={"displayModeBar": False})
        pick_from_confusion_click(event)
    st.markdown("**Misclassified test images** with the model's softmax (green: true digit, red: its guess)")
    draw_gallery(run.id, history)
    st.markdown("**First-layer weights**")
    draw_first_layer(run)


# ---- the page --------------------------------------------------------------------------

def start_if_requested() -> None:
    """Another page (the momentum lab) sent settings with "start a run": start it once."""
    requested = cfg.take_start_request()
    if requested is None:
        return
    if jobs.is_busy():
        st.warning("A run is already training in this session, so the settings you sent were only "
                   "filled in. Stop the current run, then press **Train**.", icon="⏳")
        return
    start_clicked(requested)
    if not st.session_state.get("train.start_error"):
        st.toast(f"Started a run with lr {requested.lr:g} and momentum {requested.momentum:g}.")


start_if_requested()
busy = jobs.is_busy()

controls_col, main_col = st.columns([2, 3], gap="large")
with controls_col:
    settings = draw_controls(stored)
    cfg.store_settings(settings)

with main_col:
    errors = settings.errors()
    for error in errors:
        st.error(error)
    st.button("▶ Train", key="train.start", type="primary", disabled=busy or bool(errors),
              on_click=start_clicked, args=(settings,),
              help="Already training: stop the current run first." if busy else None)
    if error := st.session_state.pop("train.start_error", None):
        st.error(error)
    train_tab, compare_tab, inside_tab = st.tabs(["Training", "Compare runs", "Look inside"])
    with train_tab:
        st.fragment(live_panel, run_every=0.5 if busy else None)()
        with st.expander("Architecture", expanded=True):
            draw_architecture(settings)
    with compare_tab:
        draw_compare()
    with inside_tab:
        draw_look_inside()
