"""Forest plot of Δ per comparison: the interval that ignores image reuse beside those that don't.

Each row shows Δ = p − 0.5 with the headline (clustered) interval (thick), the naive interval
that treats pairs as independent (thin) and the equivalence band ±margin (shaded), so a
reader sees at once which comparisons differ from parity, which are within tolerance and
which are simply too noisy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cropaudit.reporting.figures.bars import FIRST_COLOUR
from cropaudit.untrusted import mathtext

VERDICT_COLOURS = {"differs": FIRST_COLOUR, "equivalent": "tab:green", "inconclusive": "grey"}


def forest(rows: pd.DataFrame, *, margin: float, title: str = "", ci_name: str = "CI",
           thin: tuple[str, str] = ("naive_low", "naive_high"),
           thin_name: str = "naive (pairs independent)") -> Figure:
    """``rows``: label, delta, ci_low, ci_high, the ``thin`` interval's columns, verdict
    (p-scale bounds)."""
    n = len(rows)
    fig = Figure(figsize=(7.0, 0.42 * n + 1.4))
    ax = fig.add_subplot()
    y = np.arange(n)[::-1]
    ax.axvspan(-100 * margin, 100 * margin, color="tab:green", alpha=0.12, lw=0,
               label=f"equivalence ±{100 * margin:g} pp")
    ax.axvline(0, color="black", lw=0.6, ls=":")
    for yi, r in zip(y, rows.itertuples(), strict=True):
        colour = VERDICT_COLOURS.get(str(r.verdict), "grey")
        low, high = getattr(r, thin[0], np.nan), getattr(r, thin[1], np.nan)
        if pd.notna(low):
            ax.plot([100 * (low - 0.5), 100 * (high - 0.5)], [yi - 0.18] * 2,
                    color=colour, lw=1.0, alpha=0.7)
        ax.plot([100 * (r.ci_low - 0.5), 100 * (r.ci_high - 0.5)], [yi, yi], color=colour, lw=3)
        ax.plot(100 * r.delta, yi, "o", color="black", ms=4, zorder=3)
    ax.set_yticks(y, [mathtext(v) for v in rows["label"]])
    ax.set_xlabel("Δ = p(first) − 0.5 (percentage points)")
    # legend entries only (empty lines carry the labels)
    ax.plot([], [], color="black", lw=3, label=ci_name)
    ax.plot([], [], color="black", lw=1, label=thin_name)
    for verdict, colour in VERDICT_COLOURS.items():
        ax.plot([], [], color=colour, lw=3, label=verdict)
    ax.legend(fontsize=7, loc="best", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    fig.tight_layout()
    return fig
