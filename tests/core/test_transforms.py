"""The lecture's transform step by step, and the pixel statistics, against the maths written out by hand."""

import numpy as np
import pytest
import torch

from core import data, transforms


@pytest.fixture(scope="module")
def subset_images() -> torch.Tensor:
    return data.load_mnist_split(train=True, sources="subset").images  # [6000, 28, 28] uint8


@pytest.fixture(scope="module")
def image(subset_images) -> np.ndarray:
    return subset_images[3].numpy()  # [28, 28] uint8, a real digit


# ---- one image through ToTensor, Normalize and view --------------------------------------------


def test_steps_have_the_lectures_shapes_and_dtypes(image):
    steps = transforms.lecture_transform_steps(image)
    assert [s.shape for s in steps] == [(28, 28, 1), (1, 28, 28), (1, 28, 28), (1, 784)]
    assert [s.dtype for s in steps] == ["uint8", "float32", "float32", "float32"]
    assert all(s.code for s in steps) and [s.key for s in steps] == ["pil", "to_tensor", "normalize", "flatten"]


def test_each_step_is_the_maths_by_hand(image):
    hwc, tensor, normalized, flat = (s.values for s in transforms.lecture_transform_steps(image))
    # NumPy H×W×C: the same bytes with a channel axis of 1
    np.testing.assert_array_equal(hwc, image[:, :, None])
    # ToTensor: channel first (permute H×W×C → C×H×W) and ÷ 255
    by_hand = np.transpose(hwc, (2, 0, 1)).astype(np.float32) / np.float32(255)
    np.testing.assert_allclose(tensor, by_hand, rtol=0, atol=1e-7)
    assert tensor.min() >= 0 and tensor.max() <= 1
    # Normalize: (x − 0.1307) / 0.3081
    np.testing.assert_allclose(normalized, (tensor - 0.1307) / 0.3081, rtol=0, atol=1e-6)
    # view(-1, 784): row 0's 28 pixels, then row 1's, …
    np.testing.assert_array_equal(flat[0, 28 * 5 : 28 * 6], normalized[0, 5, :])
    np.testing.assert_array_equal(flat.reshape(1, 28, 28), normalized)


def test_the_flat_vector_is_what_training_feeds_the_mlp(image):
    """The app never runs the per-image transform: core.data.normalize does the whole set at once."""
    flat = transforms.lecture_transform_steps(image)[-1].values
    batched = data.normalize(torch.from_numpy(image)[None]).view(-1, 784).numpy()  # [1, 784]
    np.testing.assert_allclose(flat, batched, rtol=0, atol=1e-6)


def test_step_ranges_follow_the_pixels(image):
    steps = transforms.lecture_transform_steps(image)
    low, high = int(image.min()), int(image.max())
    assert (steps[0].min, steps[0].max) == (low, high)
    assert steps[1].min == pytest.approx(low / 255) and steps[1].max == pytest.approx(high / 255)
    assert steps[2].max == pytest.approx((high / 255 - 0.1307) / 0.3081, abs=1e-6)
    assert steps[3].mean == pytest.approx(((image / 255 - 0.1307) / 0.3081).mean(), abs=1e-6)


@pytest.mark.parametrize(
    "bad", [np.zeros((28, 28), np.float32), np.zeros((1, 28, 28), np.uint8), np.zeros((28, 27), np.uint8)]
)
def test_anything_but_one_uint8_image_is_refused(bad):
    with pytest.raises(ValueError, match=r"uint8 image of shape \[28, 28\]"):
        transforms.lecture_transform_steps(bad)


# ---- the statistics of the whole set ------------------------------------------------------------


def test_compute_mean_std_matches_torch_on_the_subset(subset_images):
    x = subset_images.float().div(255)  # the lecture's way, float32
    mean, std = data.compute_mean_std(subset_images)
    assert mean == pytest.approx(x.mean().item(), abs=1e-6)
    assert std == pytest.approx(x.std().item(), abs=1e-6)  # Bessel's n − 1 is nothing at 4.7 M pixels
    exact = subset_images.double().div(255)
    assert mean == pytest.approx(exact.mean().item(), abs=1e-12)
    assert std == pytest.approx(exact.std(correction=0).item(), abs=1e-9)  # E[x²] − mean²: 1e-11 off


