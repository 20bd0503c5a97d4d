"""The Train page's "Compare runs" tab: the student's runs side by side, and what to do with each.

Runs come from the room's store (``playground.runs``): renamed, deleted, shared on the class
board, downloaded as checkpoints (one or all), or chosen as the model Draw predicts with.
"""

from __future__ import annotations

import streamlit as st

from core.store import StoreError
from playground import charts, fmt, i18n, runs, tables, uploads, widgets
from playground.figures import training as figs
from playground.i18n import plain, t
from playground.room import Room

P = "train.compare."


def draw(room: Room, student: str) -> None:
    student_runs = runs.list_runs(student, room)
    if not student_runs:
        st.info(t("compare.empty"))
    else:
        active = runs.active_run(student, room)
        _table(student_runs, active)
        _overlay(student_runs)
        _manage(room, student, student_runs, active)
    uploads.checkpoint_upload(room, student, "train.upload", activate=False)


def _table(student_runs, active) -> None:
    frame = figs.runs_frame(student_runs)
    marks = ["✏️" if active is not None and r.id == active.id else "" for r in student_runs]
    frame.insert(0, plain("runs.col.active"), marks)
    frame.insert(1, plain("runs.col.shared"), ["📣" if r.shared_as else "" for r in student_runs])
    changed = {r.name: figs.changes_text(r.history) for r in student_runs}
    frame.insert(2, plain("runs.col.changes"), ["🎛" if changed[r.name] else "" for r in student_runs])
    tables.show(
        frame,
        {
            plain("runs.col.params"): fmt.count,
            "lr": "g",
            plain("runs.col.momentum"): "g",
            plain("runs.col.accuracy"): ".2f",
        },
        key="train-runs-table",
        wrap=True,
    )
    st.caption(t("compare.table_caption"))
    for name, changes in changed.items():  # the values under the table: a column of them would not fit
        if changes:
            st.caption(t("compare.changes", name=name, changes=changes))


def _overlay(student_runs) -> None:
    ids = [r.id for r in student_runs]
    names = {r.id: r.name for r in student_runs}  # captured now: format_func runs later
    seen = st.session_state.get(P + "seen", [])
    chosen = [i for i in st.session_state.get(P + "overlay", []) if i in ids]
    st.session_state[P + "overlay"] = chosen + [i for i in ids if i not in seen]  # new runs join by themselves
    st.session_state[P + "seen"] = ids
    selected = st.multiselect(plain("compare.overlay"), ids, format_func=names.get, key=P + "overlay")
    by = st.radio(
        plain("compare.by"),
        figs.COMPARE_BY,
        horizontal=True,
        key=widgets.worded(P + "by"),
        format_func=lambda v: plain(f"figures.{v}"),
        help=plain("compare.by_help"),
    )
    if selected:
        by_id = {r.id: r for r in student_runs}
        charts.plotly(figs.compare_figure([(names[i], by_id[i].history) for i in selected], by=by), key=P + "chart")


def _manage(room: Room, student: str, student_runs, active) -> None:
    st.markdown(f"**{t('compare.manage')}**")
    ids = [r.id for r in student_runs]
    names = {r.id: r.name for r in student_runs}
    default = ids.index(active.id) if active is not None and active.id in ids else len(ids) - 1
    run_id = st.selectbox(plain("compare.run"), ids, index=default, format_func=names.get, key=P + "run")
    run = next(r for r in student_runs if r.id == run_id)
    new_name = st.text_input(plain("compare.name"), value=run.name, key=f"{P}name.{run.id}", max_chars=80)
    is_active = active is not None and active.id == run.id
    with st.container(horizontal=True, key="train-manage-buttons"):
        if st.button(t("compare.rename"), key=P + "rename", disabled=new_name.strip() in ("", run.name)):
            runs.rename_run(student, run.id, new_name, room)
            st.rerun()
        if st.button(t("compare.use_on_draw"), key=P + "activate", disabled=is_active, help=plain("compare.use_help")):
            runs.set_active(student, run.id, room)
            st.rerun()
        st.download_button(
            t("compare.download"),
            data=lambda: runs.download_bytes(run),
            file_name=runs.file_name(run),
            mime="application/octet-stream",
            key=P + "download",
            on_click="ignore",
            help=plain("compare.download_help"),
        )
        if st.button(t("compare.delete"), key=P + "delete", type="tertiary"):
            runs.delete_run(student, run.id, room)
            st.rerun()
    if is_active:
        st.caption(t("compare.is_active"))
    _share(room, student, run)
    st.download_button(
        t("compare.download_all", count=len(student_runs)),
        data=lambda: room.store.export_owner(student),
        file_name="softmax-playground-runs.zip",
        mime="application/zip",
        key=P + "download_all",
        on_click="ignore",
        help=plain("compare.download_all_help"),
    )


def _share(room: Room, student: str, run) -> None:
    """One button puts the run on the class board under a nickname; another withdraws it."""
    if run.shared_as:
        st.caption(t("share.shared_as", nickname=run.shared_as))
        if st.button(t("share.withdraw"), key=P + "unshare"):
            runs.share_run(student, run.id, None, room)
            st.rerun()
        return
    with st.container(horizontal=True, vertical_alignment="bottom", key="train-share"):
        nickname = st.text_input(
            plain("share.nickname"),
            key=P + "nickname",
            max_chars=40,
            placeholder=plain("share.placeholder"),
            help=plain("share.help"),
        )
        if st.button(t("share.button"), key=P + "share", disabled=not nickname.strip()):
            try:
                runs.share_run(student, run.id, nickname, room)
            except StoreError as error:
                st.session_state[P + "share_error"] = i18n.error_text(error)
            st.rerun()
    if message := st.session_state.pop(P + "share_error", None):
        st.error(message)
