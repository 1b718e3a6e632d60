"""A composite's pixels: members' upright pixels pasted at their placements.

The audit's pair-saliency stage, the probes and the app's pair mode all show a model several
images joined into one, and must mean the same thing by "the composite", or the app would show
something other than what the audit measured. So all draw it with :func:`render_composite`,
which pastes members' pixels (decoded by :func:`cropaudit.imaging.upright.decode_upright`,
the single-image decoder) at the rectangles of a
:class:`~cropaudit.geometry.placement.CompositeGeometry`. Where the members sit is decided,
without pixels, in :mod:`cropaudit.geometry.placement`; which member won, and each member's
scores, in :mod:`cropaudit.engine.member_scores`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from cropaudit.geometry.placement import CompositeGeometry

#: Default colour of the padding and of the empty area beside a smaller member.
BACKGROUND: tuple[int, int, int] = (255, 255, 255)


def parse_colour(text: str) -> tuple[int, int, int]:
    """'#rrggbb' (as the pairs table records the background) -> (r, g, b)."""
    text = text.lstrip("#")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def fit_member(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """A member's upright RGB pixels at its placed size (Lanczos when the layout scaled it)."""
    member = np.asarray(rgb)
    if member.shape[:2] == (height, width):
        return member
    image = Image.fromarray(np.ascontiguousarray(member))
    return np.asarray(image.resize((width, height), Image.Resampling.LANCZOS))


def render_composite(
    members: Sequence[np.ndarray],
    geometry: CompositeGeometry,
    background: Sequence[int] = BACKGROUND,
) -> np.ndarray:
    """The composite as an RGB uint8 array (H, W, 3): each member at its placement.

    ``members`` are upright RGB arrays in placement order, either already at their placed
    size or at their original size (then scaled here with :func:`fit_member`).
    """
    canvas = np.empty((geometry.height, geometry.width, 3), dtype=np.uint8)
    canvas[...] = tuple(background)
    for rgb, p in zip(members, geometry.placements, strict=True):
        canvas[p.y : p.y + p.height, p.x : p.x + p.width] = fit_member(rgb, p.width, p.height)
    return canvas
