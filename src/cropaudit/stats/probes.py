"""Probe statistics: how far each verdict moves when the composite changes. Pure functions.

Input: the probe outcome tables of :mod:`cropaudit.probes.engine` (one row per member, with
``cropper``, ``probe``, ``setting``), including the ``baseline`` setting. Every number is
measured per cropper against that cropper's baseline on the *same* tuples:

- :func:`flip_table`: the share of tuples whose winner (canonical member) changed, with a
  two-way image-clustered interval (:func:`~cropaudit.stats.clustered.robust_logit`; Wilson
  when there is no variation to cluster, e.g. no flip at all);
- :func:`verdict_table`: Δ = p(first group kept) − 0.5 per comparison with its clustered
  interval and the audit's verdict rule (the same cluster-robust logit gives the interval,
  the test of parity and the TOST; Holm/BH across the setting's comparisons,
  :func:`~cropaudit.stats.equivalence.verdict`), plus whether verdict and sign survive
  against the baseline (:func:`stability`);
- :func:`soft_table`: the soft outcomes (mass share, top-k share, margin) and how often the
  mass winner disagrees with the argmax winner (croppers without a map: not applicable);
- :func:`survival_table`: for 3×1 grids, per aspect ratio, how often the crop keeps the top
  face, the bottom face, both or neither, and each group's survival ratio.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cropaudit.stats.clustered import RobustResult, fewest_images, not_estimable, robust_logit
from cropaudit.stats.equivalence import clustered_tost_p_value, verdict
from cropaudit.stats.outcomes import pair_tuples
from cropaudit.stats.proportions import adjust, interval

KEYS = ["cropper", "probe", "setting"]
BASELINE = "baseline"


def probe_tuples(outcomes: pd.DataFrame) -> pd.DataFrame:
    """One row per (cropper, probe, setting, pair tuple): the audit's tuple columns, plus the
    first group's soft outcomes (``mass_share_a``, ``topk_share_a``, ``margin_a``,
    ``mass_won_a``) and ``has_map``."""
    frames = []
    for (cropper, probe, setting), g in outcomes.groupby(KEYS, sort=False):
        t = pair_tuples(g, source=f"probe {setting} of cropper {cropper}")
        k = g["k"].astype(int)
        idx = g["position"].where(g["order"].astype(int) == 0, k - 1 - g["position"])
        first = g[idx.to_numpy() == 0].set_index("tuple_id").loc[t["tuple_id"]]
        t = t.assign(cropper=cropper, probe=probe, setting=setting,
                     has_map=first["has_map"].astype(bool).to_numpy(),
                     mass_share_a=first["mass_share"].to_numpy(dtype=float),
                     topk_share_a=first["topk_share"].to_numpy(dtype=float),
                     margin_a=first["margin"].to_numpy(dtype=float),
                     mass_won_a=first["mass_won"].astype(int).to_numpy())
        if "value" in g.columns:
            t["value"] = float(g["value"].iloc[0])
        frames.append(t)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def with_baseline(tuples: pd.DataFrame) -> pd.DataFrame:
    """Probe tuples joined with their own baseline tuple (``a_won_base``)."""
    base = tuples[tuples["probe"] == BASELINE][["cropper", "tuple_id", "a_won"]]
    base = base.rename(columns={"a_won": "a_won_base"})
    joined = tuples.merge(base, on=["cropper", "tuple_id"], how="inner", validate="many_to_one")
    return joined.assign(flip=(joined["a_won"] != joined["a_won_base"]).astype(int))


def robust(y: np.ndarray, image_a: np.ndarray, image_b: np.ndarray, alpha: float
           ) -> RobustResult:
    """:func:`robust_logit` clustered on both images of every tuple, or not estimable when a
    side has fewer than two images (one cluster gives no clustered variance; probes on tiny
    subsamples meet this)."""
    clusters = fewest_images(np.concatenate([image_a, image_b]),
                             np.repeat([0, 1], [len(image_a), len(image_b)]))
    if clusters < 2:
        return not_estimable("a side has fewer than two images", clusters=clusters)
    return robust_logit(y, np.column_stack([image_a, image_b]), clusters, alpha)


def _value(g: pd.DataFrame) -> float:
    """The setting's number (dose–response axis), NaN when the table has none."""
    return float(g["value"].iloc[0]) if "value" in g.columns else float("nan")


