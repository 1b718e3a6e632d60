"""All statistics of one run, as tidy tables: the core of the ``stats`` stage (no file I/O).

``audit(outcomes, params, groups, seed)`` turns the saliency outcomes table into

* ``comparisons``: one row per comparison and aggregate with every number (counts, p, Δ,
  the clustered interval and the tests the verdict uses, design effect, adjusted p-values,
  TOST, equivalence bound, verdict, minimum detectable Δ, and the naive numbers of the
  paper, each named ``naive_*``),
* ``together``: k-way tuples (raw shares, position-adjusted model),
* ``position`` / ``position_model``: left/right bias (McNemar, position logit),
* ``distributions``: saliency-score comparisons between groups,
* ``disparities`` / ``interactions``: each value's share of pairs won against a reference,
  and differences between attribute gaps,

in the spirit of fairlearn's MetricFrame: one shape, easy to plot, log and test.

One method per verdict: the interval beside p (``ci_low, ci_high``), the test of parity and
the TOST all come from one cluster-robust logit (clustered over every image of the tuple, CR3,
t on G − 1 df; :func:`cropaudit.stats.clustered.robust_logit`), chosen over the two-way
cluster bootstrap by simulated coverage (docs/statistics.md); the bootstrap stays beside it
as a cross-check (``boot_*``), and the numbers that treat tuples as independent keep their
``naive_`` names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cropaudit.stats.bootstrap import BootstrapUnit, cluster_bootstrap
from cropaudit.stats.clustered import fewest_images, robust_logit, t_quantile
from cropaudit.stats.counts import ComparisonCounts, aggregates_both_modes, proportion_table
from cropaudit.stats.disparity import disparity_table
from cropaudit.stats.distributions import distribution_table
from cropaudit.stats.equivalence import (
    NOT_ESTIMABLE,
    clustered_tost_p_value,
    equivalence_bound,
    tost_p_value,
    verdict,
)
from cropaudit.stats.groups import Groups, PoolMember, group_of, split_comparison
from cropaudit.stats.multinomial import together_model, together_table
from cropaudit.stats.outcomes import (
    image_scores,
    pair_tuples,
    together_counts,
    together_members,
)
from cropaudit.stats.params import AggregateParams, StatsParams
from cropaudit.stats.position import (
    BALANCE_TOLERANCE,
    POSITION_TERM,
    balance_statement,
    first_left_share,
    mcnemar_table,
    position_model,
)
from cropaudit.stats.power import min_detectable_delta, min_detectable_delta_clustered
from cropaudit.stats.proportions import adjust

if TYPE_CHECKING:
    from cropaudit.stats.results import TestResult

#: columns of the count-based table that treat every tuple as independent, and their names
#: in comparisons.csv (every naive quantity is named ``naive_*``)
NAIVE_COLUMNS = {
    "se": "naive_se", "ci_method": "naive_method", "ci_low": "naive_low",
    "ci_high": "naive_high", "wald_low": "naive_wald_low", "wald_high": "naive_wald_high",
    "p_value": "naive_p_value", "heterogeneity_chi2": "naive_heterogeneity_chi2",
    "heterogeneity_df": "naive_heterogeneity_df",
    "heterogeneity_p_value": "naive_heterogeneity_p_value",
}
#: what the headline interval and the verdict's tests are
HEADLINE_METHOD = "clustered logit (CR3, t on G−1 df)"


@dataclass
class AuditResult:
    """Every table of a run; ``params`` says how they were computed."""

    params: StatsParams
    seed: int
    comparisons: pd.DataFrame
    together: pd.DataFrame = field(default_factory=pd.DataFrame)
    position: pd.DataFrame = field(default_factory=pd.DataFrame)
    position_model: pd.DataFrame = field(default_factory=pd.DataFrame)
    distributions: pd.DataFrame = field(default_factory=pd.DataFrame)
    disparities: pd.DataFrame = field(default_factory=pd.DataFrame)
    interactions: pd.DataFrame = field(default_factory=pd.DataFrame)
    n_tuples: int = 0

    @property
    def settings(self) -> list[str]:
        """Settings with any result (pairs or together tuples)."""
        found: set[str] = set()
        for table in (self.comparisons, self.together):
            if len(table):
                found |= set(table["setting"].unique())
        return sorted(found)

    def comparisons_of(self, setting: str) -> pd.DataFrame:
        c = self.comparisons
        return c[c["setting"] == setting] if len(c) else c

    def tests(self) -> list[TestResult]:
        """Every test as a result object with its method (:mod:`cropaudit.stats.results`),
        read from the tables on request."""
        from cropaudit.stats.results import results_of

        return results_of(self)

    def tidy(self) -> pd.DataFrame:
        """Every test as one long table (``tidy.csv``): setting, comparison, quantity,
        method, estimate, low, high, p."""
        from cropaudit.stats.results import tidy_table

        return tidy_table(self.tests())

    def position_flags(self) -> dict[str, bool]:
        """setting -> whether the left/right preference itself is significant."""
        out = {}
        pm = self.position_model
        for setting in self.settings:
            rows = pm[(pm["setting"] == setting) & (pm["term"] == POSITION_TERM)] if len(pm) else pm
            out[setting] = bool(len(rows)) and bool(rows["p_value"].iloc[0] < self.params.alpha)
        return out


def audit(
    outcomes: pd.DataFrame,
    params: StatsParams,
    groups: Groups,
    seed: int,
    source: str = "outcomes",
) -> AuditResult:
    """Compute every statistic of the run (see the module docstring).

    ``groups``: each group label's attribute values (:func:`cropaudit.stats.groups.
    groups_from_table` of the dataset table); labels are never split into values.
    """
    tuples = pair_tuples(outcomes, source)
    for label in pd.unique(pd.concat([tuples["group_a"], tuples["group_b"]])):
        group_of(groups, str(label), source)
    tables, models = [], []
    for setting, t in tuples.groupby("setting", sort=True):
        tables.append(_setting_comparisons(t, setting, params, groups, seed))
        model = position_model(t, params.alpha)
        if model is not None:
            models.append(model.terms.assign(setting=setting, reference_group=model.reference_group,
                                             tuples=model.n))
    comparisons = _adjust_and_judge(
        pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(), params
    )
    result = AuditResult(params=params, seed=seed, comparisons=comparisons,
                         n_tuples=int(outcomes["tuple_id"].nunique()) if len(outcomes) else 0)
    if len(tuples):
        result.position = mcnemar_table(tuples)
    if models:
        pm = pd.concat(models, ignore_index=True)
        result.position_model = pm[["setting", *[c for c in pm.columns if c != "setting"]]]
    result.disparities = saliency_disparities(tuples, params, groups)
    result.interactions = interaction_table(comparisons, params, groups)
    result.together = _together(together_counts(outcomes, source),
                                together_members(outcomes, source), params, seed)
    if len(comparisons):
        pairs = comparisons[comparisons["kind"] == "pair"]
        scores = image_scores(outcomes)
        if len(scores.columns) > 3:
            result.distributions = distribution_table(scores, pairs, params.alpha)
    return result


def _attribute_names(groups: Groups) -> list[str]:
    """The attribute names, in configured order (every group carries the same ones)."""
    first = next(iter(groups.values()), None)
    return [name for name, _ in first.attributes] if first is not None else []


def _setting_comparisons(
    tuples: pd.DataFrame, setting: str, params: StatsParams, groups: Groups, seed: int
) -> pd.DataFrame:
    """Every comparison and aggregate of one setting: the naive count-based numbers, then the
    clustered fit the verdict uses, the design effect and the bootstrap cross-check."""
    counts = _comparison_counts(tuples, groups)
    primary, alternative = aggregates_both_modes(counts, params.aggregates, params.pooling)
    aggregates = [*primary, *alternative]
    table = proportion_table(counts, aggregates, alpha=params.alpha, method=params.interval)
    table = table.rename(columns=NAIVE_COLUMNS)
    members: dict[str, tuple[PoolMember, ...]] = {
        c.comparison: (PoolMember(c.comparison, False),) for c in counts
    }
    members.update({a.comparison: a.members for a in aggregates})
    table.insert(0, "setting", setting)

    images, image_group = _images(tuples)
    by_cmp = {c: t for c, t in tuples.groupby("comparison")}
    units, extra = [], []
    for name in table["comparison"]:
        a, b, y, order, left = _observations(by_cmp, members[name])
        units.append(BootstrapUnit(images.get_indexer(a), images.get_indexer(b), y))
        extra.append(_clustered_columns(a, b, y, order, left, params))
    table = pd.concat([table, pd.DataFrame(extra, index=table.index)], axis=1)
    naive_var = table["p"] * (1 - table["p"]) / table["n"]
    with np.errstate(divide="ignore", invalid="ignore"):
        table["design_effect"] = table["se"] ** 2 / naive_var
    table["n_effective"] = table["n"] / table["design_effect"].clip(lower=1.0)
    _add_bootstrap(table, units, image_group, params, seed)
    return table


def _comparison_counts(tuples: pd.DataFrame, groups: Groups) -> list[ComparisonCounts]:
    """Wins of the first group and tuples, per comparison (sorted by name)."""
    counts = []
    for comparison, t in tuples.groupby("comparison", sort=True):
        ga, gb = split_comparison(comparison)
        counts.append(ComparisonCounts(comparison, group_of(groups, ga), group_of(groups, gb),
                                       int(t["a_won"].sum()), len(t)))
    return counts


def _images(tuples: pd.DataFrame) -> tuple[pd.Index, np.ndarray]:
    """Every image of the setting (in order of first appearance) and its group's code: the
    bootstrap resamples images within groups."""
    images = pd.Index(pd.unique(pd.concat([tuples["image_a"], tuples["image_b"]])))
    group_of_image = pd.concat(
        [pd.Series(tuples["group_a"].to_numpy(), index=tuples["image_a"]),
         pd.Series(tuples["group_b"].to_numpy(), index=tuples["image_b"])]
    )
    group_of_image = group_of_image[~group_of_image.index.duplicated()].reindex(images)
    return images, pd.factorize(group_of_image)[0]


def _observations(by_cmp: dict[str, pd.DataFrame], members: tuple[PoolMember, ...]
                  ) -> tuple[np.ndarray, ...]:
    """A row's pair-level data, its members' tuples stacked and oriented first-vs-second:
    (image of the first group, image of the second, first won, order, left won)."""
    parts = []
    for member in members:
        t = by_cmp[member.comparison]
        flipped = member.flipped
        a, b = (t["image_b"], t["image_a"]) if flipped else (t["image_a"], t["image_b"])
        y = (1 - t["a_won"]) if flipped else t["a_won"]
        parts.append((a.to_numpy(), b.to_numpy(), y.to_numpy(), t["order"].to_numpy(),
                      t["left_won"].to_numpy()))
    return tuple(np.concatenate(x) for x in zip(*parts, strict=True))


def _clustered_columns(a: np.ndarray, b: np.ndarray, y: np.ndarray, order: np.ndarray,
                       left: np.ndarray, params: StatsParams) -> dict[str, object]:
    """Position balance and the logit clustered on both images of every tuple (the headline
    interval, parity and equivalence tests) of one row's observations."""
    clusters = fewest_images(np.concatenate([a, b]), np.repeat([0, 1], [len(a), len(b)]))
    fit = robust_logit(y, np.column_stack([a, b]), clusters, params.alpha)
    first_left = first_left_share(order)
    return {
        "counterbalanced": abs(first_left - 0.5) <= BALANCE_TOLERANCE,
        "n_order_reversed": int((order == 1).sum()),
        "first_left_share": first_left,
        "position_statement": balance_statement(first_left, len(order)),
        "p_left": float(left.mean()),
        "n_images_a": len(np.unique(a)),
        "n_images_b": len(np.unique(b)),
        "clusters": clusters,
        "se": fit.se,
        "log_odds": fit.log_odds,
        "log_odds_se": fit.log_odds_se,
        "ci_method": HEADLINE_METHOD,
        "ci_low": fit.low,
        "ci_high": fit.high,
        "p_value_clustered": fit.p_value,
        "tost_p_value_clustered": clustered_tost_p_value(fit, params.equivalence_margin),
        "not_estimable": fit.problem,
    }


def _add_bootstrap(table: pd.DataFrame, units: list[BootstrapUnit], image_group: np.ndarray,
                   params: StatsParams, seed: int) -> None:
    """The two-way cluster bootstrap's SE and interval per row: a cross-check only, no verdict
    uses it (NaN when fewer than two resamples are asked for)."""
    if params.bootstrap_resamples >= 2:
        boot = cluster_bootstrap(units, image_group, resamples=params.bootstrap_resamples,
                                 alpha=params.alpha, seed=seed)
        table["boot_se"] = [b.se for b in boot]
        table["boot_low"] = [b.low for b in boot]
        table["boot_high"] = [b.high for b in boot]
    else:
        for c in ("boot_se", "boot_low", "boot_high"):
            table[c] = np.nan
    table["boot_resamples"] = params.bootstrap_resamples


def _adjust_and_judge(table: pd.DataFrame, params: StatsParams) -> pd.DataFrame:
    """Corrections across the run's primary rows, verdicts, equivalence bounds, MDΔ.

    Not estimable rows (no clustered variance) leave the correction family and get the
    verdict "not estimable" with their reason, never a reading of a NaN p-value.
    """
    if table.empty:
        return table
    margin = params.equivalence_margin
    table["equivalence_margin"] = margin
    table["naive_tost_p_value"] = [tost_p_value(c, n, margin) for c, n in
                                   zip(table["count_a"], table["n"], strict=True)]
    family = table["primary"].to_numpy(dtype=bool)
    estimable = table["not_estimable"].eq("").to_numpy()
    table["correction"] = params.correction
    for col in ("naive_p_value", "p_value_clustered", "tost_p_value_clustered"):
        values = table[col].where(family)
        table[f"{col}_adjusted"] = adjust(values.to_numpy(), params.correction)
    table["significant"] = table["p_value_clustered_adjusted"] < params.alpha
    table["equivalent"] = table["tost_p_value_clustered_adjusted"] < params.alpha
    table["verdict"] = [
        ("" if not fam else verdict(e, d, params.alpha) if ok else NOT_ESTIMABLE)
        for e, d, fam, ok in zip(table["tost_p_value_clustered_adjusted"],
                                 table["p_value_clustered_adjusted"], family, estimable,
                                 strict=True)
    ]
    table["power"] = params.power
    alpha_mdd = detectable_alpha(params.alpha, int(family.sum()))
    table["alpha_detectable"] = alpha_mdd
    table["equivalence_bound"] = [
        equivalence_bound(lo, se, alpha_mdd, g)
        for lo, se, g in zip(table["log_odds"], table["log_odds_se"], table["clusters"],
                             strict=True)
    ]
    table["naive_min_detectable_delta"] = [min_detectable_delta(n, alpha_mdd, params.power)
                                           for n in table["n"]]
    table["min_detectable_delta_clustered"] = [
        min_detectable_delta_clustered(se, alpha_mdd, params.power, g)
        for se, g in zip(table["log_odds_se"], table["clusters"], strict=True)
    ]
    return table


def detectable_alpha(alpha: float, family_size: int) -> float:
    """The level a single true effect must reach to be called significant after correction.

    Verdicts use Holm- (or BH-) adjusted p-values; a lone real effect among m comparisons is
    judged at the first, strictest step, α/m (for BH too, when the other comparisons are null).
    The minimum detectable Δ uses this level, so "detectable with 80 % power" promises what the
    verdicts can deliver.
    """
    return alpha / max(family_size, 1)


#: slices of the saliency disparity table
DISPARITY_SLICES = ("setting", "level")


def saliency_disparities(tuples: pd.DataFrame, params: StatsParams,
                         groups: Groups) -> pd.DataFrame:
    """Per setting and level (``group`` and each attribute): each value's share of pair
    tuples won, clustered over both images of each tuple, against a reference (the
    aggregates' ``second`` value where configured, else the value with most observations).

    A member's win depends on the image it faced as much as on its own, so each member
    observation carries both images as cluster labels (one label space).
    """
    if tuples.empty:
        return pd.DataFrame()
    attributes = _attribute_names(groups)
    members = pd.concat([
        pd.DataFrame({"setting": tuples["setting"], "group": tuples["group_a"],
                      "other": tuples["group_b"], "image_id": tuples["image_a"],
                      "other_image": tuples["image_b"], "outcome": tuples["a_won"]}),
        pd.DataFrame({"setting": tuples["setting"], "group": tuples["group_b"],
                      "other": tuples["group_a"], "image_id": tuples["image_b"],
                      "other_image": tuples["image_a"], "outcome": 1 - tuples["a_won"]}),
    ], ignore_index=True)
    parts = [members.assign(level="group", value=members["group"])]
    for attribute in attributes:
        value = {label: g.value(attribute) for label, g in groups.items()}
        own, other = members["group"].map(value), members["other"].map(value)
        differs = own != other  # the attribute only separates the members of such tuples
        parts.append(members[differs].assign(level=attribute, value=own[differs]))
    obs = pd.concat(parts, ignore_index=True)
    references = {a.attribute: a.second for a in params.aggregates}
    table = disparity_table(
        obs, list(DISPARITY_SLICES), references=references, images=["image_id", "other_image"],
        alpha=params.alpha, method=params.interval, min_n=params.disparity_min_n,
        describe=lambda v: f"the salient point lands on the {v} image",
    )
    rank = {name: i for i, name in enumerate(["group", *attributes])}
    order = np.lexsort([table["level"].map(rank).to_numpy(), table["setting"].to_numpy()])
    return table.iloc[order].reset_index(drop=True)


def interaction_table(comparisons: pd.DataFrame, params: StatsParams,
                      groups: Groups) -> pd.DataFrame:
    """Difference-in-differences: does one attribute's gap differ by another attribute?

    For each aggregate (e.g. female vs male) and each other attribute (e.g. race) with two or
    more values, take the within-value comparisons (black_female~black_male and
    white_female~white_male) and test whether their p differ: DiD = p₁ − p₂ with SE
    sqrt(se₁² + se₂²) from the clustered SEs. The two comparisons use disjoint images (their
    groups differ in the other attribute), so they are independent and the variances add.
    t interval on G−1 df (G = fewest images of a side). Not estimable when a side has no
    clustered SE.
    """
    if comparisons.empty:
        return pd.DataFrame()
    attributes = _attribute_names(groups)
    pairs = comparisons[comparisons["kind"] == "pair"]
    parts = [_differences_in_differences(_within(pairs, groups, agg, other, attributes),
                                         agg, other, params.alpha)
             for agg in params.aggregates if agg.attribute in attributes
             for other in attributes if other != agg.attribute]
    parts = [part for part in parts if len(part)]
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    out["p_value_adjusted"] = adjust(out["p_value"].to_numpy(), params.correction)
    out["significant"] = out["p_value_adjusted"] < params.alpha
    return out


#: One within-value comparison of an aggregate's gap: its p oriented first-vs-second.
_WITHIN_COLUMNS = ["setting", "value", "p", "se", "clusters", "comparison"]


def _within(pairs: pd.DataFrame, groups: Groups, agg: AggregateParams, other: str,
            attributes: list[str]) -> pd.DataFrame:
    """The pair comparisons of ``agg``'s gap within one value of ``other`` (every remaining
    attribute equal on both sides), p turned to read first-vs-second; one per setting and
    value (the last, as listed), sorted by setting and value."""
    rest = [a for a in attributes if a not in (agg.attribute, other)]
    rows = []
    for r in pairs.itertuples():
        ga, gb = group_of(groups, r.group_a), group_of(groups, r.group_b)
        if ga.value(other) is None or any(ga.value(a) != gb.value(a) for a in [other, *rest]):
            continue
        pair = (ga.value(agg.attribute), gb.value(agg.attribute))
        if pair == (agg.first, agg.second):
            rows.append((r.setting, ga.value(other), r.p, r.se, r.clusters, r.comparison))
        elif pair == (agg.second, agg.first):
            rows.append((r.setting, ga.value(other), 1 - r.p, r.se, r.clusters, r.comparison))
    within = pd.DataFrame(rows, columns=_WITHIN_COLUMNS)
    within = within.drop_duplicates(["setting", "value"], keep="last")
    return within.sort_values(["setting", "value"], kind="stable")


def _differences_in_differences(within: pd.DataFrame, agg: AggregateParams, other: str,
                                alpha: float) -> pd.DataFrame:
    """Every pair of values of ``other`` in a setting (value₁ < value₂), with DiD = p₁ − p₂,
    its SE from the two independent clustered SEs, t interval and test on G−1 df."""
    from scipy.stats import t as student_t

    both = within.merge(within, on="setting", suffixes=("_1", "_2"))
    both = both[both["value_1"] < both["value_2"]]
    both = both.sort_values(["setting", "value_1", "value_2"], kind="stable")
    did = (both["p_1"] - both["p_2"]).to_numpy(dtype=float)
    se = np.hypot(both["se_1"].to_numpy(dtype=float), both["se_2"].to_numpy(dtype=float))
    g = np.minimum(both["clusters_1"], both["clusters_2"]).to_numpy().astype(int)
    q = np.array([t_quantile(alpha, int(x)) for x in g], dtype=float)
    ok = np.isfinite(se) & (se > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_value = np.where(ok, 2 * student_t.sf(np.abs(did) / se, np.maximum(g - 1, 1)),
                           np.nan)
    return pd.DataFrame({
        "setting": both["setting"].to_numpy(), "aggregate": agg.name,
        "gap": f"{agg.first}~{agg.second}", "by": other,
        "value_1": both["value_1"].to_numpy(), "value_2": both["value_2"].to_numpy(),
        "comparison_1": both["comparison_1"].to_numpy(),
        "comparison_2": both["comparison_2"].to_numpy(),
        "p_1": both["p_1"].to_numpy(), "p_2": both["p_2"].to_numpy(), "did": did, "se": se,
        "low": did - q * se, "high": did + q * se, "clusters": g, "p_value": p_value,
        "not_estimable": np.where(ok, "", "a comparison has no clustered standard error"),
    })


def _together(counts: pd.DataFrame, members: pd.DataFrame, params: StatsParams,
              seed: int) -> pd.DataFrame:
    """Raw shares (naive intervals and χ²) plus the position-adjusted model (the headline)
    and the naive Monte Carlo test."""
    if counts.empty:
        return pd.DataFrame()
    parts = []
    for (setting, comparison), d in counts.groupby(["setting", "comparison"], sort=True):
        groups = d["group"].tolist()
        t = together_table(comparison, groups, d["count"].tolist(),
                           alpha=params.alpha, method=params.interval)
        t = t.rename(columns={"chi2": "naive_chi2", "chi2_df": "naive_chi2_df",
                              "chi2_p_value": "naive_chi2_p_value", "ci_low": "naive_low",
                              "ci_high": "naive_high", "marginal_low": "naive_marginal_low",
                              "marginal_high": "naive_marginal_high"})
        m = members[(members["setting"] == setting) & (members["comparison"] == comparison)]
        model = together_model(m, groups, alpha=params.alpha, seed=seed)
        t = t.merge(model.drop(columns=["tuples"]), on="group", how="left")
        parts.append(t.assign(setting=setting))
    out = pd.concat(parts, ignore_index=True)
    return out[["setting", *[c for c in out.columns if c != "setting"]]]
