"""The "all groups at once" setting: k images in one composite, one of them holds the point.

Counts over k groups are multinomial; parity means every share is 1/k. The raw shares come
with per-group simultaneous (Goodman) intervals and the asymptotic chi-square goodness-of-fit
test (``chi2_*``: naive, it treats tuples as independent and ignores position; kept because
the paper's counts have nothing else). A run's headline test is position-adjusted (below):
the clustered conditional-logit Wald test of group effects (``group_p_value``) and, for small
n, the Monte Carlo test that holds the position preference fixed (``mc_p_value``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cropaudit.stats.position import BALANCE_TOLERANCE
from cropaudit.stats.proportions import interval


def together_table(
    comparison: str,
    groups: Sequence[str],
    counts: Sequence[int],
    *,
    alpha: float = 0.05,
    method: str = "wilson",
) -> pd.DataFrame:
    """One row per group: count, share, parity share 1/k, Δ, intervals, chi-square GOF.

    Columns: comparison, group, k, count, n, share, parity, delta, ci_low, ci_high (Goodman
    simultaneous), marginal_low, marginal_high (``method``), chi2, chi2_df, chi2_p_value.
    """
    from scipy.stats import chisquare
    from statsmodels.stats.proportion import multinomial_proportions_confint

    c = np.asarray(counts, dtype=float)
    k, n = len(c), float(c.sum())
    if k < 2 or n <= 0:
        raise ValueError("a together comparison needs at least two groups and one tuple")
    share = c / n
    if (c > 0).sum() >= 2:
        simultaneous = multinomial_proportions_confint(c, alpha=alpha, method="goodman")
    else:  # Goodman's intervals are undefined when a single group holds every point
        simultaneous = np.column_stack(interval(c, n, alpha, method))
    marg_low, marg_high = interval(c, n, alpha, method)
    chi = chisquare(c)
    return pd.DataFrame(
        {
            "comparison": comparison,
            "group": list(groups),
            "k": k,
            "count": c.astype(int),
            "n": int(n),
            "share": share,
            "parity": 1.0 / k,
            "delta": share - 1.0 / k,
            "ci_low": simultaneous[:, 0],
            "ci_high": simultaneous[:, 1],
            "marginal_low": marg_low,
            "marginal_high": marg_high,
            "chi2": float(chi.statistic),
            "chi2_df": k - 1,
            "chi2_p_value": float(chi.pvalue),
        }
    )


# -- position-adjusted group effects -----------------------------------------------------------
#
# Raw shares confound group with position unless every group sits at every position equally
# often. The model is a conditional (McFadden) logit over the k members of each tuple:
#
#     P(member j of tuple t holds the point) ∝ exp(π[position of j] + s[group of j]),
#
# π₀ = s₀ = 0 (first position, first group). The group strengths s are free of any position
# preference whatever the arrangement scheme (they are estimable as long as groups move
# between positions). Their joint test s = 0 is a Wald test with a cluster-robust covariance
# over images (two tuples are correlated when they share any image: the k members' images are
# the cluster labels of :func:`cropaudit.stats.clustered.shared_label_cov`), referred to
# F(k−1, G−1), G = fewest images of any group.
#
# statsmodels' ConditionalLogit fits the same likelihood (a test checks the coefficients
# agree) but offers neither clustered covariances nor per-tuple scores, and loops over tuples
# in Python; the Newton iterations below are vectorised over tuples.

#: random stream tag of the Monte Carlo multinomial test (mixed with the run's seed)
MULTINOMIAL_STREAM = 0x3C7
MC_RESAMPLES = 9999
#: The regime where the simulation study (benchmarks/stats_study.py, docs/statistics.md)
#: measured the clustered k-way group test above 7 % at nominal 5 %: few images per group
#: (20), each drawn many times (12.5 and 50 draws per image: 8.0 % and 8.5 %, Monte Carlo SE
#: 1.5). With 40 or 80 images, or 5 draws per image or fewer, it stayed within 2.0–6.5 %.
ABOVE_NOMINAL_MAX_IMAGES = 20
ABOVE_NOMINAL_MIN_DRAWS_PER_IMAGE = 12.0


def _softmax(u: np.ndarray) -> np.ndarray:
    e = np.exp(u - u.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def conditional_logit(x: np.ndarray, winner: np.ndarray, max_iter: int = 50
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Fit the conditional logit; ``x`` (tuples × k × p), ``winner`` (tuples,) member index.

    Returns (coefficients, bread = inverse information, per-tuple scores, per-tuple
    information), or None when a
    term is not identified by the design or the likelihood has no finite maximum (a group or
    position that never wins).
    """
    t = np.arange(len(winner))
    beta = np.zeros(x.shape[2])
    # a term constant within every tuple, or position and group moving together (e.g. the
    # middle groups of the former as-drawn-and-reversed design), is not identified
    centred0 = (x - x.mean(axis=1, keepdims=True)).reshape(-1, x.shape[2])
    if np.linalg.matrix_rank(centred0) < x.shape[2]:
        return None
    for _ in range(max_iter):
        prob = _softmax(x @ beta)
        mean = np.einsum("tk,tkp->tp", prob, x)
        scores = x[t, winner] - mean
        centred = x - mean[:, None, :]
        info = np.einsum("tk,tkp,tkq->pq", prob, centred, centred)
        try:
            step = np.linalg.solve(info, scores.sum(axis=0))
        except np.linalg.LinAlgError:
            return None
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    if not np.all(np.isfinite(beta)) or np.max(np.abs(beta)) > 15:
        return None
    prob = _softmax(x @ beta)
    mean = np.einsum("tk,tkp->tp", prob, x)
    centred = x - mean[:, None, :]
    info_obs = np.einsum("tk,tkp,tkq->tpq", prob, centred, centred)
    return beta, np.linalg.inv(info_obs.sum(axis=0)), x[t, winner] - mean, info_obs


