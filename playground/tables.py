"""Tables of numbers that a projector shows in full: an HTML table of the formatted text.

``st.dataframe`` draws its cells on a canvas and clips a column narrower than its numbers on
the left, so minus signs and leading digits vanished. Here every cell is a string we formatted
(``playground.fmt``), HTML-escaped (text a user typed stays text), numeric columns right-aligned,
no cell ever clips (a table wider than its place wraps its headers and text cells when drawn with
``wrap``, then scrolls sideways, a shadow at the edge showing that more is there). Built as one
HTML string it costs microseconds; ``st.table`` of a styled DataFrame cost 20–30 ms per table through
pandas and Arrow, which a room of thirty students drawing on Draw paid on every stroke.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from html.parser import HTMLParser

import pandas as pd
import streamlit as st

from playground import fmt

Format = str | Callable[[object], str]  # a format spec for fmt.number, or a function
LONG_TEXT = 16  # characters: a text column with longer cells keeps a minimum width when wrapped


def cell_text(value, how: Format | None) -> str:
    if callable(how):
        return how(value)
    if how is not None:
        return fmt.number(value, how)
    return "" if value is None else str(value)


def text_frame(frame: pd.DataFrame, formats: Mapping[str, Format] | None = None) -> pd.DataFrame:
    """The table as the strings a reader sees (no markdown escaping): what tests compare with."""
    formats = formats or {}
    text = pd.DataFrame(
        {column: [cell_text(v, formats.get(column)) for v in frame[column]] for column in frame.columns},
        index=[str(i) for i in frame.index],
    )
    text.index.name = frame.index.name
    return text


TABLE_CSS = """<style>
.sp-table-wrap { overflow-x: auto; max-width: 100%; margin-bottom: 1rem; }
.sp-table { border-collapse: collapse; font-size: 0.875rem; }
.sp-table.sp-stretch { width: 100%; }
.sp-table th, .sp-table td { padding: 0.3rem 0.65rem; white-space: nowrap;
  border-bottom: 1px solid rgba(128, 128, 128, 0.28); }
.sp-table th { font-weight: 600; text-align: left; }
.sp-table .num { text-align: right; font-variant-numeric: tabular-nums; }
.sp-table.sp-wrap th, .sp-table.sp-wrap td:not(.num) { white-space: normal; }
.sp-table.sp-wrap th, .sp-table.sp-wrap td { padding: 0.3rem 0.45rem; }
.sp-table.sp-wrap td.long { min-width: 8.5rem; }
.sp-table-wrap { background:
  linear-gradient(to right, #fff 30%, rgba(255, 255, 255, 0)) left center / 2rem 100% no-repeat local,
  linear-gradient(to left, #fff 30%, rgba(255, 255, 255, 0)) right center / 2rem 100% no-repeat local,
  radial-gradient(farthest-side at 0 50%, rgba(0, 0, 0, 0.22), transparent) left center / 0.8rem 100% no-repeat,
  radial-gradient(farthest-side at 100% 50%, rgba(0, 0, 0, 0.22), transparent) right center / 0.8rem 100% no-repeat; }
</style>"""


def show(
    frame: pd.DataFrame,
    formats: Mapping[str, Format] | None = None,
    *,
    key: str | None = None,
    index: bool = False,
    width: str = "content",
    wrap: bool = False,
) -> pd.DataFrame:
    """Draw ``frame`` with each column formatted; returns the text shown (for tests).

    ``wrap``: a table with many columns in a narrow place (Compare runs beside Train's controls,
    a softmax per row) lets its headers and text cells wrap, with less padding, so that it fits
    rather than scrolling its last columns out of sight; numbers never wrap.
    """
    text = text_frame(frame, formats)
    numeric = {str(c) for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) or c in (formats or {})}
    with st.container(key=key) if key else st.container():
        st.html(TABLE_CSS + html_table(text, numeric, index=index, stretch=width == "stretch", wrap=wrap))
    return text


def html_table(
    text: pd.DataFrame, numeric: set[str], index: bool = False, stretch: bool = False, wrap: bool = False
) -> str:
    """The text table as HTML: escaped cells, numeric columns right-aligned."""
    columns = [str(c) for c in text.columns]
    # wrapped, a column of long texts (a run's name) keeps a readable width; the others give way
    long = {c for c in columns if wrap and c not in numeric and max(map(len, text[c]), default=0) > LONG_TEXT}

    def cell(tag: str, value: str, column: str | None) -> str:
        css = ' class="num"' if column in numeric else ' class="long"' if tag == "td" and column in long else ""
        return f"<{tag}{css}>{html.escape(value)}</{tag}>"

    head = "".join(([cell("th", text.index.name or "", None)] if index else []) + [cell("th", c, c) for c in columns])
    rows = []
    for label, values in zip(text.index, text.itertuples(index=False), strict=True):
        cells = ([cell("th", str(label), None)] if index else []) + [cell("td", v, c) for c, v in zip(columns, values)]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    css = "sp-table" + (" sp-stretch" if stretch else "") + (" sp-wrap" if wrap else "")
    return (
        f'<div class="sp-table-wrap"><table class="{css}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def read_html_table(page: str) -> pd.DataFrame:
    """The first ``html_table`` in ``page`` back as text (header row → columns): for tests and tools."""
    reader = _TableReader()
    reader.feed(page)
    if not reader.rows:
        raise ValueError("no table in this HTML")
    header, *body = reader.rows
    return pd.DataFrame(body, columns=header)


class _TableReader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._done = False

    def handle_starttag(self, tag, attrs):
        if self._done:
            return
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._done = True

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
