"""What a run's statistics say, as DVC metrics (flat-ish JSON) and a Markdown findings section.

Both are derived from the tidy tables of :class:`cropaudit.stats.audit.AuditResult` only, so
the report, ``dvc metrics`` and MLflow all show the same numbers. Names from the data (groups,
attribute values, comparisons, settings) enter the Markdown through
:func:`cropaudit.untrusted.markdown` only: a ``|`` in a group name must not shift a table's
columns, nor ``![t](url)`` embed a remote image in the report.
"""

from __future__ import annotations

import math

import pandas as pd

from cropaudit.stats.audit import AuditResult
from cropaudit.stats.disparity import disparity_metrics, metric_tree
from cropaudit.stats.equivalence import NOT_ESTIMABLE, VERDICTS
from cropaudit.stats.position import GROUPS_JOINT, POSITION_TERM
from cropaudit.stats.proportions import CORRECTION_NAMES, INTERVAL_NAMES
from cropaudit.untrusted import markdown as md

#: comparison-table columns copied into metrics.json per comparison; every quantity that
#: treats tuples as independent is named naive_* (tests/test_stats_pipeline.py walks the keys)
METRIC_COLUMNS = (
    "n", "p", "delta", "ci_low", "ci_high", "naive_low", "naive_high", "se", "design_effect",
    "n_effective", "clusters", "first_left_share", "counterbalanced", "naive_p_value_adjusted",
    "p_value_clustered_adjusted", "tost_p_value_clustered_adjusted", "significant",
    "equivalent", "verdict", "equivalence_bound", "naive_min_detectable_delta",
    "min_detectable_delta_clustered",
)


