"""Crop geometry of Twitter's saliency cropper: pure functions, no I/O.

Given an image size, a salient point and an aspect ratio (height / width), the original
program keeps the largest window of that ratio and centres it on the salient point, shifted to
stay inside the image. Sizes are rounded like C's ``lroundf`` on float32 values; this is what
the reference outputs were verified against, so the workflow and the app reuse it unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

#: Aspect ratios (height / width) the original program was run with in the paper's audits.
DEFAULT_ASPECT_RATIOS: tuple[float, ...] = (0.56, 1.0, 1.14, 2.0)


@dataclass(frozen=True)
class Crop:
    """A crop window in image pixels (``left``/``top`` inclusive, size in pixels)."""

    left: int
    top: int
    width: int
    height: int
    aspect_ratio: float

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height

    def contains(self, x: float, y: float) -> bool:
        """Whether point (x, y) lies inside the window."""
        return self.left <= x < self.right and self.top <= y < self.bottom

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.left, self.top, self.width, self.height)


def lroundf(value: float | np.floating) -> int:
    """C ``lroundf``: round a float32 value half away from zero.

    The value is first rounded to float32 (as the original computes in float), then rounded
    exactly in double precision, which holds every float32 value without error.
    """
    v = float(np.float32(value))
    return math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)


def _place(center: int, size: int, extent: int) -> int:
    """Start of a window of ``size`` centred on ``center``, kept inside ``[0, extent)``."""
    start = center - size // 2
    return max(0, min(start, extent - size))


def crop_rectangle(
    width: int, height: int, center_x: int, center_y: int, aspect_ratio: float
) -> Crop:
    """Largest window of ``aspect_ratio`` (h/w) centred on (center_x, center_y) inside the image."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if not aspect_ratio > 0 or not math.isfinite(aspect_ratio):
        raise ValueError(f"aspect ratio must be a positive number, got {aspect_ratio}")
    ratio = np.float32(aspect_ratio)
    image_ratio = np.float32(height) / np.float32(width)
    if ratio < image_ratio:
        crop_h = min(height, max(1, lroundf(ratio * np.float32(width))))
        return Crop(0, _place(center_y, crop_h, height), width, crop_h, float(aspect_ratio))
    crop_w = min(width, max(1, lroundf(np.float32(height) / ratio)))
    return Crop(_place(center_x, crop_w, width), 0, crop_w, height, float(aspect_ratio))


def image_aspect_ratio(width: int, height: int) -> float:
    """The image's own aspect ratio (h/w) in the original's float32 arithmetic."""
    return float(np.float32(height) / np.float32(width))


def default_aspect_ratios(width: int, height: int) -> list[float]:
    """Ratios used when none are given: 0.56, 1.0, 1.14, 2.0 and the image's own."""
    return [*DEFAULT_ASPECT_RATIOS, image_aspect_ratio(width, height)]


def candidate_crops(
    width: int,
    height: int,
    salient_point: tuple[int, int],
    aspect_ratios: Iterable[float] | None = None,
    *,
    symmetric: bool = False,
) -> list[Crop]:
    """One crop per aspect ratio, as the original program prints them.

    For images judged left-right symmetric the original centres every crop horizontally on the
    image's middle (``(int)(0.5 * W)``) instead of the salient x; the salient y is kept.
    """
    ratios: Sequence[float] = (
        default_aspect_ratios(width, height) if aspect_ratios is None else list(aspect_ratios)
    )
    cx, cy = salient_point
    if symmetric:
        cx = int(0.5 * width)
    return [crop_rectangle(width, height, cx, cy, r) for r in ratios]


def intersection_area(crop: Crop, box: tuple[float, float, float, float]) -> float:
    """Area of ``crop`` ∩ ``box`` where box is (left, top, width, height)."""
    bl, bt, bw, bh = box
    w = min(crop.right, bl + bw) - max(crop.left, bl)
    h = min(crop.bottom, bt + bh) - max(crop.top, bt)
    return float(max(0.0, w) * max(0.0, h))
