"""How many pairs a comparison needs, and the smallest Δ a given number of pairs can detect.

A comparison is a one-sample test of p = 0.5 (two-sided). statsmodels' ``NormalIndPower``
with ``ratio=0`` solves it on Cohen's effect size h = 2·asin√p − 2·asin√0.5
(``proportion_effectsize``). Repeated images inflate the variance by the design effect, so
``design_effect`` multiplies the pairs needed (Kish's effective sample size).
"""

from __future__ import annotations

import math

import numpy as np

PARITY = 0.5


def effect_size(delta: float) -> float:
    """Cohen's h of p = 0.5 + delta against 0.5."""
    from statsmodels.stats.proportion import proportion_effectsize

    return float(proportion_effectsize(PARITY + delta, PARITY))


def pairs_needed(
    delta: float, alpha: float = 0.05, power: float = 0.8, design_effect: float = 1.0
) -> float:
    """Pairs (tuples) needed to detect |Δ| = delta with the given power (not rounded)."""
    from statsmodels.stats.power import NormalIndPower

    if not 0 < abs(delta) < PARITY:
        raise ValueError("delta must be between 0 and 0.5 in absolute value")
    n = NormalIndPower().solve_power(
        effect_size=abs(effect_size(delta)), alpha=alpha, power=power, ratio=0,
        alternative="two-sided",
    )
    return float(n) * max(design_effect, 1.0)


def min_detectable_delta(
    n: float, alpha: float = 0.05, power: float = 0.8, design_effect: float = 1.0
) -> float:
    """Smallest Δ > 0 detected with the given power from n pairs (NaN if n is too small)."""
    from statsmodels.stats.power import NormalIndPower

    n_eff = n / max(design_effect, 1.0) if design_effect == design_effect else n
    if not n_eff > 1:
        return float("nan")
    h = NormalIndPower().solve_power(
        nobs1=n_eff, alpha=alpha, power=power, ratio=0, alternative="two-sided"
    )
    # invert h = 2·asin√p − 2·asin√0.5 for p > 0.5
    angle = float(h) / 2 + math.asin(math.sqrt(PARITY))
    if angle >= math.pi / 2:
        return float("nan")
    return math.sin(angle) ** 2 - PARITY


def min_detectable_delta_clustered(log_odds_se: float, alpha: float = 0.05,
                                   power: float = 0.8, clusters: int = 0) -> float:
    """Smallest Δ > 0 that the verdict's clustered test detects with the given power.

    The verdict tests the log-odds β = logit(p) against 0 with t on G − 1 df (``clusters`` =
    G), with the run's clustered SE of β (``log_odds_se``). Its power at β is a noncentral t
    probability, P(|T| > t_crit) with T ~ t(G − 1, ncp = β / SE); this finds the ncp giving
    ``power`` and returns Δ = expit(ncp · SE) − 0.5. (The normal approximation at Kish's
    effective n used before ignored the G − 1 df: its Δ was detected with 75 % power, not
    80 %; docs/statistics.md gives the simulated power of this one.) NaN without a positive
    SE or with fewer than 2 images in a group.
    """
    from scipy.optimize import brentq
    from scipy.stats import nct, t as student_t

    if not (math.isfinite(log_odds_se) and log_odds_se > 0 and clusters >= 2):
        return float("nan")
    df = clusters - 1
    crit = float(student_t.ppf(1 - alpha / 2, df))

    def shortfall(ncp: float) -> float:
        # the far tail underflows to NaN in scipy for large ncp: it is 0 there
        lower = float(np.nan_to_num(nct.cdf(-crit, df, ncp), nan=0.0))
        return float(nct.sf(crit, df, ncp)) + lower - power

    top = crit + 8.0  # power ≈ 1 there unless the df are very few (heavy t tails)
    while shortfall(top) < 0:
        top *= 4
        if top > 1e6:
            return float("nan")
    ncp = brentq(shortfall, 0.0, top, xtol=1e-8)
    from scipy.special import expit

    return float(expit(ncp * log_odds_se) - PARITY)
