"""Figures of an audit, drawn with matplotlib's object API (no pyplot state, no display).

Each module draws one kind of figure from tidy tables (the stats stage's CSVs or the paper's
counts) and returns a :class:`matplotlib.figure.Figure`; :func:`save_png` writes it atomically.
"""

from __future__ import annotations

import os

from matplotlib.figure import Figure

from cropaudit.outputs import atomic_path


def save_png(fig: Figure, path: str | os.PathLike[str], dpi: int = 150) -> None:
    """Write a figure as PNG without leaving a partial file behind on failure."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
