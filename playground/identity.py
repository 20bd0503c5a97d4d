"""Who the student is: a random id that the browser keeps, so runs survive reloads and new tabs.

A reload is a new Streamlit session with an empty ``st.session_state``, so runs cannot belong to
the session. The browser keeps a random id instead (``localStorage``, mirrored into a cookie so
the server reads it on the very first run of a reload): every tab of that browser is the same
student, and nobody can guess another student's id. It is not a name and proves nothing; it
only tells one browser's runs from another's.
"""

from __future__ import annotations

import re
import secrets

import streamlit as st

COOKIE = "sp_student"
STORAGE_KEY = "softmax-playground.student"
SESSION_KEY = "playground.student"
PROPOSED_KEY = "playground.student.proposed"
VALID = re.compile(r"[A-Za-z0-9_-]{16,64}")

# Runs in the page: keep the id the browser already has, else adopt the server's proposal;
# write both places and tell Python when it is not the proposal.
_JS = """
export default function(component) {
  const { data, setStateValue } = component;
  const valid = /^[A-Za-z0-9_-]{16,64}$/;
  let id = null;
  try { id = window.localStorage.getItem(%(key)s); } catch (e) {}
  if (!id || !valid.test(id)) {
    id = data.proposed;
    try { window.localStorage.setItem(%(key)s, id); } catch (e) {}
  }
  document.cookie = %(cookie)s + "=" + id + "; path=/; max-age=31536000; SameSite=Lax";
  // Only an id other than the proposal needs telling (the proposal is Python's default): a
  // needless rerun right after a first visit raced the page's widgets still mounting, and
  // dropped values the page had set for them (Your own data's target column).
  if (id !== data.proposed) setStateValue("id", id);
}
""" % {"key": repr(STORAGE_KEY), "cookie": repr(COOKIE)}  # noqa: UP031 (JavaScript: braces)

_component = None


def _identity_component():
    global _component
    if _component is None:  # registered on first use: importing this module must not need a runtime
        _component = st.components.v2.component("softmax_playground_identity", js=_JS)
    return _component


def new_id() -> str:
    return secrets.token_urlsafe(16)  # 128 random bits


def student_id() -> str:
    """This browser's student id; call once near the top of every page (it may draw a 0-px element)."""
    known = st.session_state.get(SESSION_KEY)
    if _valid(known):
        return known
    cookie = _cookie()
    if _valid(cookie):
        st.session_state[SESSION_KEY] = cookie
        return cookie
    proposed = st.session_state.setdefault(PROPOSED_KEY, new_id())
    reported = _ask_the_browser(proposed)
    chosen = reported if _valid(reported) else proposed
    st.session_state[SESSION_KEY] = chosen
    return chosen


def _ask_the_browser(proposed: str) -> str | None:
    try:
        result = _identity_component()(
            key="playground-identity",
            data={"proposed": proposed},
            default={"id": proposed},
            on_id_change=_adopt,
            height=0,
        )
    except Exception:  # not logged: outside a server (scripts, some tests): the proposal stands
        return None
    return getattr(result, "id", None)


def _adopt() -> None:
    """The browser answered with the id it already had (an earlier visit): use that one."""
    state = st.session_state.get("playground-identity")
    reported = state.get("id") if isinstance(state, dict) else getattr(state, "id", None)
    if _valid(reported):
        st.session_state[SESSION_KEY] = reported


def _cookie() -> str | None:
    try:
        return st.context.cookies.get(COOKIE)
    except Exception:  # not logged: no request behind this run (AppTest)
        return None


def _valid(value) -> bool:
    return isinstance(value, str) and VALID.fullmatch(value) is not None