def test_pixel_stats_say_what_normalize_makes_of_the_pixels(subset_images):
    stats = transforms.pixel_stats(subset_images)
    assert (stats.n_images, stats.n_pixels) == (6000, 6000 * 784)
    assert (stats.mean, stats.std) == data.compute_mean_std(subset_images)
    X = data.normalize(subset_images).double()  # the tensors training really uses
    assert stats.norm_mean == pytest.approx(X.mean().item(), abs=1e-6)
    assert stats.norm_std == pytest.approx(X.std(correction=0).item(), abs=1e-6)
    assert stats.zero_fraction == pytest.approx((subset_images == 0).double().mean().item())


def test_pixel_stats_by_hand():
    # half black, half white: mean ½, std ½; after Normalize (½ − 0.1307)/0.3081 and ½/0.3081
    images = np.array([[[0, 255], [255, 0]]], dtype=np.uint8)
    stats = transforms.pixel_stats(images)
    assert (stats.mean, stats.std) == pytest.approx((0.5, 0.5))
    assert stats.norm_mean == pytest.approx((0.5 - 0.1307) / 0.3081)
    assert stats.norm_std == pytest.approx(0.5 / 0.3081)
    assert stats.byte_counts[0] == 2 and stats.byte_counts[255] == 2 and stats.byte_counts.sum() == 4
    assert stats.zero_fraction == 0.5
    # with the data's own mean and std, Normalize gives exactly mean 0 and std 1
    own = transforms.pixel_stats(images, mean=0.5, std=0.5)
    assert (own.norm_mean, own.norm_std) == pytest.approx((0.0, 1.0))


def test_byte_counts_are_bincount(subset_images):
    counts = transforms.byte_counts(subset_images)
    np.testing.assert_array_equal(counts, np.bincount(subset_images.numpy().ravel(), minlength=256))
    with pytest.raises(ValueError, match="uint8"):
        transforms.byte_counts(subset_images.float())


@pytest.mark.parametrize("bins", [1, 7, 32, 256])
def test_pixel_histogram_equals_numpy_on_the_pixels(subset_images, bins):
    pixels = subset_images.numpy().ravel() / 255.0
    histogram = transforms.pixel_histogram(transforms.byte_counts(subset_images), bins)
    counts, edges = np.histogram(pixels, bins=bins, range=(0.0, 1.0))
    np.testing.assert_array_equal(histogram.counts, counts)
    np.testing.assert_allclose(histogram.edges, edges)
    np.testing.assert_allclose(histogram.centers, (edges[:-1] + edges[1:]) / 2)
    assert histogram.counts.sum() == pixels.size


def test_normalized_histogram_is_the_histogram_of_normalized_pixels(subset_images):
    before = transforms.pixel_histogram(transforms.byte_counts(subset_images), 32)
    after = transforms.normalized_histogram(before)
    normalized = (subset_images.numpy().ravel() / 255.0 - 0.1307) / 0.3081
    counts, _ = np.histogram(normalized, bins=after.edges)
    np.testing.assert_array_equal(after.counts, counts)
    assert after.edges[0] == pytest.approx(-0.1307 / 0.3081) and after.edges[-1] == pytest.approx(0.8693 / 0.3081)
    np.testing.assert_array_equal(after.counts, before.counts)  # same shape, moved and stretched


@pytest.mark.parametrize(
    "counts, bins, message",
    [
        (np.ones(255), 32, "256 byte counts"),
        (np.ones(256), 0, "bins"),
        (np.ones(256), 257, "bins"),
    ],
)
def test_pixel_histogram_refuses_bad_arguments(counts, bins, message):
    with pytest.raises(ValueError, match=message):
        transforms.pixel_histogram(counts, bins)
