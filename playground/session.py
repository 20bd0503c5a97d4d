"""Small helpers for what one browser tab keeps between reruns (its choices, its built figures).

Runs do not live here: they belong to the student and are kept by the room (``playground.runs``).
"""

from __future__ import annotations

import streamlit as st

from playground import i18n


def rebuilt_when_changed(key: str, version, build):
    """``build()``'s result, kept in the session and rebuilt only when ``version`` changes.

    A live chart is refreshed whenever its run gains a point; between points a rerun (a click
    elsewhere in the fragment) reuses the figure instead of building it again. A figure's titles
    and legend are in the reader's language, so a switch of language rebuilds it too.
    """
    version = (version, i18n.current_language())
    cached = st.session_state.get(key)
    if cached is None or cached[0] != version:
        cached = (version, build())
        st.session_state[key] = cached
    return cached[1]
