"""Win counts per comparison and per aggregate, and their proportions as one tidy table.

This is the part of the analysis that needs nothing but counts, so the paper's published
counts and a pipeline run go through exactly the same code (the paper-figure command and the
stats stage cannot disagree about what Δ or an aggregate means).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from cropaudit.contracts import COMPARISON_SEP
from cropaudit.stats.groups import (
    AGGREGATE_PANEL,
    CROSS_PANEL,
    Group,
    PoolMember,
    describe_members,
    panel_of,
    pool_members,
    short_labels,
    value_abbreviation,
)
from cropaudit.stats.params import AggregateParams, PoolingMode
from cropaudit.stats.proportions import proportion

ARROW = "↔"


@dataclass(frozen=True)
class ComparisonCounts:
    """``count`` of ``n`` tuples in which ``group_a`` (listed first) held the salient point."""

    comparison: str
    group_a: Group
    group_b: Group
    count: int
    n: int


@dataclass(frozen=True)
class AggregateCounts:
    """An aggregate: pooled counts of its member comparisons, oriented first-vs-second."""

    name: str
    pooling: PoolingMode
    attribute: str
    first: str
    second: str
    count: int
    n: int
    members: tuple[PoolMember, ...] = field(default=())
    primary: bool = True  # False: the other pooling mode, shown for reference only

    @property
    def comparison(self) -> str:
        """Row name: ``gender:female~male``, with ``[mode]`` appended when not primary."""
        name = f"{self.name}:{self.first}{COMPARISON_SEP}{self.second}"
        return name if self.primary else f"{name}[{self.pooling}]"


def aggregate(
    comparisons: Sequence[ComparisonCounts], spec: AggregateParams, mode: PoolingMode
) -> AggregateCounts | None:
    """Pool the comparisons an aggregate takes (None when it would take none).

    Only comparisons between the most detailed groups are pooled (the paper's aggregates pool
    its intersectional comparisons; a coarser female~male run stored beside them is another
    experiment and stays out).
    """
    by_name = {c.comparison: c for c in comparisons}
    detail = max((len(c.group_a.attributes) for c in comparisons), default=0)
    eligible = [
        (c.comparison, c.group_a, c.group_b)
        for c in comparisons
        if len(c.group_a.attributes) == len(c.group_b.attributes) == detail
    ]
    members = pool_members(eligible, spec, mode)
    if not members:
        return None
    count = sum(
        (by_name[m.comparison].n - by_name[m.comparison].count)
        if m.flipped
        else by_name[m.comparison].count
        for m in members
    )
    n = sum(by_name[m.comparison].n for m in members)
    return AggregateCounts(
        spec.name, mode, spec.attribute, spec.first, spec.second, count, n, tuple(members)
    )


def aggregates_both_modes(
    comparisons: Sequence[ComparisonCounts], specs: Sequence[AggregateParams], mode: PoolingMode
) -> tuple[list[AggregateCounts], list[AggregateCounts]]:
    """(aggregates in ``mode``, aggregates of the other mode that pool something different).

    An aggregate pooling a single comparison repeats that comparison and is left out.
    """
    other: PoolingMode = "paper-compatible" if mode == "consistent" else "consistent"
    primary, alternative = [], []
    for spec in specs:
        main = aggregate(comparisons, spec, mode)
        if main is not None and len(main.members) >= 2:
            primary.append(main)
        alt = aggregate(comparisons, spec, other)
        differs = main is None or alt is None or alt.members != main.members
        if alt is not None and len(alt.members) >= 2 and differs:
            alternative.append(replace(alt, primary=False))
    return primary, alternative


def significant_up_to_design_effect(count: int, n: int, alpha: float) -> float:
    """Largest design effect at which p = count/n still differs from 0.5 at level ``alpha``.

    With a design effect DE the test behaves as if it had n/DE pairs; the two-sided z test of
    p = 0.5 on n/DE pairs rejects while DE < (z_observed / z_critical)², z_observed =
    (p − 0.5)/sqrt(0.25/n). A comparison "significant up to DE = 1.3" is fragile: a modest
    reuse of images removes the finding; one significant up to DE = 40 survives any realistic
    reuse. 0 when it is not significant even with independent pairs (DE = 1 fails).
    """
    from scipy.stats import norm

    if n <= 0:
        return float("nan")
    z_obs = abs(count / n - 0.5) / math.sqrt(0.25 / n)
    threshold = (z_obs / norm.ppf(1 - alpha / 2)) ** 2
    return float(threshold) if threshold >= 1 else 0.0


def heterogeneity(members: Sequence[tuple[int, int]]) -> tuple[float, int, float]:
    """Do an aggregate's member comparisons share one p? Pearson χ² of the members' (wins,
    losses) table, df = members − 1: (statistic, df, p-value).

    A pooled p is a weighted average; when members differ (the paper's B↔W pooled 0.434,
    0.477, 0.555 and 0.365, χ² = 765 on 3 df) the pooled number describes none of them, and
    which members are pooled changes it (0.580 against 0.594). Naive: pairs are treated as
    independent, so with image reuse divide the statistic by the design effect.
    """
    from scipy.stats import chi2_contingency

    table = np.array([[c, n - c] for c, n in members], dtype=float)
    if len(table) < 2 or (table.sum(axis=0) == 0).any():
        return float("nan"), max(len(table) - 1, 0), float("nan")
    stat, p, df, _ = chi2_contingency(table, correction=False)
    return float(stat), int(df), float(p)


def proportion_table(
    comparisons: Sequence[ComparisonCounts],
    aggregates: Sequence[AggregateCounts] = (),
    *,
    alpha: float = 0.05,
    method: str = "wilson",
) -> pd.DataFrame:
    """One row per comparison, then per aggregate, with every count-based number.

    Rows are ordered by panel as in the paper: one panel per attribute in attribute order
    (Race, Gender), then Cross, then Aggregate; input order within a panel.

    Columns: comparison, kind (pair | aggregate), pooling, primary (False for the other
    pooling mode's aggregates, shown for reference), members, n_members, group_a, group_b,
    label, panel,
    count_a, count_b, n, p, delta, se, ci_method, ci_low, ci_high, wald_low, wald_high, p_value,
    heterogeneity_chi2, heterogeneity_df, heterogeneity_p_value (aggregates: do the members
    share one p?), significant_up_to_de (largest design effect at which the row stays
    significant at α / number of primary rows, the strictest Holm step).
    """
    groups: dict[str, Group] = {}
    for c in comparisons:
        groups.setdefault(c.group_a.label, c.group_a)
        groups.setdefault(c.group_b.label, c.group_b)
    rows = [*_pair_rows(comparisons, short_labels(list(groups.values())), alpha, method),
            *_aggregate_rows(aggregates, alpha, method)]
    table = pd.DataFrame(rows)
    _add_heterogeneity(table, comparisons, aggregates)
    family = max(int(table["primary"].sum()), 1) if len(table) else 1
    table["significant_up_to_de"] = [
        significant_up_to_design_effect(c, n, alpha / family)
        for c, n in zip(table["count_a"], table["n"], strict=True)
    ]
    return _in_panel_order(table, list(groups.values()))


def _pair_rows(comparisons: Sequence[ComparisonCounts], short: dict[str, str], alpha: float,
               method: str) -> list[dict[str, object]]:
    """One row per pair comparison, labelled with the groups' short labels."""
    return [
        {
            "comparison": c.comparison,
            "kind": "pair",
            "pooling": "",
            "primary": True,
            "members": c.comparison,
            "n_members": 1,
            "group_a": c.group_a.label,
            "group_b": c.group_b.label,
            "label": f"{short[c.group_a.label]} {ARROW} {short[c.group_b.label]}",
            "panel": panel_of(c.group_a, c.group_b),
            **_prop_columns(proportion(c.count, c.n, alpha, method)),
        }
        for c in comparisons
    ]


def _aggregate_rows(aggregates: Sequence[AggregateCounts], alpha: float,
                    method: str) -> list[dict[str, object]]:
    """One row per aggregate; the other pooling mode's rows say which mode in their label."""
    rows = []
    for agg in aggregates:
        abbr = value_abbreviation([agg.first, agg.second])
        label = f"{abbr[agg.first]} {ARROW} {abbr[agg.second]}"
        rows.append(
            {
                "comparison": agg.comparison,
                "kind": "aggregate",
                "pooling": agg.pooling,
                "primary": agg.primary,
                "members": describe_members(agg.members),
                "n_members": len(agg.members),
                "group_a": agg.first,
                "group_b": agg.second,
                "label": label if agg.primary else f"{label} ({agg.pooling})",
                "panel": AGGREGATE_PANEL,
                **_prop_columns(proportion(agg.count, agg.n, alpha, method)),
            }
        )
    return rows


def _add_heterogeneity(table: pd.DataFrame, comparisons: Sequence[ComparisonCounts],
                       aggregates: Sequence[AggregateCounts]) -> None:
    """The heterogeneity columns: NaN for pairs, the members' χ² for each aggregate (the
    rows are pairs first, then aggregates, as built)."""
    by_name = {c.comparison: c for c in comparisons}
    het = [
        heterogeneity([_oriented(by_name[m.comparison], m.flipped) for m in agg.members])
        for agg in aggregates
    ]
    nan_rows = [(float("nan"), 0, float("nan"))] * len(comparisons)
    het_cols: list[tuple[float, ...]] = (
        list(zip(*(nan_rows + het), strict=True)) if len(table) else [(), (), ()])
    table["heterogeneity_chi2"], table["heterogeneity_df"], table["heterogeneity_p_value"] = (
        list(het_cols[0]), list(het_cols[1]), list(het_cols[2]))


def _in_panel_order(table: pd.DataFrame, groups: list[Group]) -> pd.DataFrame:
    """Rows by panel as in the paper: one per attribute in attribute order, then Cross, then
    Aggregate; input order within a panel."""
    attribute_panels = [name.capitalize() for g in groups for name, _ in g.attributes]
    ranks = {p: i for i, p in enumerate(dict.fromkeys(attribute_panels))}
    ranks.update({CROSS_PANEL: len(ranks), AGGREGATE_PANEL: len(ranks) + 1})
    rank = table["panel"].map(ranks)
    return table.iloc[rank.argsort(kind="stable")].reset_index(drop=True)


def _oriented(c: ComparisonCounts, flipped: bool) -> tuple[int, int]:
    return (c.n - c.count if flipped else c.count), c.n


def _prop_columns(prop) -> dict[str, object]:
    return {
        "count_a": prop.count,
        "count_b": prop.count_second,
        "n": prop.n,
        "p": prop.p,
        "delta": prop.delta,
        "se": prop.se,
        "ci_method": prop.ci_method,
        "ci_low": prop.ci_low,
        "ci_high": prop.ci_high,
        "wald_low": prop.wald_low,
        "wald_high": prop.wald_high,
        "p_value": prop.p_value,
    }
