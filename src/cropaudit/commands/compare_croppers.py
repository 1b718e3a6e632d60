"""Compare croppers that ran on the same tuples (the workflow's comparison stage).

Each --outcomes NAME=PATH is one cropper's saliency outcomes (`cropaudit gather`), all from
one pairs table. Writes to --out-dir: deltas.csv (Δ per cropper and comparison, image-
clustered interval), agreement.csv (every pair of croppers per comparison: winner agreement,
the paired test of the difference in Δ clustered on both images of every tuple, Holm across
the table, verdict), croppers.csv (name, version, licence, map), summary.md (which croppers
disagree significantly, and where; the same sentences for the report in
findings/disagreements.json) and forest.png (Δ by cropper); --metrics gets the numbers
as JSON for DVC and MLflow. α comes from params.yaml (stats.alpha); nothing here is random.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cropaudit.commands.declared import ParamKeys

HELP = "compare croppers on the same tuples: Δ by cropper, agreement, McNemar, bootstrap"

#: params.yaml keys read (cropaudit.commands.declared)
PARAMS: ParamKeys = ("stats.alpha",)


def _named_path(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name, Path(path)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=None, help="params file (default: params.yaml)")
    parser.add_argument("--outcomes", nargs="+", required=True, type=_named_path,
                        metavar="NAME=PATH", help="each cropper's outcomes table")
    parser.add_argument("--out-dir", required=True, type=Path,
                        help="e.g. results/croppers/comparison")
    parser.add_argument("--metrics", required=True, type=Path,
                        help="e.g. results/croppers/comparison.json")


def run(args: argparse.Namespace) -> int:
    from cropaudit.config import load_params
    from cropaudit.stages.compare_croppers import run_compare_croppers
    from cropaudit.untrusted import terminal

    params = load_params(args.params)
    lines = run_compare_croppers(params, args.outcomes, out_dir=args.out_dir,
                                 metrics_path=args.metrics)
    for ln in lines:
        print(terminal(ln))
    print(f"wrote {args.out_dir} and {args.metrics}")
    return 0
