"""Draw a run's figures (PNG) from the stats stage's tables and the outcomes table.

Writes under --out-dir: bars.png (the paper's grouped bars, p(first)/p(second) per comparison
with Δ annotations and the run's own intervals), bars_<panel>.png (one per panel), forest.png
(Δ with intervals, bootstrap intervals, equivalence band and verdicts), ecdf.png (per-group
ECDFs of the per-image saliency scores) and, when the run has them, together.png (k-way
shares). With several settings in one run, each file name gets a _<n> suffix per setting.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cropaudit.commands.declared import ParamKeys

HELP = "figures of a run (grouped bars, forest plot, score ECDFs) as PNG"

#: params.yaml keys read (cropaudit.commands.declared)
PARAMS: ParamKeys = ("stats.alpha", "dataset.groups.attributes")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", help="params file (default: params.yaml if present)")
    parser.add_argument("--stats-dir", required=True, type=Path, help="e.g. results/stats")
    parser.add_argument("--outcomes", required=True, type=Path, help="results/saliency.parquet")
    parser.add_argument("--out-dir", required=True, type=Path, help="e.g. results/figures")


def run(args: argparse.Namespace) -> int:
    from cropaudit.config import load_params
    from cropaudit.contracts import read_outcomes, read_stats_table
    from cropaudit.stats.outcomes import REQUIRED, SCORES, image_scores

    params = load_params(args.params)
    comparisons = read_stats_table(args.stats_dir / "comparisons.csv")
    together = read_stats_table(args.stats_dir / "together.csv", required=False)
    outcomes = read_outcomes(args.outcomes, REQUIRED)
    scores = image_scores(outcomes)
    settings = sorted(comparisons["setting"].fillna("").unique()) if len(comparisons) else []
    if not settings and len(together):
        settings = sorted(together["setting"].fillna("").unique())
    written: list[Path] = []
    for i, setting in enumerate(settings):
        suffix = f"_{i + 1}" if len(settings) > 1 else ""
        c = comparisons[comparisons["setting"].fillna("") == setting] if len(comparisons) else None
        if c is not None and len(c):
            written += _bars(c, params, args.out_dir, suffix, setting, args.stats_dir)
            written += _forest(c, params, args.out_dir, suffix, setting)
        s = scores[scores["setting"] == setting] if "setting" in scores else scores
        columns = [col for col in SCORES if col in s.columns]
        if len(s) and columns:
            written += _ecdf(s, columns, args.out_dir, suffix, setting)
        if len(together):
            t = together[together["setting"].fillna("") == setting]
            written += _together(t, args.out_dir, suffix,
                                 round(100 * (1 - params.stats.alpha)))
    for path in written:
        print(f"wrote {path}")
    return 0


def _group_legend(stats_dir: Path, labels: list[str], attributes: list[str]) -> str:
    """``B=Black, W=White, …`` from the groups' attribute values in groups.csv (written by
    ``stats``; values read literally, never split out of a label); '' without it."""
    import pandas as pd

    from cropaudit.stats.groups import abbreviation_legend, groups_from_table

    path = stats_dir / "groups.csv"
    if not path.is_file():
        return ""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    if not set(attributes) <= set(table.columns):
        return ""
    groups = groups_from_table(table, attributes, source=str(path))
    return abbreviation_legend([groups[g] for g in labels if g in groups])


def _bars(c, params, out_dir: Path, suffix: str, setting: str, stats_dir: Path) -> list[Path]:
    from cropaudit.reporting.figures import save_png
    from cropaudit.reporting.figures.bars import grouped_bars, panel_order
    from cropaudit.stats.proportions import INTERVAL_NAMES
    from cropaudit.untrusted import mathtext

    drawn = c[c["primary"].astype(bool)].rename(columns={"ci_low": "err_low",
                                                         "ci_high": "err_high"})
    labels = sorted(set(c.loc[c["kind"] == "pair", "group_a"]) | set(c.loc[c["kind"] == "pair",
                                                                           "group_b"]))
    legend = mathtext(_group_legend(stats_dir, labels, params.dataset.groups.attributes))
    pairs = c[c["kind"] == "pair"]
    n_text = (f"n={int(pairs['n'].iloc[0]):,} tuples per comparison"
              if len(pairs) and pairs["n"].nunique() == 1 else "n varies by comparison")
    level = round(100 * (1 - params.stats.alpha))
    method = INTERVAL_NAMES.get(drawn["ci_method"].iloc[0], drawn["ci_method"].iloc[0])
    ylabel = f"$p(x)$, {level}% {method} CI"
    title = "; ".join(x for x in (n_text, "$\\Delta_{0.5} = p_{first} - 0.5$", legend) if x)
    out = [out_dir / f"bars{suffix}.png"]
    fig = grouped_bars(drawn, title=title, ylabel=ylabel)
    if setting:
        fig.text(0.01, 0.005, mathtext(setting), fontsize=7, ha="left", va="bottom")
    save_png(fig, out[0])
    for panel in panel_order(drawn["panel"].tolist()):
        path = out_dir / f"bars_{panel.lower()}{suffix}.png"
        save_png(grouped_bars(drawn, title=mathtext(panel), ylabel=ylabel, panels=[panel]), path)
        out.append(path)
    return out


def _forest(c, params, out_dir: Path, suffix: str, setting: str) -> list[Path]:
    from cropaudit.reporting.figures import save_png
    from cropaudit.reporting.figures.forest import forest
    from cropaudit.stats.proportions import INTERVAL_NAMES
    from cropaudit.untrusted import mathtext

    rows = c[c["primary"].astype(bool)]
    level = round(100 * (1 - params.stats.alpha))
    method = rows["ci_method"].iloc[0]
    name = f"{level}% {INTERVAL_NAMES.get(method, method)} CI"
    naive = rows["naive_method"].iloc[0] if "naive_method" in rows.columns else ""
    thin_name = f"naive {INTERVAL_NAMES.get(naive, naive)} (pairs independent)"
    path = out_dir / f"forest{suffix}.png"
    margin = float(rows["equivalence_margin"].iloc[0])
    title = f"Δ per comparison ({mathtext(setting)})" if setting else "Δ per comparison"
    save_png(forest(rows, margin=margin, title=title, ci_name=name, thin_name=thin_name), path)
    return [path]


def _ecdf(scores, columns, out_dir: Path, suffix: str, setting: str) -> list[Path]:
    from cropaudit.reporting.figures import save_png
    from cropaudit.reporting.figures.ecdf import score_ecdfs
    from cropaudit.untrusted import mathtext

    path = out_dir / f"ecdf{suffix}.png"
    title = "Per-image saliency scores by group" + (f" ({mathtext(setting)})" if setting else "")
    save_png(score_ecdfs(scores, columns, title=title), path)
    return [path]


def _together(t, out_dir: Path, suffix: str, level: int) -> list[Path]:
    from cropaudit.reporting.figures import save_png
    from cropaudit.reporting.figures.together import together_bars

    out = []
    for j, (_, d) in enumerate(t.groupby("comparison", sort=True)):
        extra = f"_{j + 1}" if t["comparison"].nunique() > 1 else ""
        path = out_dir / f"together{extra}{suffix}.png"
        p = d["group_p_value"].iloc[0]
        test = f"p = {p:.3g}" if p == p else "not estimable"
        title = (f"All {int(d['k'].iloc[0])} groups at once (n={int(d['n'].iloc[0]):,}): "
                 f"position-adjusted group test {test}")
        save_png(together_bars(d.reset_index(drop=True), title=title, level=level), path)
        out.append(path)
    return out
