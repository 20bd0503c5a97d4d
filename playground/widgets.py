"""Controls that keep their values when the user visits another page and comes back.

Streamlit drops a widget's state once its page is left. A page names its controls with a
key prefix, calls `remembered` for each control's key before drawing it, and `remember`
after the last one: the values live on under `<prefix>kept` for the next visit.
(The Train page keeps its settings in a `TrainSettings` instead, which also feeds the URL.)
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
