"""Pair composites for the app: member rectangles (pure geometry) and the joined pixels.

TODO(shared module): :func:`compose` belongs in the pipeline's composition-geometry module
(``cropaudit.composition``, being written in the workflow issue). It follows the same
conventions as the pairs table in ``docs/data-contracts.md`` (layout ``horizontal`` /
``vertical``, scaling ``none`` / ``fixed_height`` / ``max_side`` with a size, padding between
neighbours, members top- or left-aligned) so that the app's pair mode shows what the audit
measures; replace it with the shared function once that lands on main.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

Layout = Literal["horizontal", "vertical"]
Scaling = Literal["none", "fixed_height", "max_side"]

#: Colour of the padding and of the empty area beside a smaller member.
BACKGROUND = (255, 255, 255)


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
        """Distance from a point to the rectangle (0 inside)."""
        dx = max(self.x - px, 0.0, px - (self.x + self.width))
        dy = max(self.y - py, 0.0, py - (self.y + self.height))
        return math.hypot(dx, dy)


@dataclass(frozen=True)
class CompositeGeometry:
    """Composite size and each member's rectangle, in member order."""

    width: int
    height: int
    placements: tuple[Placement, ...]

    def member_at(self, px: float, py: float) -> int:
        """Member holding the point; in padding the nearest member (ties: the first)."""
        for i, p in enumerate(self.placements):
            if p.contains(px, py):
                return i
        distances = [p.distance(px, py) for p in self.placements]
        return distances.index(min(distances))


def compose(
    sizes: Sequence[tuple[int, int]],
    *,
    layout: Layout = "horizontal",
    scaling: Scaling = "none",
    scaling_size: int = 0,
    padding: int = 0,
) -> CompositeGeometry:
    """Where each member of sizes (width, height) goes, joined in order.

    ``fixed_height`` scales each member to ``scaling_size`` pixels high, ``max_side`` fits its
    longer side to it; sides round half up. Horizontal members share y = 0, vertical x = 0.
    """
    if not sizes:
        raise ValueError("a composite needs at least one member")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    if scaling != "none" and scaling_size <= 0:
        raise ValueError(f"scaling size must be positive, got {scaling_size}")
    placements: list[Placement] = []
    offset = 0
    for w, h in sizes:
        if w <= 0 or h <= 0:
            raise ValueError(f"image size must be positive, got {w}x{h}")
        scale = {
            "none": 1.0,
            "fixed_height": scaling_size / h,
            "max_side": scaling_size / max(w, h),
        }[scaling]
        sw, sh = max(1, math.floor(w * scale + 0.5)), max(1, math.floor(h * scale + 0.5))
        if layout == "horizontal":
            placements.append(Placement(offset, 0, sw, sh, scale))
            offset += sw + padding
        elif layout == "vertical":
            placements.append(Placement(0, offset, sw, sh, scale))
            offset += sh + padding
        else:
            raise ValueError(f"unknown layout {layout!r}")
    extent = offset - padding
    if layout == "horizontal":
        return CompositeGeometry(extent, max(p.height for p in placements), tuple(placements))
    return CompositeGeometry(max(p.width for p in placements), extent, tuple(placements))


def render_composite(images: Sequence[np.ndarray], geometry: CompositeGeometry) -> np.ndarray:
    """Paste RGB members into one RGB array at their rectangles (Lanczos when scaled)."""
    canvas = np.empty((geometry.height, geometry.width, 3), dtype=np.uint8)
    canvas[...] = BACKGROUND
    for rgb, p in zip(images, geometry.placements, strict=True):
        member = np.asarray(rgb)
        if member.shape[:2] != (p.height, p.width):
            member = np.asarray(
                Image.fromarray(np.ascontiguousarray(member)).resize(
                    (p.width, p.height), Image.Resampling.LANCZOS
                )
            )
        canvas[p.y : p.y + p.height, p.x : p.x + p.width] = member
    return canvas
