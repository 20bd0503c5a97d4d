"""Tables of numbers that a projector shows in full: HTML cells holding the formatted text.

``st.dataframe`` draws its cells on a canvas and clips a column narrower than its numbers on
the left, so minus signs and leading digits vanished. ``st.table`` lays the text out as HTML:
every cell here is a string we formatted (``playground.fmt``), escaped because ``st.table``
reads cells as markdown, and numeric columns are right-aligned.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd
import streamlit as st

from playground import fmt
from playground.i18n import escape_markdown

Format = str | Callable[[object], str]  # a format spec for fmt.number, or a function


def cell_text(value, how: Format | None) -> str:
    if callable(how):
        return how(value)
    if how is not None:
        return fmt.number(value, how)
    return "" if value is None else str(value)


def text_frame(frame: pd.DataFrame, formats: Mapping[str, Format] | None = None) -> pd.DataFrame:
    """The table as the strings a reader sees (no markdown escaping): what tests compare with."""
    formats = formats or {}
    text = pd.DataFrame({column: [cell_text(v, formats.get(column)) for v in frame[column]] for column in frame.columns},
                        index=[str(i) for i in frame.index])
    text.index.name = frame.index.name
    return text


def show(frame: pd.DataFrame, formats: Mapping[str, Format] | None = None, *, key: str | None = None,
         index: bool = False, width: str = "content") -> pd.DataFrame:
    """Draw ``frame`` with each column formatted; returns the text shown (for tests)."""
    text = text_frame(frame, formats)
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) or c in (formats or {})]
    shown = text.map(escape_markdown)
    shown.index = [escape_markdown(i) for i in shown.index]
    shown.columns = [escape_markdown(str(c)) for c in shown.columns]
    styled = shown.style.set_properties(subset=[escape_markdown(str(c)) for c in numeric],
                                        **{"text-align": "right !important", "white-space": "nowrap"})
    with st.container(key=key) if key else st.container():
        st.table(styled, hide_index=not index, width=width)
    return text
