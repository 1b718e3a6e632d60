"""Position bias: does the cropper prefer the left (top) image, whatever its group?

The original study always put the first group on the left, so a left preference was folded
into every group difference. With counterbalanced sampling every tuple is also shown reversed
(``order`` 1, same ``base_id``), which separates the two:

* McNemar's test on the paired outcomes: among base tuples whose winner changes with the
  order, does the first group win more often when it is on the left than when it is on the
  right? It treats base tuples as independent although they share images, so its columns
  are ``naive_mcnemar_*``; the position logit below is the clustered test.
* A logistic regression of "left won" on group of the left image, group of the right image and
  position: logit P(left won) = α + s(left group) − s(right group) (Bradley–Terry with a
  position term). α is the position effect on the log-odds scale, s the group strengths
  (reference group 0). Standard errors are cluster-robust over *images*: two tuples are
  correlated whenever they share an image, whichever side it is on and whichever comparison
  it is in (:func:`cropaudit.stats.clustered.cluster_labels`; clustering on ``base_id``
  alone, as before, gave the group terms a 10–40 % false-positive rate at nominal 5 % when
  images are reused). Intervals and tests use Student's t with G−1 df; the group terms are
  tested jointly (F-test) before one by one. The antisymmetric
  group terms are what makes α identifiable; free left-group and right-group dummies would
  absorb it.

Whether a comparison's p is free of the position effect depends on that comparison alone:
:func:`balance_table` says, per comparison, how often its first group was on the left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cropaudit.stats.clustered import cluster_labels, fewest_images, robust_glm_terms

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
    """True when some tuples show the reversed order (the position term is then estimable)."""
    return bool(len(tuples)) and set(tuples["order"].unique()) >= {0, 1}


#: a comparison is "counterbalanced" when its first group is on the left in this share ± tol
BALANCE_TOLERANCE = 0.05


def first_left_share(order: np.ndarray) -> float:
    """Share of a pair comparison's tuples with its first group on the left (order 0)."""
    order = np.asarray(order)
    return float((order == 0).mean()) if len(order) else float("nan")


def balance_statement(share_first_left: float, n: int) -> str:
    """Plain words for one comparison: is its p free of a left/right preference?"""
    if share_first_left != share_first_left:
        return ""
    pct = 100 * share_first_left
    if abs(share_first_left - 0.5) <= BALANCE_TOLERANCE:
        return (f"counterbalanced (first group left in {pct:.0f}% of {n} tuples): a left/right "
                "preference cancels out of p")
    return (f"NOT counterbalanced (first group left in {pct:.0f}% of {n} tuples): p mixes "
            "the group effect with any left/right preference")


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
                    "naive_mcnemar_statistic": r.statistic,
                    "naive_mcnemar_p_value": r.p_value,
                }
            )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class PositionModel:
    """Fitted position + group-strength logit of one setting, as a tidy table of terms.

    ``terms`` rows: the position term, then the joint test of the group terms
    (:data:`GROUPS_JOINT`: an F-test, reported before the individual terms, which are read
    only when it rejects), then one row per group term. ``problem``: why the model is not
    estimable ('' when it is).
    """

    terms: pd.DataFrame  # term, coef, se, low, high, p_value, f_statistic, f_df1, f_df2
    reference_group: str
    n: int
    problem: str = ""

    def term(self, name: str) -> pd.Series:
        return self.terms.set_index("term").loc[name]

    @property
    def position(self) -> pd.Series:
        return self.term(POSITION_TERM)

    @property
    def groups_joint(self) -> pd.Series:
        return self.term(GROUPS_JOINT)


#: the row of the joint test of every group term (position_model.csv)
GROUPS_JOINT = "groups (joint)"


def image_columns(tuples: pd.DataFrame) -> np.ndarray:
    """(n × 2) image ids of each pair tuple (for :func:`cluster_labels`)."""
    return np.column_stack([tuples["image_a"].astype(str), tuples["image_b"].astype(str)])


def fewest_group_images(tuples: pd.DataFrame) -> int:
    """Distinct images of the group with fewest (the G of the small-sample corrections)."""
    return fewest_images(np.concatenate([tuples["image_a"], tuples["image_b"]]),
                         np.concatenate([tuples["group_a"], tuples["group_b"]]))


def position_model(tuples: pd.DataFrame, alpha: float = 0.05) -> PositionModel | None:
    """Fit logit P(left won) = α + s(left) − s(right) (None without both orders or groups).

    Clustered over both images of every tuple (CR3, t on G − 1 df); the group terms are
    tested jointly (Wald, Hotelling-corrected with the variance's own df, at most G − 1)
    before one by one: tested one by one, some term of three was falsely flagged in 10–14 %
    of null runs.
    """
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
    fit = robust_glm_terms(y, x, cluster_labels(image_columns(tuples)), alpha,
                           fewest_group_images(tuples))
    terms = fit.terms
    stat, df1, p_joint, nu = fit.joint_test(range(1, len(groups)))
    # Hotelling's T² with nu df: F = W (nu − q + 1) / (q nu) on (q, nu − q + 1) df
    usable = bool(np.isfinite(p_joint))  # nu > q − 1, else not estimable
    joint = pd.DataFrame({"term": [GROUPS_JOINT], "p_value": [p_joint],
                          "f_statistic": [stat * (nu - df1 + 1) / (df1 * nu) if usable
                                          else np.nan],
                          "f_df1": [df1], "f_df2": [nu - df1 + 1 if usable else np.nan]})
    terms = pd.concat([terms.iloc[:1], joint, terms.iloc[1:]], ignore_index=True)
    terms["clusters"] = fit.clusters
    terms["not_estimable"] = fit.problem
    # the position effect on the probability scale: P(left wins) between equal groups
    from scipy.special import expit

    is_pos = terms["term"] == POSITION_TERM
    terms["p_left_equal_groups"] = np.where(is_pos, expit(terms["coef"]), np.nan)
    terms["p_left_low"] = np.where(is_pos, expit(terms["low"]), np.nan)
    terms["p_left_high"] = np.where(is_pos, expit(terms["high"]), np.nan)
    return PositionModel(terms, reference, len(tuples), fit.problem)
