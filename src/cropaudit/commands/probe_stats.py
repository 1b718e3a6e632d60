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


def run(args: argparse.Namespace) -> int:
    from cropaudit.config import load_params
    from cropaudit.stages.probe_stats import run_probe_stats

    params = load_params(args.params)
    summary = run_probe_stats(params, args.tables, args.edits, out_dir=args.out_dir,
                              metrics_path=args.metrics)
    print(summary)  # names are escaped (visible, one line each) by the Markdown escape
    print(f"wrote {args.out_dir} and {args.metrics}")
    return 0
