"""Croppers compared on the same tuples: who favours whom, and where they disagree.

Every cropper of an audit sees the same pairs table, so the comparison is *paired*: for each
pair tuple we know which member each cropper kept. Pure functions on tidy tables:

- :func:`delta_by_cropper`: per cropper and comparison, Δ = p(first group kept) − 0.5 with the
  two-way image-clustered interval of :func:`cropaudit.stats.clustered.robust_logit`;
- :func:`compare_two`: cropper against cropper, per comparison: winner agreement rate,
  McNemar's test on the discordant tuples (exact binomial below 25 of them) and a paired
  two-way cluster bootstrap of Δ₁ − Δ₂ (the same resampled images weigh both croppers);
- :func:`compare_croppers`: every pair of croppers, Holm-adjusted across the whole table, with
  ``disagree`` = the adjusted McNemar p or the bootstrap interval says they differ.

Input (:func:`cropper_pairs`): one row per (cropper, pair tuple) with ``cropper``,
``comparison``, ``tuple_id``, ``image_a``, ``image_b``, ``group_a``, ``group_b``, ``a_won``
(1 if the first listed group's member held the salient point).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np
import pandas as pd

from cropaudit.errors import InputFileError
from cropaudit.stats.clustered import robust_logit
from cropaudit.stats.outcomes import pair_tuples

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


def delta_by_cropper(pairs: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Per (cropper, comparison): n, p, Δ with its image-clustered interval, and p-value."""
    rows = []
    for (cropper, comparison), g in pairs.groupby(["cropper", "comparison"], sort=False):
        y = g["a_won"].to_numpy(dtype=float)
        fit = robust_logit(y, g["image_a"].to_numpy(), g["image_b"].to_numpy(), alpha)
        p = float(y.mean()) if len(y) else float("nan")
        rows.append({
            "cropper": cropper, "comparison": comparison, "n": len(y),
            "group_a": g["group_a"].iloc[0], "group_b": g["group_b"].iloc[0],
            "p": p, "delta": p - 0.5, "delta_low": fit.low - 0.5, "delta_high": fit.high - 0.5,
            "p_value": fit.p_value,
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


def mcnemar_p(first_only: int, second_only: int) -> float:
    """McNemar's test of the discordant tuples: exact binomial below 25 of them."""
    from statsmodels.stats.contingency_tables import mcnemar

    if first_only + second_only == 0:
        return 1.0
    table = [[0, first_only], [second_only, 0]]
    exact = first_only + second_only < 25
    return float(mcnemar(table, exact=exact, correction=True).pvalue)


def image_weights(images_a: np.ndarray, images_b: np.ndarray, resamples: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights per resample and image, image index of side a, of side b).

    Two-way cluster bootstrap: the images of each side are redrawn with replacement (as
    many as there are), and a tuple weighs the product of its two images' multiplicities.
    """
    idx_a_values, ia = np.unique(images_a, return_inverse=True)
    idx_b_values, ib = np.unique(images_b, return_inverse=True)
    wa = rng.multinomial(len(idx_a_values), np.full(len(idx_a_values), 1 / len(idx_a_values)),
                         size=resamples)
    wb = rng.multinomial(len(idx_b_values), np.full(len(idx_b_values), 1 / len(idx_b_values)),
                         size=resamples)
    return wa[:, ia] * wb[:, ib], ia, ib


def paired_bootstrap(y1: np.ndarray, y2: np.ndarray, images_a: np.ndarray,
                     images_b: np.ndarray, *, resamples: int, seed: int, alpha: float
                     ) -> tuple[float, float, float]:
    """Percentile interval of Δ₁ − Δ₂ and its two-sided bootstrap p (share beyond 0)."""
    if resamples <= 0 or len(y1) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    w, _, _ = image_weights(images_a, images_b, resamples, rng)
    total = w.sum(axis=1).astype(float)
    ok = total > 0
    diff = (w[ok] @ (y1 - y2).astype(float)) / total[ok]
    low, high = np.quantile(diff, [alpha / 2, 1 - alpha / 2])
    p = min(1.0, 2 * min(float(np.mean(diff <= 0)), float(np.mean(diff >= 0))))
    return float(low), float(high), p


def compare_two(pairs: pd.DataFrame, first: str, second: str, *, resamples: int = 2000,
                seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Per comparison: agreement, McNemar and the paired bootstrap of Δ(first) − Δ(second)."""
    joined = _paired(pairs, first, second)
    rows = []
    for i, (comparison, g) in enumerate(joined.groupby("comparison", sort=False)):
        y1, y2 = g["a_won_1"].to_numpy(), g["a_won_2"].to_numpy()
        first_only = int(((y1 == 1) & (y2 == 0)).sum())
        second_only = int(((y1 == 0) & (y2 == 1)).sum())
        low, high, boot_p = paired_bootstrap(
            y1, y2, g["image_a"].to_numpy(), g["image_b"].to_numpy(),
            resamples=resamples, seed=seed + i, alpha=alpha)
        rows.append({
            "first": first, "second": second, "comparison": comparison, "n": len(g),
            "group_a": g["group_a"].iloc[0], "group_b": g["group_b"].iloc[0],
            "agreement": float(np.mean(y1 == y2)),
            "first_only": first_only, "second_only": second_only,
            "delta_first": float(y1.mean() - 0.5), "delta_second": float(y2.mean() - 0.5),
            "difference": float(y1.mean() - y2.mean()),
            "diff_low": low, "diff_high": high, "bootstrap_p": boot_p,
            "mcnemar_p": mcnemar_p(first_only, second_only),
        })
    return pd.DataFrame(rows)


def compare_croppers(pairs: pd.DataFrame, *, resamples: int = 2000, seed: int = 0,
                     alpha: float = 0.05) -> pd.DataFrame:
    """Every pair of croppers (in order of appearance); Holm across the table; verdicts."""
    from statsmodels.stats.multitest import multipletests

    names = list(dict.fromkeys(pairs["cropper"]))
    tables = [compare_two(pairs, a, b, resamples=resamples, seed=seed, alpha=alpha)
              for a, b in itertools.combinations(names, 2)]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    if table.empty:
        return table
    table["mcnemar_p_holm"] = multipletests(table["mcnemar_p"], method="holm")[1]
    excludes_zero = (table["diff_low"] > 0) | (table["diff_high"] < 0)
    table["disagree"] = (table["mcnemar_p_holm"] < alpha) | excludes_zero
    return table


def disagreement_summary(table: pd.DataFrame) -> list[str]:
    """Plain sentences for the report: which croppers disagree significantly, and where."""
    if table.empty:
        return ["Fewer than two croppers: nothing to compare."]
    hits = table[table["disagree"]]
    if hits.empty:
        return ["No two croppers disagree significantly on any comparison "
                "(McNemar, Holm-adjusted, and paired cluster bootstrap of the difference in Δ)."]
    lines = []
    for r in hits.itertuples():
        lines.append(
            f"{r.first} vs {r.second} on {r.comparison}: agree on {100 * r.agreement:.0f} % of "
            f"{r.n} tuples; Δ {100 * r.delta_first:+.1f} vs {100 * r.delta_second:+.1f} pp "
            f"(difference {100 * r.difference:+.1f} pp, 95 % bootstrap "
            f"[{100 * r.diff_low:+.1f}, {100 * r.diff_high:+.1f}]; McNemar Holm p = "
            f"{r.mcnemar_p_holm:.3g})"
        )
    return lines
