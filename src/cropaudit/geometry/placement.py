"""Composition geometry: where each member image sits inside a composite. Pure, no I/O.

The audit shows the saliency model several images joined into one picture (a pair, or all
groups at once) and asks which member holds the salient point. This module decides the
composite's size and each member's rectangle from the members' sizes and the sampling design
(scaling, layout, padding), the way Twitter's notebooks joined images: members side by side
(or stacked), aligned to the top (or left) edge, on a plain background, with ``padding`` pixels
between neighbours. The pairs table records this geometry so that composites can be rebuilt
exactly from it, and every later stage (saliency, crops, statistics) reads rectangles from it
instead of recomputing them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Layout = Literal["horizontal", "vertical"]
Scaling = Literal["none", "fixed_height", "max_side"]


@dataclass(frozen=True)
class Placement:
    """One member's rectangle inside the composite, after scaling."""

    x: int
    y: int
    width: int
    height: int
    scale: float

    def contains(self, px: float, py: float) -> bool:
        return self.x <= px < self.x + self.width and self.y <= py < self.y + self.height

    def distance(self, px: float, py: float) -> float:
        """Euclidean distance from a point to the rectangle (0 inside)."""
        dx = max(self.x - px, 0.0, px - (self.x + self.width))
        dy = max(self.y - py, 0.0, py - (self.y + self.height))
        return math.hypot(dx, dy)

    @property
    def area(self) -> int:
        return self.width * self.height

    def as_box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.width, self.height)


@dataclass(frozen=True)
class CompositeGeometry:
    """Size of a composite and its members' rectangles, in member order."""

    width: int
    height: int
    placements: tuple[Placement, ...]

    def member_at(self, px: float, py: float) -> int:
        """Index of the member holding point (px, py).

        A point in padding or in the empty area beside a shorter member belongs to the nearest
        member; exact ties go to the first, so exactly one member "wins" every composite.
        """
        for i, p in enumerate(self.placements):
            if p.contains(px, py):
                return i
        distances = [p.distance(px, py) for p in self.placements]
        return distances.index(min(distances))


def scaled_size(width: int, height: int, scaling: Scaling, size: int) -> tuple[int, int, float]:
    """A member's size after the sampling design's scaling, and the factor applied.

    ``none`` keeps the image as it is; ``fixed_height`` scales it to ``size`` pixels high (the
    paper's "fixed height" setting); ``max_side`` fits its longer side to ``size``, up or down.
    Sides are rounded half up and never drop below one pixel.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if scaling == "none":
        return width, height, 1.0
    if size <= 0:
        raise ValueError(f"scaling size must be positive, got {size}")
    if scaling == "fixed_height":
        scale = size / height
    elif scaling == "max_side":
        scale = size / max(width, height)
    else:
        raise ValueError(f"unknown scaling {scaling!r}")
    return max(1, math.floor(width * scale + 0.5)), max(1, math.floor(height * scale + 0.5)), scale


def compose(
    sizes: Sequence[tuple[int, int]],
    *,
    layout: Layout = "horizontal",
    scaling: Scaling = "none",
    scaling_size: int = 0,
    padding: int = 0,
) -> CompositeGeometry:
    """Geometry of the composite of images with the given (width, height), in order.

    Horizontal: left to right, tops aligned at y = 0, height = tallest member. Vertical: top to
    bottom, left edges at x = 0, width = widest member.
    """
    if not sizes:
        raise ValueError("a composite needs at least one member")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    if layout not in ("horizontal", "vertical"):
        raise ValueError(f"unknown layout {layout!r}")
    scaled = [scaled_size(w, h, scaling, scaling_size) for w, h in sizes]
    placements = []
    offset = 0
    for w, h, s in scaled:
        if layout == "horizontal":
            placements.append(Placement(offset, 0, w, h, s))
            offset += w + padding
        else:
            placements.append(Placement(0, offset, w, h, s))
            offset += h + padding
    extent = offset - padding
    if layout == "horizontal":
        return CompositeGeometry(extent, max(h for _, h, _ in scaled), tuple(placements))
    return CompositeGeometry(max(w for w, _, _ in scaled), extent, tuple(placements))
