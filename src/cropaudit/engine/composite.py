"""Composites: members' upright pixels placed at their geometry, and each member's scores.

The audit's pair-saliency stage and the app's pair mode both show a model several images
joined into one. They must mean the same thing by "the composite" and by "this member won",
or the app would show something other than what the audit measured. So both use this module:
:func:`render_composite` pastes members' pixels (decoded by
:func:`cropaudit.imaging.upright.decode_upright`, the single-image decoder) at the
rectangles of a :class:`~cropaudit.geometry.composition.CompositeGeometry`, and
:func:`score_members` says which member holds the salient point and summarises the model's
grid scores inside each member's rectangle. The geometry itself stays pure (no pixels) in
:mod:`cropaudit.geometry.composition`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from cropaudit.engine.types import SaliencyResult
from cropaudit.geometry.composition import CompositeGeometry

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


#: The statistics of grid scores recorded per member (the paper's "stats of saliency scores").
SCORE_STATISTICS: tuple[str, ...] = ("score_max", "score_p95", "score_p50", "score_mean")


@dataclass(frozen=True)
class MemberScores:
    """One member of a scored composite: did it hold the salient point, and its scores."""

    won: bool
    score_max: float
    score_p95: float
    score_p50: float
    score_mean: float
    n_cells: int

    def statistics(self) -> dict[str, float]:
        """The :data:`SCORE_STATISTICS` by name."""
        return {name: getattr(self, name) for name in SCORE_STATISTICS}


def score_members(result: SaliencyResult, geometry: CompositeGeometry) -> list[MemberScores]:
    """Per member: whether it holds the salient point, and its grid scores' statistics.

    A point in the padding or beside a smaller member goes to the nearest member
    (:meth:`CompositeGeometry.member_at`), so exactly one member wins. A member smaller than
    one grid cell holds no cell centre; its statistics are NaN and ``n_cells`` is 0.
    """
    winner = geometry.member_at(*result.salient_point)
    out = []
    for i, p in enumerate(geometry.placements):
        scores = result.scores_in_box(p.x, p.y, p.width, p.height).astype(np.float64)
        if scores.size:
            stats = (float(scores.max()), float(np.percentile(scores, 95)),
                     float(np.percentile(scores, 50)), float(scores.mean()))
        else:
            stats = (float("nan"),) * 4
        out.append(MemberScores(i == winner, *stats, n_cells=int(scores.size)))
    return out