def clustered_rate(y: np.ndarray, image_a: np.ndarray, image_b: np.ndarray, alpha: float
                   ) -> tuple[float, float, float, str]:
    """(rate, low, high, method): two-way image-clustered logit interval, else Wilson."""
    y = np.asarray(y, dtype=float)
    if len(y) == 0:
        return float("nan"), float("nan"), float("nan"), ""
    fit = robust(y, image_a, image_b, alpha)
    if np.isfinite(fit.low):
        return float(y.mean()), fit.low, fit.high, "clustered"
    low, high = interval(int(y.sum()), len(y), alpha, "wilson")
    return float(y.mean()), float(low), float(high), "wilson"


def flip_table(tuples: pd.DataFrame, alpha: float = 0.05, by_comparison: bool = False
               ) -> pd.DataFrame:
    """Winner flip rate against the baseline per (cropper, probe, setting[, comparison])."""
    joined = with_baseline(tuples)
    keys = KEYS + (["comparison"] if by_comparison else [])
    rows = []
    for key, g in joined.groupby(keys, sort=False):
        rate, low, high, method = clustered_rate(g["flip"].to_numpy(), g["image_a"].to_numpy(),
                                                 g["image_b"].to_numpy(), alpha)
        rows.append({**dict(zip(keys, key, strict=True)), "value": _value(g),
                     "n": len(g), "flips": int(g["flip"].sum()),
                     "flip_rate": rate, "flip_low": low, "flip_high": high,
                     "interval": method})
    return pd.DataFrame(rows)


def _effective_n(y: np.ndarray, fit: RobustResult) -> float:
    """Kish's effective n, n / design effect (NaN without a clustered SE)."""
    n = len(y)
    p = float(y.mean())
    naive = p * (1 - p) / n if n else float("nan")
    if not (np.isfinite(fit.se) and naive > 0):
        return float("nan")
    return n / max((fit.se ** 2) / naive, 1.0)


def verdict_table(tuples: pd.DataFrame, *, alpha: float = 0.05, margin: float = 0.02,
                  correction: str = "holm") -> pd.DataFrame:
    """Δ, clustered interval, soft Δ and verdict per (cropper, probe, setting, comparison)."""
    rows = []
    for key, g in tuples.groupby([*KEYS, "comparison"], sort=False):
        y = g["a_won"].to_numpy(dtype=float)
        fit = robust(y, g["image_a"].to_numpy(), g["image_b"].to_numpy(), alpha)
        rows.append({**dict(zip([*KEYS, "comparison"], key, strict=True)),
                     "value": _value(g),
                     "group_a": g["group_a"].iloc[0], "group_b": g["group_b"].iloc[0],
                     "n": len(y), "n_effective": _effective_n(y, fit), "p": float(y.mean()),
                     "delta": float(y.mean()) - 0.5, "delta_low": fit.low - 0.5,
                     "delta_high": fit.high - 0.5,
                     "soft_delta": float(np.nanmean(g["mass_share_a"])) - 0.5
                     if g["has_map"].all() else np.nan,
                     "p_value": fit.p_value,
                     "tost_p_value": clustered_tost_p_value(fit, margin),
                     "not_estimable": fit.problem})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    parts = []
    for _, g in table.groupby(KEYS, sort=False):
        g = g.copy()
        g["p_value_adjusted"] = adjust(g["p_value"].to_numpy(), correction)  # type: ignore[arg-type]
        g["tost_p_value_adjusted"] = adjust(g["tost_p_value"].to_numpy(), correction)  # type: ignore[arg-type]
        parts.append(g)
    table = pd.concat(parts, ignore_index=True)
    table["verdict"] = [verdict(e, d, alpha) for e, d in
                        zip(table["tost_p_value_adjusted"], table["p_value_adjusted"],
                            strict=True)]
    table["sign"] = np.where(table["verdict"] == "differs", np.sign(table["delta"]), 0).astype(int)
    return stability(table)


