"""MINIMAL stand-in for issue 4's `stats` command (same arguments): replace at merge.

Per comparison: share of composites whose salient point fell on the first group's member,
Δ = p − 0.5, Wilson interval and exact binomial test (statsmodels); "all groups at once"
tuples per group against 1/k. Writes comparisons.csv, together.csv and summary.md into
--out-dir and the numbers into --metrics (DVC metrics).
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "disparity statistics per comparison (minimal stand-in, see issue 4)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=None, help="params file (default: params.yaml)")
    parser.add_argument("--outcomes", required=True, help="saliency outcomes (gather)")
    parser.add_argument("--out-dir", required=True, type=Path, help="folder for tables")
    parser.add_argument("--metrics", required=True, type=Path, help="metrics JSON to write")


def run(args: argparse.Namespace) -> int:
    from cropaudit.config import load_params
    from cropaudit.stats_minimal import write_stats
    from cropaudit.tables import read_outcomes

    params = load_params(args.params)
    write_stats(read_outcomes(args.outcomes), params.stats.alpha, args.out_dir, args.metrics)
    print(f"{args.out_dir}: comparisons.csv, together.csv, summary.md; {args.metrics}")
    return 0
