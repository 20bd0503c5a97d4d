"""The teacher's view of the room (behind the passcode set when the server started)."""

import streamlit as st

from playground import nav
from playground.i18n import t

page = nav.setup("teacher")
st.title(t("teacher.title"))
