"""Redraw the paper's figures from its own raw counts (results.txt) and print the table of Δ.

For a pairwise setting (e.g. wiki_no_scaling_intersect) this writes the headline grouped-bar
figure (p(left)/p(right) per comparison with Δ₀.₅ annotations and ±2·SE bars, as in the paper),
one figure per panel, and a CSV of every number; the table printed shows both aggregate pooling
modes (the paper pooled only comparisons stored female-first; the default pools all female–male
comparisons with consistent orientation). For a "together" setting (k groups per composite) it
prints and draws the shares with chi-square test and simultaneous intervals, one line per entry.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cropaudit.stats.params import StatsParams

HELP = "reproduce the paper's figures and Δ table from its raw counts (results.txt)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", required=True, type=Path, help="the paper's results.txt")
    parser.add_argument("--setting", default="wiki_no_scaling_intersect", help="setting name")
    parser.add_argument("--n", type=int, help="num_iterations to use (default: the largest)")
    parser.add_argument(
        "--pooling", choices=["consistent", "paper-compatible"],
        help="aggregate pooling drawn in the figure (default: stats.pooling from params)",
    )
    parser.add_argument("--params", help="params file (default: params.yaml if present)")
    parser.add_argument("--out-dir", type=Path, default=Path("results/paper"), help="output dir")
    parser.add_argument("--list", action="store_true", help="list settings and sample sizes")


def run(args: argparse.Namespace) -> int:
    from cropaudit.config import load_params
    from cropaudit.stats import paper

    entries = paper.parse_results(args.results)
    if args.list:
        for setting, ns in paper.available(entries).items():
            print(f"{setting}: n = {', '.join(str(n) for n in ns)}")
        return 0
    params = load_params(args.params)
    params.stats = paper_stats(params.stats)
    pooling = args.pooling or params.stats.pooling
    selected = paper.select(entries, args.setting, args.n)
    n = selected[0].n
    stem = f"paper_{args.setting}_n{n}"
    if any(e.kind == "pair" for e in selected):
        _pairs(paper.pair_counts(selected), args, params.stats, pooling, n, stem)
    together = [e for e in selected if e.kind == "together"]
    if together:
        _together(together, args, params.stats, stem)
    return 0


def paper_stats(stats: StatsParams) -> StatsParams:
    """The stats settings with aggregates over the paper's attributes (race, gender) only.

    params.yaml describes the project's own dataset (the demo's attributes are feature and
    cohort); its aggregates over other attributes mean nothing for the paper's counts, so
    the paper's B↔W / F↔M defaults are used when none of them applies.
    """
    from cropaudit.stats import paper
    from cropaudit.stats.params import StatsParams

    attributes = set(paper.PAPER_ATTRIBUTES.values())
    usable = [a for a in stats.aggregates if a.attribute in attributes]
    return stats.model_copy(update={"aggregates": usable or StatsParams().aggregates})


def _pairs(counts, args, stats, pooling, n, stem) -> None:
    from cropaudit.outputs import atomic_path
    from cropaudit.reporting.figures import save_png
    from cropaudit.reporting.figures.bars import grouped_bars, panel_order
    from cropaudit.stats.counts import aggregates_both_modes, proportion_table
    from cropaudit.stats.proportions import adjust
    from cropaudit.untrusted import mathtext

    primary, alternative = aggregates_both_modes(counts, stats.aggregates, pooling)
    table = proportion_table(
        counts, [*primary, *alternative], alpha=stats.alpha, method=stats.interval
    )
    table["delta_percent"] = (100 * table["delta"]).round().astype(int)
    table["p_value_adjusted"] = adjust(table["p_value"].where(table["primary"]).to_numpy(),
                                       stats.correction)
    print(_format_table(table, stats))
    print(_caveats(table, stats))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out_dir / f"{stem}.csv") as tmp:
        table.to_csv(tmp, index=False)
    drawn = table[table["primary"]].rename(columns={"wald_low": "err_low", "wald_high": "err_high"})
    legend = _legend(counts)
    title = f"n={n:,} samples; $\\Delta_{{0.5}} = p_{{left}} - 0.5$; {legend}"
    fig = grouped_bars(drawn, title=title)
    alt = table[~table["primary"]]
    if len(alt):
        note = "; ".join(
            f"{mathtext(r.label)}: p = {r.p:.3f}, Δ = {r.delta_percent:+d}%"
            for r in alt.itertuples()
        )
        fig.text(0.01, 0.005, f"aggregates pooled '{pooling}'. Other pooling: {note}",
                 fontsize=7, ha="left", va="bottom")
    written = [args.out_dir / f"{stem}.png"]
    save_png(fig, written[0])
    for panel in panel_order(drawn["panel"].tolist()):
        path = args.out_dir / f"{stem}_{panel.lower()}.png"
        save_png(grouped_bars(drawn, title=f"{mathtext(panel)} (n={n:,})", panels=[panel]),
                 path)
        written.append(path)
    for path in written:
        print(f"wrote {path}")


def _legend(counts) -> str:
    from cropaudit.stats.groups import abbreviation_legend
    from cropaudit.untrusted import mathtext

    groups = {}
    for c in counts:
        groups[c.group_a.label] = c.group_a
        groups[c.group_b.label] = c.group_b
    return mathtext(abbreviation_legend(list(groups.values())))


def _format_table(table, stats) -> str:
    from cropaudit.stats.proportions import CORRECTION_NAMES, INTERVAL_NAMES

    level = round(100 * (1 - stats.alpha))
    method = INTERVAL_NAMES[stats.interval]
    head = (
        f"{'comparison':<28} {'panel':<10} {'pooling':<17} {'n':>7} {'p(first)':>9} "
        f"{'Δ':>8} {'Δ%':>5}  {'p ± 2·SE':<17} {f'naive {method} {level}%':<17} "
        f"{'naive p':>9} {CORRECTION_NAMES[stats.correction] + ' p':>9} {'sig. to DE':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in table.itertuples():
        de = f"{r.significant_up_to_de:.1f}" if r.significant_up_to_de > 0 else "never"
        adjusted = f"{r.p_value_adjusted:.2g}" if r.p_value_adjusted == r.p_value_adjusted else "-"
        lines.append(
            f"{r.label:<28} {r.panel:<10} {r.pooling or '-':<17} {r.n:>7} {r.p:>9.4f} "
            f"{r.delta:>+8.4f} {r.delta_percent:>+4d}%  "
            f"[{r.wald_low:.4f}, {r.wald_high:.4f}] [{r.ci_low:.4f}, {r.ci_high:.4f}] "
            f"{r.p_value:>9.2g} {adjusted:>9} {de:>10}"
        )
    return "\n".join(lines)


def _caveats(table, stats) -> str:
    """What the naive numbers cannot say, and whether each aggregate's members agree."""
    lines = [
        "",
        "Caveat: the paper's counts carry no image identities, so every interval and p-value "
        "above treats the pairs as independent (naive). Images were reused across pairs; "
        "with design effects of 4-9 (typical of our runs) a naive p of 1e-10 can be "
        "non-significant. 'sig. to DE' is the largest design effect at which a row stays "
        f"significant at alpha = {stats.alpha:g} / {int(table['primary'].sum())} (the strictest "
        f"{stats.correction} step); rows significant only up to a small DE should not be "
        "trusted without the image-level data.",
    ]
    for r in table[table["kind"] == "aggregate"].itertuples():
        if r.heterogeneity_p_value == r.heterogeneity_p_value:
            verdict = ("members differ: the pooled p describes none of them"
                       if r.heterogeneity_p_value < stats.alpha else "no evidence members differ")
            lines.append(
                f"Heterogeneity {r.label}: chi2 = {r.heterogeneity_chi2:.1f} on "
                f"{r.heterogeneity_df} df, p = {r.heterogeneity_p_value:.2g} (naive): {verdict}."
            )
    return "\n".join(lines)