def stability(table: pd.DataFrame) -> pd.DataFrame:
    """Add the baseline's verdict and sign, and ``survives`` (both unchanged)."""
    base = table[table["probe"] == BASELINE][["cropper", "comparison", "verdict", "sign",
                                               "delta"]]
    base = base.rename(columns={"verdict": "baseline_verdict", "sign": "baseline_sign",
                                "delta": "baseline_delta"})
    out = table.merge(base, on=["cropper", "comparison"], how="left")
    out["delta_change"] = out["delta"] - out["baseline_delta"]
    out["survives"] = (out["verdict"] == out["baseline_verdict"]) & \
        (out["sign"] == out["baseline_sign"])
    return out


def stability_matrix(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Wide table: one row per (cropper, comparison), one column per setting: the verdict
    with its sign (``differs+``, ``equivalent``, ...), ``*`` where it changed."""
    v = verdicts.assign(cell=[
        ("differs" + ("+" if s > 0 else "−") if verd == "differs" else verd)
        + ("" if ok else " *")
        for verd, s, ok in zip(verdicts["verdict"], verdicts["sign"], verdicts["survives"],
                               strict=True)])
    wide = v.pivot_table(index=["cropper", "comparison"], columns="setting", values="cell",
                         aggfunc="first", sort=False)
    return wide.reset_index()


def soft_table(tuples: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Per (cropper, probe, setting): soft outcomes and argmax/mass-winner disagreement."""
    rows = []
    for key, g in tuples.groupby(KEYS, sort=False):
        base = dict(zip(KEYS, key, strict=True))
        if not g["has_map"].all():
            rows.append({**base, "applicable": False, "n": len(g)})
            continue
        disagree = (g["mass_won_a"] != g["a_won"]).to_numpy(dtype=float)
        rate, low, high, method = clustered_rate(disagree, g["image_a"].to_numpy(),
                                                 g["image_b"].to_numpy(), alpha)
        winner_margin = np.where(g["a_won"] == 1, g["margin_a"], -g["margin_a"])
        rows.append({**base, "applicable": True, "n": len(g),
                     "mass_argmax_disagree": rate, "disagree_low": low, "disagree_high": high,
                     "interval": method,
                     "winner_margin_median": float(np.nanmedian(winner_margin)),
                     "mass_share_a_mean": float(np.nanmean(g["mass_share_a"])),
                     "topk_share_a_mean": float(np.nanmean(g["topk_share_a"]))})
    return pd.DataFrame(rows)


def survival_table(outcomes: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """3×1 grid survival per (cropper, setting, comparison, aspect ratio)."""
    grid = outcomes[outcomes["probe"] == "grid"]
    kept_cols = [c for c in grid.columns if c.startswith("kept_ar") and grid[c].notna().any()]
    rows = []
    for (cropper, setting, comparison), g in grid.groupby(["cropper", "setting", "comparison"],
                                                          sort=False):
        g = g.sort_values(["tuple_id", "position"])
        top = g[g["position"] == 0].set_index("tuple_id")
        bottom = g[g["position"] == 1].set_index("tuple_id").loc[top.index]
        group_a, group_b = comparison.split("~")
        for col in kept_cols:
            kt, kb = top[col].astype(bool).to_numpy(), bottom[col].astype(bool).to_numpy()
            n = len(kt)
            members = pd.concat([top[["group", col]], bottom[["group", col]]])
            rate = {gr: float(members.loc[members["group"] == gr, col].astype(bool).mean())
                    for gr in (group_a, group_b)}
            neither = int((~kt & ~kb).sum())
            low, high = interval(neither, n, alpha, "wilson")
            rows.append({"cropper": cropper, "setting": setting, "comparison": comparison,
                         "aspect_ratio": float(col.removeprefix("kept_ar")), "n": n,
                         "top_only": float((kt & ~kb).mean()),
                         "bottom_only": float((~kt & kb).mean()),
                         "both": float((kt & kb).mean()), "neither": neither / n,
                         "neither_low": float(low), "neither_high": float(high),
                         "group_a": group_a, "group_b": group_b,
                         "survival_a": rate[group_a], "survival_b": rate[group_b],
                         "survival_ratio": rate[group_a] / rate[group_b]
                         if rate[group_b] > 0 else np.nan})
    return pd.DataFrame(rows)
