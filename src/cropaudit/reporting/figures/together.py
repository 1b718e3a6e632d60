"""The "all groups at once" setting: each group's share of salient points against parity 1/k."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from cropaudit.reporting.figures.bars import FIRST_COLOUR
from cropaudit.untrusted import mathtext


def together_bars(rows: pd.DataFrame, *, title: str = "", level: int = 95) -> Figure:
    """Bars of ``share`` per ``group`` with the naive simultaneous intervals
    (naive_low/naive_high: tuples treated as independent) and parity 1/k."""
    fig = Figure(figsize=(1.2 * len(rows) + 1.5, 3.2))
    ax = fig.add_subplot()
    x = range(len(rows))
    share = rows["share"].to_numpy()
    err = [share - rows["naive_low"].to_numpy(), rows["naive_high"].to_numpy() - share]
    ax.bar(x, share, 0.6, color=FIRST_COLOUR, zorder=2)
    ax.errorbar(x, share, yerr=err, fmt="none", ecolor="black", elinewidth=0.8, zorder=3)
    for xi, s in zip(x, share, strict=True):
        ax.text(xi, 0.01, f"{round(100 * s)}%", ha="center", va="bottom", color="white",
                fontsize=8, fontweight="bold", zorder=4)
    parity = float(rows["parity"].iloc[0])
    ax.axhline(parity, color="black", linestyle=":", linewidth=0.6)
    ax.text(len(rows) - 0.4, parity, " parity 1/k", va="center", fontsize=7)
    ax.set_xticks(list(x), [mathtext(g) for g in rows["group"]])
    ax.set_ylim(0, max(1.0, float(rows["naive_high"].max())) * 1.05 if share.max() > 0.9
                else 1.0)
    ax.set_ylabel(f"share of salient points\n(naive simultaneous {level}% CI)")
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    fig.tight_layout()
    return fig
