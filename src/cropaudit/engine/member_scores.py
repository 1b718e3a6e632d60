"""Which member of a composite won, and each member's grid scores.

The pair-saliency stage and the app's pair mode must mean the same thing by "this member won",
so both score a model's result on a composite with :func:`score_members`: the member that
holds the salient point, and statistics of the model's grid scores inside each member's
rectangle (:class:`~cropaudit.geometry.placement.CompositeGeometry`; the composite's pixels
are :mod:`cropaudit.imaging.composite`'s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cropaudit.engine.types import SaliencyResult
from cropaudit.geometry.placement import CompositeGeometry

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
