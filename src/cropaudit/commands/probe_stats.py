"""Measure every probe against its baseline (the workflow's probe statistics stage).

Reads the probe tables of `cropaudit probe` (and `cropaudit probe-edits`), every cropper and
kind together, and writes to --out-dir (data contract in docs/probes.md): flips.csv and
flips-by-comparison.csv (winner flip rate against the baseline, clustered interval),
verdicts.csv (Δ, clustered interval, soft Δ, verdict and whether verdict and sign survive),
stability.csv (verdict per comparison × setting), soft.csv (mass / top-k shares, margins,
mass-vs-argmax disagreement), survival.csv (3×1 grids), edits.csv (counterfactual edits),
summary.md and figures (deltas.png, flips-offset.png, dose-response.png); --metrics gets the
headline numbers as JSON under the key "probes" for DVC and MLflow.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cropaudit.commands.declared import ParamKeys

HELP = "probe statistics: flip rates, verdict stability, soft outcomes, grid survival"

#: params.yaml keys read (cropaudit.commands.declared)
PARAMS: ParamKeys = ("stats.alpha", "stats.equivalence_margin", "stats.correction")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=None, help="params file (default: params.yaml)")
    parser.add_argument("--tables", nargs="+", required=True, type=Path,
                        help="probe tables (cropaudit probe)")
    parser.add_argument("--edits", nargs="*", default=[], type=Path,
                        help="edit tables (cropaudit probe-edits)")
    parser.add_argument("--out-dir", required=True, type=Path, help="e.g. results/probes/summary")
    parser.add_argument("--metrics", required=True, type=Path,
                        help="e.g. results/probes/metrics.json")


def probe_metrics(flips, verdicts, soft, edits) -> dict[str, object]:
    """Nested headline numbers: per cropper and setting, flip rate and verdicts kept."""
    out: dict[str, dict[str, dict[str, object]]] = {}
    for r in flips.itertuples():
        out.setdefault(r.cropper, {})[r.setting] = {"flip_rate": r.flip_rate}
    kept = verdicts.groupby(["cropper", "setting"])["survives"].mean()
    for (cropper, setting), share in kept.items():
        out.setdefault(cropper, {}).setdefault(setting, {})["verdicts_kept"] = float(share)
    for r in soft[soft["applicable"]].itertuples() if len(soft) else []:
        out.setdefault(r.cropper, {}).setdefault(r.setting, {})[
            "mass_argmax_disagree"] = r.mass_argmax_disagree
    for r in edits.itertuples() if len(edits) else []:
        out.setdefault(r.cropper, {}).setdefault(f"edit:{r.edit}", {}).update(
            {"win_rate": r.win_rate, "delta_max": r.delta_max})
    return {"probes": out}


def summary_lines(flips, verdicts, soft, survival, edits) -> list[str]:
    """Plain sentences for the report."""
    from cropaudit.stats.probes import BASELINE
    from cropaudit.untrusted import markdown as md

    lines = []
    f = flips[flips["probe"] != BASELINE]
    for cropper, g in f.groupby("cropper", sort=False):
        worst = g.loc[g["flip_rate"].idxmax()]
        pad = g[g["probe"] == "padding"]
        pad_text = (f"; padding offsets flip {100 * pad['flip_rate'].mean():.0f} % on average"
                    if len(pad) else "")
        v = verdicts[(verdicts["cropper"] == cropper) & (verdicts["probe"] != BASELINE)]
        lost = v[~v["survives"]]
        lines.append(
            f"**{md(cropper)}**: the largest flip rate is {100 * worst['flip_rate']:.0f} % "
            f"[{100 * worst['flip_low']:.0f}, {100 * worst['flip_high']:.0f}] under "
            f"`{worst['setting']}`{pad_text}; {len(lost)} of {len(v)} comparison verdicts "
            "change verdict or sign under some setting"
            + (f" ({', '.join(sorted(set(lost['setting'])))})." if len(lost) else "."))
    s = soft[(soft["probe"] == BASELINE)] if len(soft) else soft
    for r in s.itertuples():
        if r.applicable:
            lines.append(f"{md(r.cropper)}: the mass winner disagrees with the argmax winner in "
                         f"{100 * r.mass_argmax_disagree:.0f} % of baseline tuples.")
        else:
            lines.append(f"{md(r.cropper)}: no saliency map, soft outcomes not applicable.")
    if len(survival):
        worst = survival.loc[survival["neither"].idxmax()]
        lines.append(f"3×1 grids: up to {100 * worst['neither']:.0f} % of crops keep neither "
                     f"face ({md(worst['cropper'])}, aspect ratio {worst['aspect_ratio']:g}, "
                     f"{md(worst['comparison'])}).")
    return lines


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from cropaudit.config import load_params
    from cropaudit.outputs import atomic_dir, json_safe, remove_outputs, write_json
    from cropaudit.reporting.figures import save_png
    from cropaudit.reporting.figures.probes import delta_small_multiples, flip_against_offset
    from cropaudit.stats import probes as sp

    params = load_params(args.params)
    alpha = params.stats.alpha
    outcomes = pd.concat([pd.read_parquet(p) for p in args.tables], ignore_index=True)
    if "probe" not in outcomes.columns or not (outcomes["probe"] == sp.BASELINE).any():
        from cropaudit.errors import InputFileError

        names = ", ".join(str(p) for p in args.tables)
        raise InputFileError(f"{names}: no baseline probe rows (run `cropaudit probe` first)")
    tuples = sp.probe_tuples(outcomes)
    flips = sp.flip_table(tuples, alpha)
    flips_cmp = sp.flip_table(tuples, alpha, by_comparison=True)
    verdicts = sp.verdict_table(tuples, alpha=alpha, margin=params.stats.equivalence_margin,
                                correction=params.stats.correction)
    soft = sp.soft_table(tuples, alpha)
    survival = sp.survival_table(outcomes, alpha)
    edits = pd.DataFrame()
    if args.edits:
        from cropaudit.reporting.figures.probes import dose_response
        from cropaudit.stats.edits import edit_table

        edit_rows = pd.concat([pd.read_parquet(p) for p in args.edits], ignore_index=True)
        edits = edit_table(edit_rows, alpha)
    lines = summary_lines(flips, verdicts, soft, survival, edits)
    if len(edits):
        from cropaudit.stats.edits import edit_lines

        lines += edit_lines(edits)
    summary = "\n".join(["## Probes: how fragile is each verdict", "",
                         *(f"- {ln}" for ln in lines)]) + "\n"
    try:
        with atomic_dir(args.out_dir) as tmp:
            flips.to_csv(tmp / "flips.csv", index=False)
            flips_cmp.to_csv(tmp / "flips-by-comparison.csv", index=False)
            verdicts.to_csv(tmp / "verdicts.csv", index=False)
            sp.stability_matrix(verdicts).to_csv(tmp / "stability.csv", index=False)
            soft.to_csv(tmp / "soft.csv", index=False)
            survival.to_csv(tmp / "survival.csv", index=False)
            edits.to_csv(tmp / "edits.csv", index=False)
            (tmp / "summary.md").write_text(summary, encoding="utf-8")
            save_png(delta_small_multiples(verdicts), tmp / "deltas.png")
            save_png(flip_against_offset(flips), tmp / "flips-offset.png")
            if len(edits):
                save_png(dose_response(edits), tmp / "dose-response.png")
        write_json(args.metrics, json_safe(probe_metrics(flips, verdicts, soft, edits)))
    except BaseException:
        remove_outputs(args.metrics)
        raise
    print(summary)  # names are escaped (visible, one line each) by the Markdown escape
    print(f"wrote {args.out_dir} and {args.metrics}")
    return 0
