"""One training-run kit for every page that trains: controls, plan, start and stop, the live panel.

The Train page and Your own data draw the same controls from the settings table
(``playground.settings.CONTROLS``) with their own defaults and key prefix, check a run against
the room's limits the same way, and show the same live panel: a keyed ``st.fragment`` that the
room refreshes only when the run has something new (``playground.push``), with one slow timer
(every ``SAFETY_NET_S``, only while a run trains) in case a push was lost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import streamlit as st

from core.jobs import JobSnapshot
from core.limits import RoomLimits, RunPlan, plan_run
from playground import fmt, i18n, widgets
from playground.i18n import plain, t
from playground.lessons import QUERY_KEY as LESSON_QUERY_KEY
from playground.room import Room, RoomJob
from playground.settings import BY_NAME, Control, Note, TrainSettings, advice, from_query_params, to_query_params

KEPT_QUERY_PARAMS = (LESSON_QUERY_KEY,)  # not settings, but the address must keep them
SAFETY_NET_S = 10.0  # a running run's panel also refreshes this often, in case a push was lost


@dataclass(frozen=True)
class RunPage:
    """What differs between the pages that train: which controls, which defaults, which texts."""

    page: str  # "train" | "own": jobs are filed under it, texts live under "<page>."
    prefix: str  # widget keys: tests and the browser find them as .st-key-<prefix><name>
    controls: tuple[str, ...]
    defaults: TrainSettings
    url: bool = False  # mirror the settings in the address bar (a link reproduces the run)
    highs: Mapping[str, float] = field(default_factory=dict)  # per-page upper bounds

    @property
    def settings_key(self) -> str:
        return self.prefix + "settings"

    def high(self, control: Control) -> float:
        return self.highs.get(control.name, control.high)


# --------------------------------------------------------------------------- settings kept per visit


def current_settings(page: RunPage) -> TrainSettings:
    """This session's settings for the page; on the first visit, from the URL (a shared link)."""
    settings = st.session_state.get(page.settings_key)
    if settings is None:
        settings, notes = page.defaults, []
        if page.url:
            settings, notes = from_query_params(st.query_params.to_dict(), page.defaults, page.controls)
        st.session_state[page.settings_key] = settings
        st.session_state[page.settings_key + ".notes"] = notes
    return settings


def url_notes(page: RunPage) -> list[Note]:
    """What was wrong with the link this session opened with (shown once)."""
    return st.session_state.pop(page.settings_key + ".notes", [])


def store_settings(page: RunPage, settings: TrainSettings) -> None:
    """Keep the settings for this session and, on a linkable page, in its URL."""
    st.session_state[page.settings_key] = settings
    if page.url:
        wanted = {**to_query_params(settings, page.controls), "lang": i18n.current_language()}
        for name in KEPT_QUERY_PARAMS:  # a lesson link's code stays: the next rerun still knows the lesson
            if name in st.query_params:
                wanted[name] = st.query_params[name]
        if st.query_params.to_dict() != wanted:
            st.query_params.from_dict(wanted)


def forget_widgets(page: RunPage) -> None:
    """Drop the controls' widget state so they are drawn afresh from the stored settings."""
    for key in [k for k in st.session_state if str(k).startswith(page.prefix) and k != page.settings_key]:
        del st.session_state[key]


# --------------------------------------------------------------------------- the controls


def draw_controls(
    page: RunPage,
    stored: TrainSettings,
    n_train: int,
    locked: Mapping[str, object] = {},
    limits: RoomLimits | None = None,
) -> TrainSettings:
    """Every control of the page in its box, each with room for advice; ``locked`` ones are fixed.

    A lesson link locks controls: they are not drawn as widgets, their value is shown instead.
    """
    stored = stored.with_overrides(**{k: v for k, v in locked.items() if k in page.controls})
    slots: dict[str, object] = {}
    choices: dict[str, object] = {}
    for group in ("network", "optimizer", "loop"):
        names = [n for n in page.controls if BY_NAME[n].group == group]
        if not names:
            continue
        with st.container(border=True):
            st.markdown(f"**{t(f'controls.group.{group}')}**")
            for name in names:
                current = stored.with_overrides(**choices)
                control = BY_NAME[name]
                if name in locked:
                    st.caption(
                        t(
                            "controls.locked",
                            label=plain(f"settings.{name}.label"),
                            value=_shown(control, getattr(stored, name)),
                        )
                    )
                    continue
                choices[name] = _widget(page, control, current, limits)
                slots[name] = st.empty()
    settings = stored.with_overrides(**choices)
    for name, note in advice(settings, n_train).items():
        if name in slots:
            slots[name].caption(f":orange[⚠ {note.text()}]")
    return settings


