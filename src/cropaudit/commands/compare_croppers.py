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
import json
from pathlib import Path

from cropaudit.commands.declared import ParamKeys
from cropaudit.contracts import COMPARISON_SEP

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


def comparison_metrics(deltas, agreement) -> dict[str, object]:
    """Nested numbers for metrics.json: Δ per cropper, agreement per pair of croppers."""
    by_cropper: dict[str, dict[str, object]] = {}
    by_pair: dict[str, dict[str, object]] = {}
    out: dict[str, object] = {"croppers": by_cropper, "pairs": by_pair}
    for r in deltas.itertuples():
        by_cropper.setdefault(str(r.cropper), {})[str(r.comparison)] = {
            "delta": r.delta, "delta_low": r.delta_low, "delta_high": r.delta_high}
    for r in agreement.itertuples() if len(agreement) else []:
        by_pair.setdefault(f"{r.first}{COMPARISON_SEP}{r.second}", {})[str(r.comparison)] = {
            "agreement": r.agreement, "difference": r.difference,
            "diff_low": r.diff_low, "diff_high": r.diff_high,
            "p_value_holm": r.p_value_holm, "disagree": bool(r.disagree)}
    out["disagreements"] = int(agreement["disagree"].sum()) if len(agreement) else 0
    return out


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from cropaudit.config import load_params
    from cropaudit.contracts import FINDINGS_DIR, findings_path, read_outcomes
    from cropaudit.croppers.registry import available
    from cropaudit.errors import ConfigError
    from cropaudit.outputs import atomic_dir, json_safe, remove_outputs, write_json
    from cropaudit.reporting.figures import save_png
    from cropaudit.reporting.figures.croppers import cropper_forest
    from cropaudit.stats.croppers import (
        compare_croppers,
        cropper_pairs,
        delta_by_cropper,
        disagreement_summary,
    )
    from cropaudit.untrusted import markdown as md, terminal

    params = load_params(args.params)
    names = [n for n, _ in args.outcomes]
    if len(set(names)) != len(names):
        raise ConfigError("--outcomes: each cropper may be given once")
    outcomes = {name: read_outcomes(path) for name, path in args.outcomes}
    pairs = cropper_pairs(outcomes)
    deltas = delta_by_cropper(pairs, params.stats.alpha)
    agreement = compare_croppers(pairs, alpha=params.stats.alpha)
    specs = available(warn=False)
    provenance = pd.DataFrame([
        {"cropper": n, "version": specs[n].version() if n in specs else "unknown",
         "licence": specs[n].licence if n in specs else "unknown",
         "has_map": specs[n].has_map if n in specs else None}
        for n in names])
    lines = disagreement_summary(agreement)
    summary = "\n".join(["## Croppers compared", "",
                         f"Croppers: {', '.join(md(n) for n in names)}; the same "
                         f"{pairs['tuple_id'].nunique() if len(pairs) else 0} pair tuples "
                         "each.", "", *(f"- {md(ln)}" for ln in lines)]) + "\n"
    try:
        with atomic_dir(args.out_dir) as tmp:
            deltas.to_csv(tmp / "deltas.csv", index=False)
            agreement.to_csv(tmp / "agreement.csv", index=False)
            provenance.to_csv(tmp / "croppers.csv", index=False)
            (tmp / "summary.md").write_text(summary, encoding="utf-8")
            (tmp / FINDINGS_DIR).mkdir()
            findings_path(tmp, "disagreements.json").write_text(
                json.dumps(lines, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            save_png(cropper_forest(deltas, title="Δ by cropper"), tmp / "forest.png")
        write_json(args.metrics, json_safe(comparison_metrics(deltas, agreement)))
    except BaseException:
        remove_outputs(args.metrics)
        raise
    for ln in lines:
        print(terminal(ln))
    print(f"wrote {args.out_dir} and {args.metrics}")
    return 0
