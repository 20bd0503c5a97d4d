"""MNIST's own file format (IDX) and torchvision's folder layout for it.

IDX: a big-endian header (two zero bytes, a type code, the number of dimensions, each size),
then the raw bytes. torchvision keeps the four uncompressed files under ``<root>/MNIST/raw``.
"""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path

import numpy as np

# torchvision's file names; the same bytes as MNIST's original uncompressed files.
TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

IDX_UINT8 = 0x08


def raw_dir(data_dir: Path | str) -> Path:
    """Where torchvision keeps MNIST's raw files under its ``root``."""
    return Path(data_dir) / "MNIST" / "raw"


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
    write_atomically(Path(path), idx_bytes(array))


def write_atomically(path: Path, payload: bytes) -> None:
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
