"""The home page: the pages in the lecture's order with their blurbs, which data is loaded, and no MNIST at all."""

from dataclasses import replace
from pathlib import Path

import pytest

from core.data import MnistLoadError
from playground import i18n
from playground.room import get_room
from tests.pages.conftest import new_app, texts

ROOT = Path(__file__).resolve().parents[1]

# The lecture's order: softmax and the loss, the data, training, momentum, the trained model at
# work, the exercise on another table; the teacher's page last. (URL path, script, link label.)
LECTURE_ORDER = [
    ("Softmax_Lab", "pages/1_Softmax_Lab.py", "Softmax & cross-entropy", "softmax"),
    ("MNIST_Data", "pages/2_MNIST_Data.py", "MNIST data", "data"),
    ("Train", "pages/3_Train.py", "Train", "train"),
    ("Momentum", "pages/4_Momentum.py", "Momentum", "momentum"),
    ("Draw", "pages/5_Draw.py", "Draw a digit", "draw"),
    ("Your_Own_Data", "pages/6_Your_Own_Data.py", "Your own data", "own"),
    ("Teacher", "pages/7_Teacher.py", "Teacher", "teacher"),
]


@pytest.fixture
def home():
    at = new_app(timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def english(key: str) -> str:
    with i18n.using("en"):
        return i18n.plain(key)


def test_home_renders_its_title(home):
    assert "Softmax Playground" in home.title[0].value


def test_the_page_links_follow_the_lecture_with_their_blurbs(home):
    column = home.columns[0]
    nodes = [node for node in column.children.values() if type(node).__name__ in ("PageLink", "Caption")]
    links = [(n.proto.page, n.proto.label) for n in nodes if type(n).__name__ == "PageLink"]
    assert links == [(path, label) for path, _, label, _ in LECTURE_ORDER]
    for i, node in enumerate(nodes):  # every link is followed by its blurb
        if type(node).__name__ == "PageLink":
            key = LECTURE_ORDER[i // 2][3]
            blurb = nodes[i + 1]
            assert type(blurb).__name__ == "Caption" and blurb.value == english(f"home.blurb.{key}")
    for _, script, _, _ in LECTURE_ORDER:
        assert (ROOT / script).is_file(), script
    on_disk = {f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py")}
    assert {script for _, script, _, _ in LECTURE_ORDER} == on_disk, "every page is linked exactly once"


def test_the_sidebar_lists_home_then_the_same_order(home):
    sidebar = [(p.proto.page, p.proto.label) for p in home.sidebar.get("page_link")]
    assert sidebar == [("", "Home")] + [(path, label) for path, _, label, _ in LECTURE_ORDER]


def test_the_data_line_says_the_subset_served_mnist(home):
    mnist = get_room().mnist()
    assert mnist.source == "subset"  # tests/conftest.py: the shipped subset
    shown = texts(home, "warning")
    assert (
        f"the MNIST subset shipped with the app — {len(mnist.train_labels):,} training and "
        f"{len(mnist.test_labels):,} test images" in shown
    )
    assert "6,000 + 1,000-image subset shipped with it" in texts(home, "markdown")


def test_the_data_line_names_the_cache_that_served_mnist(install_room):
    subset = get_room().mnist()
    from_cache = replace(subset, source="cache", location="/srv/mnist-cache")
    install_room(loader=lambda: from_cache)
    at = new_app()
    at.run()
    assert not at.exception
    line = texts(at, "success")
    assert "Data: MNIST, 6,000 training and 1,000 test images, from the local cache `/srv/mnist-cache`." in line
    assert "subset" not in texts(at, "warning", "success")


def test_no_mnist_at_all_gives_a_clear_message(install_room):
    def failing_loader():
        raise MnistLoadError("mnist.unavailable", split="training", failures="cache: gone\n  download: offline")

    install_room(loader=failing_loader)
    at = new_app()
    at.run()
    assert not at.exception
    assert "MNIST could not be loaded from any source" in texts(at, "error")
    assert [c.value for c in at.code] == ["cache: gone\ndownload: offline"]
    assert [link.proto.page for link in at.columns[0].get("page_link")]  # the pages are still linked
