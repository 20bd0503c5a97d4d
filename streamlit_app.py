"""Softmax Playground — the home page.

Run with `make run` (or `streamlit run streamlit_app.py`). Every other page lives in pages/.
"""

import streamlit as st

from playground import texts
from playground.resources import get_mnist
from playground.status import device_line

st.set_page_config(page_title="Softmax Playground", page_icon="🔢", layout="wide")

st.title("🔢 Softmax Playground")
st.markdown(texts.HOME_INTRO)

left, right = st.columns([3, 2], gap="large")

with left:
    st.subheader("Follow the lecture")
    for page, label, icon, blurb in texts.HOME_PAGES:
        st.page_link(page, label=label, icon=icon)
        st.caption(blurb)

with right:
    st.subheader("What is loaded")
    mnist = get_mnist()
    data_box = st.warning if mnist.is_subset else st.success
    data_box(f"**Data:** {mnist.description}", icon="🗂️")
    if mnist.is_subset:
        st.markdown(texts.SUBSET_EXPLAINED)
    st.info(f"**Training runs on:** {device_line()}", icon="⚙️")
    st.markdown(texts.HOME_LECTURE_FACTS)

st.divider()
st.caption(texts.HOME_FOOTER)
