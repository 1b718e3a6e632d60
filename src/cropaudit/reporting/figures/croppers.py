"""Forest plot by cropper: each comparison's Δ under every cropper, on one axis.

Croppers can disagree on the *direction* of a bias (Birhane et al. 2022: Twitter and Apple
flip). Rows are comparisons; within a row each cropper has its own marker and clustered
interval, offset vertically and coloured consistently, so flips and overlaps are visible.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cropaudit.untrusted import mathtext


def cropper_forest(deltas: pd.DataFrame, *, title: str = "") -> Figure:
    """``deltas``: cropper, comparison, delta, delta_low, delta_high (from delta_by_cropper)."""
    comparisons = list(dict.fromkeys(deltas["comparison"]))
    croppers = list(dict.fromkeys(deltas["cropper"]))
    k = max(len(croppers), 1)
    fig = Figure(figsize=(7.0, 0.25 * k * len(comparisons) + 1.6))
    ax = fig.add_subplot()
    colours = {c: f"C{i % 10}" for i, c in enumerate(croppers)}
    base = np.arange(len(comparisons))[::-1].astype(float)
    offsets = np.linspace(0.3, -0.3, k) if k > 1 else np.zeros(1)
    ax.axvline(0, color="black", lw=0.6, ls=":")
    for j, cropper in enumerate(croppers):
        rows = deltas[deltas["cropper"] == cropper].set_index("comparison")
        for i, comparison in enumerate(comparisons):
            if comparison not in rows.index:
                continue
            r = rows.loc[comparison]
            y = base[i] + offsets[j]
            if pd.notna(r["delta_low"]):
                ax.plot([100 * r["delta_low"], 100 * r["delta_high"]], [y, y],
                        color=colours[cropper], lw=2)
            ax.plot(100 * r["delta"], y, "o", color=colours[cropper], ms=4)
        ax.plot([], [], "o-", color=colours[cropper], lw=2, label=mathtext(cropper))
    ax.set_yticks(base, [mathtext(c) for c in comparisons])
    ax.set_xlabel("Δ = p(first) − 0.5 (percentage points), image-clustered interval")
    ax.legend(fontsize=7, loc="best", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    fig.tight_layout()
    return fig
