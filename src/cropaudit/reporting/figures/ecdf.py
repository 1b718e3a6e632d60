"""ECDFs of per-image saliency scores by group, one panel per score statistic."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cropaudit.untrusted import mathtext


def score_ecdfs(scores: pd.DataFrame, columns: list[str], *, title: str = "") -> Figure:
    """``scores``: one row per image with ``group`` and the score ``columns``."""
    cols = len(columns)
    fig = Figure(figsize=(3.4 * min(cols, 2), 2.8 * ((cols + 1) // 2)))
    groups = sorted(scores["group"].unique())
    for i, col in enumerate(columns):
        ax = fig.add_subplot((cols + 1) // 2, min(cols, 2), i + 1)
        for g in groups:
            v = np.sort(scores.loc[scores["group"] == g, col].dropna().to_numpy())
            if len(v):
                ax.step(v, np.arange(1, len(v) + 1) / len(v), where="post", label=mathtext(g), lw=1)
        ax.set_title(col.removeprefix("score_"), fontsize=9)
        ax.set_ylabel("ECDF", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
        if i == 0:
            ax.legend(fontsize=6, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    fig.tight_layout()
    return fig