def _clean(value):
    """JSON-safe scalars: numpy -> Python, NaN/inf -> None (DVC and json reject NaN)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _metric_key(row) -> str:
    if row.kind == "aggregate":
        name = row.comparison.split(":")[0]
        return name if row.primary else f"{name}_{row.pooling.replace('-', '_')}"
    return row.comparison


def metrics(result: AuditResult) -> dict[str, object]:
    """Nested dict for ``metrics.json``; settings nest only when a run has several."""
    per_setting = {}
    flags = result.position_flags()
    for setting in result.settings or [""]:
        c = result.comparisons_of(setting)
        out: dict[str, object] = {
            "pair_tuples": int(c.loc[c["kind"] == "pair", "n"].sum()) if len(c) else 0
        }
        for section, kind in (("comparisons", "pair"), ("aggregates", "aggregate")):
            out[section] = {
                _metric_key(r): {k: _clean(getattr(r, k)) for k in METRIC_COLUMNS}
                for r in (c[c["kind"] == kind].itertuples() if len(c) else [])
            }
        verdicts = c.loc[c["primary"], "verdict"].value_counts() if len(c) else {}
        out["verdicts"] = {v.replace(" ", "_"): int(verdicts.get(v, 0)) for v in VERDICTS}
        out["position"] = _position_metrics(result, setting, flags.get(setting, False))
        t = result.together
        if len(t):
            t = t[t["setting"] == setting]
            out["together"] = {
                comparison: {
                    "group_p_value": _clean(d["group_p_value"].iloc[0]),
                    "naive_mc_p_value": _clean(d["naive_mc_p_value"].iloc[0]),
                    "position_p_value": _clean(d["position_p_value"].iloc[0]),
                    "naive_chi2_p_value": _clean(d["naive_chi2_p_value"].iloc[0]),
                    "counterbalanced": bool(d["counterbalanced"].all()),
                    "above_nominal": bool(d["above_nominal"].all()),
                    **{f"share_{g}": _clean(s) for g, s in zip(d["group"], d["share"],
                                                               strict=True)},
                    **{f"adjusted_share_{g}": _clean(s)
                       for g, s in zip(d["group"], d["adjusted_share"], strict=True)},
                }
                for comparison, d in t.groupby("comparison")
            }
        d = result.disparities
        if len(d):
            out["disparities"] = disparity_metrics(d[d["setting"] == setting], ["level"])
        inter = result.interactions
        if len(inter):
            out["interactions"] = metric_tree(
                inter[inter["setting"] == setting].itertuples(index=False),
                lambda r: [r.aggregate, f"by_{r.by}", f"{r.value_1}~{r.value_2}"],
                lambda r: {k: _clean(getattr(r, k)) for k in
                           ("did", "low", "high", "p_value_adjusted", "significant")},
            )
        per_setting[setting] = out
    if len(per_setting) == 1:
        return next(iter(per_setting.values()))
    return {"settings": per_setting}


def _position_metrics(result: AuditResult, setting: str, flag: bool) -> dict[str, object]:
    pos = result.position
    out: dict[str, object] = {"significant": flag}
    if len(pos):
        row = pos[(pos["setting"] == setting) & (pos["comparison"] == "all")]
        if len(row):
            out["p_left"] = _clean(row["p_left"].iloc[0])
            out["naive_mcnemar_p_value"] = _clean(row["naive_mcnemar_p_value"].iloc[0])
    pm = result.position_model
    if len(pm):
        row = pm[(pm["setting"] == setting) & (pm["term"] == POSITION_TERM)]
        if len(row):
            r = row.iloc[0]
            out.update(log_odds=_clean(r["coef"]), log_odds_low=_clean(r["low"]),
                       log_odds_high=_clean(r["high"]), p_value=_clean(r["p_value"]),
                       p_left_equal_groups=_clean(r["p_left_equal_groups"]))
        joint = pm[(pm["setting"] == setting) & (pm["term"] == GROUPS_JOINT)]
        if len(joint):
            out["groups_joint_p_value"] = _clean(joint["p_value"].iloc[0])
    return out


def _pct(x: float) -> str:
    return f"{100 * x:+.1f} pp"


def summary_markdown(result: AuditResult) -> str:
    """The findings section the report embeds (Markdown)."""
    p = result.params
    level = round(100 * (1 - p.alpha))
    lines = ["## Bias statistics", ""]
    lines.append(
        f"p = P(first listed group's image holds the salient point), Δ = p − 0.5. "
        f"The {level}% interval beside p, the test of parity and the equivalence test all "
        f"come from one cluster-robust logit, clustered on both images of every tuple "
        f"(CR3, Student's t on G − 1 df, G = images of the scarcer group): the verdict "
        f"always agrees with the interval shown. The naive {INTERVAL_NAMES[p.interval]} "
        f"interval treats every pair as independent and is too narrow when images repeat "
        f"(the design effect says by how much); it is shown for comparison only. Tests are "
        f"{CORRECTION_NAMES[p.correction]}-adjusted across the run; equivalence = TOST "
        f"within ±{p.equivalence_margin:g} of parity, and the equivalence bound is the "
        f"smallest margin the data would accept. See docs/statistics.md for what each "
        f"number means and the simulation study behind it."
    )
    lines.append("")
    if not result.settings:
        lines.append("No tuples in this run.")
    for setting in result.settings:
        cs = result.comparisons_of(setting)
        if len(result.settings) > 1 or setting:
            lines += [f"### {md(setting) if setting else 'run'}", ""]
        if cs.empty:
            lines += ["No pair comparisons in this setting.", ""]
        else:
            lines += _table(cs, level)
            lines += ["", *_verdicts(cs, p.power), ""]
            lines += _pooling(cs)
            lines += _position(result, setting)
        lines += _together(result, setting)
        lines += _disparities(result, setting, level)
        lines += _interactions(result, setting, level)
    return "\n".join(lines).rstrip() + "\n"


def _table(cs: pd.DataFrame, level: int) -> list[str]:
    out = [
        f"| comparison | n | p [{level}% clustered CI] | Δ | naive CI (pairs independent) "
        "| design effect | adj. p | verdict | equivalent within | first group left |",
        "|---|---:|---|---:|---|---:|---:|---|---:|---|",
    ]
    for r in cs[cs["primary"]].itertuples():
        name = md(r.label) if r.kind == "pair" else f"{md(r.label)} ({r.pooling})"
        balance = f"{100 * r.first_left_share:.0f}%"
        if not r.counterbalanced:
            balance += " ⚠ position confounded"
        interval = (f"[{r.ci_low:.3f}, {r.ci_high:.3f}]" if not r.not_estimable else
                    f"{NOT_ESTIMABLE}: {r.not_estimable}")
        bound = f"±{100 * r.equivalence_bound:.1f} pp" if pd.notna(r.equivalence_bound) else "–"
        adj = (f"{r.p_value_clustered_adjusted:.3g}" if pd.notna(r.p_value_clustered_adjusted)
               else "–")
        out.append(
            f"| {name} | {r.n} | {r.p:.3f} {interval} | {_pct(r.delta)} "
            f"| [{r.naive_low:.3f}, {r.naive_high:.3f}] | {_number(r.design_effect, '.2f')} "
            f"| {adj} | {r.verdict} | {bound} | {balance} |"
        )
    return out


def _number(value: float, spec: str) -> str:
    """A number, or "–" for NaN (never "nan" in a findings table)."""
    return format(value, spec) if pd.notna(value) else "–"


def _verdicts(cs: pd.DataFrame, power: float) -> list[str]:
    prim = cs[cs["primary"]]
    out = []
    for v, text in (("differs", "**Differ from parity**"),
                    ("equivalent", "**Equivalent to parity**"),
                    ("inconclusive", "**Inconclusive**"),
                    (NOT_ESTIMABLE, "**Not estimable**")):
        rows = prim[prim["verdict"] == v]
        if rows.empty:
            if v != NOT_ESTIMABLE:
                out.append(f"- {text}: none.")
            continue
        if v == "inconclusive":
            items = ", ".join(
                f"{md(r.label)} (Δ {_pct(r.delta)}; detectable with {100 * power:.0f}% power "
                f"at the corrected level α = {r.alpha_detectable:.2g}: "
                f"±{100 * r.min_detectable_delta_clustered:.1f} pp; equivalence could be "
                f"shown for a margin of ±{100 * r.equivalence_bound:.1f} pp, against the "
                f"configured ±{100 * r.equivalence_margin:g} pp)"
                if pd.notna(r.min_detectable_delta_clustered) else md(r.label)
                for r in rows.itertuples()
            )
        elif v == NOT_ESTIMABLE:
            items = ", ".join(f"{md(r.label)} ({r.not_estimable})" for r in rows.itertuples())
        else:
            items = ", ".join(f"{md(r.label)} (Δ {_pct(r.delta)})" for r in rows.itertuples())
        out.append(f"- {text}: {items}.")
    return out + _few_images(prim)


#: The simulation study (docs/statistics.md) measured, with 10 images per group and light
#: reuse, the disparity interval covering 91 % and false differences in 7.7 % of runs (600
#: runs pooled over six designs, Monte Carlo SE 1.1); with 20 or more images per group, and
#: with 8 against 60, every pooled rate met the 93–97 % and 3–7 % targets.
FEW_IMAGES = 10


def _few_images(prim: pd.DataFrame) -> list[str]:
    """The flag for comparisons in the regime where the study measured the intervals short."""
    if not {"n_images_a", "n_images_b"} <= set(prim.columns):
        return []
    few = prim[prim[["n_images_a", "n_images_b"]].min(axis=1) <= FEW_IMAGES]
    if few.empty:
        return []
    labels = ", ".join(md(label) for label in few["label"])
    return [f"- ⚠ **Few images**: {labels} rest on {FEW_IMAGES} or fewer images of one "
            "group, where the simulation study measured the disparity intervals covering "
            "91 % instead of 95 % and false differences in up to 8 % of runs "
            "(docs/statistics.md); read these verdicts as indicative."]


def _pooling(cs: pd.DataFrame) -> list[str]:
    alt = cs[(cs["kind"] == "aggregate") & ~cs["primary"]]
    out = []
    for r in alt.itertuples():
        name = r.comparison.split(":")[0]
        main = cs[(cs["kind"] == "aggregate") & cs["primary"]
                  & cs["comparison"].str.startswith(f"{name}:")]
        if main.empty:
            continue
        m = main.iloc[0]
        out.append(
            f"- Aggregate **{md(m.label)}**: pooled `{m.pooling}` "
            f"({m.n_members} comparisons) p = {m.p:.3f} (Δ {_pct(m.delta)}); "
            f"pooled `{r.pooling}` ({r.n_members} comparisons"
            f"{', as in the paper' if r.pooling == 'paper-compatible' else ''}) "
            f"p = {r.p:.3f} (Δ {_pct(r.delta)}); difference {100 * (m.p - r.p):+.1f} pp."
        )
    return out + ([""] if out else [])


def _position(result: AuditResult, setting: str) -> list[str]:
    pos = result.position
    all_row = pos[(pos["setting"] == setting) & (pos["comparison"] == "all")] if len(pos) else pos
    pm = result.position_model
    model = pm[(pm["setting"] == setting) & (pm["term"] == POSITION_TERM)] if len(pm) else pm
    if model.empty:
        return ["- **Position bias**: not estimable: every tuple was shown in one order only "
                "(set `sampling.both_orders: true` to counterbalance); group differences "
                "above may include a left/right preference.", ""]
    r = model.iloc[0]
    mc = all_row.iloc[0] if len(all_row) else None
    if pd.isna(r["p_value"]):
        reason = r.get("not_estimable") or \
            "no clustered variance"
        return [f"- **Position bias**: {NOT_ESTIMABLE} ({reason}); group differences above "
                "may include a left/right preference.", ""]
    flag = result.position_flags().get(setting, False)
    head = "⚠ **Position bias detected**" if flag else "**Position bias**: not significant"
    text = (
        f"- {head}: the left image held the salient point in "
        f"{100 * mc['p_left']:.1f}% of tuples; between equal groups P(left) = "
        f"{r['p_left_equal_groups']:.3f} [{r['p_left_low']:.3f}, {r['p_left_high']:.3f}] "
        f"(position log-odds {r['coef']:+.3f}, p = {r['p_value']:.3g}, clustered)"
        if mc is not None else f"- {head}"
    )
    joint = pm[(pm["setting"] == setting) & (pm["term"] == GROUPS_JOINT)]
    if len(joint) and pd.notna(joint["p_value"].iloc[0]):
        j = joint.iloc[0]
        text += (f"; group strengths in the same model, joint F-test ({int(j['f_df1'])}, "
                 f"{j['f_df2']:.1f} df) p = {j['p_value']:.3g}"
                 + (" (read the single group terms in position_model.csv only because this "
                    "rejects)" if j["p_value"] < result.params.alpha else
                    " (no single group term is read: the joint test does not reject)"))
    if mc is not None:
        text += (
            f"; naive McNemar on {int(mc['base_tuples'])} mirrored tuples (tuples treated as "
            f"independent): first group won only on the left {int(mc['first_won_left_only'])}"
            f"×, only on the right {int(mc['first_won_right_only'])}× "
            f"(p = {mc['naive_mcnemar_p_value']:.3g})."
        )
    text += " " + _balance_sentence(result.comparisons_of(setting), flag)
    return [text, ""]


def _balance_sentence(cs: pd.DataFrame, flag: bool) -> str:
    """Per comparison, not per setting: which p values are free of the position effect."""
    prim = cs[cs["primary"]] if len(cs) else cs
    if prim.empty:
        return ""
    unbalanced = prim[~prim["counterbalanced"].astype(bool)]
    if unbalanced.empty:
        return (f"Each of the {len(prim)} comparisons above showed its first group on the left "
                "in half of its tuples, so a left/right preference cancels out of its p and Δ.")
    names = ", ".join(f"{md(r.label)} (first group left in {100 * r.first_left_share:.0f}%)"
                      for r in unbalanced.itertuples())
    warn = "⚠ " if flag else ""
    return (f"{warn}Not counterbalanced: {names}; their p and Δ mix the group effect with the "
            "left/right preference" + (" detected here." if flag else " (not significant "
                                       "here, which does not show it is absent)."))


def _together(result: AuditResult, setting: str) -> list[str]:
    t = result.together
    if t.empty:
        return []
    t = t[t["setting"] == setting]
    level = round(100 * (1 - result.params.alpha))
    out = []
    for _, d in t.groupby("comparison"):
        k, n = int(d["k"].iloc[0]), int(d["n"].iloc[0])
        r = d.iloc[0]
        shares = ", ".join(
            f"{md(g)} {100 * s:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"
            + (f" (position-adjusted {100 * a:.1f}%)" if pd.notna(a) else "")
            for g, s, lo, hi, a in zip(d["group"], d["share"], d["naive_low"], d["naive_high"],
                                       d["adjusted_share"], strict=True)
        )
        balance = ("every group sat at every position equally often"
                   if bool(d["counterbalanced"].all()) else
                   f"⚠ NOT counterbalanced (a group's share of a position is off 1/k by up to "
                   f"{100 * d['max_position_imbalance'].max():.0f} pp): raw shares mix group "
                   "and position; only the position-adjusted numbers separate them")
        regime = (" ⚠ this design (few images, each drawn many times) is where the simulation "
                  "study measured this test above its nominal level (8–8.5 % at 5 %), so treat "
                  "its p as indicative"
                  if bool(r["above_nominal"]) else "")
        model = (f"group effect with position in the model (conditional logit, clustered on "
                 f"every image of the tuple, {int(r['clusters'])}+ images per group): Wald "
                 f"test of {int(r['group_df'])} terms, Hotelling-corrected with "
                 f"{r['group_df2']:.1f} df, p = "
                 f"{r['group_p_value']:.3g}{regime}; position effect "
                 + (f"p = {r['position_p_value']:.3g}" if pd.notna(r["position_p_value"]) else
                    f"{NOT_ESTIMABLE} (its clustered variance has too few degrees of freedom)")
                 if pd.notna(r["group_p_value"]) else
                 f"⚠ the position-adjusted model is {NOT_ESTIMABLE}: {r['not_estimable']} "
                 "(with `sampling.together_orders: cyclic` every group moves through every "
                 "position)")
        out.append(
            f"- **All {k} groups at once** (n = {n} tuples; {balance}): {model}. Naive Monte "
            f"Carlo test holding the position preference fixed p = "
            f"{r['naive_mc_p_value']:.3g} (tuples treated as independent: only for tuples "
            f"without reused images). Naive χ² on raw counts "
            f"p = {r['naive_chi2_p_value']:.3g} (ignores position and image reuse). Shares "
            f"(parity {100 / k:.1f}%, {level}% simultaneous intervals, naive): {shares}."
        )
    return [*out, ""]


def _disparities(result: AuditResult, setting: str, level: int) -> list[str]:
    """The disparity table (fairlearn / Aequitas shape) with one plain sentence per row."""
    d = result.disparities
    if d.empty:
        return []
    d = d[d["setting"] == setting]
    out = [
        "#### Disparities: each group's share of pairs won",
        "",
        f"Per level, each value's share of the pair tuples it was in whose salient point "
        f"landed on its image (attribute levels: only pairs whose members differ in that "
        f"attribute), with a {level}% interval clustered on both images of every tuple; "
        f"difference "
        f"and ratio against the reference value. Fewer than {result.params.disparity_min_n} "
        "effective observations: insufficient evidence, no claim either way.",
        "",
        f"| level | value | n | rate [{level}% clustered CI] | vs reference | difference "
        f"[{level}% CI] | ratio [{level}% CI] | evidence |",
        "|---|---|---:|---|---|---|---|---|",
    ]
    for r in d.itertuples():
        ratio = (f"{r.ratio:.2f} [{r.ratio_low:.2f}, {r.ratio_high:.2f}]"
                 if pd.notna(r.ratio_low) else "–")
        diff = ("–" if r.evidence == "reference" or pd.isna(r.diff_low) else
                f"{_pct(r.diff)} [{100 * r.diff_low:+.1f}, {100 * r.diff_high:+.1f}]")
        rate = (f"{r.rate:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]" if pd.notna(r.ci_low) else
                f"{r.rate:.3f} ({NOT_ESTIMABLE})")
        out.append(
            f"| {md(r.level)} | {md(r.value)} | {r.n} | {rate} "
            f"| {md(r.reference)} | {diff} | {ratio if r.evidence != 'reference' else '–'} "
            f"| {r.evidence} |"
        )
    out.append("")
    out += [f"- {md(r.level)} = {md(r.value)}: {md(r.explanation)}" for r in d.itertuples()
            if r.evidence != "reference"]
    return [*out, ""]


def _interactions(result: AuditResult, setting: str, level: int) -> list[str]:
    """Difference-in-differences: does a gap differ by another attribute?"""
    t = result.interactions
    if t.empty:
        return []
    t = t[t["setting"] == setting]
    out = ["#### Interactions: does a gap differ by another attribute?", ""]
    for r in t.itertuples():
        if pd.isna(r.p_value_adjusted):
            out.append(f"- {r.gap} gap among {r.by} = {r.value_1} vs {r.value_2}: "
                       f"{NOT_ESTIMABLE} ({r.not_estimable}).")
            continue
        verdict = ("the gaps differ" if r.significant else
                   "no difference between the gaps detected (not evidence that they are equal)")
        out.append(
            f"- {md(r.gap)} gap among {md(r.by)} = {md(r.value_1)}: p = {r.p_1:.3f}; among "
            f"{md(r.by)} = {md(r.value_2)}: p = {r.p_2:.3f}; difference {_pct(r.did)} "
            f"[{100 * r.low:+.1f}, "
            f"{100 * r.high:+.1f}] ({level}% clustered), adj. p = {r.p_value_adjusted:.3g}: "
            f"{verdict}."
        )
    return [*out, ""]
