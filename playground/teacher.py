"""The teacher's view: who is training, the class board, lesson links — behind a passcode.

The passcode is set by whoever starts the server (``SOFTMAX_PLAYGROUND_TEACHER_PASSCODE`` or
``teacher_passcode`` in ``.streamlit/secrets.toml``); it is typed into a password field, compared
in constant time and never put in a URL. Without it the page shows how to set one and nothing
else, and nothing here is reachable: students cannot see each other's runs or act on them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time

import pandas as pd
import streamlit as st

from core.jobs import JobSnapshot
from playground import addresses, fmt, i18n, lessons, runkit, tables, widgets
from playground.figures import training as figs
from playground.i18n import plain, t
from playground.room import Room
from playground.settings import TRAIN_CONTROLS, TrainSettings

PASSCODE_ENV = "SOFTMAX_PLAYGROUND_TEACHER_PASSCODE"
UNLOCKED_KEY = "teacher.unlocked"
ATTEMPTS_KEY = "teacher.attempts"
WRONG_DELAY_S = 1.0  # each wrong passcode waits this long: guessing by hand stays slow
LESSON_PAGE = runkit.RunPage(page="lesson", prefix="teacher.lesson.", controls=TRAIN_CONTROLS, defaults=TrainSettings())


def configured_passcode() -> str | None:
    """The passcode from the environment, else from Streamlit's secrets; None when there is none."""
    from_env = os.environ.get(PASSCODE_ENV, "").strip()
    if from_env:
        return from_env
    try:
        secret = st.secrets.get("teacher_passcode")
    except Exception:  # not logged: no secrets.toml at all (Streamlit raises its own error types)
        return None
    return str(secret).strip() or None if secret is not None else None


def passcode_matches(typed: str, expected: str) -> bool:
    """Constant time: how long it takes says nothing about how much of the guess was right."""
    return hmac.compare_digest(typed.encode("utf-8"), expected.encode("utf-8"))


def unlocked() -> bool:
    return bool(st.session_state.get(UNLOCKED_KEY))


def gate() -> bool:
    """True when this tab may see the room; otherwise draws what is needed to get there."""
    expected = configured_passcode()
    if expected is None:
        st.info(t("teacher.no_passcode", env=PASSCODE_ENV), icon="🔒")
        return False
    if unlocked():
        return True
    with st.form("teacher.login", clear_on_submit=True):
        typed = st.text_input(plain("teacher.passcode"), type="password", key="teacher.typed")
        submitted = st.form_submit_button(t("teacher.unlock"))
    if submitted:
        if passcode_matches(typed or "", expected):
            st.session_state[UNLOCKED_KEY] = True
            st.rerun()
        st.session_state[ATTEMPTS_KEY] = st.session_state.get(ATTEMPTS_KEY, 0) + 1
        time.sleep(WRONG_DELAY_S)
        st.error(t("teacher.wrong_passcode"))
    return False


def student_label(student: str) -> str:
    """A short, stable tag for a student (their id is secret: the tag is a hash of it)."""
    return "#" + hashlib.sha256(student.encode("utf-8")).hexdigest()[:6]


# ---- the room, live ------------------------------------------------------------------------------


