"""The MNIST data lab under AppTest (the shipped subset): the grid by digit, one image step by step,
the live mean and std."""

import numpy as np
import pytest
import torch

from core import data
from core.data import MnistLoadError
from playground import fmt
from playground.figures import palette
from playground.room import get_room
from tests.pages.conftest import figure, metric, table_text, texts, values

P = "data."


@pytest.fixture(scope="module")
def mnist():
    return get_room().mnist()


@pytest.fixture
def at(open_page):
    return open_page("2_MNIST_Data")


def grid_captions(at) -> list[tuple[int, int]]:
    """(label, index) of every image in the grid, read from the figure the browser gets."""
    pairs = []
    for annotation in figure(at, P + "grid")["layout"]["annotations"]:
        label, index = annotation["text"].split(" · #")
        pairs.append((int(label), int(index)))
    return pairs


def test_page_renders_every_part_and_says_the_data_is_the_subset(at, mnist):
    ids = [c.proto.id for c in at.get("plotly_chart")]
    for key in ("grid", "counts", "pixels", "vector", "histograms"):
        assert any(i.endswith(P + key) for i in ids), key
    source = texts(at, "warning")
    assert mnist.is_subset
    assert (
        f"the MNIST subset shipped with the app — {len(mnist.train_labels):,} training and "
        f"{len(mnist.test_labels):,} test images" in source
    )


def test_first_page_shows_the_first_32_training_images(at, mnist):
    pairs = grid_captions(at)
    assert [index for _, index in pairs] == list(range(32))
    assert [label for label, _ in pairs] == mnist.train_labels[:32].tolist()


def test_picking_a_digit_shows_only_that_digit(at, mnist):
    at.selectbox(key=P + "digit").set_value(7).run()
    assert not at.exception
    pairs = grid_captions(at)
    indices = [index for _, index in pairs]
    assert len(pairs) == 32 and {label for label, _ in pairs} == {7}
    assert mnist.train_labels[indices].tolist() == [7] * 32  # the captions tell the truth about the data
    assert indices == np.flatnonzero(mnist.train_labels.numpy() == 7)[:32].tolist()
    counts = figure(at, P + "counts")["data"][0]
    assert counts["marker"]["color"][7] != counts["marker"]["color"][0]  # the picked digit stands out
    assert list(values(counts["y"])) == mnist.train_labels.bincount(minlength=10).tolist()


def test_paging_forward_and_back(at, mnist):
    at.selectbox(key=P + "digit").set_value(2).run()
    twos = np.flatnonzero(mnist.train_labels.numpy() == 2)
    first = [index for _, index in grid_captions(at)]
    at.button(key=P + "next").click().run()
    assert at.number_input(key=P + "page").value == 2
    second = [index for _, index in grid_captions(at)]
    assert second == twos[32:64].tolist() and not set(first) & set(second)
    at.button(key=P + "prev").click().run()
    assert [index for _, index in grid_captions(at)] == first
    at.button(key=P + "prev").click().run()  # already on page 1: stays there
    assert at.number_input(key=P + "page").value == 1


