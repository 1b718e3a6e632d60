"""Pair composites for the app: the pipeline's geometry, and the joined pixels.

Geometry (layout, scaling, padding, member rectangles, which member holds a point) comes from
:mod:`cropaudit.geometry.composition`, the module that also lays out the workflow's pairs
table, so the app's pair mode shows exactly what the audit measures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from cropaudit.geometry.composition import CompositeGeometry, Layout, Placement, Scaling, compose

__all__ = [
    "BACKGROUND", "CompositeGeometry", "Layout", "Placement", "Scaling", "compose",
    "render_composite",
]

#: Colour of the padding and of the empty area beside a smaller member.
BACKGROUND = (255, 255, 255)


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
