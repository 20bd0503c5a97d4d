"""A run store that cannot be reached, said on the page instead of a traceback.

Any page may meet ``StoreUnavailable`` — PostgreSQL restarting, a network blip, a SQLite file
held past its busy timeout — after the store itself retried for about 2 s. ``install()``, called
by ``nav.setup`` on every script run, hands such an error to Streamlit's per-run script-error hook:
the page shows a warning in the student's language and a button that runs it again, the server's
log gets one line, and nothing is lost (the failed call wrote nothing). Any other error keeps
Streamlit's own display.
"""

from __future__ import annotations

import logging

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.store import StoreUnavailable
from playground.i18n import t

_log = logging.getLogger(__name__)


def install() -> None:
    """Catch ``StoreUnavailable`` for the rest of this script run (fragments included)."""
    ctx = get_script_run_ctx()
    if ctx is not None:
        ctx.on_script_error = on_script_error


def on_script_error(error: Exception) -> bool:
    """True (Streamlit shows nothing more) when ``error`` is the store being away, after saying so."""
    if not isinstance(error, StoreUnavailable):
        return False
    _log.warning("a page met the run store unavailable: %s", error)
    st.warning(t("store_status.unavailable"), icon="🔌")
    st.button(t("store_status.try_again"), key="store-status-try-again")  # a click runs the page again
    return True