def test_a_new_digit_starts_at_its_first_page(at, mnist):
    at.number_input(key=P + "page").set_value(5).run()
    at.selectbox(key=P + "digit").set_value(9).run()
    assert not at.exception
    assert at.number_input(key=P + "page").value == 1
    last = -(-int((mnist.train_labels == 9).sum()) // 32)  # 600 nines: the last page is 19
    at.number_input(key=P + "page").set_value(last).run()
    assert len(grid_captions(at)) == int((mnist.train_labels == 9).sum()) - 32 * (last - 1)
    at.selectbox(key=P + "digit").set_value("all").run()
    assert at.number_input(key=P + "page").value == 1


def test_the_step_table_follows_the_picked_image(at, mnist):
    def check(index):
        table = table_text(at, "data-steps")
        image = mnist.train_images[index].numpy()
        assert table["shape"].tolist() == ["[28, 28, 1]", "[1, 28, 28]", "[1, 28, 28]", "[1, 784]"]
        assert table["dtype"].tolist() == ["uint8", "float32", "float32", "float32"]
        assert table["max"].iloc[0] == fmt.number(image.max()) and table["mean"].iloc[0] == fmt.number(image.mean())
        normalized = (image / 255 - 0.1307) / 0.3081
        assert float(table["mean"].iloc[3]) == pytest.approx(normalized.mean(), abs=1e-4)
        assert table["min"].iloc[2] == fmt.number(normalized.min())  # background pixels: −0.4242, sign kept
        return table

    first = check(0)
    at.number_input(key=P + "index").set_value(123).run()
    assert not at.exception
    second = check(123)
    assert first["mean"].iloc[0] != second["mean"].iloc[0]
    assert "#123" in texts(at, "markdown")


def test_a_click_on_the_grid_opens_that_image(at, mnist):
    # AppTest cannot click a plotly chart; a click arrives as the chart's selection state
    at.session_state[P + "grid"] = {
        "selection": {"points": [{"customdata": 17}], "point_indices": [17], "box": [], "lasso": []}
    }
    at.run()
    assert not at.exception
    assert at.number_input(key=P + "index").value == 17
    assert table_text(at, "data-steps")["mean"].iloc[0] == fmt.number(mnist.train_images[17].double().mean().item())
    picked = palette.TEXT_ACCENT  # the picked image's caption: vermillion darkened to 4.5:1 on white
    marked = [a["text"] for a in figure(at, P + "grid")["layout"]["annotations"] if a["font"]["color"] == picked]
    assert marked == [f"{mnist.train_labels[17].item()} · #17"]


def test_the_pixel_numbers_switch_between_bytes_and_normalized(at, mnist):
    at.number_input(key=P + "index").set_value(42).run()
    image = mnist.train_images[42].numpy()
    heatmap = figure(at, P + "pixels")["data"][0]
    np.testing.assert_array_equal(values(heatmap["z"]), image)
    at.radio(key=P + "values").set_value("normalized").run()
    heatmap = figure(at, P + "pixels")["data"][0]
    expected = data.normalize(torch.from_numpy(image)[None])[0, 0].numpy()
    np.testing.assert_allclose(values(heatmap["z"]), expected, atol=1e-6)
    assert heatmap["texttemplate"] == "%{z:.2f}"


def test_the_live_mean_and_std_are_the_training_sets(at, mnist):
    x = mnist.train_images.float().div(255)  # the lecture's own computation
    assert metric(at, "mean of all training pixels") == f"{x.mean().item():.4f}"
    assert metric(at, "std of all training pixels") == f"{x.std().item():.4f}"
    stats = table_text(at, "data-stats")
    assert list(stats["the lecture's Normalize"]) == ["0.1307", "0.3081"]
    normalized = (x - 0.1307) / 0.3081
    assert list(stats["after Normalize"]) == [f"{normalized.mean().item():.4f}", f"{normalized.std().item():.4f}"]
    honest = texts(at, "info")
    assert "6,000-image subset" in honest and "60,000" in honest


def test_histogram_bins_and_scale_are_the_users(at):
    at.select_slider(key=P + "bins").set_value(8).run()
    at.toggle(key=P + "log_y").set_value(False).run()
    histograms = figure(at, P + "histograms")
    assert [len(values(trace["y"])) for trace in histograms["data"][:2]] == [8, 8]
    assert histograms["layout"]["yaxis"]["type"] == "linear"


def test_no_mnist_at_all_gives_a_message_not_a_traceback(open_page, install_room):
    def failing_loader():
        raise MnistLoadError("mnist.unavailable", split="training", failures="cache: gone")

    install_room(loader=failing_loader)
    at = open_page("2_MNIST_Data")
    assert not at.exception
    assert "MNIST could not be loaded from any source" in texts(at, "error")
    assert "cache: gone" in " ".join(c.value for c in at.code)
    assert not at.get("plotly_chart")