def _shown(control: Control, value) -> str:
    if control.widget == "choice":
        return i18n.choice(control.name, value)
    if control.widget == "sizes":
        return "-".join(map(str, value)) or plain("controls.no_hidden")
    return f"{value:g}"


def _seed(key: str, value) -> str:
    """Give a widget its stored value the first time it is drawn on this visit."""
    if key not in st.session_state:
        st.session_state[key] = value
    return key


def _widget(page: RunPage, control: Control, current: TrainSettings, limits: RoomLimits | None):
    name, key = control.name, page.prefix + control.name
    label, help_text = plain(f"settings.{name}.label"), _help(name)
    disabled = control.applies is not None and not control.applies(current)
    value = getattr(current, name)
    if control.widget == "choice":
        return st.radio(
            label,
            control.choices,
            key=widgets.worded(_seed(key, value)),
            horizontal=True,
            help=help_text,
            format_func=lambda v, n=name: i18n.choice(n, v),
            disabled=disabled,
        )
    if control.widget == "log":
        options = sorted(set(control.choices) | {value})
        return float(
            st.select_slider(
                label, options, key=_seed(key, value), help=help_text, format_func=lambda v: f"{v:g}", disabled=disabled
            )
        )
    if control.widget == "slider":
        return float(
            st.slider(
                label,
                float(control.low),
                float(page.high(control)),
                step=control.step,
                key=_seed(key, float(value)),
                help=help_text,
                disabled=disabled,
            )
        )
    if control.widget == "sizes":
        return _sizes(page, control, value, disabled)
    # Epochs beyond the room's limit stay choosable: the plan then says it caps them, where a
    # lowered maximum would change a link's or a lesson's value without a word.
    high = int(page.high(control))
    return int(
        st.number_input(
            label,
            int(control.low),
            high,
            step=int(control.step),
            help=help_text,
            key=_seed(key, min(int(value), high)),
            disabled=disabled,
        )
    )


def _help(name: str) -> str | None:
    return plain(f"settings.{name}.help") if i18n.has(f"settings.{name}.help") else None


