"""Compute the bias statistics of a run from its saliency outcomes table.

Group attribute values come from the dataset table (--dataset; the workflow always gives it)
or, without it, from attribute columns of the outcomes table; a group label is never split into
values.

Writes, under --out-dir: comparisons.csv (one row per comparison and aggregate with every
number: counts, p, Δ, the clustered interval and tests the verdict uses, design effect,
adjusted p-values, TOST, equivalence bound, verdict, minimum detectable Δ, and the naive_*
numbers that treat tuples as independent), groups.csv (each group's attribute values),
position.csv (McNemar on mirrored tuples), position_model.csv (position + group logit),
together.csv (k-way tuples: raw shares, position-adjusted conditional logit, Monte Carlo test),
distributions.csv (saliency scores by group), disparities.csv (each group's and attribute
value's share of pairs won with clustered interval, difference and ratio against a reference,
minimum-n guard, plain-language explanation), interactions.csv (difference-in-differences
between attribute gaps), tidy.csv (every test of those tables in long form: setting,
comparison, quantity, method, estimate, low, high, p), summary.md (the findings section of the
report) and findings/ (what else the report shows of this stage: the crop retention per group
with --crops, the face rates per source with --faces); see docs/statistics.md; and --metrics
(JSON for `dvc metrics`). Settings come from the `stats:` section of params.yaml; the bootstrap
uses the top-level `seed`.

With --faces (and --dataset, --crops, --image-crops from `cropaudit faces` / `score-crops`) it
also writes face_rates.csv (per source, measure, aspect ratio and group or attribute value: how
often the salient point lies on the face, the crop keeps the whole face, the detector finds a
face; naive Wilson intervals) and face_comparisons.csv (two-proportion score tests between
values, Holm across the table; naive_*: rows independent), face_disparities.csv (the clustered
disparity table of every face measure), face_position_adjusted.csv (composite members: group
differences with position in a clustered logit), and adds faces / face_rates / naive_face_tests
/ face_disparities / face_tests_position_adjusted to --metrics.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cropaudit.commands.declared import ParamKeys

HELP = "bias statistics of a run (tidy CSVs, metrics.json, summary.md)"

#: params.yaml keys read (cropaudit.commands.declared)
PARAMS: ParamKeys = ("seed", "stats", "dataset.groups.attributes")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", help="params file (default: params.yaml if present)")
    parser.add_argument("--outcomes", required=True, type=Path, help="results/saliency.parquet")
    parser.add_argument("--out-dir", required=True, type=Path, help="e.g. results/stats")
    parser.add_argument("--metrics", required=True, type=Path, help="e.g. results/metrics.json")
    parser.add_argument("--faces", type=Path, default=None, help="faces table (face rates)")
    parser.add_argument("--dataset", type=Path, default=None,
                        help="dataset table: the groups' attribute values (needed with --faces, "
                        "and unless the outcomes carry the attribute columns)")
    parser.add_argument("--crops", type=Path, default=None, help="crops table (score-crops)")
    parser.add_argument("--image-crops", type=Path, default=None,
                        help="single-image crops table (score-crops)")


def run(args: argparse.Namespace) -> int:
    from cropaudit.config import load_params
    from cropaudit.stages.stats import StatsInputs, run_stats

    params = load_params(args.params)
    outcome = run_stats(params, StatsInputs(
        outcomes=args.outcomes, dataset=args.dataset, faces=args.faces, crops=args.crops,
        image_crops=args.image_crops), out_dir=args.out_dir, metrics_path=args.metrics)
    print(f"{outcome.primary} comparisons: "
          + ", ".join(f"{v} {k}" for k, v in sorted(outcome.verdicts.items())))
    for path in outcome.paths:
        print(f"wrote {path}")
    return 0
