"""The "all groups at once" setting: k images in one composite, one of them holds the point.

Counts over k groups are multinomial; parity means every share is 1/k. The chi-square
goodness-of-fit test asks whether the shares differ from parity at all, and per-group
simultaneous (Goodman) intervals say which group's share does; marginal Wilson intervals are
given beside them for comparison with the pairwise tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

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
