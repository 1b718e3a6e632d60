"""Face boxes between frames: source image → composite, and what a crop keeps of them. Pure.

Faces are detected once per dataset image, in that image's own upright pixels. A composite
shows each member resized to its recorded rectangle (``x``, ``y``, ``width``, ``height`` of
the pairs table) and pasted at ``(x, y)``, so a face box maps into the composite by the
member's own per-axis factors ``width / image_width`` and ``height / image_height`` (the
nominal ``scale`` differs from them by the rounding of the member's sides, which is why the
image size is used when known) plus the member's offset. Mapped boxes are clipped to the
member's rectangle: a face never reaches into padding or a neighbour.

A crop keeps a *fraction* of a face box (its area inside the crop); "fully kept" means the
whole box is inside, "cropped out" none of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cropaudit.geometry.crops import Crop
from cropaudit.geometry.placement import Placement

#: How much of a face a crop keeps: all of it, some of it, none of it.
FaceKept = Literal["full", "partial", "none"]
#: Fractions this close to 1 count as fully kept (float rounding of mapped boxes).
FULL_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels: ``left``/``top`` inclusive, ``right``/``bottom`` exclusive."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    def contains(self, x: float, y: float) -> bool:
        """Whether the point (e.g. a salient point, in pixels) lies inside the box."""
        return self.left <= x < self.right and self.top <= y < self.bottom

    def intersection(self, other: Box) -> float:
        """Area shared with another box."""
        w = min(self.right, other.right) - max(self.left, other.left)
        h = min(self.bottom, other.bottom) - max(self.top, other.top)
        return max(0.0, w) * max(0.0, h)

    def clipped(self, bounds: Box) -> Box | None:
        """The part of the box inside ``bounds``; None if nothing is."""
        left, top = max(self.left, bounds.left), max(self.top, bounds.top)
        right, bottom = min(self.right, bounds.right), min(self.bottom, bounds.bottom)
        if right <= left or bottom <= top:
            return None
        return Box(left, top, right - left, bottom - top)

    @classmethod
    def of_crop(cls, crop: Crop) -> Box:
        return cls(crop.left, crop.top, crop.width, crop.height)

    @classmethod
    def of_placement(cls, placement: Placement) -> Box:
        return cls(placement.x, placement.y, placement.width, placement.height)


def member_factors(placement: Placement, image_size: tuple[int, int] | None = None
                   ) -> tuple[float, float]:
    """(x, y) factors from a member's source image to its rectangle in the composite.

    With the source image's (width, height) these are exact for the rendered composite (the
    member is resized to exactly ``placement.width`` × ``placement.height``); without it the
    recorded nominal ``scale`` is used on both axes.
    """
    if image_size is None:
        return placement.scale, placement.scale
    w, h = image_size
    if w <= 0 or h <= 0:
        raise ValueError(f"image size must be positive, got {w}x{h}")
    return placement.width / w, placement.height / h


def point_in_composite(x: float, y: float, placement: Placement,
                       image_size: tuple[int, int] | None = None) -> tuple[float, float]:
    """A point of a member's source image (e.g. a face landmark) in composite pixels."""
    fx, fy = member_factors(placement, image_size)
    return placement.x + x * fx, placement.y + y * fy


def box_in_composite(box: Box, placement: Placement,
                     image_size: tuple[int, int] | None = None) -> Box | None:
    """A box of a member's source image in composite pixels, clipped to the member's rectangle.

    None when nothing of it lies inside the member (a box wholly outside its own image).
    """
    fx, fy = member_factors(placement, image_size)
    mapped = Box(placement.x + box.left * fx, placement.y + box.top * fy,
                 box.width * fx, box.height * fy)
    return mapped.clipped(Box.of_placement(placement))


def kept_fraction(box: Box, crop: Crop) -> float:
    """Fraction of the box's area inside the crop (0 = cropped out, 1 = fully kept)."""
    if box.area <= 0:
        raise ValueError("a face box needs a positive area")
    return min(1.0, Box.of_crop(crop).intersection(box) / box.area)


def face_kept(fraction: float) -> FaceKept:
    """The label people give a crop: keeps the face fully, partly, or not at all."""
    if fraction >= 1.0 - FULL_TOLERANCE:
        return "full"
    return "partial" if fraction > 0.0 else "none"
