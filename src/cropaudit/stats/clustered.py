"""Cluster-robust logit: the model-based alternative to the cluster bootstrap.

An intercept-only binomial GLM (logit link) of "first side won" gives p = expit(β₀); its
standard error is made robust to image reuse with two-way clustering on the first-side and the
second-side image (Cameron–Gelbach–Miller, V_A + V_B − V_AB, the same decomposition the
bootstrap uses; computed by :func:`shared_label_cov` below so that one estimator serves pairs,
aggregates, the position model and k-way tuples). GEE was not used because it takes one
clustering only, and a pair belongs to two images. The interval is computed on the logit
scale and mapped back, so it stays inside (0, 1).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RobustResult:
    """Cluster-robust p with interval, its log-odds, and the test of p = 0.5."""

    p: float
    se: float  # on the probability scale (delta method)
    low: float
    high: float
    log_odds: float
    log_odds_se: float
    p_value: float
    clusters_first: int
    clusters_second: int


NAN_RESULT = RobustResult(*(float("nan"),) * 7, 0, 0)


def robust_logit(
    y: np.ndarray, image_a: np.ndarray, image_b: np.ndarray, alpha: float = 0.05
) -> RobustResult:
    """Fit the intercept-only logit with two-way image clustering (NaNs if p is 0 or 1).

    Image indices of both sides share one label space; the covariance is
    :func:`shared_label_cov` with G/(G−1) and the interval and test use Student's t on
    G−1 df, G = the fewer distinct images of the two sides.
    """
    import pandas as pd

    y = np.asarray(y, dtype=float)
    if len(y) < 2 or y.min() == y.max():
        return NAN_RESULT
    # one integer label space for both sides (image ids may be strings)
    codes, _ = pd.factorize(np.concatenate([np.asarray(image_a), np.asarray(image_b)]))
    labels = np.column_stack([codes[: len(y)], codes[len(y):]])
    g_first, g_second = len(np.unique(image_a)), len(np.unique(image_b))
    terms, _, _ = robust_glm_terms(y, pd.DataFrame({"const": np.ones(len(y))}), labels, alpha,
                                   min(g_first, g_second))
    b0, se_b0 = float(terms["coef"].iloc[0]), float(terms["se"].iloc[0])
    low, high = float(terms["low"].iloc[0]), float(terms["high"].iloc[0])
    p = float(1 / (1 + np.exp(-b0)))
    return RobustResult(
        p=p,
        se=p * (1 - p) * se_b0,
        low=float(1 / (1 + np.exp(-low))),
        high=float(1 / (1 + np.exp(-high))),
        log_odds=b0,
        log_odds_se=se_b0,
        p_value=float(terms["p_value"].iloc[0]),
        clusters_first=g_first,
        clusters_second=g_second,
    )


# -- cluster-robust covariance for observations that share images ------------------------------
#
# A tuple shows k images, and an image appears in many tuples (and on both sides of a pair
# across comparisons). Two observations are correlated when they share *any* image, so the
# "meat" of the sandwich must sum s_i s_j' over every pair of observations sharing at least one
# cluster label. By inclusion–exclusion over the label sets each observation belongs to,
#
#     meat = Σ_{non-empty label sets T} (−1)^{|T|+1} S_T S_T',   S_T = Σ_{i: T ⊆ labels(i)} s_i,
#
# which is Cameron–Gelbach–Miller's multiway estimator (V_A + V_B − V_AB for a pair whose two
# images come from disjoint sets) but also right when the same image is first in one tuple and
# second in another (position model across comparisons) or when k > 2 (together tuples).
# statsmodels' ``cov_type="cluster"`` takes at most two fixed clustering columns, which is
# exactly the restriction that made the position model's group terms anti-conservative.


def shared_label_jackknife(info: np.ndarray, scores: np.ndarray, labels: np.ndarray
                           ) -> np.ndarray:
    """Covariance from the same inclusion–exclusion, with each cluster's score sum S_T
    replaced by the one-step leave-cluster-out change of the estimate, (H − H_T)⁻¹ S_T.

    This is the multiway form of the CR3 (jackknife) estimator. The plain sandwich is biased
    low when a group has few images: its scores are evaluated at an estimate that has already
    absorbed those images' own effects (with 20 images per group and 4 groups it gave the
    together test a 24 % false-positive rate at nominal 5 %; the jackknife form corrects it).
    ``info``: (n, p, p) per-observation information contributions, summing to H.
    """
    import itertools

    s = np.asarray(scores, dtype=float)
    info = np.asarray(info, dtype=float)
    n, p = s.shape
    total = info.sum(axis=0)
    lab = np.sort(np.asarray(labels, dtype=np.int64), axis=1)
    m = lab.shape[1]
    cov = np.zeros((p, p))
    flat = info.reshape(n, p * p)
    for r in range(1, m + 1):
        combos = list(itertools.combinations(range(m), r))
        keys = np.concatenate([lab[:, list(c)] for c in combos])
        inverse = np.unique(keys, axis=0, return_inverse=True)[1].ravel()
        size = inverse.max() + 1
        s_sum = np.zeros((size, p))
        h_sum = np.zeros((size, p * p))
        np.add.at(s_sum, inverse, np.tile(s, (len(combos), 1)))
        np.add.at(h_sum, inverse, np.tile(flat, (len(combos), 1)))
        h_out = total[None, :, :] - h_sum.reshape(size, p, p)
        try:
            delta = np.linalg.solve(h_out, s_sum[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:  # a cluster holding a whole term: no jackknife
            delta = np.linalg.solve(total, s_sum.T).T
        cov += (-1) ** (r + 1) * delta.T @ delta
    return cov


def shared_label_meat(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Σ s_i s_j' over observation pairs sharing ≥ 1 label (inclusion–exclusion; see above).

    ``scores``: (n, p) per-observation score contributions; ``labels``: (n, m) integer cluster
    labels per observation (distinct within a row; the same label in different columns of
    different rows is the same cluster).
    """
    import itertools

    s = np.asarray(scores, dtype=float)
    lab = np.sort(np.asarray(labels, dtype=np.int64), axis=1)
    n, m = lab.shape
    meat = np.zeros((s.shape[1], s.shape[1]))
    for r in range(1, m + 1):
        keys = np.concatenate([lab[:, list(c)] for c in itertools.combinations(range(m), r)])
        contrib = np.tile(s, (len(keys) // n, 1))
        inverse = np.unique(keys, axis=0, return_inverse=True)[1].ravel()
        sums = np.zeros((inverse.max() + 1, s.shape[1]))
        np.add.at(sums, inverse, contrib)
        meat += (-1) ** (r + 1) * sums.T @ sums
    return meat


def small_cluster_count(labels: np.ndarray) -> int:
    """G of the small-sample factor G/(G−1) and of the t quantile: the fewest distinct labels
    in any one column (CGM's choice for multiway clustering: the scarcest dimension rules)."""
    lab = np.asarray(labels)
    return int(min(len(np.unique(lab[:, j])) for j in range(lab.shape[1])))


def shared_label_cov(bread: np.ndarray, scores: np.ndarray, labels: np.ndarray,
                     clusters: int | None = None, info: np.ndarray | None = None
                     ) -> np.ndarray:
    """Sandwich B·meat·B with the small-sample factor G/(G−1); falls back to the largest
    one-label (single-column) meat if inclusion–exclusion leaves a non-positive variance.

    With ``info`` (per-observation information contributions) the jackknife form
    :func:`shared_label_jackknife` is used instead (with the factor (G−1)/G of CR3, and the
    same fallback).
    """
    g = clusters if clusters is not None else small_cluster_count(labels)
    if info is not None:
        cov = shared_label_jackknife(info, scores, labels)
        if np.all(np.diag(cov) > 0):
            return cov * ((g - 1) / g if g > 1 else 1.0)
    meat = shared_label_meat(scores, labels)
    if np.any(np.diag(meat) <= 0):
        lab = np.asarray(labels)
        meat = max((shared_label_meat(scores, lab[:, [j]]) for j in range(lab.shape[1])),
                   key=lambda mt: float(np.trace(mt)))
    factor = g / (g - 1) if g > 1 else 1.0
    return factor * bread @ meat @ bread


def t_quantile(alpha: float, clusters: int) -> float:
    """Two-sided critical value: Student's t with G−1 df (normal when G is large or unknown)."""
    from scipy.stats import norm, t

    if clusters is None or clusters < 2:
        return float(norm.ppf(1 - alpha / 2))
    return float(t.ppf(1 - alpha / 2, clusters - 1))


def robust_glm_terms(y: np.ndarray, x, labels: np.ndarray, alpha: float = 0.05,
                     clusters: int | None = None):
    """Binomial logit of ``y`` on the columns of ``x`` (a DataFrame) with the shared-label
    covariance above; t intervals and tests with G−1 df (G = ``clusters``, by default
    :func:`small_cluster_count`; pass the fewest images of any group when terms are per group).

    Returns (terms DataFrame: term, coef, se, low, high, p_value; covariance; G).
    """
    import pandas as pd
    import statsmodels.api as sm
    from scipy.stats import t as student_t

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.GLM(np.asarray(y, dtype=float), x, family=sm.families.Binomial()).fit()
    params = np.asarray(fit.params)
    bread = np.asarray(fit.cov_params())  # (X'WX)^-1, the Binomial scale is 1
    scores = fit.model.score_obs(params)
    g = clusters if clusters is not None else small_cluster_count(labels)
    cov = shared_label_cov(bread, scores, labels, g)
    se = np.sqrt(np.diag(cov))
    q = t_quantile(alpha, g)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = params / se
    p_value = 2 * student_t.sf(np.abs(stat), max(g - 1, 1))
    terms = pd.DataFrame({"term": list(x.columns), "coef": params, "se": se,
                          "low": params - q * se, "high": params + q * se,
                          "p_value": p_value})
    return terms, cov, g


def wald_test(coef: np.ndarray, cov: np.ndarray, clusters: int) -> tuple[float, int, float]:
    """Joint Wald test that every coefficient is 0: (statistic, df, p-value).

    With few clusters the χ² reference is anti-conservative; the statistic is referred to
    F(q, G−1) (statistic / q), the usual small-G version of the cluster-robust Wald test.
    """
    from scipy.stats import chi2, f

    coef = np.asarray(coef, dtype=float)
    q = len(coef)
    try:
        stat = float(coef @ np.linalg.solve(cov, coef))
    except np.linalg.LinAlgError:
        return float("nan"), q, float("nan")
    if clusters is not None and clusters > 1:
        return stat, q, float(f.sf(stat / q, q, clusters - 1))
    return stat, q, float(chi2.sf(stat, q))
