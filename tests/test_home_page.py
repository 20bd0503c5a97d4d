"""The home page renders, links every page, and says which data is loaded."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground import texts

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def home():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.run()
    return at


def test_home_renders_without_exceptions(home):
    assert not home.exception, [e.value for e in home.exception]
    assert "Softmax Playground" in home.title[0].value


def test_home_names_the_data_source(home):
    shown = " ".join(box.body for box in [*home.warning, *home.success])
    # The suite runs on the shipped subset (tests/conftest.py), and the page must say so.
    assert "subset" in shown.lower()


def test_every_linked_page_exists():
    for page, *_ in texts.HOME_PAGES:
        assert (ROOT / page).is_file(), page
    linked = {page for page, *_ in texts.HOME_PAGES}
    on_disk = {f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py")}
    assert linked == on_disk, "the home page should link every page exactly once"