def room_panel(room: Room, session_id: str | None) -> None:
    """Students connected and every run, refreshed by the room whenever a run changes."""

    @st.fragment(key="teacher-room")
    def panel() -> None:
        room.watch_room(session_id, "teacher-room")
        entries = room.all_jobs()
        active = [e for e in entries if not e.job.done]
        st.caption(backends_line(room))
        c1, c2, c3 = st.columns(3)
        c1.metric(plain("teacher.connected"), fmt.count(len(room.connected_students())))
        c2.metric(plain("teacher.training_now"), fmt.count(len(active)))
        count, size = room.store.usage()
        c3.metric(
            plain("teacher.kept_runs"),
            plain("teacher.kept_value", count=fmt.count(count), megabytes=fmt.number(size / 2**20, ".1f")),
        )
        if not entries:
            st.info(t("teacher.no_runs"))
            return
        snapshots = [e.job.snapshot() for e in entries]
        tables.show(jobs_frame(entries, snapshots), {plain("teacher.col.progress"): ".0f"}, key="teacher-jobs")
        running = [(e, s) for e, s in zip(entries, snapshots) if not s.done]
        if running:
            names = {e.job.id: f"{student_label(e.student)} · {e.name}" for e, _ in running}
            with st.container(horizontal=True, vertical_alignment="bottom", key="teacher-stop"):
                chosen = st.selectbox(
                    plain("teacher.stop_which"), list(names), format_func=names.get, key="teacher.stop_id"
                )
                if st.button(t("teacher.stop"), key="teacher.stop_button"):
                    entry = next(e for e, _ in running if e.job.id == chosen)
                    room.stop(entry)
                    st.toast(t("teacher.stopped", name=entry.name))

    panel()


def backends_line(room: Room) -> str:
    """Which trainer trains the runs and which store keeps them (the operator's settings)."""
    kind, where = room.store_description()
    trainer = plain("backends.trainer_ray") if room.trainer_kind == "ray" else plain("backends.trainer_in_process")
    store = plain("backends.store_postgresql") if kind == "postgresql" else plain("backends.store_sqlite")
    return t("backends.line", trainer=trainer, store=store, where=where)


def jobs_frame(entries, snapshots: list[JobSnapshot]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            plain("teacher.col.student"): [student_label(e.student) for e in entries],
            plain("teacher.col.page"): [plain(f"pages.{e.page}.nav") for e in entries],
            plain("teacher.col.run"): [e.name for e in entries],
            plain("teacher.col.status"): [plain(f"teacher.status.{s.status}") for s in snapshots],
            plain("teacher.col.progress"): [100 * s.fraction for s in snapshots],
            plain("teacher.col.eta"): ["—" if s.done else fmt.duration(s.eta_s) for s in snapshots],
            plain("teacher.col.accuracy"): [
                fmt.percent(s.history.final_accuracy) if s.done and s.history.confusion else "—" for s in snapshots
            ],
        }
    )


# ---- the class board ---------------------------------------------------------------------------


def class_board(room: Room) -> None:
    """Runs students shared under a nickname, best first, with their curves overlaid."""
    shared = room.store.shared_runs(history=False)
    if not shared:
        st.info(t("teacher.board_empty"))
        return
    from playground.runs import Run

    board = [Run(record, room) for record in shared]
    frame = pd.DataFrame(
        {
            plain("teacher.col.rank"): list(range(1, len(board) + 1)),
            plain("teacher.col.nickname"): [r.shared_as for r in board],
            plain("teacher.col.run"): [r.name for r in board],
            plain("teacher.col.model"): [fmt.model(r.spec) for r in board],
            plain("runs.col.optimizer"): [plain(f"choice.optimizer.{r.config.optimizer}") for r in board],
            "lr": [r.config.lr for r in board],
            plain("runs.col.momentum"): [r.config.momentum if r.config.optimizer == "sgd" else None for r in board],
            plain("runs.col.batch"): [r.config.batch_size for r in board],
            plain("runs.col.epochs"): [r.config.epochs for r in board],
            plain("runs.col.accuracy"): [100 * r.accuracy if r.accuracy is not None else None for r in board],
        }
    )
    tables.show(
        frame, {"lr": "g", plain("runs.col.momentum"): "g", plain("runs.col.accuracy"): ".2f"}, key="teacher-board"
    )
    shown = board[:10]
    st.plotly_chart(
        figs.compare_figure([(f"{r.shared_as} · {r.name}", r.history) for r in shown]), key="teacher.board_chart"
    )
    st.caption(t("teacher.board_caption", count=len(shown)))


# ---- lesson links --------------------------------------------------------------------------------


