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
import shutil
from pathlib import Path
from typing import Any

from cropaudit.commands.declared import ParamKeys

HELP = "bias statistics of a run (tidy CSVs, metrics.json, summary.md)"

#: params.yaml keys read (cropaudit.commands.declared)
PARAMS: ParamKeys = ("seed", "stats", "dataset.groups.attributes")

TABLES = ("comparisons", "position", "position_model", "together", "distributions",
          "disparities", "interactions")


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
    from cropaudit.contracts import FINDINGS_DIR, read_outcomes
    from cropaudit.outputs import (
        atomic_dir,
        atomic_path,
        json_safe,
        remove_outputs,
        write_json,
        write_text,
    )
    from cropaudit.stats.audit import audit
    from cropaudit.stats.groups import groups_table
    from cropaudit.stats.inputs import check_aggregates
    from cropaudit.stats.outcomes import REQUIRED
    from cropaudit.stats.summary import metrics, summary_markdown

    params = load_params(args.params)
    attributes = params.dataset.groups.attributes
    check_aggregates(params.stats, attributes)
    outcomes = read_outcomes(args.outcomes, REQUIRED)
    groups = _groups(args, outcomes, attributes)
    crops = _crops(args)
    face_rates, face_comparisons, face_disparities, face_adjusted, face_metrics = _face_stats(
        args, params, crops)
    result = audit(outcomes, params.stats, groups, params.seed, source=str(args.outcomes))
    tables = {args.out_dir / f"{name}.csv": getattr(result, name) for name in TABLES}
    tables[args.out_dir / "groups.csv"] = groups_table(groups)
    tables[args.out_dir / "tidy.csv"] = result.tidy()
    if face_rates is not None:
        tables[args.out_dir / "face_rates.csv"] = face_rates
        tables[args.out_dir / "face_comparisons.csv"] = face_comparisons
        tables[args.out_dir / "face_disparities.csv"] = face_disparities
        tables[args.out_dir / "face_position_adjusted.csv"] = face_adjusted
    summary = args.out_dir / "summary.md"
    findings = args.out_dir / FINDINGS_DIR
    paths = [*tables, summary, args.metrics]
    try:
        for path, table in tables.items():
            with atomic_path(path) as tmp:
                table.to_csv(tmp, index=False)
        with atomic_dir(findings) as tmp:
            for name, table in _findings(args.out_dir, crops, face_rates is not None).items():
                table.to_csv(tmp / name, index=False)
        write_text(summary, summary_markdown(result))
        write_json(args.metrics, json_safe({**metrics(result), **face_metrics}))
    except BaseException:
        remove_outputs(*paths)
        shutil.rmtree(findings, ignore_errors=True)
        raise
    paths.insert(len(tables), findings)
    c = result.comparisons
    prim = c[c["primary"]] if len(c) else c
    counts = prim["verdict"].value_counts().to_dict() if len(prim) else {}
    print(f"{len(prim)} comparisons: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    for path in paths:
        print(f"wrote {path}")
    return 0


def _findings(out_dir: Path, crops, faces: bool) -> dict[str, Any]:
    """What the report shows of this stage, by file name under ``out_dir``/findings: the crop
    retention (with --crops) and the face rate tables per source (with --faces).

    The face tables are derived from the CSVs just written, read back as every reader of
    them reads them, so the report shows what the files say.
    """
    from cropaudit.contracts import read_stats_table
    from cropaudit.stats.findings import face_rate_tables, retention_summary

    out = {}
    if crops is not None:
        out["retention.csv"] = retention_summary(crops)
    if faces:
        rates = read_stats_table(out_dir / "face_rates.csv")
        disparities = read_stats_table(out_dir / "face_disparities.csv")
        for source, table in face_rate_tables(rates, disparities).items():
            out[f"face_rates_{source}.csv"] = table
    return out


def _groups(args: argparse.Namespace, outcomes, attributes: list[str]):
    """Each group's attribute values, as columns of the dataset table (--dataset) or, without
    it, of the outcomes table when it carries them; group labels are never split on ``_``
    (attribute values may contain it: FairFace's ``latino_hispanic``)."""
    from cropaudit.datasets.table import read_table
    from cropaudit.errors import InputFileError
    from cropaudit.stats.groups import groups_from_table

    if args.dataset is not None:
        return groups_from_table(read_table(args.dataset), attributes, source=str(args.dataset))
    if all(a in outcomes.columns for a in attributes):
        return groups_from_table(outcomes, attributes, source=str(args.outcomes))
    raise InputFileError(
        f"{args.outcomes}: no attribute columns {attributes} (dataset.groups.attributes): "
        "pass --dataset, the dataset table the pairs were drawn from")


def _crops(args: argparse.Namespace):
    """The crops table of --crops (None without it): its retention is summarised for the
    report, and with --faces its face columns are scored."""
    if args.crops is None:
        return None
    from cropaudit.contracts import CROP_COLUMNS, CROP_FACE_COLUMNS, read_stage_table

    if args.faces is None:
        return read_stage_table(args.crops, CROP_COLUMNS, what="crops table",
                                producer="score-crops")
    return read_stage_table(args.crops, CROP_COLUMNS + CROP_FACE_COLUMNS,
                            what="crops table with face scores", producer="score-crops")


def _face_stats(args: argparse.Namespace, params, crops):
    """(face_rates, face_comparisons, face_disparities, face_position_adjusted, metrics) when
    --faces is given, else (None, None, None, None, {}); inputs are checked first."""
    if args.faces is None:
        if args.image_crops:
            from cropaudit.errors import ConfigError

            raise ConfigError("--image-crops needs --faces and --dataset")
        return None, None, None, None, {}
    from cropaudit.contracts import IMAGE_CROP_COLUMNS, read_stage_table
    from cropaudit.datasets.table import read_table
    from cropaudit.errors import ConfigError
    from cropaudit.faces.table import read_faces
    from cropaudit.stats.face_rates import face_statistics_tables

    if args.dataset is None:
        raise ConfigError("--faces needs --dataset (group attributes)")
    table = read_table(args.dataset)
    faces = read_faces(args.faces, table)
    image_crops = None
    if args.image_crops is not None:
        image_crops = read_stage_table(args.image_crops, IMAGE_CROP_COLUMNS,
                                       what="single-image crops table", producer="score-crops")
    return face_statistics_tables(params=params, crops=crops, image_crops=image_crops,
                                  faces=faces, table=table)
