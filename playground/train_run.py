"""The Train page's run: the lecture's MNIST settings through the run kit, started on the room.

Other pages send settings here (the momentum lab's "Train on MNIST with …", a lesson link):
``send_to_train_page`` fills them in and, when asked, the Train page starts that run once.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.jobs import JobSnapshot
from core.models import ModelSpec
from playground import charts, fmt, i18n, nav, runkit, steer
from playground.figures import training as figs
from playground.i18n import plain, t
from playground.room import Room, RoomJob
from playground.session import rebuilt_when_changed
from playground.settings import TRAIN_CONTROLS, TrainSettings

TRAIN = runkit.RunPage(page="train", prefix="train.w.", controls=TRAIN_CONTROLS, defaults=TrainSettings(), url=True)
START_REQUEST_KEY = "train.start_requested"
TEXTS = runkit.PanelTexts("train")


def run_name(settings: TrainSettings) -> str:
    """E.g. "MLP 512-256-128-64 ReLU · SGD lr 0.01 m 0.5" — enough to tell runs apart."""
    if settings.kind == "cnn":
        model = "CNN"
    elif settings.kind == "cnn2":
        model = "CNN 24-32-256"
    else:
        sizes = "-".join(map(str, settings.hidden_sizes)) or "784-10"
        model = f"MLP {sizes} {i18n.choice('activation', settings.activation)}"
    if settings.optimizer == "sgd":
        return plain("train.run_name_sgd", model=model, lr=settings.lr, momentum=settings.momentum)
    return plain("train.run_name_adam", model=model, lr=settings.lr)


def start_run(room: Room, student: str, settings: TrainSettings) -> RoomJob | None:
    """Plan the run against the room's limits and hand it to the room's trainer."""
    mnist = room.mnist()
    problems = settings.errors()
    run_plan = runkit.plan(room, settings, len(mnist.train_labels), len(mnist.test_labels))
    if problems or not run_plan.allowed:
        reason = problems[0] if problems else run_plan.refused
        st.session_state[TRAIN.prefix + "start_error"] = i18n.error_text(reason)
        return None
    spec = settings.spec()
    return runkit.start(
        room,
        TRAIN,
        student,
        run_name(settings),
        spec,
        run_plan.config,
        data="mnist",
        images=run_plan.n_train,
        details={"spec": spec, "settings": settings, "images": run_plan.n_train},
    )


def resume_run(room: Room, student: str, run_id: str) -> RoomJob | None:
    """Carry on an interrupted run from its last epoch (a reason is kept for the page when it cannot)."""
    record = room.store.get_run(run_id, student)
    if record is None:
        return None
    spec = ModelSpec.from_dict(record.spec)
    details = {"spec": spec, "images": int(record.meta.get("images", 0)) or room.images_per_run()}
    try:
        return room.trainer.resume(student, run_id, TRAIN.page, details=details)
    except RuntimeError:
        st.session_state[TRAIN.prefix + "start_error"] = t("run.already_training")
        return None


def interrupted_panel(room: Room, student: str, busy: bool) -> None:
    """The student's runs a stopped server left *interrupted*, each with its epoch and Resume."""
    for record in room.interrupted_runs(student):
        if record.meta.get("dataset", "mnist") != "mnist":
            continue  # a table run is not kept with its table: it cannot carry on
        done, epochs = int(record.meta.get("epochs_done", 0)), int(record.config.get("epochs", 0))
        with st.container(border=True, key=f"train-interrupted-{record.id}"):
            st.warning(t("resume.interrupted", name=record.name, epoch=done, epochs=epochs), icon="⚡")
            st.button(
                t("resume.button"),
                key=f"train.resume.{record.id}",
                on_click=resume_run,
                args=(room, student, record.id),
                disabled=busy,
                help=plain("train.start_busy_help") if busy else plain("resume.help", epoch=done),
            )


