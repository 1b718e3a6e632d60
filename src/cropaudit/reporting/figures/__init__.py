"""Figures of an audit, drawn with matplotlib's object API (no pyplot state, no display).

Each module draws one kind of figure from tidy tables (the stats stage's CSVs or the paper's
counts) and returns a :class:`matplotlib.figure.Figure`; :func:`save_png` writes it atomically.
"""

from __future__ import annotations

import os

import numpy as np
from matplotlib.figure import Figure

from cropaudit.outputs import atomic_path


def save_png(fig: Figure, path: str | os.PathLike[str], dpi: int = 150) -> None:
    """Write a figure as PNG without leaving a partial file behind on failure."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")


def error_bars(estimate: object, low: object, high: object, scale: float = 1.0
               ) -> np.ndarray:
    """``yerr`` for :meth:`~matplotlib.axes.Axes.errorbar` from an estimate and its interval.

    Lengths are never negative (an interval computed apart from its estimate can miss it by a
    rounding error, e.g. every tuple won by one side) and a missing bound draws no bar.
    """
    est = np.asarray(estimate, dtype=float)
    below = np.clip(est - np.asarray(low, dtype=float), 0, None)
    above = np.clip(np.asarray(high, dtype=float) - est, 0, None)
    return scale * np.nan_to_num(np.vstack([below, above]), nan=0.0)
