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
from cropaudit.stats.multinomial import MIN_IMAGES_FOR_MODEL_TEST
from cropaudit.stats.position import POSITION_TERM
from cropaudit.stats.proportions import CORRECTION_NAMES, INTERVAL_NAMES
from cropaudit.untrusted import markdown as md

#: comparison-table columns copied into metrics.json per comparison
METRIC_COLUMNS = (
    "n", "p", "delta", "ci_low", "ci_high", "naive_low", "naive_high", "boot_low", "boot_high",
    "design_effect", "first_left_share", "counterbalanced", "p_value_adjusted",
    "p_value_clustered_adjusted", "tost_p_value_clustered_adjusted",
    "significant", "equivalent", "min_detectable_delta", "min_detectable_delta_clustered",
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
        out["verdicts"] = {v: int(verdicts.get(v, 0))
                           for v in ("equivalent", "differs", "inconclusive")}
        out["position"] = _position_metrics(result, setting, flags.get(setting, False))
        t = result.together
        if len(t):
            t = t[t["setting"] == setting]
            out["together"] = {
                comparison: {
                    "group_p_value": _clean(d["group_p_value"].iloc[0]),
                    "mc_p_value": _clean(d["mc_p_value"].iloc[0]),
                    "position_p_value": _clean(d["position_p_value"].iloc[0]),
                    "naive_chi2_p_value": _clean(d["naive_chi2_p_value"].iloc[0]),
                    "counterbalanced": bool(d["counterbalanced"].all()),
                    "few_images": bool(d["few_images"].all()),
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
            out["mcnemar_p_value"] = _clean(row["mcnemar_p_value"].iloc[0])
    pm = result.position_model
    if len(pm):
        row = pm[(pm["setting"] == setting) & (pm["term"] == POSITION_TERM)]
        if len(row):
            r = row.iloc[0]
            out.update(log_odds=_clean(r["coef"]), log_odds_low=_clean(r["low"]),
                       log_odds_high=_clean(r["high"]), p_value=_clean(r["p_value"]),
                       p_left_equal_groups=_clean(r["p_left_equal_groups"]))
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
        f"The {level}% interval beside p is clustered over source images (two-way cluster "
        f"bootstrap, {p.bootstrap_resamples} resamples, seed {result.seed}, t quantile; "
        f"cluster-robust logit when the bootstrap is off): the interval the verdict agrees "
        f"with. The naive {INTERVAL_NAMES[p.interval]} interval treats every pair as "
        f"independent and is too narrow when images repeat (the design effect says by how "
        f"much); it is shown for comparison only. Tests use Kish's effective n "
        f"(n / design effect) and are {CORRECTION_NAMES[p.correction]}-adjusted across the "
        f"run; equivalence = TOST within ±{p.equivalence_margin:g} of parity. "
        f"See docs/statistics.md for what each number means."
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
        "| design effect | adj. p | verdict | first group left |",
        "|---|---:|---|---:|---|---:|---:|---|---|",
    ]
    for r in cs[cs["primary"]].itertuples():
        name = md(r.label) if r.kind == "pair" else f"{md(r.label)} ({r.pooling})"
        balance = f"{100 * r.first_left_share:.0f}%"
        if not r.counterbalanced:
            balance += " ⚠ position confounded"
        out.append(
            f"| {name} | {r.n} | {r.p:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] | {_pct(r.delta)} "
            f"| [{r.naive_low:.3f}, {r.naive_high:.3f}] | {r.design_effect:.2f} "
            f"| {r.p_value_clustered_adjusted:.3g} | {r.verdict} | {balance} |"
        )
    return out


def _verdicts(cs: pd.DataFrame, power: float) -> list[str]:
    prim = cs[cs["primary"]]
    out = []
    for v, text in (("differs", "**Differ from parity**"),
                    ("equivalent", "**Equivalent to parity**"),
                    ("inconclusive", "**Inconclusive**")):
        rows = prim[prim["verdict"] == v]
        if rows.empty:
            out.append(f"- {text}: none.")
            continue
        if v == "inconclusive":
            items = ", ".join(
                f"{md(r.label)} (Δ {_pct(r.delta)}; detectable with {100 * power:.0f}% power "
                f"at the corrected level α = {r.alpha_detectable:.2g}: "
                f"±{100 * r.min_detectable_delta_clustered:.1f} pp)"
                if pd.notna(r.min_detectable_delta_clustered) else md(r.label)
                for r in rows.itertuples()
            )
        else:
            items = ", ".join(f"{md(r.label)} (Δ {_pct(r.delta)})" for r in rows.itertuples())
        out.append(f"- {text}: {items}.")
    return out


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
    flag = result.position_flags().get(setting, False)
    head = "⚠ **Position bias detected**" if flag else "**Position bias**: not significant"
    text = (
        f"- {head}: the left image held the salient point in "
        f"{100 * mc['p_left']:.1f}% of tuples; between equal groups P(left) = "
        f"{r['p_left_equal_groups']:.3f} [{r['p_left_low']:.3f}, {r['p_left_high']:.3f}] "
        f"(position log-odds {r['coef']:+.3f}, p = {r['p_value']:.3g})"
        if mc is not None else f"- {head}"
    )
    if mc is not None:
        text += (
            f"; McNemar on {int(mc['base_tuples'])} mirrored tuples: first group won only on "
            f"the left {int(mc['first_won_left_only'])}×, only on the right "
            f"{int(mc['first_won_right_only'])}× (p = {mc['mcnemar_p_value']:.3g})."
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
            f"{md(g)} {100 * s:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}] (position-adjusted "
            f"{100 * a:.1f}%)"
            for g, s, lo, hi, a in zip(d["group"], d["share"], d["ci_low"], d["ci_high"],
                                       d["adjusted_share"], strict=True)
        )
        balance = ("every group sat at every position equally often"
                   if bool(d["counterbalanced"].all()) else
                   f"⚠ NOT counterbalanced (a group's share of a position is off 1/k by up to "
                   f"{100 * d['max_position_imbalance'].max():.0f} pp): raw shares mix group "
                   "and position; only the position-adjusted numbers separate them")
        few = (f" ⚠ only {int(r['clusters'])} images in the smallest group: below "
               f"{MIN_IMAGES_FOR_MODEL_TEST} this test runs above its nominal level (about 14% "
               "false positives at 5% with 20 images per group), so treat its p as indicative"
               if bool(r["few_images"]) else "")
        model = (f"group effect with position in the model (conditional logit, clustered over "
                 f"{int(r['clusters'])}+ images per group): F-test p = {r['group_p_value']:.3g}"
                 f"{few}; position effect p = {r['position_p_value']:.3g}"
                 if pd.notna(r["group_p_value"]) else
                 "⚠ the position-adjusted model is not estimable: the arrangements do not "
                 "move every group through every position (set `sampling.together_orders: "
                 "cyclic`), there are too few tuples, or a group or position never wins")
        out.append(
            f"- **All {k} groups at once** (n = {n} tuples; {balance}): {model}; Monte Carlo "
            f"test holding the position preference fixed p = {r['mc_p_value']:.3g} (tuples "
            f"treated as independent; use it when n is small). Naive χ² on raw counts "
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
        f"attribute), with a {level}% interval clustered over images and tuples; difference "
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
        diff = ("–" if r.evidence == "reference" else
                f"{_pct(r.diff)} [{100 * r.diff_low:+.1f}, {100 * r.diff_high:+.1f}]")
        out.append(
            f"| {md(r.level)} | {md(r.value)} | {r.n} | {r.rate:.3f} [{r.ci_low:.3f}, "
            f"{r.ci_high:.3f}] | {md(r.reference)} | {diff} "
            f"| {ratio if r.evidence != 'reference' else '–'} "
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