def live_body(entry: RoomJob, snap: JobSnapshot) -> None:
    """Status, the live curve and the one accuracy number, from one place (``final_accuracy``)."""
    epochs = entry.job.config.epochs
    runkit.show_status(TEXTS, entry, snap, epochs)
    if snap.status == "finished":
        st.caption(
            t(
                "train.status.speed",
                seconds=fmt.number(snap.busy_s, ".1f"),
                rate=fmt.count(entry.details["images"] * len(snap.history.epochs) / max(snap.busy_s, 1e-9)),
            )
        )
    window = snap.window if snap.paused else None
    version = (entry.job.id, snap.version, window)
    per_epoch = max(1, entry.job.total_steps // max(1, epochs))
    figure = rebuilt_when_changed(
        "train.live_figure",
        version,
        lambda: figs.loss_figure(snap.history, epochs=epochs, per_epoch=per_epoch, window=window),
    )
    charts.plotly(figure, key="train.live_chart", config={"displayModeBar": False})
    # under the curve, as under a video: the curve stays on a laptop's and a phone's first screen
    steer.draw_controls(entry_room(), entry, snap, steer.current_rights())
    history = snap.history
    if snap.done and history.final_accuracy is not None:
        st.metric(plain("train.metric_final"), fmt.percent(history.final_accuracy))
    elif history.test_accuracy:
        accuracy = history.test_accuracy
        st.metric(
            plain("train.metric_epoch", epoch=len(accuracy)), fmt.percent(accuracy[-1]), delta=accuracy_delta(accuracy)
        )
    steer.layers_panel(snap)


def accuracy_delta(accuracy: list[float]) -> str | None:
    """The last epoch's change in points, signed ("-0.18 points"); None after the first epoch.

    Plain text, not markdown: ``st.metric`` reads the sign off the start of the string, and an
    escaped minus ("\\-0.18") would show a drop as a green rise.
    """
    if len(accuracy) < 2:
        return None
    return plain("train.metric_delta", points=fmt.number(100 * (accuracy[-1] - accuracy[-2]), "+.2f"))


def entry_room() -> Room:
    from playground.room import get_room

    return get_room()


def idle() -> None:
    st.info(t("train.press_train"))


def send_to_train_page(start: bool = False, **overrides: Any) -> None:
    """Prefill the Train page (e.g. ``lr=0.1, momentum=0.9`` from the momentum lab) and go there.

    Momentum only means something for SGD, so passing ``momentum`` also selects SGD unless
    ``optimizer`` is given too. With ``start=True`` the Train page starts the run on arrival.
    """
    if "momentum" in overrides and "optimizer" not in overrides:
        overrides["optimizer"] = "sgd"
    settings = runkit.current_settings(TRAIN).with_overrides(**overrides)
    problems = settings.errors()
    if problems:
        raise problems[0]
    st.session_state[TRAIN.settings_key] = settings
    if start:
        st.session_state[START_REQUEST_KEY] = settings
    runkit.forget_widgets(TRAIN)
    from playground.settings import to_query_params

    nav.go_to("train", to_query_params(settings))


def take_start_request() -> TrainSettings | None:
    """The settings another page asked to train with, once (None when nobody asked)."""
    return st.session_state.pop(START_REQUEST_KEY, None)


def lesson_settings(lesson) -> tuple[TrainSettings, list, dict]:
    """A lesson's values read like a shared link: out-of-range or foreign values get defaults and a note.

    Returns (settings, notes, locked values) — the locked ones as parsed, so they are valid too.
    """
    from playground.settings import BY_NAME, from_query_params

    known = {name: value for name, value in lesson.values.items() if name in TRAIN_CONTROLS and BY_NAME[name].url}
    params = {BY_NAME[name].url: _url_text(BY_NAME[name], value) for name, value in known.items()}
    settings, notes = from_query_params(params, TRAIN.defaults, TRAIN_CONTROLS)
    return settings, notes, {name: getattr(settings, name) for name in lesson.locked if name in known}


def _url_text(control, value) -> str:
    """A lesson's value as link text; a value of the wrong type is passed on as is, to get its note."""
    try:
        return control.to_url(value)
    except (TypeError, ValueError):
        return str(value)


def set_up_cnn2() -> None:
    """The second CNN with the settings that reach 99% in 2 epochs, filled into the controls."""
    runkit.store_settings(TRAIN, runkit.current_settings(TRAIN).with_overrides(**CNN2_SETTINGS))
    runkit.forget_widgets(TRAIN)


CNN2_SETTINGS = dict(kind="cnn2", optimizer="adam", lr=0.004, schedule="onecycle", batch_size=256, epochs=2)


def set_up_cnn() -> None:
    """The "why not higher" panel's button: the CNN for 3 epochs, filled into the controls."""
    runkit.store_settings(TRAIN, runkit.current_settings(TRAIN).with_overrides(kind="cnn", epochs=3))
    runkit.forget_widgets(TRAIN)


def keep_view_across_languages(view_key: str, tabs: tuple[str, ...]) -> None:
    """The open tab survives a language switch: its label (``train.tab_<name>``), kept under
    ``view_key``, is renamed into the language now shown (a label of the other language would open
    the first tab instead)."""
    shown = st.session_state.get(view_key)
    if shown is None or shown in [plain(f"train.tab_{tab}") for tab in tabs]:
        return
    for lang in i18n.LANGUAGES:
        for tab in tabs:
            if i18n.catalogue(lang)[f"train.tab_{tab}"] == shown:
                st.session_state[view_key] = plain(f"train.tab_{tab}")
                return
