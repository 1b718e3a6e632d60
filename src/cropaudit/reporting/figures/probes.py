"""Probe figures: Δ against setting (small multiples), flip rate against offset, dose–response.

Each panel shares its y axis with its row so a setting that moves Δ stands out against the
others; intervals are the image-clustered ones of :mod:`cropaudit.stats.probes`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cropaudit.reporting.figures import error_bars
from cropaudit.untrusted import mathtext


def delta_small_multiples(verdicts: pd.DataFrame, *, title: str = "") -> Figure:
    """Rows: croppers; columns: probe kinds; x: settings; one line per comparison."""
    v = verdicts[verdicts["probe"] != "baseline"]
    croppers = list(dict.fromkeys(v["cropper"]))
    kinds = list(dict.fromkeys(v["probe"]))
    fig = Figure(figsize=(2.4 * max(len(kinds), 1) + 1, 2.0 * max(len(croppers), 1) + 0.8))
    if v.empty:
        fig.text(0.5, 0.5, "no probe settings", ha="center")
        return fig
    axes = fig.subplots(len(croppers), len(kinds), squeeze=False, sharey="row")
    comparisons = list(dict.fromkeys(v["comparison"]))
    colours = {c: f"C{i % 10}" for i, c in enumerate(comparisons)}
    for i, cropper in enumerate(croppers):
        base = verdicts[(verdicts["cropper"] == cropper) & (verdicts["probe"] == "baseline")]
        for j, kind in enumerate(kinds):
            ax = axes[i][j]
            d = v[(v["cropper"] == cropper) & (v["probe"] == kind)]
            settings = list(dict.fromkeys(d["setting"]))
            x = np.arange(len(settings))
            for c in comparisons:
                rows = d[d["comparison"] == c].set_index("setting").reindex(settings)
                ax.errorbar(x, 100 * rows["delta"],
                            yerr=error_bars(rows["delta"], rows["delta_low"],
                                            rows["delta_high"], 100),
                            color=colours[c], marker="o", ms=3, lw=1, capsize=0,
                            label=mathtext(c) if i == 0 and j == 0 else None)
                b = base[base["comparison"] == c]
                if len(b):
                    ax.axhline(100 * b["delta"].iloc[0], color=colours[c], lw=0.5, ls=":")
            ax.axhline(0, color="black", lw=0.5)
            ax.set_xticks(x, [mathtext(s.split("=", 1)[-1]) for s in settings], rotation=45,
                          fontsize=6)
            ax.tick_params(axis="y", labelsize=6)
            if i == 0:
                ax.set_title(mathtext(kind), fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{mathtext(cropper)}\nΔ (pp)", fontsize=7)
    fig.legend(fontsize=6, loc="lower center", ncol=min(len(comparisons), 4), frameon=False)
    fig.suptitle(title or "Δ under each probe setting (dotted: baseline)", fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 0.96))
    return fig


def rate_against_value(table: pd.DataFrame, *, rate: str, low: str, high: str, xlabel: str,
                       ylabel: str, title: str, series: str = "cropper") -> Figure:
    """One line per ``series`` of ``rate`` (with its interval) against the numeric ``value``."""
    fig = Figure(figsize=(6.0, 3.6))
    ax = fig.add_subplot()
    for i, (name, d) in enumerate(table.groupby(series, sort=False)):
        d = d.sort_values("value")
        ax.errorbar(d["value"], 100 * d[rate], yerr=error_bars(d[rate], d[low], d[high], 100),
                    marker="o", ms=3, lw=1, capsize=2, color=f"C{i % 10}", label=mathtext(name))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    if table.empty:
        ax.text(0.5, 0.5, "no settings of this probe", ha="center", transform=ax.transAxes)
    else:
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def flip_against_offset(flips: pd.DataFrame) -> Figure:
    """Winner flip rate against padding offset, one line per cropper (Hoppe's plot)."""
    d = flips[flips["probe"] == "padding"]
    return rate_against_value(d, rate="flip_rate", low="flip_low", high="flip_high",
                              xlabel="padding offset (px)",
                              ylabel="winner flip rate vs baseline (%)",
                              title="Flip rate against padding offset (clustered interval)")


def dose_response(edits: pd.DataFrame) -> Figure:
    """Per graded edit kind (columns): the edited image's win rate against its unedited self
    (top) and the change of its max saliency (bottom), against the step, one line per cropper."""
    graded = edits[edits["value"].notna()]
    kinds = list(dict.fromkeys(graded["edit"])) or ["(none)"]
    fig = Figure(figsize=(3.2 * len(kinds), 5.6))
    axes = fig.subplots(2, len(kinds), squeeze=False, sharex="col")
    panels = (("win_rate", "win_low", "win_high", 100, "edited image wins (%)", 50),
              ("delta_max", "delta_max_low", "delta_max_high", 1, "Δ max saliency", 0))
    for row, (col, low, high, scale, label, reference) in enumerate(panels):
        for ax, kind in zip(axes[row], kinds, strict=True):
            d = graded[graded["edit"] == kind]
            for i, (cropper, c) in enumerate(d.groupby("cropper", sort=False)):
                c = c.sort_values("value")
                if c[col].isna().all():
                    continue  # no map: no max saliency
                ax.errorbar(c["value"], scale * c[col],
                            yerr=error_bars(c[col], c[low], c[high], scale),
                            marker="o", ms=3, lw=1, capsize=2, color=f"C{i % 10}",
                            label=mathtext(cropper))
            ax.axhline(reference, color="black", lw=0.5, ls=":")
            if row == 0:
                ax.set_title(mathtext(kind), fontsize=8)
            else:
                ax.set_xlabel({"luminance": "L* step (×100)", "hue": "hue (degrees)",
                               "hair": "blend toward white"}.get(kind, "step"), fontsize=7)
        axes[row][0].set_ylabel(label, fontsize=7)
    axes[0][0].legend(fontsize=6, frameon=False)
    fig.suptitle("Dose–response of counterfactual edits (clustered / t intervals)", fontsize=9)
    fig.tight_layout()
    return fig
