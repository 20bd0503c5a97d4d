"""The slow-button app's second page."""

import streamlit as st

st.title("Other page")
st.markdown("on the other page")
