"""A drawing on the canvas → a 28×28 MNIST-style digit, by MNIST's own recipe.

MNIST's digits were made like this (LeCun, Cortes, Burges): the ink's bounding box scaled so
that its longer side is 20 px (aspect ratio kept, anti-aliased), then placed in a 28×28 frame
so that its centre of mass sits at the centre. A drawing that skips this — the whole canvas
shrunk to 28×28 — hands the model a digit of a size and place it has never seen.

    canvas RGBA [H, W, 4] uint8 → ink [H, W] → cropped [h, w] → resized [≤20, ≤20]
      → centred [28, 28] in [0, 1] (white ink on black) → normalized tensor [1, 28, 28]

Any background works: the background is the most common colour on the canvas's border, and ink
is whatever differs from it — white on black, black on white, or strokes on a transparent
canvas (there the ink is in the alpha channel and the colour channels are 0 around it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.data import MNIST_MEAN, MNIST_STD

SIZE = 28  # the frame, as in MNIST
BOX = 20  # the longer side of the digit inside it
CENTRE = 14.0  # where MNIST puts the centre of mass (pixel index; measured: 14.00 ± 0.29 on the subset)
INK_THRESHOLD = 0.1  # of full contrast: fainter pixels alone are not a drawing and do not widen its box


@dataclass(frozen=True)
class PreprocessSteps:
    """Every intermediate image of ``canvas_to_mnist``, for display."""

    canvas_shape: tuple[int, ...]  # (H, W, C) as the canvas gave it
    ink: np.ndarray  # [H, W] float32 in [0, 1]: 1 = full ink, whatever the colours
    bbox: tuple[int, int, int, int]  # (top, left, bottom, right) of the ink, bottom/right exclusive
    cropped: np.ndarray  # [h, w] float32: the ink's bounding box
    resized: np.ndarray  # [h', w'] float32: longer side 20 px, aspect ratio kept
    centre_of_mass: tuple[float, float]  # (row, col) of the resized digit, in its own coordinates
    offset: tuple[int, int]  # (row, col) where the resized digit's top-left lands in the frame
    centred: np.ndarray  # [28, 28] float32 in [0, 1]: what canvas_to_mnist returns
    tensor: torch.Tensor  # [1, 28, 28] float32: (centred − MNIST_MEAN) / MNIST_STD, the model's input

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Each step's shape: H×W×C from the canvas, C×H×W for PyTorch."""
        return {
            "canvas": tuple(self.canvas_shape),
            "ink": tuple(self.ink.shape),
            "cropped": tuple(self.cropped.shape),
            "resized": tuple(self.resized.shape),
            "centred": tuple(self.centred.shape),
            "tensor": tuple(self.tensor.shape),
        }


def canvas_to_mnist(rgba) -> np.ndarray | None:
    """The canvas drawing as MNIST's float32 [28, 28] in [0, 1], white ink on black.

    ``None`` when nothing is drawn: no image yet (``None``), or an image that is all background
    (the canvas after its reset button). Raises ``ValueError`` for an array that is not an image.
    """
    steps = canvas_to_mnist_steps(rgba)
    return None if steps is None else steps.centred


def canvas_to_mnist_steps(rgba) -> PreprocessSteps | None:
    """``canvas_to_mnist`` with every intermediate kept, or ``None`` when nothing is drawn."""
    if rgba is None:
        return None
    image = _check_image(rgba)  # [H, W, C] uint8
    ink = ink_map(image)  # [H, W]
    bbox = ink_bbox(ink)
    if bbox is None:
        return None
    top, left, bottom, right = bbox
    cropped = ink[top:bottom, left:right]  # [h, w]
    resized = resize_longer_side(cropped, BOX)  # [h', w'], max(h', w') == 20
    # Shrinking greys thin strokes; every MNIST digit reaches full white (254 or 255), so ours does too.
    resized = resized / resized.max()
    centre_of_mass = _centre_of_mass(resized)
    offset = _offset_for_centre(resized.shape, centre_of_mass)
    centred = _paste(resized, offset)  # [28, 28]
    tensor = torch.from_numpy((centred - MNIST_MEAN) / MNIST_STD).reshape(1, SIZE, SIZE)  # [1, 28, 28]
    return PreprocessSteps(tuple(image.shape), ink, bbox, cropped, resized, centre_of_mass, offset, centred, tensor)


# --------------------------------------------------------------------------- the steps


def ink_map(image: np.ndarray) -> np.ndarray:
    """How far each pixel is from the background colour: float32 [H, W] in [0, 1].

    Colours count premultiplied by alpha, so a transparent pixel is "nothing" whatever its RGB
    and an anti-aliased stroke edge on a transparent canvas counts by its coverage.
    """
    background = _border_mode(image)  # [C] uint8
    if image.shape[2] == 4 and background[3] == 0:
        # Transparent canvas: premultiplied, the background is (0, 0, 0, 0) and the largest
        # premultiplied channel of any pixel is its alpha (r·a/255 ≤ a): the ink is the alpha.
        difference = image[..., 3]  # [H, W]
    elif image.shape[2] == 4 and (image[..., 3] != 255).any():
        difference = _premultiplied_difference(image, background)
    else:
        difference = _channel_difference(image, background)
    strongest = int(difference.max())
    ink = difference.astype(np.float32)
    if strongest < INK_THRESHOLD * 255:
        return np.zeros_like(ink)
    # Scaled so the strongest stroke is 1, as in MNIST (where every digit reaches 254 or 255),
    # whatever the pen's colour or contrast.
    ink *= 1.0 / strongest
    return ink


