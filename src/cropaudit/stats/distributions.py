"""Saliency-score distributions per group, as in the paper's "stats of saliency scores".

Each member of a composite carries statistics of the model's scores inside its rectangle
(max, p95, median, mean). Scores are averaged per image over its appearances (one value per
independent unit), then compared between the groups of each comparison with P(score_a >
score_b) + ½P(tie) (the AUC / Mann–Whitney effect size) and its interval from statsmodels'
``rank_compare_2indep`` (Brunner–Munzel), with scipy's Mann–Whitney U test beside it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cropaudit.stats.groups import split_comparison
from cropaudit.stats.outcomes import SCORES


def score_comparison(a: np.ndarray, b: np.ndarray, alpha: float = 0.05) -> dict[str, float]:
    """P(a > b) + ½P(a = b) with interval and tests; NaNs when a side has < 2 values."""
    from scipy.stats import mannwhitneyu
    from statsmodels.stats.nonparametric import rank_compare_2indep

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    out = {
        "n_images_a": len(a), "n_images_b": len(b),
        "median_a": float(np.median(a)) if len(a) else np.nan,
        "median_b": float(np.median(b)) if len(b) else np.nan,
        "mean_a": float(np.mean(a)) if len(a) else np.nan,
        "mean_b": float(np.mean(b)) if len(b) else np.nan,
        "prob_a_greater": np.nan, "low": np.nan, "high": np.nan,
        "brunner_munzel_p_value": np.nan, "mann_whitney_p_value": np.nan,
    }
    if len(a) < 2 or len(b) < 2:
        return out
    u = mannwhitneyu(a, b, alternative="two-sided")
    out["prob_a_greater"] = float(u.statistic) / (len(a) * len(b))
    out["mann_whitney_p_value"] = float(u.pvalue)
    if np.ptp(np.concatenate([a, b])) > 0:
        res = rank_compare_2indep(a, b)
        low, high = res.conf_int(alpha=alpha)
        out.update(low=float(low), high=float(high), brunner_munzel_p_value=float(res.pvalue))
    return out


def distribution_table(
    scores: pd.DataFrame, comparisons: pd.DataFrame, alpha: float = 0.05
) -> pd.DataFrame:
    """One row per (setting, pair comparison, score statistic).

    ``scores``: per-image table from :func:`cropaudit.stats.outcomes.image_scores`;
    ``comparisons``: rows with ``setting`` and ``comparison`` (pairs only).
    """
    present = [c for c in SCORES if c in scores.columns]
    rows = []
    for setting, comparison in comparisons[["setting", "comparison"]].drop_duplicates().itertuples(
        index=False
    ):
        ga, gb = split_comparison(comparison)[:2]
        s = scores[scores["setting"] == setting]
        for col in present:
            res = score_comparison(
                s.loc[s["group"] == ga, col].to_numpy(), s.loc[s["group"] == gb, col].to_numpy(),
                alpha,
            )
            rows.append({"setting": setting, "comparison": comparison, "group_a": ga,
                         "group_b": gb, "score": col.removeprefix("score_"), **res})
    return pd.DataFrame(rows)
