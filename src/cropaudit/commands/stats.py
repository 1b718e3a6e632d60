"""Compute the bias statistics of a run from its saliency outcomes table.

Writes, under --out-dir: comparisons.csv (one row per comparison and aggregate with every
number: counts, p, Δ, Wilson and Wald ±2·SE intervals, exact test, cluster bootstrap,
cluster-robust logit, design effect, adjusted p-values, TOST, verdict, minimum detectable Δ),
position.csv (McNemar on mirrored tuples), position_model.csv (position + group logit),
together.csv (k-way tuples), distributions.csv (saliency scores by group) and summary.md (the
findings section of the report); and --metrics (JSON for `dvc metrics`). Settings come from
the `stats:` section of params.yaml; the bootstrap uses the top-level `seed`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "bias statistics of a run (tidy CSVs, metrics.json, summary.md)"

TABLES = ("comparisons", "position", "position_model", "together", "distributions")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", help="params file (default: params.yaml if present)")
    parser.add_argument("--outcomes", required=True, type=Path, help="results/saliency.parquet")
    parser.add_argument("--out-dir", required=True, type=Path, help="e.g. results/stats")
    parser.add_argument("--metrics", required=True, type=Path, help="e.g. results/metrics.json")


def run(args: argparse.Namespace) -> int:
    from cropaudit.config import load_params
    from cropaudit.outputs import atomic_path, remove_outputs, write_json, write_text
    from cropaudit.stats.audit import audit
    from cropaudit.stats.summary import metrics, summary_markdown
    from cropaudit.stats_io import check_aggregates, read_outcomes

    params = load_params(args.params)
    attributes = params.dataset.groups.attributes
    check_aggregates(params.stats, attributes)
    outcomes = read_outcomes(args.outcomes)
    result = audit(outcomes, params.stats, attributes, params.seed, source=str(args.outcomes))
    tables = {args.out_dir / f"{name}.csv": getattr(result, name) for name in TABLES}
    summary = args.out_dir / "summary.md"
    paths = [*tables, summary, args.metrics]
    try:
        for path, table in tables.items():
            with atomic_path(path) as tmp:
                table.to_csv(tmp, index=False)
        write_text(summary, summary_markdown(result))
        write_json(args.metrics, metrics(result))
    except BaseException:
        remove_outputs(*paths)
        raise
    c = result.comparisons
    prim = c[c["primary"]] if len(c) else c
    counts = prim["verdict"].value_counts().to_dict() if len(prim) else {}
    print(f"{len(prim)} comparisons: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    for path in paths:
        print(f"wrote {path}")
    return 0