def _channel_difference(image: np.ndarray, background: np.ndarray) -> np.ndarray:
    """max over channels of |pixel − background|, uint8 [H, W].

    Most of a canvas is background: whole pixels are compared first (one uint32 each when the
    image is RGBA), and the per-channel arithmetic is done only for the others.
    """
    h, w, c = image.shape
    pixels = image.reshape(h * w, c)  # [H·W, C]
    if c == 4 and image.flags.c_contiguous:
        differs = pixels.view(np.uint32)[:, 0] != background.view(np.uint32)[0]  # [H·W]
    else:
        differs = (pixels != background).any(axis=1)
    where = np.flatnonzero(differs)
    difference = np.zeros(h * w, dtype=np.uint8)
    difference[where] = np.abs(pixels[where].astype(np.int16) - background).max(axis=1)
    return difference.reshape(h, w)


def _premultiplied_difference(image: np.ndarray, background: np.ndarray) -> np.ndarray:
    """The same for partly transparent images on a not fully transparent background (rare)."""
    pixels = image.astype(np.int32)  # [H, W, 4]
    pixels[..., :3] = pixels[..., :3] * pixels[..., 3:] // 255
    back = background.astype(np.int32)
    back[:3] = back[:3] * back[3] // 255
    return np.abs(pixels - back).max(axis=2).astype(np.uint8)  # [H, W]


def ink_bbox(ink: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right) of the ink, bottom/right exclusive; None if there is none.

    Pixels fainter than ``INK_THRESHOLD`` do not count, so a faint speck far from the digit does
    not stretch the box; inside the box they are kept (they are the strokes' anti-aliased edges).
    """
    inked = ink >= INK_THRESHOLD
    rows = np.flatnonzero(inked.any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(inked.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def resize_longer_side(image: np.ndarray, longer: int = BOX) -> np.ndarray:
    """Scale [h, w] so that max(h', w') == longer, aspect ratio kept (bilinear, anti-aliased)."""
    h, w = image.shape
    scale = longer / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    x = torch.from_numpy(np.ascontiguousarray(image)).reshape(1, 1, h, w)  # [1, 1, h, w]
    # antialias=True widens the filter when shrinking, so every canvas pixel counts (no aliasing).
    y = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=True)
    return y.reshape(new_h, new_w).clamp_(0.0, 1.0).numpy()  # [h', w']


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    mass = float(image.sum())
    h, w = image.shape
    row = float(image.sum(axis=1) @ np.arange(h)) / mass
    col = float(image.sum(axis=0) @ np.arange(w)) / mass
    return row, col


def _offset_for_centre(shape: tuple[int, int], centre_of_mass: tuple[float, float]) -> tuple[int, int]:
    """Top-left corner that puts the centre of mass at (14, 14), in whole pixels as MNIST did.

    The same as MNIST's two steps (paste centred by bounding box, then shift by the centre of
    mass), done at once; the digit is kept inside the frame when its mass sits far off-centre.
    """
    (h, w), (row, col) = shape, centre_of_mass
    top = min(max(round(CENTRE - row), 0), SIZE - h)
    left = min(max(round(CENTRE - col), 0), SIZE - w)
    return top, left


def _paste(image: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    frame = np.zeros((SIZE, SIZE), dtype=np.float32)  # [28, 28] black
    top, left = offset
    h, w = image.shape
    frame[top : top + h, left : left + w] = image
    return frame


def _border_mode(image: np.ndarray) -> np.ndarray:
    """The most common colour on the image's border: the background, even where strokes touch it."""
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])  # [2H + 2W, C] uint8
    packed = np.zeros((len(border), 4), dtype=np.uint8)
    packed[:, : border.shape[1]] = border
    keys = packed.view(np.uint32).reshape(-1)  # one number per colour, so np.unique is fast
    colours, first, counts = np.unique(keys, return_index=True, return_counts=True)
    return border[first[np.argmax(counts)]]  # [C] uint8


def _check_image(rgba) -> np.ndarray:
    image = np.asarray(rgba)
    if image.ndim == 2:
        image = image[:, :, None]  # a grey image: one channel
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an image of shape H×W×4 (RGBA), H×W×3 or H×W, got {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"the image is empty: shape {image.shape}")
    if image.dtype != np.uint8:
        if not np.issubdtype(image.dtype, np.integer) or image.min() < 0 or image.max() > 255:
            raise ValueError(f"expected uint8 pixels 0..255, got {image.dtype}")
        image = image.astype(np.uint8)
    return image