def _together(entries, args, stats, stem) -> None:
    import pandas as pd

    from cropaudit.outputs import atomic_path
    from cropaudit.reporting.figures import save_png
    from cropaudit.reporting.figures.together import together_bars
    from cropaudit.stats.multinomial import together_table

    tables = []
    for i, e in enumerate(entries, start=1):
        t = together_table(
            e.comparison, [g.label for g in e.groups], e.counts,
            alpha=stats.alpha, method=stats.interval,
        )
        t.insert(0, "entry", i)
        t.insert(1, "line", e.line)
        tables.append(t)
        print(f"entry {i} (line {e.line}, n={e.n}): chi2 = {t['chi2'].iloc[0]:.2f}, "
              f"df = {t['chi2_df'].iloc[0]}, p = {t['chi2_p_value'].iloc[0]:.3g}")
        for r in t.itertuples():
            print(f"  {r.group:<16} {r.count:>6} share {r.share:.3f} (Δ {r.delta:+.3f}) "
                  f"simultaneous CI [{r.ci_low:.3f}, {r.ci_high:.3f}]")
        path = args.out_dir / f"{stem}_entry{i}.png"
        title = f"{e.setting}, n={e.n} (line {e.line}): χ² p = {t['chi2_p_value'].iloc[0]:.3g}"
        drawn = t.rename(columns={"ci_low": "naive_low", "ci_high": "naive_high"})
        save_png(together_bars(drawn, title=title, level=round(100 * (1 - stats.alpha))), path)
        print(f"wrote {path}")
    with atomic_path(args.out_dir / f"{stem}_together.csv") as tmp:
        pd.concat(tables).to_csv(tmp, index=False)
