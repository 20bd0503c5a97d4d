"""Softmax Playground — the home page.

Run with ``make run`` (or ``streamlit run streamlit_app.py``). Every other page lives in pages/.
"""

import streamlit as st

from core.data import MnistLoadError
from playground import fmt, nav
from playground.i18n import plain, t
from playground.room import get_room
from playground.status import device_line, source_line

page = nav.setup("home")
room = get_room()

st.title(t("home.title"))
st.markdown(t("home.intro"))

left, right = st.columns([3, 2], gap="large")

with left:
    st.subheader(t("home.follow"))
    for key, script, icon in nav.PAGES[1:]:
        st.page_link(script, label=plain(f"pages.{key}.nav"), icon=icon, query_params={"lang": page.lang})
        st.caption(t(f"home.blurb.{key}"))

with right:
    st.subheader(t("home.loaded"))
    try:
        mnist = room.mnist()
    except MnistLoadError as error:
        st.error(t("data.unavailable"), icon="🚫")
        st.code("\n".join(error.failures), language=None, wrap_lines=True)
    else:
        (st.warning if mnist.is_subset else st.success)(source_line(mnist), icon="🗂️")
        if mnist.is_subset:
            st.markdown(t("home.subset_explained"))
    st.info(t("home.device", device=device_line()), icon="⚙️")
    default = room.default_model.state()
    st.caption(t(f"home.default_model.{default.status}"))
    st.markdown(t("home.lecture_facts"))

st.divider()
st.caption(t("home.footer", sessions=fmt.count(len(room.connected_students()))))
