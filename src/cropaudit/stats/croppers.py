"""Croppers compared on the same tuples: who favours whom, and where they disagree.

Every cropper of an audit sees the same pairs table, so the comparison is *paired*: for each
pair tuple we know which member each cropper kept. Pure functions on tidy tables:

- :func:`delta_by_cropper`: per cropper and comparison, Δ = p(first group kept) − 0.5 with the
  clustered interval of :func:`cropaudit.stats.clustered.robust_logit`;
- :func:`compare_two`: cropper against cropper, per comparison: the paired difference
  Δ₁ − Δ₂ = mean over tuples of (first kept by cropper 1) − (first kept by cropper 2) with its
  clustered interval and t-test (:func:`paired_difference`: clustered on both images of every
  tuple, CR3, t on G − 1 df; this is McNemar's question, whether the discordant tuples lean
  one way, asked with image reuse accounted for), and how often the winners disagree, with a
  clustered interval;
- :func:`compare_croppers`: every pair of croppers, Holm-adjusted across the whole table, with
  ``disagree`` = that one adjusted test rejects (no OR of two tests). Under a null where two
  croppers' per-image preferences correlate at 0.7 with equal population Δ, the former
  unclustered McNemar OR'd with a bootstrap fired in 42 % of runs; this test's rate is in
  docs/statistics.md.

Input (:func:`cropper_pairs`): one row per (cropper, pair tuple) with ``cropper``,
``comparison``, ``tuple_id``, ``image_a``, ``image_b``, ``group_a``, ``group_b``, ``a_won``
(1 if the first listed group's member held the salient point).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cropaudit.errors import InputFileError
from cropaudit.stats.clustered import (
    cluster_labels,
    fewest_images,
    robust_logit,
    shared_label_cov,
    t_quantile,
)
from cropaudit.stats.outcomes import pair_tuples
from cropaudit.stats.proportions import adjust

PAIR_COLUMNS = ("cropper", "comparison", "tuple_id", "image_a", "image_b", "group_a",
                "group_b", "a_won")


def cropper_pairs(outcomes: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per (cropper, pair tuple) from each cropper's outcomes table (gather)."""
    frames = []
    for name, table in outcomes.items():
        tuples = pair_tuples(table, source=f"outcomes of cropper {name}")
        frames.append(tuples.assign(cropper=name)[list(PAIR_COLUMNS)])
    if not frames:
        return pd.DataFrame(columns=list(PAIR_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def _clusters(g: pd.DataFrame) -> int:
    """G: distinct images of the scarcer side."""
    return fewest_images(np.concatenate([g["image_a"], g["image_b"]]),
                         np.repeat([0, 1], len(g)))


def delta_by_cropper(pairs: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Per (cropper, comparison): n, p, Δ with its clustered interval, and p-value."""
    rows = []
    for (cropper, comparison), g in pairs.groupby(["cropper", "comparison"], sort=False):
        y = g["a_won"].to_numpy(dtype=float)
        fit = robust_logit(y, g[["image_a", "image_b"]], _clusters(g), alpha)
        p = float(y.mean()) if len(y) else float("nan")
        rows.append({
            "cropper": cropper, "comparison": comparison, "n": len(y),
            "group_a": g["group_a"].iloc[0], "group_b": g["group_b"].iloc[0],
            "p": p, "delta": p - 0.5, "delta_low": fit.low - 0.5, "delta_high": fit.high - 0.5,
            "p_value": fit.p_value, "clusters": fit.clusters, "not_estimable": fit.problem,
        })
    return pd.DataFrame(rows)


def _paired(pairs: pd.DataFrame, first: str, second: str) -> pd.DataFrame:
    """The tuples both croppers saw, side by side (a_won_1, a_won_2)."""
    keys = ["comparison", "tuple_id"]
    one = pairs[pairs["cropper"] == first].set_index(keys)
    two = pairs[pairs["cropper"] == second].set_index(keys)
    common = one.index.intersection(two.index)
    if len(common) != len(one.index) or len(common) != len(two.index):
        raise InputFileError(
            f"croppers {first!r} and {second!r} did not see the same tuples "
            f"({len(one)} vs {len(two)} rows, {len(common)} shared): run both on one pairs table"
        )
    joined = one.loc[common, ["image_a", "image_b", "group_a", "group_b", "a_won"]].copy()
    joined["a_won_1"] = joined.pop("a_won").astype(int)
    joined["a_won_2"] = two.loc[common, "a_won"].astype(int).to_numpy()
    return joined.reset_index()


@dataclass(frozen=True)
class PairedResult:
    """A mean over tuples with its clustered interval and the t-test of mean = ``null``."""

    mean: float
    se: float
    low: float
    high: float
    p_value: float
    clusters: int
    problem: str = ""


def paired_difference(values: np.ndarray, images: pd.DataFrame, clusters: int, *,
                      alpha: float = 0.05, null: float = 0.0) -> PairedResult:
    """Mean of a per-tuple quantity (e.g. y₁ − y₂ ∈ {−1, 0, 1}) with its clustered SE.

    Intercept-only linear model with the CR3 covariance of
    :func:`cropaudit.stats.clustered.shared_label_cov` over every image of the tuple, t on
    G − 1 df. Not estimable (NaNs and the reason) when the values never vary: two croppers
    that agree on every tuple have a difference of exactly 0 and nothing to test.
    """
    from scipy.stats import t as student_t

    d = np.asarray(values, dtype=float)
    n = len(d)
    mean = float(d.mean()) if n else float("nan")
    nan = float("nan")
    if n < 2 or d.min() == d.max():
        return PairedResult(mean, 0.0 if n else nan, mean, mean, 1.0 if mean == null else nan,
                            clusters, "" if n >= 2 and mean == null else
                            "the per-tuple values never vary")
    scores = (d - mean)[:, None]
    cc = shared_label_cov(np.array([[1 / n]]), scores, cluster_labels(images), clusters,
                          np.ones((n, 1, 1)))
    if cc.problem:
        return PairedResult(mean, nan, nan, nan, nan, clusters, cc.problem)
    se = float(np.sqrt(cc.cov[0, 0]))
    q = t_quantile(alpha, clusters)
    p_value = float(2 * student_t.sf(abs(mean - null) / se, max(clusters - 1, 1)))
    return PairedResult(mean, se, mean - q * se, mean + q * se, p_value, clusters)


def compare_two(pairs: pd.DataFrame, first: str, second: str, *, alpha: float = 0.05
                ) -> pd.DataFrame:
    """Per comparison: winner agreement with its clustered interval, and the paired,
    clustered test of Δ(first) − Δ(second)."""
    joined = _paired(pairs, first, second)
    rows = []
    for comparison, g in joined.groupby("comparison", sort=False):
        y1, y2 = g["a_won_1"].to_numpy(), g["a_won_2"].to_numpy()
        images = g[["image_a", "image_b"]]
        clusters = _clusters(g)
        diff = paired_difference(y1 - y2, images, clusters, alpha=alpha)
        agree = paired_difference((y1 == y2).astype(float), images, clusters, alpha=alpha,
                                  null=1.0)
        rows.append({
            "first": first, "second": second, "comparison": comparison, "n": len(g),
            "group_a": g["group_a"].iloc[0], "group_b": g["group_b"].iloc[0],
            "agreement": agree.mean, "agreement_low": agree.low,
            "agreement_high": agree.high,
            "first_only": int(((y1 == 1) & (y2 == 0)).sum()),
            "second_only": int(((y1 == 0) & (y2 == 1)).sum()),
            "delta_first": float(y1.mean() - 0.5), "delta_second": float(y2.mean() - 0.5),
            "difference": diff.mean, "diff_low": diff.low, "diff_high": diff.high,
            "p_value": diff.p_value, "clusters": clusters, "not_estimable": diff.problem,
        })
    return pd.DataFrame(rows)


def compare_croppers(pairs: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Every pair of croppers (in order of appearance); Holm across the table; ``disagree``
    = the Holm-adjusted paired, clustered test of Δ₁ − Δ₂ rejects (one test, matching the
    interval ``diff_low, diff_high`` shown beside it)."""
    names = list(dict.fromkeys(pairs["cropper"]))
    tables = [compare_two(pairs, a, b, alpha=alpha) for a, b in itertools.combinations(names, 2)]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    if table.empty:
        return table
    # not estimable rows (NaN p) leave the family
    table["p_value_holm"] = adjust(table["p_value"], "holm")
    table["disagree"] = table["p_value_holm"] < alpha
    return table


def disagreement_summary(table: pd.DataFrame) -> list[str]:
    """Plain sentences for the report: which croppers disagree significantly, and where."""
    if table.empty:
        return ["Fewer than two croppers: nothing to compare."]
    hits = table[table["disagree"]]
    lines = []
    for r in hits.itertuples():
        lines.append(
            f"{r.first} vs {r.second} on {r.comparison}: agree on {100 * r.agreement:.0f} % of "
            f"{r.n} tuples; Δ {100 * r.delta_first:+.1f} vs {100 * r.delta_second:+.1f} pp "
            f"(difference {100 * r.difference:+.1f} pp, 95 % clustered "
            f"[{100 * r.diff_low:+.1f}, {100 * r.diff_high:+.1f}]; Holm p = "
            f"{r.p_value_holm:.3g})"
        )
    if not lines:
        lines.append("No two croppers differ significantly in Δ on any comparison (paired "
                     "test of Δ₁ − Δ₂ clustered on both images of every tuple, Holm-adjusted).")
    reasons = table["not_estimable"].fillna("") if "not_estimable" in table else None
    missing = table[reasons != ""] if reasons is not None else table.iloc[:0]
    for r in missing.itertuples():
        lines.append(f"{r.first} vs {r.second} on {r.comparison}: not estimable "
                     f"({r.not_estimable}).")
    return lines