def _sizes(page: RunPage, control: Control, stored: tuple[int, ...], disabled: bool) -> tuple[int, ...]:
    if disabled:  # the CNN: no hidden sizes to choose, but they are kept for a switch back
        st.caption(t("controls.cnn_layers"))
        return tuple(stored)
    from core.models import MAX_HIDDEN_LAYERS

    depth = st.number_input(
        plain("settings.depth.label"),
        0,
        MAX_HIDDEN_LAYERS,
        step=1,
        help=_help("depth"),
        key=_seed(page.prefix + "depth", len(stored)),
    )
    sizes: list[int] = []
    columns = st.columns(4)
    for i in range(int(depth)):
        default = stored[i] if i < len(stored) else (512 if i == 0 else max(1, sizes[i - 1] // 2))
        with columns[i % 4]:
            sizes.append(
                int(
                    st.number_input(
                        plain("settings.layer.label", number=i + 1),
                        int(control.low),
                        int(control.high),
                        step=int(control.step),
                        key=_seed(f"{page.prefix}hidden.{i}", default),
                    )
                )
            )
    return tuple(sizes)


# --------------------------------------------------------------------------- the plan


def plan(
    room: Room,
    settings: TrainSettings,
    n_train: int,
    n_test: int,
    in_features: int = 784,
    num_classes: int = 10,
    cap_epochs: bool = True,
) -> RunPlan:
    """What the room lets this run do (capped epochs, fewer images, or refused)."""
    limits = room.limits
    if not cap_epochs:  # a small table trains many short epochs; only its cost counts
        from dataclasses import replace

        from core.training import MAX_EPOCHS

        limits = replace(limits, max_epochs=MAX_EPOCHS, train_images=0)
    return plan_run(limits, settings.spec(in_features, num_classes), settings.config(), n_train, n_test)


def show_plan(run_plan: RunPlan, estimate_key: str) -> None:
    """The room's word on the run: capped settings, a refusal, and the honest estimate."""
    for capped in run_plan.capped:
        st.info(i18n.error_text(capped), icon="🏫")
    if run_plan.refused is not None:
        st.error(t("plan.refused", reason=i18n.Markdown(i18n.error_text(run_plan.refused))), icon="🏫")
    else:
        st.caption(t(estimate_key, estimate=fmt.duration(run_plan.estimate_s)))


# --------------------------------------------------------------------------- the live panel


@dataclass(frozen=True)
class PanelTexts:
    """The page's words for a run's status: keys under ``<page>.status.*``."""

    page: str

    def status(self, snap: JobSnapshot, name: str, filed: bool, stopped_by: str | None = None) -> tuple[str, str]:
        """(kind, markdown) for the box above the curve."""
        params = {**snap.message_params}
        if "accuracy" in params:
            params["accuracy"] = fmt.percent(params["accuracy"])
        code = snap.message_code.removeprefix("job.")
        text = t(f"{self.page}.status.{code}", name=name, **params)
        if snap.status == "stopped" and stopped_by == "teacher":
            text += " " + t("run.status.by_teacher")
        if snap.status in ("finished", "stopped") and snap.step:
            text += " " + (t(f"{self.page}.status.kept", name=name) if filed else t("run.status.saving"))
        kind = {"finished": "success", "stopped": "warning", "diverged": "error", "failed": "error"}.get(
            snap.status, "info"
        )
        return kind, text


def progress_text(page: str, snap: JobSnapshot, epochs: int) -> str:
    per_epoch = max(1, -(-snap.total_steps // max(epochs, 1)))
    epoch = min(epochs, snap.step // per_epoch + 1)
    return plain(
        f"{page}.progress",
        epoch=epoch,
        epochs=epochs,
        batch=snap.step - (epoch - 1) * per_epoch,
        batches=per_epoch,
        rate=fmt.count(snap.samples_per_s or 0),
        eta=fmt.duration(snap.eta_s),
        count=max(0, snap.sharing - 1),
        device=snap.device,
    )


def show_status(texts: PanelTexts, entry: RoomJob, snap: JobSnapshot, epochs: int) -> None:
    if snap.status == "queued":
        place = snap.queue_position
        st.info(t(f"{texts.page}.status.waiting", position=place or 1, count=snap.sharing), icon="⏳")
    elif snap.status == "running":
        if snap.message_code == "job.stopping":  # Stop was pressed: the last evaluation waits for a core
            stopping = t(f"{texts.page}.status.stopping")
            st.info(stopping + (" " + t("run.status.by_teacher") if entry.stopped_by == "teacher" else ""))
        st.progress(snap.fraction, text=progress_text(texts.page, snap, epochs))
    else:
        if snap.done:
            entry.filed.wait(5)  # the room stores the run as it ends; it takes milliseconds
        kind, text = texts.status(snap, entry.name, entry.run_id is not None, entry.stopped_by)
        getattr(st, kind)(text)
        if entry.save_error is not None:
            st.error(t("run.status.save_failed", reason=i18n.Markdown(i18n.error_text(entry.save_error))))


def pressed(button_key: str) -> bool:
    """Whether this page run is the click of button ``button_key``, read before the button is drawn.

    A button's value is in the session state from the start of the run its click caused, so the
    page can act with the controls it drew in this very run and then draw the button as it now is.
    """
    return bool(st.session_state.get(button_key, False))


def training(room: Room, student: str, page: str) -> bool:
    """Whether ``student``'s run on ``page`` ("train", "own") is still training."""
    entry = room.job_of(student, page)
    return entry is not None and not entry.job.done


def live_panel(
    page: RunPage,
    room: Room,
    student: str,
    session_id: str | None,
    body: Callable[[RoomJob, JobSnapshot], None],
    idle: Callable[[], None],
) -> None:
    """The run's live panel: refreshed by the room when the run gains a point or ends."""
    running = training(room, student, page.page)
    key = page.prefix + "live"

    def panel() -> None:
        current = room.job_of(student, page.page)
        if current is None:
            idle()
            return
        snap = current.job.snapshot()
        if not snap.done:
            room.watch(current, session_id, key)
            if not current.job.stop_requested:  # pressed once is enough: the status says it is stopping
                st.button(
                    t("run.stop"),
                    key=page.prefix + "stop",
                    on_click=room.stop,
                    args=(current,),
                    help=plain("run.stop_help"),
                )
        body(current, snap)
        if snap.done and running and st.session_state.get(page.prefix + "announced") != current.job.id:
            st.session_state[page.prefix + "announced"] = current.job.id
            st.rerun(scope="app")  # it ended since the page was drawn: the button, runs and results refresh

    st.fragment(panel, key=key, run_every=SAFETY_NET_S if running else None)()


def start(room: Room, page: RunPage, student: str, name: str, spec, config, *, details: dict, **data) -> RoomJob | None:
    """Hand the run to the room's trainer; a reason is kept for the page when it cannot start.

    ``data``: ``data="mnist", images=n`` or ``data="table", table=(X_train, y_train, X_test, y_test)``,
    and the ``meta`` it is stored with.
    """
    try:
        return room.trainer.start(student, page.page, name, spec.to_dict(), config.to_dict(), details=details, **data)
    except RuntimeError:
        st.session_state[page.prefix + "start_error"] = t("run.already_training")
        return None
