"""Disparity tables: each group's rate, and how far it is from a reference group.

The shape users of fairlearn's ``MetricFrame`` (``by_group``, ``difference``, ``ratio``) and of
Aequitas (disparity against a reference group, with a minimum group size) expect, one row per
(slice, level, value):

* ``count, n, rate``: the yes/no outcome per value (a group label or an attribute value);
* ``naive_low, naive_high``: the binomial interval treating rows as independent (``method``);
* ``se, design_effect, n_effective, ci_low, ci_high, clusters``: clustered. An observation
  involves every image of its tuple (a member's win depends on its opponent too), and two
  observations are correlated when their tuples share any image; the covariance of the rates
  is the CR3 one of :mod:`cropaudit.stats.clustered` over those labels, n_effective =
  n / design effect, and the interval is Wilson's at n_effective with the t quantile of
  G − 1 df (G = ``clusters``, the fewest own images of any value) in place of z;
* ``reference, diff, diff_low, diff_high``: rate − reference rate with a clustered t interval
  on G − 1 df (it accounts for the two rates sharing tuples: a pair has one winner);
* ``ratio, ratio_low, ratio_high``: rate / reference rate, interval on the log scale (delta
  method), the "four-fifths rule" number;
* ``evidence``: ``insufficient evidence`` when the value or the reference has fewer than
  ``min_n`` effective observations (no difference is claimed either way), ``not estimable``
  when the clustered variance is not positive (reason in ``not_estimable``), else
  ``differs`` / ``no detectable difference``; ``explanation``: one plain sentence.

The same table is built for the saliency outcome (share of pairs whose salient point lands on
the group's image), the face rates and the gaze rates, so every per-group table and every
metrics.json tree of a run comes from :func:`disparity_rows` and :func:`metric_tree`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from cropaudit.contracts import metric_key
from cropaudit.stats.clustered import (
    ClusteredCovariance,
    cluster_labels,
    fewest_images,
    shared_label_cov,
    t_quantile,
)
from cropaudit.stats.proportions import interval

INSUFFICIENT = "insufficient evidence"
DIFFERS = "differs"
NO_DIFFERENCE = "no detectable difference"
#: the clustered variance could not be estimated (the reason is in ``not_estimable``)
NOT_ESTIMABLE = "not estimable"
#: default minimum effective observations per group before a disparity is stated
DEFAULT_MIN_N = 30


def clustered_rate_cov(values: np.ndarray, outcome: np.ndarray, labels: np.ndarray,
                       clusters: int) -> tuple[np.ndarray, ClusteredCovariance]:
    """(value codes' rates, their clustered covariance) of a yes/no outcome.

    A saturated linear model (one dummy per value, no intercept) has the rates as
    coefficients; its clustered covariance (:func:`shared_label_cov`, CR3 jackknife over
    every image each observation involves) includes the covariance between values that
    share tuples. ``values``: integer codes 0..v−1; ``clusters``: G.
    """
    v = int(values.max()) + 1
    x = np.eye(v)[values]
    n_v = x.sum(axis=0)
    rate = (x * outcome[:, None]).sum(axis=0) / n_v
    resid = outcome - rate[values]
    scores = x * resid[:, None]
    info = x[:, :, None] * x[:, None, :]
    return rate, shared_label_cov(np.diag(1 / n_v), scores, labels, clusters, info)


def disparity_rows(obs: pd.DataFrame, *, value: str = "value", outcome: str = "outcome",
                   images: str | Sequence[str] = "images", own_image: str = "image_id",
                   reference: str | None = None, alpha: float = 0.05,
                   method: str = "wilson", min_n: int = DEFAULT_MIN_N,
                   describe: Callable[[str], str] | None = None) -> pd.DataFrame:
    """One slice's disparity table (see the module docstring); rows with NA outcome are out.

    ``images``: the column holding, per observation, the tuple of every image it involves
    (its own and the other members of its tuple; :func:`cluster_labels`), or a list of
    columns holding one image each; ``own_image``: the observation's own
    image (G = fewest distinct own images of any value); ``reference``: the value differences
    and ratios are taken against (default: the largest n, as Aequitas); ``describe(value)``:
    the plain-language name of what is measured, e.g. ``"the salient point lands on a marked
    image"``.
    """
    valid = obs[obs[outcome].notna()]
    if valid.empty:
        return pd.DataFrame()
    names = valid[value].astype(str)
    codes, uniques = pd.factorize(names, sort=True)
    y = valid[outcome].astype(float).to_numpy()
    labels = cluster_labels(valid[images] if isinstance(images, str) else valid[list(images)])
    g = fewest_images(valid[own_image].astype(str).to_numpy(), codes)
    rate, cc = clustered_rate_cov(codes, y, labels, g)
    cov = cc.cov
    n = np.bincount(codes).astype(int)
    count = np.bincount(codes, weights=y).round().astype(int)
    var = np.diag(cov)
    deff, n_eff = _design_effect(rate, var, n)
    q = t_quantile(alpha, g)
    # Wilson at the effective n with the t quantile of G − 1 df in place of z
    alpha_t = float(2 * norm.sf(q))
    low, high = interval(rate * n_eff, n_eff, alpha_t, method)
    naive_low, naive_high = interval(count, n, alpha, method)
    ref = reference if reference in set(uniques) else uniques[int(np.argmax(n))]
    r = list(uniques).index(ref)
    rows = []
    for i, name in enumerate(uniques):
        rows.append({
            "value": name, "count": int(count[i]), "n": int(n[i]), "rate": float(rate[i]),
            "naive_method": method, "naive_low": float(naive_low[i]),
            "naive_high": float(naive_high[i]),
            "se": float(math.sqrt(var[i])) if var[i] > 0 else float("nan"),
            "design_effect": float(deff[i]), "n_effective": float(n_eff[i]),
            "ci_low": float(low[i]) if not cc.problem else float("nan"),
            "ci_high": float(high[i]) if not cc.problem else float("nan"),
            "clusters": g, "reference": ref,
            **_against_reference(i, r, rate, var, cov, n_eff, q, min_n, cc.problem),
        })
    out = pd.DataFrame(rows)
    level = round(100 * (1 - alpha))
    out["explanation"] = [_explain(row, level, describe) for row in out.itertuples()]
    return out


def _design_effect(rate: np.ndarray, var: np.ndarray, n: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(design effect, effective n) per value: how many independent observations the
    clustered variance is worth, which sizes both the interval and the ``min_n`` rule.

    The design effect is floored at 1, so the effective n never exceeds n; NaN stays NaN.
    """
    naive_var = rate * (1 - rate) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        deff = np.where(naive_var > 0, var / naive_var, 1.0)
    deff = np.maximum(deff, 1.0)  # NaN stays NaN: no effective n without a variance
    return deff, np.maximum(n / deff, 1.0)


def _against_reference(i: int, r: int, rate: np.ndarray, var: np.ndarray, cov: np.ndarray,
                       n_eff: np.ndarray, q: float, min_n: int, problem: str
                       ) -> dict[str, Any]:
    """Value ``i`` against the reference ``r``: the diff, ratio, min_n, evidence and
    not_estimable columns of its row, kept apart so the evidence rule (reference, not
    estimable, insufficient, differs, no difference: the first that applies) reads in one
    place. ``problem``: why the clustered covariance failed ('' when it did not).
    """
    diff = rate[i] - rate[r]
    diff_var = var[i] + var[r] - 2 * cov[i, r]
    diff_se = math.sqrt(diff_var) if diff_var > 0 else float("nan")
    ratio, ratio_low, ratio_high = _ratio(rate[i], rate[r], var[i], var[r], cov[i, r], q)
    problem = problem or ("" if i == r or math.isfinite(diff_se) else
                          "the clustered variance of the difference is not positive")
    enough = n_eff[i] >= min_n and n_eff[r] >= min_n  # False when n_eff is NaN
    if i == r:
        evidence = "reference"
    elif problem:
        evidence = NOT_ESTIMABLE
    elif not enough:
        evidence = INSUFFICIENT
    elif abs(diff) > q * diff_se:
        evidence = DIFFERS
    else:
        evidence = NO_DIFFERENCE
    return {
        "diff": float(diff), "diff_low": float(diff - q * diff_se),
        "diff_high": float(diff + q * diff_se), "ratio": ratio, "ratio_low": ratio_low,
        "ratio_high": ratio_high, "min_n": min_n, "evidence": evidence,
        "not_estimable": problem if evidence == NOT_ESTIMABLE else "",
    }


def _ratio(a: float, b: float, var_a: float, var_b: float, cov_ab: float, q: float
           ) -> tuple[float, float, float]:
    """a / b with a delta-method interval on the log scale (NaN where a rate is 0)."""
    if not (a > 0 and b > 0):
        return (a / b if b > 0 else float("nan")), float("nan"), float("nan")
    log_var = var_a / a**2 + var_b / b**2 - 2 * cov_ab / (a * b)
    se = math.sqrt(max(log_var, 0.0))
    ratio = a / b
    spread = math.exp(min(q * se, 700.0))  # a huge SE: an interval to infinity, not an error
    return ratio, ratio / spread, ratio * spread


def _explain(r: Any, level: int, describe: Callable[[str], str] | None) -> str:
    what = describe(str(r.value)) if describe else f"the outcome holds for {r.value}"
    if r.evidence == NOT_ESTIMABLE or not math.isfinite(r.ci_low):
        return (f"{100 * r.rate:.1f}% of {r.n} observations: {what}; {NOT_ESTIMABLE}: "
                f"{r.not_estimable or 'no clustered variance'}, so no interval and no claim "
                "either way.")
    head = (f"{100 * r.rate:.1f}% of {r.n} observations: {what} ({level}% clustered interval "
            f"{100 * r.ci_low:.1f}–{100 * r.ci_high:.1f}%, worth {r.n_effective:.0f} independent "
            "observations)")
    if r.evidence == "reference":
        return head + "; reference group."
    if r.evidence == INSUFFICIENT:
        return (head + f"; {INSUFFICIENT}: fewer than {r.min_n} effective observations here "
                f"or for {r.reference}, so no difference is claimed either way.")
    comparison = (f"{100 * r.diff:+.1f} points against {r.reference} "
                  f"[{100 * r.diff_low:+.1f}, {100 * r.diff_high:+.1f}], ratio {r.ratio:.2f}")
    if r.evidence == DIFFERS:
        return head + f"; {comparison}: a difference the data support."
    return (head + f"; {comparison}: no difference detected (which does not show there is "
            "none; see the interval).")


def disparity_table(obs: pd.DataFrame, slices: Sequence[str], *,
                    references: Mapping[str, str] | None = None,
                    level_column: str = "level", **kwargs: Any) -> pd.DataFrame:
    """:func:`disparity_rows` for every slice (e.g. source, measure, aspect ratio, level);
    ``references`` maps a level (``gender``) to its reference value (``male``)."""
    parts = []
    for key, part in obs.groupby(list(slices), dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        meta = dict(zip(slices, key, strict=True))
        ref = (references or {}).get(str(meta.get(level_column, "")))
        rows = disparity_rows(part, reference=ref, **kwargs)
        if len(rows):
            parts.append(rows.assign(**meta))
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    return out[[*slices, *[c for c in out.columns if c not in slices]]]


def metric_tree(rows: Iterable[Any], path: Callable[[Any], Sequence[str]],
                leaf: Callable[[Any], Any]) -> dict[str, Any]:
    """Nested dict for metrics.json: ``path(row)`` gives the keys, ``leaf(row)`` the value.

    The one place metric trees are built (face rates, gaze rates, disparities), so their keys
    follow one rule: MLflow-safe (``contracts.metric_key``) and nested by slice.
    """
    tree: dict[str, Any] = {}
    for row in rows:
        keys = [metric_key(str(k)) for k in path(row)]
        node = tree
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = leaf(row)
    return tree


def disparity_metrics(table: pd.DataFrame, slices: Sequence[str]) -> dict[str, Any]:
    """``<slice...>.<value>.{rate, ci_low, ci_high, n, n_effective, diff, ratio, evidence}``."""
    if table.empty:
        return {}

    def clean(v: Any) -> Any:
        v = v.item() if hasattr(v, "item") else v
        return None if isinstance(v, float) and not math.isfinite(v) else v

    return metric_tree(
        table.itertuples(index=False),
        lambda r: [*(str(getattr(r, s)) for s in slices), str(r.value)],
        lambda r: {k: clean(getattr(r, k)) for k in ("rate", "ci_low", "ci_high", "n",
                                                      "n_effective", "diff", "diff_low",
                                                      "diff_high", "ratio", "evidence")},
    )


def wide_text(rates: pd.DataFrame, index: Sequence[str], column: pd.Series,
              low: str = "ci_low", high: str = "ci_high") -> pd.DataFrame:
    """One row per ``index`` combination, one column per distinct ``column`` value, cells
    ``rate [low, high] (n=…)``: the per-group tables of the report."""
    if rates.empty:
        return pd.DataFrame()
    part = rates.assign(
        column=column.to_numpy(),
        text=[f"{r:.3f} [{lo:.3f}, {hi:.3f}] (n={n})" if np.isfinite(lo) and np.isfinite(hi)
              else f"{r:.3f} (not estimable) (n={n})" for r, lo, hi, n in
              zip(rates["rate"], rates[low], rates[high], rates["n"], strict=True)],
    )
    wide = part.pivot(index=list(index), columns="column", values="text")
    wide = wide[list(dict.fromkeys(part["column"]))]
    wide.columns.name = None
    return wide.reset_index()
