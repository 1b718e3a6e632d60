"""Cluster-robust logit: the model-based alternative to the cluster bootstrap.

An intercept-only binomial GLM (logit link) of "first side won" gives p = expit(β₀); its
standard error is made robust to image reuse with two-way clustering on the first-side and the
second-side image (statsmodels' Cameron–Gelbach–Miller estimator, V_A + V_B − V_AB, the
same decomposition the bootstrap uses). GEE was not used because it takes one clustering
only, and a pair belongs to two images. The interval is computed on the logit scale and
mapped back, so it stays inside (0, 1).
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
    """Fit the intercept-only logit with two-way image clustering (NaNs if p is 0 or 1)."""
    import statsmodels.api as sm

    y = np.asarray(y, dtype=float)
    if len(y) < 2 or y.min() == y.max():
        return NAN_RESULT
    groups = np.column_stack(
        [np.unique(image_a, return_inverse=True)[1], np.unique(image_b, return_inverse=True)[1]]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial()).fit(
            cov_type="cluster", cov_kwds={"groups": groups}
        )
    b0 = float(fit.params[0])
    se_b0 = float(fit.bse[0])
    low, high = (float(v) for v in np.asarray(fit.conf_int(alpha=alpha))[0])
    p = float(1 / (1 + np.exp(-b0)))
    return RobustResult(
        p=p,
        se=p * (1 - p) * se_b0,
        low=float(1 / (1 + np.exp(-low))),
        high=float(1 / (1 + np.exp(-high))),
        log_odds=b0,
        log_odds_se=se_b0,
        p_value=float(fit.pvalues[0]),
        clusters_first=int(groups[:, 0].max() + 1),
        clusters_second=int(groups[:, 1].max() + 1),
    )
