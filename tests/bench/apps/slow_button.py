"""A one-page app for the protocol client's tests: a button whose run takes about two seconds."""

import time

import streamlit as st

st.title("Two runs")
if st.button("Slow run", key="slow"):
    for step in range(40):  # each st call is a point where Streamlit can stop the run
        time.sleep(0.05)
        st.caption(f"step {step}")
st.markdown("done")
