"""A checkpoint file becomes one of the student's runs: the one upload control of Train and Draw.

Files are read safely (``core.checkpoint``: no code inside them runs, sizes are checked before
anything is unpacked), and a bad file changes nothing: the page says why, in the user's language.
"""

from __future__ import annotations

import streamlit as st

from core.checkpoint import CheckpointError
from playground import i18n, runs
from playground.i18n import plain, t
from playground.room import Room

MAX_UPLOAD_MB = 20  # the server's own limit (.streamlit/config.toml): checkpoints are small


def checkpoint_upload(room: Room, student: str, key: str, activate: bool) -> None:
    """The upload control; ``activate`` makes a restored run the model Draw predicts with."""
    upload = st.file_uploader(
        plain(f"{key}.label"),
        type=["pt", "pth", "ckpt"],
        key=key,
        max_upload_size=MAX_UPLOAD_MB,
        help=plain("upload.help"),
    )
    if upload is None:
        return
    done = st.session_state.setdefault(key + ".done", {})
    if upload.file_id not in done:
        done[upload.file_id] = _restore(room, student, upload, activate)
        st.rerun()  # the run list, the model picker and the model line show the new run
    kind, message = done[upload.file_id]
    (st.success if kind == "ok" else st.error)(message)


def _restore(room: Room, student: str, upload, activate: bool) -> tuple[str, str]:
    try:
        run, pruned = runs.add_uploaded(student, upload.getvalue(), upload.name, room, activate)
    except CheckpointError as error:
        return "error", t("upload.refused", file=upload.name, reason=i18n.Markdown(i18n.error_text(error)))
    text = t("upload.restored_active" if activate else "upload.restored", name=run.name, file=upload.name)
    if pruned:
        text += " " + t("runs.pruned", count=len(pruned), names=", ".join(r.name for r in pruned))
    return "ok", text
