"""Position bias: does the cropper prefer the left (top) image, whatever its group?

The original study always put the first group on the left, so a left preference was folded
into every group difference. With counterbalanced sampling every tuple is also shown reversed
(``order`` 1, same ``base_id``), which separates the two:

* McNemar's test on the paired outcomes: among base tuples whose winner changes with the
  order, does the first group win more often when it is on the left than when it is on the
  right?
* A logistic regression of "left won" on group of the left image, group of the right image and
  position: logit P(left won) = α + s(left group) − s(right group) (Bradley–Terry with a
  position term). α is the position effect on the log-odds scale, s the group strengths
  (reference group 0); standard errors are clustered on ``base_id`` because a tuple and its
  mirror share their images. The antisymmetric group terms are what makes α identifiable;
  free left-group and right-group dummies would absorb it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

POSITION_TERM = "position (left)"


@dataclass(frozen=True)
class McNemarResult:
    """Paired orders of one comparison (or all pooled)."""

    base_tuples: int
    both_orders_first: int  # first group won in both orders
    first_left_only: int  # first group won only when on the left
    first_right_only: int  # first group won only when on the right
    neither: int
    statistic: float
    p_value: float


def counterbalanced(tuples: pd.DataFrame) -> bool:
    """True when the tuples include both orders (each base shown as drawn and reversed)."""
    return bool(len(tuples)) and set(tuples["order"].unique()) >= {0, 1}


def paired_orders(tuples: pd.DataFrame) -> pd.DataFrame:
    """One row per base tuple shown in both orders: a_won in order 0 and in order 1."""
    keys = ["setting", "comparison", "base_id"]
    wide = tuples.pivot_table(index=keys, columns="order", values="a_won", aggfunc="first")
    if 0 not in wide.columns or 1 not in wide.columns:
        return pd.DataFrame(columns=[*keys, "won_order0", "won_order1"])
    wide = wide[[0, 1]].dropna().astype(int)
    wide.columns = ["won_order0", "won_order1"]
    return wide.reset_index()


def mcnemar_test(paired: pd.DataFrame) -> McNemarResult:
    """Exact McNemar test (statsmodels) of first-left-only vs first-right-only bases."""
    from statsmodels.stats.contingency_tables import mcnemar

    w0, w1 = paired["won_order0"].to_numpy(), paired["won_order1"].to_numpy()
    both = int(((w0 == 1) & (w1 == 1)).sum())
    left_only = int(((w0 == 1) & (w1 == 0)).sum())
    right_only = int(((w0 == 0) & (w1 == 1)).sum())
    neither = int(((w0 == 0) & (w1 == 0)).sum())
    if left_only + right_only == 0:
        stat, pval = 0.0, 1.0
    else:
        res = mcnemar([[both, left_only], [right_only, neither]], exact=True)
        stat, pval = float(res.statistic), float(res.pvalue)
    return McNemarResult(len(paired), both, left_only, right_only, neither, stat, pval)


def mcnemar_table(tuples: pd.DataFrame) -> pd.DataFrame:
    """McNemar per (setting, comparison) and pooled per setting (comparison ``all``)."""
    paired = paired_orders(tuples)
    rows = []
    for setting, ps in paired.groupby("setting", sort=True):
        ts = tuples[tuples["setting"] == setting]
        parts = [(c, d, ts[ts["comparison"] == c]) for c, d in ps.groupby("comparison")]
        parts.append(("all", ps, ts))
        for comparison, d, t in parts:
            r = mcnemar_test(d)
            rows.append(
                {
                    "setting": setting,
                    "comparison": comparison,
                    "tuples": len(t),
                    "p_left": float(t["left_won"].mean()),
                    "base_tuples": r.base_tuples,
                    "first_won_both_orders": r.both_orders_first,
                    "first_won_left_only": r.first_left_only,
                    "first_won_right_only": r.first_right_only,
                    "first_won_neither": r.neither,
                    "mcnemar_statistic": r.statistic,
                    "mcnemar_p_value": r.p_value,
                }
            )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class PositionModel:
    """Fitted position + group-strength logit of one setting, as a tidy table of terms."""

    terms: pd.DataFrame  # term, coef, se, low, high, p_value
    reference_group: str
    n: int

    def term(self, name: str) -> pd.Series:
        return self.terms.set_index("term").loc[name]

    @property
    def position(self) -> pd.Series:
        return self.term(POSITION_TERM)


def position_model(tuples: pd.DataFrame, alpha: float = 0.05) -> PositionModel | None:
    """Fit logit P(left won) = α + s(left) − s(right) (None without both orders or groups)."""
    import statsmodels.api as sm

    if not counterbalanced(tuples):
        return None
    groups = sorted(set(tuples["left_group"]) | set(tuples["right_group"]))
    if len(groups) < 2:
        return None
    reference = groups[0]
    columns = {POSITION_TERM: np.ones(len(tuples))}
    left = tuples["left_group"].to_numpy()
    right = tuples["right_group"].to_numpy()
    for g in groups[1:]:
        columns[f"group[{g}]"] = (left == g).astype(float) - (right == g).astype(float)
    x = pd.DataFrame(columns)
    y = tuples["left_won"].to_numpy(dtype=float)
    cluster = np.unique(tuples["base_id"].astype(str) + "|" + tuples["comparison"],
                        return_inverse=True)[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.GLM(y, x, family=sm.families.Binomial()).fit(
            cov_type="cluster", cov_kwds={"groups": cluster}
        )
    ci = fit.conf_int(alpha=alpha)
    terms = pd.DataFrame(
        {
            "term": x.columns,
            "coef": fit.params.to_numpy(),
            "se": fit.bse.to_numpy(),
            "low": ci.iloc[:, 0].to_numpy(),
            "high": ci.iloc[:, 1].to_numpy(),
            "p_value": fit.pvalues.to_numpy(),
        }
    )
    # the position effect on the probability scale: P(left wins) between equal groups
    expit = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    terms["p_left_equal_groups"] = np.where(terms["term"] == POSITION_TERM,
                                            expit(terms["coef"]), np.nan)
    terms["p_left_low"] = np.where(terms["term"] == POSITION_TERM, expit(terms["low"]), np.nan)
    terms["p_left_high"] = np.where(terms["term"] == POSITION_TERM, expit(terms["high"]), np.nan)
    return PositionModel(terms, reference, len(tuples))
