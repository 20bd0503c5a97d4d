"""Every text the playground shows, in the user's language: one catalogue per language, looked up by key.

The catalogues are TOML files beside this module (``locales/en.toml``, ``locales/zh.toml``):
nested tables give dotted keys (``[train.status] finished = "…"`` is ``train.status.finished``),
placeholders are named and formatted by Python's ``str.format`` in both languages (so
``{accuracy:.2%}`` prints the same digits everywhere), and a table with ``one``/``other``
entries is a plural, chosen by the ``count`` parameter (or the one its ``count`` entry names).
Sentences are never assembled in code.

The language: ``?lang=zh`` / ``?lang=en`` in the URL, else the session's choice, else the
browser's (``st.context.locale``), else English.
"""

from __future__ import annotations

import contextvars
import re
import string
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import streamlit as st

from core.errors import CodedError

LANGUAGES = ("en", "zh")
DEFAULT = "en"
LANGUAGE_NAMES = MappingProxyType({"en": "English", "zh": "中文"})
LOCALES = Path(__file__).resolve().parent / "locales"
SESSION_KEY = "playground.lang"
PLURAL_FORMS = frozenset({"one", "other", "count"})  # "count": which parameter picks the form

# Markdown punctuation that could turn user-supplied text into formatting or a link.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$&=/\"'^@])")

# A language forced for the current thread (tests, figure builders called outside a page).
_forced: contextvars.ContextVar[str | None] = contextvars.ContextVar("forced_language", default=None)


class Markdown(str):
    """A parameter that is markdown already (a formatted fragment of our own), never escaped."""


@cache
def catalogue(lang: str) -> Mapping[str, Any]:
    """Key → text (or a plural table) for one language, read once per process."""
    with open(LOCALES / f"{lang}.toml", "rb") as f:
        return MappingProxyType(_flatten(tomllib.load(f)))


def _flatten(table: dict, prefix: str = "") -> dict:
    flat = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and not set(value) <= PLURAL_FORMS:
            flat.update(_flatten(value, key + "."))
        else:
            flat[key] = value
    return flat


def escape_markdown(text: str) -> str:
    """User-supplied text (file names, column names, URL values) as plain text inside markdown."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


# --------------------------------------------------------------------------- the language


def current_language() -> str:
    forced = _forced.get()
    if forced is not None:
        return forced
    try:
        chosen = st.session_state.get(SESSION_KEY)
    except Exception:  # not logged: outside a Streamlit script run
        return DEFAULT
    return chosen if chosen in LANGUAGES else DEFAULT


def detect_language() -> str:
    """At the top of a page: the URL's ``lang``, else the earlier choice, else the browser's."""
    asked = str(st.query_params.get("lang", "")).strip().lower()
    if asked in LANGUAGES:
        lang = asked
    elif st.session_state.get(SESSION_KEY) in LANGUAGES:
        lang = st.session_state[SESSION_KEY]
    else:
        lang = language_of_locale(_browser_locale())
    st.session_state[SESSION_KEY] = lang
    return lang


def language_of_locale(locale: str | None) -> str:
    """``zh-CN``, ``zh_TW``, ``zh`` → ``zh``; anything else → English."""
    return "zh" if (locale or "").lower().replace("_", "-").split("-")[0] == "zh" else DEFAULT


def _browser_locale() -> str | None:
    try:
        return st.context.locale
    except Exception:  # not logged: AppTest and older clients may not send one
        return None


class using:
    """``with using("zh"): …`` — texts in that language for this thread (tests, figures)."""

    def __init__(self, lang: str):
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}")
        self.lang = lang

    def __enter__(self):
        self._token = _forced.set(self.lang)
        return self

    def __exit__(self, *exc):
        _forced.reset(self._token)


# --------------------------------------------------------------------------- looking up


def has(key: str, lang: str | None = None) -> bool:
    return key in catalogue(lang or current_language())


def plain(key: str, **params: Any) -> str:
    """The text for ``key`` with its parameters, as plain text (figures, options, table headers)."""
    return _format(key, params, escape=False)


def t(key: str, **params: Any) -> str:
    """The text for ``key``, for markdown elements: text parameters are shown literally."""
    return _format(key, params, escape=True)


def _format(key: str, params: dict, escape: bool) -> str:
    lang = current_language()
    entry = catalogue(lang).get(key)
    if entry is None:
        entry = catalogue(DEFAULT).get(key)
        if entry is None:
            raise KeyError(f"no text for {key!r}")
    if isinstance(entry, dict):
        count = params.get(entry.get("count", "count"), 0)
        entry = entry.get("one") if count == 1 and "one" in entry else entry["other"]
    if escape:
        in_code = _fields_in_code_spans(entry)
        params = {
            name: _literal(value, name in in_code)
            if isinstance(value, str) and not isinstance(value, Markdown)
            else value
            for name, value in params.items()
        }
    return entry.format(**params)


def _literal(value: str, in_code_span: bool) -> str:
    """Text shown as typed: escaped in markdown; inside a `code span` (where a backslash would show)
    only kept from closing the span."""
    return value.replace("`", "'") if in_code_span else escape_markdown(value)


@cache
def _fields_in_code_spans(template: str) -> frozenset[str]:
    """The placeholders that sit between backticks in ``template``."""
    inside, found = False, set()
    for literal, field_name, _, _ in string.Formatter().parse(template):
        inside ^= literal.count("`") % 2 == 1
        if field_name and inside:
            found.add(field_name.split(".")[0].split("[")[0])
    return frozenset(found)


def error_text(error: BaseException, markdown: bool = True) -> str:
    """An error in the user's language: a coded error by its code, anything else by its message."""
    if isinstance(error, CodedError) and has(f"errors.{error.code}"):
        return (t if markdown else plain)(f"errors.{error.code}", **error.params)
    text = str(error)
    return escape_markdown(text) if markdown else text


def note_text(note) -> str:
    """A note with a ``code`` and ``params`` (e.g. how a CSV was read), in the user's language."""
    if has(note.code):
        return t(note.code, **note.params)
    return escape_markdown(str(note))


def choice(name: str, value: Any) -> str:
    """The label of one option of a control (``choice("optimizer", "sgd")``), plain text."""
    return plain(f"choice.{name}.{value}")