def lesson_maker(room: Room) -> None:
    page = st.radio(
        plain("teacher.lesson_page"),
        lessons.PAGES,
        horizontal=True,
        key=widgets.worded("teacher.lesson_page"),
        format_func=lambda p: plain(f"pages.{p}.nav"),
    )
    title = st.text_input(
        plain("teacher.lesson_title"),
        key="teacher.lesson_title",
        max_chars=80,
        placeholder=plain("teacher.lesson_title_placeholder"),
    )
    if page == "train":
        values = _train_lesson_values(room)
        names = list(TRAIN_CONTROLS)
        label = lambda n: plain(f"settings.{n}.label")  # noqa: E731 - a format_func
    else:
        values = _momentum_lesson_values()
        names = list(values)
        label = lambda n: plain(f"momentum.label.{n}")  # noqa: E731
    free = st.multiselect(
        plain("teacher.students_may_change"),
        names,
        key=widgets.worded(f"teacher.free.{page}"),
        format_func=label,
        help=plain("teacher.students_may_change_help"),
    )
    if st.button(t("teacher.make_link"), key="teacher.make_link", type="primary"):
        lesson = lessons.create(room, page, title, values, [n for n in names if n not in free])
        st.session_state["teacher.lesson"] = (lesson.code, page)
    made = st.session_state.get("teacher.lesson")
    if made:
        _show_link(*made)


def _train_lesson_values(room: Room) -> dict:
    settings = runkit.draw_controls(
        LESSON_PAGE, runkit.current_settings(LESSON_PAGE), room.images_per_run(), limits=room.limits
    )
    runkit.store_settings(LESSON_PAGE, settings)
    run_plan = runkit.plan(room, settings, room.images_per_run(), 10_000)
    if not run_plan.allowed:
        st.warning(t("teacher.lesson_over_budget", reason=i18n.Markdown(i18n.error_text(run_plan.refused))))
    return {name: getattr(settings, name) for name in TRAIN_CONTROLS}


def _momentum_lesson_values() -> dict:
    from core import momentum as mo

    c1, c2, c3 = st.columns(3)
    surface = c1.selectbox(
        plain("momentum.label.surface"),
        mo.SURFACE_KEYS,
        key=widgets.worded("teacher.mo.surface"),
        format_func=lambda k: plain(f"momentum.surface.{k}"),
    )
    box = mo.get_surface(surface).box
    start = mo.get_surface(surface).start
    x0 = c2.number_input(
        plain("momentum.label.x0"), box[0], box[1], value=float(start[0]), key=f"teacher.mo.x0.{surface}"
    )
    y0 = c2.number_input(
        plain("momentum.label.y0"), box[2], box[3], value=float(start[1]), key=f"teacher.mo.y0.{surface}"
    )
    lr = c3.select_slider(
        plain("momentum.label.lr"),
        mo.LAB_LR_GRID,
        value=mo.get_surface(surface).lr,
        key=f"teacher.mo.lr.{surface}",
        format_func=lambda v: f"{v:g}",
    )
    gamma = c3.slider(plain("momentum.label.gamma"), 0.0, 0.99, value=0.9, step=0.01, key="teacher.mo.gamma")
    steps = c1.slider(plain("momentum.label.steps"), 5, 500, value=60, step=5, key="teacher.mo.steps")
    return {
        "surface": surface,
        "x0": float(x0),
        "y0": float(y0),
        "lr": lr,
        "gamma": float(gamma),
        "steps": int(steps),
        "extra": [],
    }


def _show_link(code: str, page: str) -> None:
    lang = i18n.current_language()
    port = st.get_option("server.port")
    urls = [lessons.link(url, page, code, lang) for url in addresses.student_urls(port)]
    here = _this_browser_base()
    if here:
        urls.append(lessons.link(here, page, code, lang))
    st.success(t("teacher.link_ready", code=code))
    for url in dict.fromkeys(urls):
        st.code(url, language=None, wrap_lines=True)
    if urls:
        st.image(lessons.qr_png(urls[0]), caption=plain("teacher.qr_caption"), width=320)


def _this_browser_base() -> str | None:
    try:
        url = st.context.url
    except Exception:  # not logged: no request behind this run (AppTest), so no address to offer
        return None
    if not url:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
