"""Soft outcomes beside the argmax: how much of the saliency each member holds. Pure.

The audit's outcome is hard: which member holds the single highest cell. A near tie and a
landslide count the same, and one cell moving by a pixel can flip it. These numbers show how
close the decision was, from the map the cropper already produced:

* ``mass_share``: the member's share of the map's saliency mass over all members' cells,
  after shifting the map so its minimum is 0 (FastGaze's scores are unbounded log-odds-like
  values; shifting keeps the order and makes every cell count non-negatively);
* ``topk_share``: the share of the map's ``k`` highest member cells that lie in the member;
* ``margin``: the member's best score minus the best score of the other members (the
  winner's margin is ≥ 0; 0 is a tie);
* ``mass_won``: the member with the largest mass share (an area-based winner, as Hoppe
  proposed), to set beside ``won``.

Croppers without a map (``face-center``, ``command`` without points) have none of these:
every value is NaN and ``has_map`` is false.
"""

from __future__ import annotations

import numpy as np

from cropaudit.engine.types import SaliencyResult
from cropaudit.geometry.placement import CompositeGeometry

SOFT_COLUMNS = ("has_map", "mass_share", "topk_share", "margin", "mass_won")


def member_cells(result: SaliencyResult, geometry: CompositeGeometry) -> np.ndarray:
    """Member index of every map cell (-1: padding or no member), by cell centre."""
    owner = np.full(result.scores.shape, -1, dtype=np.int64)
    for i, p in enumerate(geometry.placements):
        inside = ((result.grid_x >= p.x) & (result.grid_x < p.x + p.width)
                  & (result.grid_y >= p.y) & (result.grid_y < p.y + p.height))
        owner[inside & (owner < 0)] = i
    return owner


def soft_outcomes(result: SaliencyResult, geometry: CompositeGeometry, top_k: int
                  ) -> list[dict[str, float]]:
    """One dict of :data:`SOFT_COLUMNS` per member, in member order."""
    k = len(geometry.placements)
    nan_rows = [{"has_map": False, "mass_share": np.nan, "topk_share": np.nan,
                 "margin": np.nan, "mass_won": False} for _ in range(k)]
    if result.scores.size == 0:
        return nan_rows
    owner = member_cells(result, geometry).ravel()
    scores = result.scores.astype(np.float64).ravel()
    held = owner >= 0
    if not held.any():
        return nan_rows
    shifted = scores - scores[held].min()
    mass = np.array([shifted[owner == i].sum() for i in range(k)])
    share = mass / mass.sum() if mass.sum() > 0 else np.full(k, 1.0 / k)
    cells = np.flatnonzero(held)
    top = cells[np.argsort(-scores[cells], kind="stable")[:top_k]]
    topk = np.array([(owner[top] == i).sum() for i in range(k)]) / len(top)
    best = np.array([scores[owner == i].max() if (owner == i).any() else -np.inf
                     for i in range(k)])
    mass_winner = int(np.argmax(share))
    rows = []
    for i in range(k):
        others = np.delete(best, i)
        margin = best[i] - others.max() if len(others) else np.nan
        rows.append({"has_map": True, "mass_share": float(share[i]),
                     "topk_share": float(topk[i]),
                     "margin": float(margin) if np.isfinite(margin) else np.nan,
                     "mass_won": i == mass_winner})
    return rows
