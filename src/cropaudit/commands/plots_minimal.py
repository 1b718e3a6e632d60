"""MINIMAL stand-in for issue 4's `plots` command (same arguments): replace at merge.

Draws the Δ bar chart of the pair comparisons (intervals, Δ annotations) and the shares of
the all-groups-at-once tuples as PNG files in --out-dir.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "figures of the statistics (minimal stand-in, see issue 4)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=None, help="params file (default: params.yaml)")
    parser.add_argument("--stats-dir", required=True, type=Path, help="stats tables folder")
    parser.add_argument("--outcomes", required=True, help="saliency outcomes (gather)")
    parser.add_argument("--out-dir", required=True, type=Path, help="folder for PNG figures")


def run(args: argparse.Namespace) -> int:
    from cropaudit.config import load_params
    from cropaudit.errors import InputFileError
    from cropaudit.stats_minimal import write_plots

    load_params(args.params)
    for name in ("comparisons.csv", "together.csv"):
        if not (args.stats_dir / name).is_file():
            raise InputFileError(f"{args.stats_dir / name}: not found (run `cropaudit stats`)")
    for path in write_plots(args.stats_dir, args.out_dir):
        print(path)
    return 0
