"""The paper's headline figure: p(first) / p(second) bars per comparison, with Δ annotations.

Layout follows Yee et al. (2021), Fig. 3: comparisons grouped in shaded panels (Race, Gender,
Cross, Aggregate), a red bar for the first listed group and a grey bar for the second, the
share printed inside each bar, Δ₀.₅ = p − 0.5 above each pair, error bars, and a dotted line
at demographic parity. The same function draws the paper's counts and a run's own results.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from cropaudit.untrusted import mathtext

FIRST_COLOUR = "red"
SECOND_COLOUR = "grey"
PANEL_COLOUR = "#f2f2f2"


def panel_order(panels: Sequence[str]) -> list[str]:
    """Panels in first-seen order, with Cross and Aggregate last (the paper's order)."""
    seen = list(dict.fromkeys(panels))
    tail = [p for p in ("Cross", "Aggregate") if p in seen]
    return [p for p in seen if p not in tail] + tail


def _percent(x: float) -> str:
    value = round(100 * x)
    return f"{'−' if value < 0 else '+'}{abs(value)}%" if value else "0%"


def grouped_bars(
    rows: pd.DataFrame,
    *,
    title: str = "",
    ylabel: str = "$p(x) \\pm 2 S.E.$",
    panels: Sequence[str] | None = None,
    width_per_comparison: float = 1.45,
) -> Figure:
    """Draw the grouped bar chart.

    ``rows`` needs columns ``label, panel, p, delta, err_low, err_high`` where err_low/high is
    the interval drawn for p (first group); the second bar shows 1 − p with the mirrored
    interval. ``panels`` restricts and orders the panels drawn (default: all, paper order).
    """
    order = list(panels) if panels is not None else panel_order(rows["panel"].tolist())
    data = [(panel, rows[rows["panel"] == panel]) for panel in order]
    data = [(panel, d) for panel, d in data if len(d)]
    if not data:
        raise ValueError("nothing to draw")
    n_cmp = sum(len(d) for _, d in data)
    fig = Figure(figsize=(max(4.0, width_per_comparison * n_cmp + 1.2), 3.6))
    ax = fig.add_subplot()
    bar_w = 0.4
    # Δ annotations sit at the paper's height unless a bar (with its interval) reaches it;
    # then everything above the bars moves up so no label overlaps a bar.
    top = max(max(float(r["err_high"]), 1 - float(r["err_low"])) for _, d in data
              for _, r in d.iterrows())
    lift = max(0.0, top + 0.03 - 0.70)
    x = 0.0
    ticks, tick_labels = [], []
    for panel, d in data:
        start = x
        for _, r in d.iterrows():
            _draw_pair(ax, x, r, bar_w, lift)
            ticks.append(x)
            tick_labels.append(mathtext(r["label"]))
            x += 1.0
        end = x - 1.0
        ax.add_patch(_panel_box(start - 0.5 + 0.05, end + 0.5 - 0.05, 1.0 + lift))
        ax.text((start + end) / 2, 0.93 + lift, mathtext(panel), ha="center", va="center",
                fontsize=8, fontweight="bold")
        x += 0.15  # a gap between panels, as in the paper
    ax.axhline(0.5, color="black", linestyle=":", linewidth=0.6, zorder=1)
    ax.text(x - 0.45, 0.5, "Demographic\nParity", ha="left", va="center", fontsize=7)
    ax.set_xticks(ticks, tick_labels)
    ax.set_xlim(-0.6, x + 0.6)
    ax.set_ylim(0, 1.1 + lift)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel(ylabel)
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    fig.tight_layout()
    return fig


def _draw_pair(ax: Axes, x: float, r: pd.Series, bar_w: float, lift: float) -> None:
    """One comparison at ``x``: the first group's bar (p) and the second's (1 − p) with their
    intervals and shares, and Δ₀.₅ above them at the height ``lift`` sets for the whole
    figure (so every pair's label sits level and clear of every bar)."""
    p, low, high = float(r["p"]), float(r["err_low"]), float(r["err_high"])
    xa, xb = x - bar_w / 2, x + bar_w / 2
    ax.bar(xa, p, bar_w, color=FIRST_COLOUR, edgecolor="white", linewidth=0.5, zorder=2)
    ax.bar(xb, 1 - p, bar_w, color=SECOND_COLOUR, edgecolor="white", linewidth=0.5,
           zorder=2)
    ax.errorbar(
        [xa, xb], [p, 1 - p],
        # clipped: an interval whose end equals p can differ from it by rounding
        yerr=np.clip([[p - low, (1 - p) - (1 - high)], [high - p, (1 - low) - (1 - p)]],
                     0, None),
        fmt="none", ecolor="black", elinewidth=0.8, capsize=0, zorder=3,
    )
    for xx, val in ((xa, p), (xb, 1 - p)):
        ax.text(xx, 0.05, f"{round(100 * val)}%", ha="center", va="bottom",
                color="white", fontsize=8, fontweight="bold", zorder=4)
    ax.text(x, 0.78 + lift, "$\\Delta_{0.5}$", ha="center", va="bottom", fontsize=8)
    ax.text(x, 0.70 + lift, _percent(float(r["delta"])), ha="center", va="bottom",
            fontsize=8, fontweight="bold")


def _panel_box(x0: float, x1: float, height: float = 1.0):
    from matplotlib.patches import Rectangle

    return Rectangle((x0, 0), x1 - x0, height, facecolor=PANEL_COLOUR, edgecolor="none", zorder=0)
