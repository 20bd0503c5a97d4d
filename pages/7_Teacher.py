"""The teacher's view of the room: who is training, the class board, lesson links (behind a passcode)."""

import streamlit as st

from playground import i18n, nav, teacher
from playground.i18n import plain, t
from playground.room import get_room

page = nav.setup("teacher")
room = get_room()

st.title(t("teacher.title"))
st.caption(t("teacher.caption"))
if not teacher.gate():
    st.stop()

room_tab, board_tab, lesson_tab = st.tabs(
    [plain("teacher.tab_room"), plain("teacher.tab_board"), plain("teacher.tab_lessons")]
)
with room_tab:
    teacher.room_panel(room, page.session_id)
    if room.store.notice is not None:
        st.warning(t("teacher.store_notice", message=room.store.notice.params.get("moved", "")))
    for problem in room.limit_problems:  # a typo in room.toml or an environment variable
        st.warning(t("teacher.limit_problem", reason=i18n.Markdown(i18n.error_text(problem))))
with board_tab:
    teacher.class_board(room)
with lesson_tab:
    st.markdown(t("teacher.lessons_intro"))
    teacher.lesson_maker(room)
