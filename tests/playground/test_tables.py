"""Tables of numbers: every cell the text we formatted, and nothing a user typed read as markdown."""

import textwrap

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from playground import tables


def frame():
    return pd.DataFrame(
        {
            "name": pd.Series(["a_b", "[click](http://x)", None], dtype=object),
            "loss": [0.123456, -0.0, float("nan")],
            "steps": [1, 20, 300],
            "pair": [(1.0, -2.0), (0.5, 0.25), (0.0, 1.0)],
        }
    )


def test_text_frame_formats_each_column_its_own_way():
    text = tables.text_frame(frame(), {"loss": ".3f", "pair": lambda p: f"{p[0]:g} | {p[1]:g}"})
    assert text["loss"].tolist() == ["0.123", "0.000", "nan"]
    assert text["pair"].tolist() == ["1 | -2", "0.5 | 0.25", "0 | 1"]
    assert text["steps"].tolist() == ["1", "20", "300"]  # no format: as str
    assert text["name"].tolist() == ["a_b", "[click](http://x)", ""]  # not escaped, None blank
    assert list(text.columns) == ["name", "loss", "steps", "pair"]
    assert all(isinstance(cell, str) for cell in text.to_numpy().ravel())


def test_text_frame_keeps_the_index_as_text():
    table = pd.DataFrame({"x": [1.5, 2.5]}, index=pd.Index([3, 7], name="digit"))
    text = tables.text_frame(table, {"x": ".1f"})
    assert list(text.index) == ["3", "7"] and text.index.name == "digit"
    assert text["x"].tolist() == ["1.5", "2.5"]


def test_cell_text():
    assert tables.cell_text(np.float32(0.5), ".2f") == "0.50"
    assert tables.cell_text(None, None) == "" and tables.cell_text(None, ".2f") == "—"
    assert tables.cell_text(3, str) == "3"


SCRIPT = """
import pandas as pd
import streamlit as st
from playground import tables

table = pd.DataFrame({"name": ["a_b", "[click](http://x)", "**bold**"], "loss": [0.123456, -0.0, float("inf")]})
shown = tables.show(table, {"loss": ".3f"}, key="scores")
st.session_state["returned"] = shown
"""


def test_show_draws_escaped_cells_and_returns_the_plain_text(tmp_path):
    script = tmp_path / "table_page.py"
    script.write_text(textwrap.dedent(SCRIPT), encoding="utf-8")
    at = AppTest.from_file(str(script), default_timeout=30).run()
    assert not at.exception
    (page,) = [h.proto.body for h in at.get("html") if "sp-table" in h.proto.body]
    assert "<a" not in page and "&lt;" not in page and "[click](http://x)" in page  # as typed, not a link
    cells = tables.read_html_table(page)
    assert cells.columns.tolist() == ["name", "loss"]
    assert cells["name"].tolist() == ["a_b", "[click](http://x)", "**bold**"]
    assert cells["loss"].tolist() == ["0.123", "0.000", "inf"]
    returned = at.session_state["returned"]
    assert returned["name"].tolist() == ["a_b", "[click](http://x)", "**bold**"]
    assert returned["loss"].tolist() == ["0.123", "0.000", "inf"]


def test_html_table_escapes_markup_and_right_aligns_numbers():
    text = tables.text_frame(pd.DataFrame({"who": ["<script>x</script>", "a & b"], "p": [0.5, -1.25]}), {"p": ".2f"})
    page = tables.html_table(text, numeric={"p"})
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page and "a &amp; b" in page
    assert '<td class="num">-1.25</td>' in page and '<th class="num">p</th>' in page and "<td>a &amp; b</td>" in page
    back = tables.read_html_table(page)
    assert back.values.tolist() == [["<script>x</script>", "0.50"], ["a & b", "-1.25"]]


def test_html_table_with_its_index_as_the_first_column():
    text = tables.text_frame(pd.DataFrame({"x": [1.5]}, index=pd.Index([3], name="digit")), {"x": ".1f"})
    back = tables.read_html_table(tables.html_table(text, {"x"}, index=True))
    assert back.columns.tolist() == ["digit", "x"] and back.values.tolist() == [["3", "1.5"]]


def test_reading_html_without_a_table_says_so():
    import pytest

    with pytest.raises(ValueError, match="no table"):
        tables.read_html_table("<p>nothing</p>")
