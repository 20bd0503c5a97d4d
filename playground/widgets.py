"""Controls that keep their values when the user visits another page and comes back.

Streamlit drops a widget's state once its page is left. A page names its controls with a
key prefix, calls `remembered` for each control's key before drawing it, and `remember`
after the last one: the values live on under `<prefix>kept` for the next visit.
(The Train page keeps its settings in a `TrainSettings` instead, which also feeds the URL.)

A choice control whose options the catalogue words is marked with `worded`: after a language
switch `reword` gives it its value again (see there why the browser needs that).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import streamlit as st


def _kept_key(prefix: str) -> str:
    return prefix + "kept"


def remembered(prefix: str, name: str, default: Any) -> str:
    """The key of control `name`, holding its value from the last visit (else `default`)."""
    key = prefix + name
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(_kept_key(prefix), {}).get(name, default)
    return key


def remember_all(prefix: str, defaults: Mapping[str, Any]) -> None:
    """`remembered` for several controls at once, e.g. before callbacks may set them."""
    for name, default in defaults.items():
        remembered(prefix, name, default)


def remember(prefix: str, names: Iterable[str]) -> None:
    """Keep the current values of these controls for the next visit to the page."""
    st.session_state[_kept_key(prefix)] = {
        name: st.session_state[prefix + name] for name in names if prefix + name in st.session_state
    }


# --------------------------------------------------------------------------- controls worded by the catalogue

WORDED_KEY = "playground.worded_controls"


def worded(key: str) -> str:
    """The key of a choice control whose options the catalogue words (a radio, a selectbox, …).

    The browser keeps such a control's choice by its label, so after a language switch it no
    longer finds the choice among the new labels: it shows none chosen, and the next click anywhere
    sends the old label, which Streamlit takes for no choice and replaces by the first option
    (a student's CNN became the MLP). `reword` hands these controls their values again.
    """
    st.session_state.setdefault(WORDED_KEY, set()).add(key)
    return key


def reword() -> None:
    """After the language changed: every worded control's value set again, so that the page sends the
    browser the choice under its label in the new language."""
    for key in st.session_state.get(WORDED_KEY, ()):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
