"""Two croppers on the same tuples: does one favour the first group more than the other?

When two croppers (saliency models) see exactly the same composites, their outcomes are
paired: per tuple, d = (cropper A chose the first group's image) − (cropper B did). The
difference of win rates p_A − p_B is the mean of d; pairing removes the between-tuple noise,
and the image reuse is handled as everywhere else (cluster-robust over both members' images,
:func:`cropaudit.stats.clustered.shared_label_meat`, G/(G−1), t on G−1 df). McNemar's exact
test on the discordant tuples is given beside it (it treats tuples as independent).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cropaudit.errors import InputFileError
from cropaudit.stats.clustered import shared_label_meat, t_quantile
from cropaudit.stats.outcomes import pair_tuples

KEYS = ["comparison", "tuple_id"]


def paired_tuples(outcomes_a: pd.DataFrame, outcomes_b: pd.DataFrame, *,
                  source_a: str = "cropper A", source_b: str = "cropper B") -> pd.DataFrame:
    """Pair tuples of both croppers matched on (comparison, tuple_id), checked to show the
    same images in the same order; columns of :func:`pair_tuples` plus a_won_b, left_won_b."""
    ta, tb = pair_tuples(outcomes_a, source_a), pair_tuples(outcomes_b, source_b)
    merged = ta.merge(tb[[*KEYS, "image_a", "image_b", "order", "a_won", "left_won"]],
                      on=KEYS, suffixes=("", "_b"), how="inner")
    if merged.empty:
        raise InputFileError(f"{source_a} and {source_b} share no pair tuples")
    same = ((merged["image_a"] == merged["image_a_b"]) & (merged["image_b"] == merged["image_b_b"])
            & (merged["order"] == merged["order_b"]))
    if not same.all():
        bad = merged.loc[~same].iloc[0]
        raise InputFileError(
            f"{source_b}: tuple {bad['tuple_id']} shows other images than in {source_a} "
            "(the croppers must be run on the same pairs table)")
    return merged.drop(columns=["image_a_b", "image_b_b", "order_b"])


def compare_croppers(outcomes_a: pd.DataFrame, outcomes_b: pd.DataFrame, *,
                     alpha: float = 0.05) -> pd.DataFrame:
    """One row per (setting, comparison): p_a, p_b, diff = p_a − p_b with clustered SE and t
    interval, its p-value, and McNemar's exact test (tuples where only one cropper chose the
    first group's image)."""
    from scipy.stats import t as student_t
    from statsmodels.stats.contingency_tables import mcnemar

    tuples = paired_tuples(outcomes_a, outcomes_b)
    rows = []
    for (setting, comparison), t in tuples.groupby(["setting", "comparison"], sort=True):
        d = (t["a_won"] - t["a_won_b"]).to_numpy(dtype=float)
        n = len(d)
        ids = pd.concat([t["image_a"], t["image_b"]]).astype(str)
        labels = pd.factorize(ids)[0].reshape(2, n).T
        g = int(min(t["image_a"].nunique(), t["image_b"].nunique()))
        meat = shared_label_meat((d - d.mean())[:, None], labels)[0, 0]
        var = meat / n**2 * (g / (g - 1) if g > 1 else 1.0)
        se = float(np.sqrt(max(var, 0.0)))
        q = t_quantile(alpha, g)
        diff = float(d.mean())
        only_a = int(((t["a_won"] == 1) & (t["a_won_b"] == 0)).sum())
        only_b = int(((t["a_won"] == 0) & (t["a_won_b"] == 1)).sum())
        both = int(((t["a_won"] == 1) & (t["a_won_b"] == 1)).sum())
        neither = n - only_a - only_b - both
        exact = (mcnemar([[both, only_a], [only_b, neither]], exact=True).pvalue
                 if only_a + only_b else 1.0)
        rows.append({
            "setting": setting, "comparison": comparison, "tuples": n,
            "p_a": float(t["a_won"].mean()), "p_b": float(t["a_won_b"].mean()),
            "diff": diff, "se": se, "low": diff - q * se, "high": diff + q * se,
            "clusters": g,
            "p_value": float(2 * student_t.sf(abs(diff) / se, max(g - 1, 1))) if se > 0
            else float("nan"),
            "only_a_first": only_a, "only_b_first": only_b,
            "mcnemar_p_value": float(exact),
        })
    return pd.DataFrame(rows)
