"""Every page starts here: its title, the sidebar (pages in the lecture's order, the language), the student.

Streamlit's own sidebar names pages after their files ("streamlit app") and cannot be
translated, so it is hidden (``client.showSidebarNavigation = false``) and this sidebar lists
the pages with ``st.page_link`` in the lecture's order, in the user's language.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import streamlit as st

from playground import i18n, identity, push, serve, store_errors, widgets
from playground.i18n import plain, t

if TYPE_CHECKING:  # the room imports PyTorch: Draw draws its pad before it (``setup(room=False)``)
    from playground.room import MnistData, Room

# (key, script, icon) in the order the lecture meets them; texts under pages.<key> in the catalogues.
PAGES = (
    ("home", "streamlit_app.py", "🏠"),
    ("softmax", "pages/1_Softmax_Lab.py", "🧮"),
    ("data", "pages/2_MNIST_Data.py", "🔢"),
    ("train", "pages/3_Train.py", "📉"),
    ("momentum", "pages/4_Momentum.py", "🎢"),
    ("draw", "pages/5_Draw.py", "✏️"),
    ("own", "pages/6_Your_Own_Data.py", "📋"),
    ("teacher", "pages/7_Teacher.py", "🧑‍🏫"),
)
SCRIPTS = {key: script for key, script, _ in PAGES}
ICONS = {key: icon for key, _, icon in PAGES}
LANGUAGE_WIDGET = "playground.lang_choice"
GOING_TO_KEY = "playground.going_to"  # (page key, query params, when): a switch not yet arrived
GOING_TO_S = 10.0  # a switch still unfinished after this long is given up, never replayed later


@dataclass(frozen=True)
class Page:
    """What a page knows about its visitor once ``setup`` ran."""

    key: str
    student: str
    session_id: str | None
    lang: str


def setup(key: str, *, room: bool = True) -> Page:
    """Title, sidebar and student for page ``key``; the first call of every page script.

    ``room=False``: the page enters the room later itself (``enter_room``). After a restart the
    room costs the first visitor PyTorch's import, MNIST and the default model (about 1.5 s on a
    2-core laptop); Draw draws its pad first."""
    store_errors.install()  # a store away for a moment is said on the page, not as a traceback
    _finish_switch(key)
    lang = i18n.detect_language()
    st.set_page_config(page_title=plain(f"pages.{key}.tab"), page_icon=ICONS[key], layout="wide")
    student = identity.student_id()
    session_id = push.current_session_id()
    push.page_drawn(session_id, key)
    st.html(PAGE_CSS)
    _sidebar(key)
    page = Page(key, student, session_id, lang)
    if room:
        enter_room(page)
    return page


def enter_room(page: Page) -> Room:
    """The room, with this tab counted in it: a tab on any page keeps its student's runs going."""
    from playground.room import get_room

    if page.session_id is not None:  # a running server (not AppTest): plain `streamlit run` warms up now
        serve.warm_in_background()
    room = get_room()
    room.seen(page.student, page.session_id)
    return room


# Streamlit leaves 6rem above a page's title; its header needs 3.75rem. On a phone the rest is
# worth more to the page: on Draw it is what keeps the pad and its buttons on the first screen.
PAGE_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 4.5rem; }
/* A chart's text alternative (playground.charts): read by screen readers, out of the layout's flow. */
[data-testid="stElementContainer"]:has(.sp-chart-summary) {
  position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap;
}
@media (max-width: 640px) {
  [data-testid="stMainBlockContainer"] { padding-top: 4rem; padding-left: 1rem; padding-right: 1rem; }
}
</style>"""


def _sidebar(current: str) -> None:
    with st.sidebar:
        st.segmented_control(
            plain("nav.language"),
            i18n.LANGUAGES,
            key=LANGUAGE_WIDGET,
            default=i18n.current_language(),
            format_func=i18n.LANGUAGE_NAMES.get,
            on_change=_language_chosen,
            label_visibility="collapsed",
        )
        for key, script, icon in PAGES:
            st.page_link(
                script, label=plain(f"pages.{key}.nav"), icon=icon, query_params={"lang": i18n.current_language()}
            )


def _language_chosen() -> None:
    chosen = st.session_state.get(LANGUAGE_WIDGET)
    if chosen in i18n.LANGUAGES:  # a second click on the chosen one deselects it: keep the language
        if chosen != st.session_state.get(i18n.SESSION_KEY):
            widgets.reword()  # the choices of the page's controls, under their new labels
        st.session_state[i18n.SESSION_KEY] = chosen
        st.query_params["lang"] = chosen
    else:
        st.session_state[LANGUAGE_WIDGET] = i18n.current_language()


def mnist_or_stop(room: Room, before_stop: Callable[[], object] | None = None) -> MnistData:
    """The room's MNIST; without it the page says which sources failed and stops there
    (``before_stop`` first: Draw takes its pad away, drawn before MNIST was asked for)."""
    from core.data import MnistLoadError

    try:
        return room.mnist()
    except MnistLoadError as error:
        if before_stop is not None:
            before_stop()
        st.error(t("data.unavailable"), icon="🚫")
        st.code("\n".join(error.failures), language=None, wrap_lines=True)
        st.stop()


def go_to(key: str, query_params: dict[str, Any] | None = None) -> None:
    """Switch to another page, keeping the language in the URL."""
    params = {"lang": i18n.current_language(), **(query_params or {})}
    st.session_state[GOING_TO_KEY] = (key, params, time.monotonic())
    st.switch_page(SCRIPTS[key], query_params=params)


def _finish_switch(key: str) -> None:
    """Arrived where ``go_to`` was going, or switch again.

    ``st.switch_page`` queues a rerun of the new page, and Streamlit folds any rerun the tab asks for
    in that moment (a component sending its value, a click) into it with the tab's page: the switch
    was lost, and Momentum's "Train on MNIST" left the student on Momentum. The page left runs again
    instead, and goes on from here.
    """
    going = st.session_state.get(GOING_TO_KEY)
    if going is None:
        return
    target, params, since = going
    if target == key or time.monotonic() - since > GOING_TO_S:
        del st.session_state[GOING_TO_KEY]
        return
    st.switch_page(SCRIPTS[target], query_params=params)
