"""The MNIST data lab under AppTest (the shipped subset): the grid by digit, one image step by step,
the live mean and std."""

import base64
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from core import data
from playground.resources import get_mnist

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "4_MNIST_Data.py")
P = "data."


@pytest.fixture(scope="module")
def subset():
    return data.load_mnist_split(train=True, sources="subset")


@pytest.fixture
def at():
    app = AppTest.from_file(PAGE, default_timeout=60)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def figure(at, key: str) -> dict:
    charts = [c for c in at.get("plotly_chart") if key in c.proto.id]
    assert charts, f"no plotly chart {key}"
    return json.loads(charts[0].proto.spec)


def decode(array):
    """Plotly sends NumPy arrays as base64 typed arrays ({"dtype", "bdata", "shape"}); lists stay lists."""
    if not isinstance(array, dict):
        return array
    flat = np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
    shape = array.get("shape")
    if shape:
        flat = flat.reshape([int(s) for s in str(shape).split(",")])
    return flat


def grid_captions(at) -> list[tuple[int, int]]:
    """(label, index) of every image in the grid, read from the figure the browser gets."""
    pairs = []
    for annotation in figure(at, P + "grid")["layout"]["annotations"]:
        label, index = annotation["text"].split(" · #")
        pairs.append((int(label), int(index)))
    return pairs


def steps_table(at):
    frames = [d.value for d in at.dataframe if "dtype" in d.value.columns]
    assert frames, "no step table"
    return frames[0]


def metric(at, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; metrics: {[m.label for m in at.metric]}"
    return values[0]


def test_page_renders_every_part_and_says_the_data_is_the_subset(at):
    ids = " ".join(c.proto.id for c in at.get("plotly_chart"))
    for key in ("grid", "counts", "pixels", "vector", "histograms"):
        assert P + key in ids
    source = " ".join(w.body for w in at.warning)
    assert "subset" in source and "`subset`" in source and "Getting MNIST" in source


def test_first_page_shows_the_first_32_training_images(at, subset):
    pairs = grid_captions(at)
    assert [index for _, index in pairs] == list(range(32))
    assert [label for label, _ in pairs] == subset.labels[:32].tolist()


def test_picking_a_digit_shows_only_that_digit(at, subset):
    at.selectbox(key=P + "digit").set_value(7).run()
    assert not at.exception
    pairs = grid_captions(at)
    indices = [index for _, index in pairs]
    assert len(pairs) == 32 and {label for label, _ in pairs} == {7}
    assert subset.labels[indices].tolist() == [7] * 32  # the captions tell the truth about the data
    assert indices == np.flatnonzero(subset.labels.numpy() == 7)[:32].tolist()
    counts = figure(at, P + "counts")["data"][0]
    assert counts["marker"]["color"][7] != counts["marker"]["color"][0]  # the picked digit stands out


def test_paging_forward_and_back(at, subset):
    at.selectbox(key=P + "digit").set_value(2).run()
    twos = np.flatnonzero(subset.labels.numpy() == 2)
    first = [index for _, index in grid_captions(at)]
    at.button(key=P + "next").click().run()
    assert at.number_input(key=P + "page").value == 2
    second = [index for _, index in grid_captions(at)]
    assert second == twos[32:64].tolist() and not set(first) & set(second)
    at.button(key=P + "prev").click().run()
    assert [index for _, index in grid_captions(at)] == first
    at.button(key=P + "prev").click().run()  # already on page 1: stays there
    assert at.number_input(key=P + "page").value == 1


def test_a_new_digit_starts_at_its_first_page(at):
    at.number_input(key=P + "page").set_value(5).run()
    at.selectbox(key=P + "digit").set_value(9).run()
    assert not at.exception
    assert at.number_input(key=P + "page").value == 1
    at.number_input(key=P + "page").set_value(19).run()  # 600 nines: the last page is 19
    at.selectbox(key=P + "digit").set_value("all").run()
    assert at.number_input(key=P + "page").value == 1


def test_the_step_table_follows_the_picked_image(at, subset):
    def check(index):
        table = steps_table(at)
        image = subset.images[index].numpy()
        assert table["shape"].tolist() == ["[28, 28, 1]", "[1, 28, 28]", "[1, 28, 28]", "[1, 784]"]
        assert table["dtype"].tolist() == ["uint8", "float32", "float32", "float32"]
        assert table["max"][0] == image.max() and table["mean"][0] == pytest.approx(image.mean())
        normalized = (image / 255 - 0.1307) / 0.3081
        assert table["mean"][3] == pytest.approx(normalized.mean(), abs=1e-5)
        return table

    first = check(0)
    at.number_input(key=P + "index").set_value(123).run()
    assert not at.exception
    second = check(123)
    assert first["mean"][0] != second["mean"][0]
    assert "#123" in " ".join(m.value for m in at.markdown)


def test_a_click_on_the_grid_opens_that_image(at, subset):
    # AppTest cannot click a plotly chart; a click arrives as the chart's selection state
    at.session_state[P + "grid"] = {"selection": {"points": [{"customdata": 17}], "point_indices": [17],
                                                  "box": [], "lasso": []}}
    at.run()
    assert not at.exception
    assert at.number_input(key=P + "index").value == 17
    assert steps_table(at)["mean"][0] == pytest.approx(subset.images[17].double().mean().item())
    marked = [a["text"] for a in figure(at, P + "grid")["layout"]["annotations"] if a["font"]["color"] != "black"]
    assert marked == [f"{subset.labels[17].item()} · #17"]


def test_the_pixel_numbers_switch_between_bytes_and_normalized(at, subset):
    at.number_input(key=P + "index").set_value(42).run()
    image = subset.images[42].numpy()
    heatmap = figure(at, P + "pixels")["data"][0]
    np.testing.assert_array_equal(np.asarray(decode(heatmap["z"])), image)
    at.radio(key=P + "values").set_value("normalized").run()
    heatmap = figure(at, P + "pixels")["data"][0]
    expected = data.normalize(torch.from_numpy(image)[None])[0, 0].numpy()
    np.testing.assert_allclose(np.asarray(decode(heatmap["z"])), expected, atol=1e-6)
    assert heatmap["texttemplate"] == "%{z:.2f}"


def test_the_live_mean_and_std_are_the_subsets(at, subset):
    mean, std = data.compute_mean_std(subset.images)
    x = subset.images.float().div(255)  # the lecture's own computation
    assert metric(at, "mean of all training pixels") == f"{mean:.4f}" == f"{x.mean().item():.4f}"
    assert metric(at, "std of all training pixels") == f"{std:.4f}" == f"{x.std().item():.4f}"
    honest = " ".join(i.body for i in at.info)
    assert "6,000-image subset" in honest and "60,000" in honest


def test_histogram_bins_and_scale_are_the_users(at):
    at.select_slider(key=P + "bins").set_value(8).run()
    at.toggle(key=P + "log_y").set_value(False).run()
    histograms = figure(at, P + "histograms")
    assert [len(decode(trace["y"])) for trace in histograms["data"]] == [8, 8]
    assert histograms["layout"]["yaxis"]["type"] == "linear"


def test_no_mnist_at_all_gives_a_message_not_a_traceback(monkeypatch, tmp_path):
    monkeypatch.setenv(data.SOURCES_ENV, "cache")
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))  # an empty cache folder
    get_mnist.clear()
    try:
        app = AppTest.from_file(PAGE, default_timeout=60)
        app.run()
        assert not app.exception
        assert any("could not be loaded" in e.body for e in app.error)
        assert not app.get("plotly_chart")
    finally:
        get_mnist.clear()  # the next test loads the subset again
