"""Lesson links: a teacher prepares a page's settings and which controls stay fixed; students open a short link.

The link carries only a random code (``?lesson=k3xq7mz2``); the settings live in the room's
store, so nothing in the URL can be edited into something else. Opening it applies the
settings once, hides the locked controls (their values are shown instead) and keeps the
room's budget: the values are parsed like a shared link, a run is still capped and checked
before it starts, and an unknown or tampered code gets the page's defaults and a message.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import segno
import streamlit as st

from playground import i18n
from playground.i18n import plain, t
from playground.room import Room

PAGES = ("train", "momentum")  # the pages a lesson can prepare
PAGE_PATHS = {"train": "Train", "momentum": "Momentum"}
QUERY_KEY = "lesson"


@dataclass(frozen=True)
class ActiveLesson:
    code: str
    page: str
    title: str
    values: dict[str, Any]  # setting name → value, as the teacher chose them
    locked: dict[str, Any]  # the settings students may not change → their value


def create(room: Room, page: str, title: str, values: dict[str, Any], locked: list[str]):
    """Keep a lesson in the store; returns its ``core.store.Lesson`` (with the code for the link)."""
    if page not in PAGES:
        raise ValueError(f"lessons prepare {', '.join(PAGES)}, not {page!r}")
    return room.store.save_lesson(
        page, {"title": title.strip()[:80], "values": values}, [n for n in locked if n in values]
    )


def link(base_url: str, page: str, code: str, lang: str) -> str:
    return f"{base_url.rstrip('/')}/{PAGE_PATHS[page]}?{QUERY_KEY}={code}&lang={lang}"


def qr_png(url: str) -> bytes:
    """A QR code of the link, big and plain enough to scan off a projector."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=8, border=2)
    return buffer.getvalue()


def active(room: Room, page: str) -> ActiveLesson | None:
    """The lesson this page was opened with, or None (a message when the code is unknown or elsewhere)."""
    code = str(st.query_params.get(QUERY_KEY, "")).strip()
    if not code:
        return None
    lesson = room.store.get_lesson(code)
    if lesson is None or lesson.page not in PAGES:
        st.warning(t("lesson.unknown"), icon="🔗")
        return None
    if lesson.page != page:
        st.warning(t("lesson.other_page", page=plain(f"pages.{lesson.page}.nav")), icon="🔗")
        return None
    settings = lesson.settings if isinstance(lesson.settings, dict) else {}
    values = settings.get("values") if isinstance(settings.get("values"), dict) else {}
    locked = {name: values[name] for name in lesson.locked if name in values}
    return ActiveLesson(lesson.code, lesson.page, str(settings.get("title", "")), values, locked)


def show_banner(room: Room, page: str) -> ActiveLesson | None:
    """Apply the lesson (once per tab) and say what it is; returns it for the page's controls."""
    lesson = active(room, page)
    if lesson is None:
        return None
    st.info(t("lesson.banner", title=lesson.title or plain("lesson.untitled"), count=len(lesson.locked)), icon="🎓")
    return lesson


def applied_once(lesson: ActiveLesson) -> bool:
    """True the first time this tab sees this lesson: the page then loads its values."""
    key = f"lesson.applied.{lesson.code}"
    if st.session_state.get(key):
        return False
    st.session_state[key] = True
    return True


def room_limits_caption(room: Room) -> None:
    """The room's caps, and why they are there (one laptop serves the class)."""
    limits = room.limits
    images = i18n.plain("limits.all_images") if not limits.train_images else f"{limits.train_images:,}"
    st.caption(
        t("limits.caption", epochs=limits.max_epochs, images=images, minutes=limits.run_minutes, units=limits.max_units)
    )
