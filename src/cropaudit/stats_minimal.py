"""MINIMAL STAND-IN for the statistics issue (issue 4) — replace at merge.

The workflow issue needs *some* ``stats`` and ``plots`` stages to run end to end and to check
its demo dataset's known answers; the full statistics (multiple-comparison correction,
cluster bootstrap, position-bias regression, TOST, power, paper figures) come with issue 4,
whose ``stats``/``plots`` commands take the same arguments and replace these (see
``cropaudit.commands.stats_minimal`` / ``plots_minimal`` and the two lines in ``cli.COMMANDS``).

What is here: per pair comparison the share of composites whose salient point fell on the
first group's member, Δ = p − 0.5, a Wilson interval and an exact binomial test (statsmodels);
for "all groups at once" tuples the same per group against 1/k.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from cropaudit.outputs import write_json, write_text


class StatsParams(BaseModel):
    """``stats:`` section of params.yaml (minimal; issue 4 extends it)."""

    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(0.05, gt=0, lt=1, description="significance level; intervals are 1-alpha")


@dataclass(frozen=True)
class Share:
    """How often one group's member held the salient point, with its interval and test."""

    comparison: str
    kind: str
    group: str
    n: int
    wins: int
    p: float
    expected: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    significant: bool


def share(comparison: str, kind: str, group: str, wins: int, n: int, expected: float,
          alpha: float) -> Share:
    from statsmodels.stats.proportion import binom_test, proportion_confint

    low, high = proportion_confint(wins, n, alpha=alpha, method="wilson")
    p_value = float(binom_test(wins, n, prop=expected, alternative="two-sided"))
    return Share(
        comparison=comparison, kind=kind, group=group, n=n, wins=wins, p=wins / n,
        expected=expected, delta=wins / n - expected, ci_low=float(low), ci_high=float(high),
        p_value=p_value, significant=p_value < alpha,
    )


def compute(outcomes: pd.DataFrame, alpha: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(pair comparisons, one row each; together tuples, one row per group)."""
    winners = outcomes[outcomes["won"]]
    pairs, together = [], []
    for comparison, w in winners.groupby("comparison", sort=False):
        kind = str(w["kind"].iloc[0])
        groups = str(comparison).split("~")
        n = len(w)
        if kind == "pair":
            pairs.append(asdict(share(str(comparison), kind, groups[0],
                                      int((w["group"] == groups[0]).sum()), n, 0.5, alpha)))
        else:
            for g in groups:
                together.append(asdict(share(str(comparison), kind, g,
                                             int((w["group"] == g).sum()), n, 1 / len(groups),
                                             alpha)))
    columns = list(Share.__dataclass_fields__)
    return pd.DataFrame(pairs, columns=columns), pd.DataFrame(together, columns=columns)


def _md_table(df: pd.DataFrame) -> str:
    cols = ["comparison", "group", "n", "wins", "p", "delta", "ci_low", "ci_high", "p_value"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in df[cols].itertuples(index=False):
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in r]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_markdown(pairs: pd.DataFrame, together: pd.DataFrame, alpha: float) -> str:
    level = round(100 * (1 - alpha))
    out = [
        "# Summary",
        "",
        f"p = share of composites whose salient point fell on the group's member; "
        f"Δ = p − expected; {level}% Wilson intervals; exact binomial test.",
        "",
    ]
    if not pairs.empty:
        out += ["## Pairs", "", _md_table(pairs), ""]
        for r in pairs.itertuples(index=False):
            a, b = r.comparison.split("~")
            verdict = (f"favours **{a if r.delta > 0 else b}**" if r.significant
                       else "no detectable preference")
            out.append(f"- {a} vs {b}: p({a}) = {r.p:.3f} "
                       f"[{r.ci_low:.3f}, {r.ci_high:.3f}], {verdict}")
        out.append("")
    if not together.empty:
        out += ["## All groups at once", "", _md_table(together), ""]
    return "\n".join(out)


def metrics(pairs: pd.DataFrame, together: pd.DataFrame) -> dict[str, object]:
    keep = ["n", "p", "delta", "ci_low", "ci_high", "p_value"]
    return {
        "pairs": {r["comparison"]: {k: r[k] for k in keep} for r in pairs.to_dict("records")},
        "together": {f"{r['comparison']}/{r['group']}": {k: r[k] for k in keep}
                     for r in together.to_dict("records")},
    }


def write_stats(outcomes: pd.DataFrame, alpha: float, out_dir: Path, metrics_path: Path) -> None:
    pairs, together = compute(outcomes, alpha)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text(out_dir / "comparisons.csv", pairs.to_csv(index=False))
    write_text(out_dir / "together.csv", together.to_csv(index=False))
    write_text(out_dir / "summary.md", summary_markdown(pairs, together, alpha))
    write_json(metrics_path, metrics(pairs, together))


def write_plots(stats_dir: Path, out_dir: Path) -> list[Path]:
    """The Δ bar chart (with intervals and Δ annotations) and the all-at-once shares."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cropaudit.outputs import atomic_path

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    pairs = pd.read_csv(stats_dir / "comparisons.csv")
    together = pd.read_csv(stats_dir / "together.csv")
    for name, df, label in (("disparity", pairs, "comparison"), ("together", together, "group")):
        fig, ax = plt.subplots(figsize=(7, 0.5 * max(len(df), 2) + 1.5))
        if not df.empty:
            y = range(len(df))
            err = [df["p"] - df["ci_low"], df["ci_high"] - df["p"]]
            ax.barh(list(y), df["delta"], left=df["expected"], color="#4c72b0", alpha=0.8)
            ax.errorbar(df["p"], list(y), xerr=err, fmt="none", ecolor="black", capsize=3)
            for i, r in enumerate(df.itertuples(index=False)):
                ax.annotate(f"Δ = {r.delta:+.1%}", (min(r.ci_high, 0.82), i), xytext=(4, 0),
                            textcoords="offset points", va="center", fontsize=8)
            ax.set_yticks(list(y), df[label])
            ax.axvline(float(df["expected"].iloc[0]), color="grey", lw=1, ls="--")
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of composites whose salient point fell on the (first) group")
        ax.set_title("Pairs" if name == "disparity" else "All groups at once")
        fig.tight_layout()
        target = out_dir / f"{name}.png"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
        plt.close(fig)
        written.append(target)
    return written
