"""The lecture's MNIST transform opened up, step by step, and the pixel statistics behind it.

    PIL image (mode "L", 28×28)
      → NumPy H×W×C            uint8   [28, 28, 1]   0..255     what ToTensor reads
      → ToTensor()             float32 [1, 28, 28]   0..1       C×H×W, divided by 255
      → Normalize((0.1307,), (0.3081,))  [1, 28, 28]  (x − mean) / std
      → x.view(-1, 784)        float32 [1, 784]                 the vector the MLP sees

Every step runs the real torchvision code; the tests check each one against the maths.
Where 0.1307 and 0.3081 come from: the mean and standard deviation of all training pixels
(scaled to 0..1), see ``pixel_stats``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from core.data import MNIST_MEAN, MNIST_STD, mean_std_of_counts

PIXELS = 28 * 28  # 784, the MLP's in_features


# --------------------------------------------------------------------------- one image, step by step


@dataclass(frozen=True)
class TransformStep:
    """One step of the transform: what ran and what came out."""

    key: str  # "pil" | "to_tensor" | "normalize" | "flatten": the UI names the step in its language
    code: str  # the line of Python that does it
    values: np.ndarray  # the result, as an array (a tensor's values, same shape and dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    @property
    def dtype(self) -> str:
        return str(self.values.dtype)  # "uint8", "float32"

    @property
    def min(self) -> float:
        return float(self.values.min())

    @property
    def max(self) -> float:
        return float(self.values.max())

    @property
    def mean(self) -> float:
        return float(self.values.astype(np.float64).mean())


def lecture_transform_steps(image_uint8) -> list[TransformStep]:
    """One 28×28 uint8 image through the lecture's transform, keeping every intermediate.

    The lecture's ``transforms.Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])`` as
    torchvision's MNIST dataset applies it (to a PIL image), then the model's ``x.view(-1, 784)``.
    """
    from torchvision import transforms  # slow import; only when a step table is asked for

    pixels = np.asarray(image_uint8)
    if pixels.dtype != np.uint8 or pixels.shape != (28, 28):
        raise ValueError(f"expected one uint8 image of shape [28, 28], got {pixels.dtype} {list(pixels.shape)}")
    img = Image.fromarray(pixels)  # mode "L" (8-bit grey): what torchvision's MNIST hands to the transform
    hwc = np.asarray(img)[..., None]  # [28, 28, 1]: H×W×C, how ToTensor reads a PIL image
    tensor = transforms.ToTensor()(img)  # [1, 28, 28] float32 in [0, 1]
    normalized = transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))(tensor)  # [1, 28, 28]
    flat = normalized.view(-1, PIXELS)  # [1, 784]
    return [
        TransformStep("pil", "np.asarray(img)[..., None]", hwc),
        TransformStep("to_tensor", "x = transforms.ToTensor()(img)", tensor.numpy()),
        TransformStep("normalize", "x = transforms.Normalize((0.1307,), (0.3081,))(x)", normalized.numpy()),
        TransformStep("flatten", "x = x.view(-1, 784)", flat.numpy()),
    ]


# --------------------------------------------------------------------------- the whole training set


@dataclass(frozen=True)
class PixelStats:
    """Pixel statistics of a set of uint8 images, before and after the lecture's Normalize."""

    n_images: int
    n_pixels: int
    mean: float  # of the pixels scaled to [0, 1]: the number Normalize subtracts
    std: float  # population standard deviation, same scale: the number it divides by
    byte_counts: np.ndarray  # [256] int64: how many pixels have each value 0..255
    norm_mean: float  # after Normalize((0.1307,), (0.3081,)): near 0 on the full set
    norm_std: float  # near 1 on the full set

    @property
    def zero_fraction(self) -> float:
        """The share of pure-black background pixels (value 0)."""
        return float(self.byte_counts[0]) / self.n_pixels


def byte_counts(images_uint8) -> np.ndarray:
    """[256] int64: how many pixels take each byte value 0..255 (exact, one pass)."""
    pixels = torch.as_tensor(images_uint8)
    if pixels.dtype != torch.uint8:
        raise ValueError(f"expected uint8 images, got {pixels.dtype}")
    return torch.bincount(pixels.reshape(-1), minlength=256).numpy().astype(np.int64)


def pixel_stats(images_uint8, mean: float = MNIST_MEAN, std: float = MNIST_STD) -> PixelStats:
    """Mean and std of all pixels (the origin of 0.1307 and 0.3081), and what Normalize makes of them.

    Normalize is affine, x' = (x − mean) / std, so the normalized pixels have mean
    (m − mean) / std and standard deviation s / std, where m and s are the data's own.
    """
    images = torch.as_tensor(images_uint8)  # [N, 28, 28] uint8
    if images.ndim != 3:
        raise ValueError(f"expected images [N, H, W], got shape {list(images.shape)}")
    counts = byte_counts(images)  # one pass: the statistics follow from the counts exactly
    data_mean, data_std = mean_std_of_counts(counts)
    return PixelStats(
        n_images=int(images.shape[0]),
        n_pixels=int(images.numel()),
        mean=data_mean,
        std=data_std,
        byte_counts=counts,
        norm_mean=(data_mean - mean) / std,
        norm_std=data_std / std,
    )


@dataclass(frozen=True)
class Histogram:
    """Counts per bin; ``edges`` has one more entry than ``counts``."""

    edges: np.ndarray  # [bins + 1]
    counts: np.ndarray  # [bins] int64

    @property
    def centers(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2

    @property
    def widths(self) -> np.ndarray:
        return np.diff(self.edges)


def pixel_histogram(counts_by_byte, bins: int = 32) -> Histogram:
    """Histogram of pixel values scaled to [0, 1], from ``byte_counts`` (no pass over the pixels).

    Bin i covers [i/bins, (i+1)/bins); the last bin includes 1.0, like ``np.histogram``.
    """
    counts_by_byte = np.asarray(counts_by_byte)
    if counts_by_byte.shape != (256,):
        raise ValueError(f"expected 256 byte counts, got shape {list(counts_by_byte.shape)}")
    if not 1 <= bins <= 256:
        raise ValueError(f"bins must be 1..256, got {bins}")
    counts, edges = np.histogram(np.arange(256) / 255.0, bins=bins, range=(0.0, 1.0), weights=counts_by_byte)
    return Histogram(edges=edges, counts=counts.astype(np.int64))


def normalized_histogram(histogram: Histogram, mean: float = MNIST_MEAN, std: float = MNIST_STD) -> Histogram:
    """The same pixels after Normalize: every bin moves to (edge − mean) / std, its count stays.

    Normalizing shifts and stretches the histogram; it does not change its shape.
    """
    return Histogram(edges=(histogram.edges - mean) / std, counts=histogram.counts.copy())