def _wide(members: pd.DataFrame, k: int) -> dict[str, np.ndarray]:
    """Per tuple (rows) and position (columns): group index, image id, won."""
    m = members.sort_values(["tuple_id", "position"])
    shape = (len(m) // k, k)
    return {
        "group": m["group_index"].to_numpy(dtype=int).reshape(shape),
        "image": m["image_id"].astype(str).to_numpy(dtype=object).reshape(shape),
        "won": m["won"].to_numpy(dtype=int).reshape(shape),
    }


def monte_carlo_group_test(group: np.ndarray, winner: np.ndarray, k: int, *,
                           resamples: int = MC_RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """Monte Carlo test of "no group effect, whatever the position preference".

    Under the null only positions matter; their win shares q are estimated from the data.
    Winners are redrawn position-wise from q (per distinct arrangement one multinomial draw,
    so it is exact in distribution for any n, unlike the χ² approximation that failed at
    n = 10) and mapped to groups through each tuple's arrangement. Statistic: Pearson's χ² of
    group wins against their expectation under the null. Returns (statistic, p-value) with
    p = (1 + #{simulated ≥ observed}) / (1 + resamples). Tuples are treated as independent:
    with heavily reused images prefer the clustered model test.
    """
    n = len(winner)
    q = np.bincount(winner, minlength=k) / n
    expected = np.zeros(k)
    for g in range(k):
        expected[g] = q[np.argmax(group == g, axis=1)].sum()
    rows = np.arange(n)
    observed = np.bincount(group[rows, winner], minlength=k)

    def stat(counts: np.ndarray) -> np.ndarray:
        return _pearson(counts, expected)

    rng = np.random.default_rng(np.random.SeedSequence([seed, MULTINOMIAL_STREAM]))
    arrangements, inverse = np.unique(group, axis=0, return_inverse=True)
    sims = np.zeros((resamples, k))
    for a, arrangement in enumerate(arrangements):
        size = int((np.asarray(inverse).ravel() == a).sum())
        by_position = rng.multinomial(size, q, size=resamples)  # resamples × k positions
        sims[:, arrangement] += by_position
    observed_stat = float(stat(observed))
    p = (1 + int((stat(sims) >= observed_stat - 1e-9).sum())) / (1 + resamples)
    return observed_stat, float(p)


def _pearson(counts: np.ndarray, expected: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(expected > 0, (counts - expected) ** 2 / expected, 0.0)
    return terms.sum(axis=-1)


def together_model(members: pd.DataFrame, groups: Sequence[str], *, alpha: float = 0.05,
                   seed: int = 0, resamples: int = MC_RESAMPLES) -> pd.DataFrame:
    """Position-adjusted group effects of one together comparison, one row per group.

    ``members``: :func:`cropaudit.stats.outcomes.together_members` rows of the comparison.
    See :func:`together_effects` for the columns.
    """
    w = _wide(members, len(groups))
    out = together_effects(w["group"], w["image"], np.argmax(w["won"], axis=1), alpha=alpha,
                           seed=seed, resamples=resamples)
    return out.assign(group=list(groups))


def together_effects(group: np.ndarray, image: np.ndarray, winner: np.ndarray, *,
                     alpha: float = 0.05, seed: int = 0,
                     resamples: int = MC_RESAMPLES) -> pd.DataFrame:
    """Position-adjusted group effects from arrays (tuples × positions): ``group`` index and
    ``image`` id of the member at each position, ``winner`` position of each tuple.

    One row per group index. Columns: group, tuples, draws (distinct arrangements' tuples /
    k: the drawn tuples), clusters (G, fewest images of a group), max_position_imbalance
    (largest gap between the group's share of a position and 1/k), counterbalanced,
    naive_mc_statistic, naive_mc_p_value (Monte Carlo multinomial test, position preference
    held fixed, tuples independent: naive with reused images), strength, strength_se,
    strength_low, strength_high (population-averaged log-odds against the first group at
    equal positions, CR3 cluster-robust over every image of the tuple, t on ``group_df2``
    df), adjusted_share (share if every group sat at every position equally: softmax of the
    strengths), group_wald, group_df, group_df2, group_p_value (the headline: clustered Wald
    test of the strengths as Hotelling's T² with nu df, nu = the fewer of G − 1 and the
    variance's Satterthwaite degrees of freedom, :func:`~cropaudit.stats.clustered.
    effective_df`), position_p_value (same for the position terms),
    above_nominal (the design is in the regime where the simulation study measured more than
    7 % false positives at 5 %), not_estimable (why there is no model, '' when there is).
    """
    n, k = group.shape
    out, clusters = _design_columns(group, image, winner, seed=seed, resamples=resamples)
    x = _design_matrix(group)
    fit = conditional_logit(x, winner) if n > 2 * k else None
    regime = above_nominal(n, clusters, k)
    nan = np.full(k, np.nan)
    if fit is None:
        return out.assign(strength=nan, strength_se=nan, strength_low=nan, strength_high=nan,
                          adjusted_share=nan, group_wald=np.nan, group_df=k - 1,
                          group_df2=np.nan, group_p_value=np.nan, position_p_value=np.nan,
                          above_nominal=regime,
                          not_estimable="the arrangements do not separate groups from "
                          "positions, too few tuples, or a group or position never wins")
    return out.assign(**_group_effects(fit, image, clusters, k, alpha, regime))


def _design_columns(group: np.ndarray, image: np.ndarray, winner: np.ndarray, *, seed: int,
                    resamples: int) -> tuple[pd.DataFrame, int]:
    """The columns of :func:`together_effects` that need no model (tuples, clusters, position
    balance, the naive Monte Carlo test), and G: they are reported even when the model
    cannot be fitted, so they are computed first and apart from it."""
    n, k = group.shape
    at = np.stack([(group == g).mean(axis=0) for g in range(k)])  # group × position
    imbalance = np.abs(at - 1 / k).max(axis=1)
    mc_stat, mc_p = monte_carlo_group_test(group, winner, k, resamples=resamples, seed=seed)
    clusters = int(min(len(np.unique(image[group == g])) for g in range(k)))
    out = pd.DataFrame({
        "group": np.arange(k), "tuples": n, "clusters": clusters,
        "max_position_imbalance": imbalance,
        "counterbalanced": imbalance <= BALANCE_TOLERANCE,
        "naive_mc_statistic": mc_stat, "naive_mc_p_value": mc_p,
    })
    return out, clusters


def _design_matrix(group: np.ndarray) -> np.ndarray:
    """The conditional logit's design (tuples × k × 2(k − 1)): position dummies 1..k−1, then
    group dummies 1..k−1, per tuple × member; the first position and group are the baselines,
    so the group terms are effects at equal positions."""
    n, k = group.shape
    pos_dummies = np.broadcast_to(np.eye(k)[None, :, 1:], (n, k, k - 1))
    grp_dummies = np.eye(k)[group][:, :, 1:]
    return np.concatenate([pos_dummies, grp_dummies], axis=2)


def _group_effects(fit: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                   image: np.ndarray, clusters: int, k: int, alpha: float, regime: bool
                   ) -> dict[str, Any]:
    """The model columns of :func:`together_effects` (strength … not_estimable) from a fitted
    conditional logit: its clustered (CR3) covariance over every image of the tuple gives the
    strengths' intervals and the group and position Wald tests."""
    from cropaudit.stats.clustered import (
        cluster_labels,
        joint_df,
        shared_label_cov,
        student_quantile,
        wald_test,
    )

    beta, bread, scores, info = fit
    labels = cluster_labels(image)
    cc = shared_label_cov(bread, scores, labels, clusters, info)
    cov = cc.cov
    g_idx, p_idx = slice(k - 1, 2 * (k - 1)), slice(0, k - 1)
    # the variance's own df (at most G − 1) and Hotelling's correction in wald_test
    nu_group = joint_df(bread, scores, labels, range(k - 1, 2 * (k - 1)), clusters)
    nu_position = joint_df(bread, scores, labels, range(k - 1), clusters)
    strength = np.concatenate([[0.0], beta[g_idx]])
    se = np.concatenate([[0.0], np.sqrt(np.diag(cov)[g_idx])])
    q = student_quantile(alpha, nu_group) if nu_group > 0 else np.nan
    wald, df, p_group = wald_test(beta[g_idx], cov[g_idx, g_idx], clusters, df=nu_group)
    _, _, p_position = wald_test(beta[p_idx], cov[p_idx, p_idx], clusters, df=nu_position)
    adjusted = np.exp(strength) / np.exp(strength).sum()
    problem = cc.problem or ("" if np.isfinite(p_group) else
                             "the clustered covariance of the strengths is singular")
    return dict(strength=strength, strength_se=se, strength_low=strength - q * se,
                strength_high=strength + q * se, adjusted_share=adjusted,
                group_wald=wald, group_df=df, group_df2=nu_group,
                group_p_value=p_group, position_p_value=p_position,
                above_nominal=regime, not_estimable=problem)


def above_nominal(tuples: int, clusters: int, k: int) -> bool:
    """Whether a k-way design is in the regime where the simulation study measured the
    clustered group test above 7 % at nominal 5 % (docs/statistics.md)."""
    draws_per_image = tuples / k / max(clusters, 1)
    return bool(clusters <= ABOVE_NOMINAL_MAX_IMAGES
                and draws_per_image >= ABOVE_NOMINAL_MIN_DRAWS_PER_IMAGE)
