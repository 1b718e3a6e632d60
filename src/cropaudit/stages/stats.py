"""The stats stage end to end: the outcomes (and, for face rates, the faces, dataset and crops
tables) in; the stats folder, its findings/ and the metrics out.

The statistics themselves are pure functions in :mod:`cropaudit.stats`; this module reads the
inputs, calls them and writes every output, removing what it wrote when a step fails so that
nothing stale is mistaken for a result. ``cropaudit stats`` (:mod:`cropaudit.commands.stats`)
is its command line.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from cropaudit.contracts import (
    CROP_COLUMNS,
    CROP_FACE_COLUMNS,
    FINDINGS_DIR,
    IMAGE_CROP_COLUMNS,
    read_outcomes,
    read_stage_table,
    read_stats_table,
)
from cropaudit.errors import ConfigError, InputFileError
from cropaudit.outputs import (
    atomic_dir,
    atomic_path,
    json_safe,
    remove_outputs,
    write_json,
    write_text,
)

if TYPE_CHECKING:
    from cropaudit.config import Params

#: The audit's tables, each written as ``<name>.csv``.
TABLES = ("comparisons", "position", "position_model", "together", "distributions",
          "disparities", "interactions")


@dataclass(frozen=True)
class StatsInputs:
    """The stage's input files: the outcomes, and what face rates and retention need."""

    outcomes: Path
    dataset: Path | None = None
    faces: Path | None = None
    crops: Path | None = None
    image_crops: Path | None = None


@dataclass(frozen=True)
class StatsOutcome:
    """What a run wrote, and the verdicts of its primary comparisons (for the command's
    one-line account)."""

    paths: list[Path]
    primary: int
    verdicts: dict[str, int]


def run_stats(params: Params, inputs: StatsInputs, *, out_dir: Path,
              metrics_path: Path) -> StatsOutcome:
    """Compute the audit's statistics and write its tables, findings, summary and metrics."""
    from cropaudit.stats.audit import audit
    from cropaudit.stats.groups import groups_table
    from cropaudit.stats.outcomes import REQUIRED

    attributes = params.dataset.groups.attributes
    outcomes = read_outcomes(inputs.outcomes, REQUIRED)
    groups = _groups(inputs, outcomes, attributes)
    crops = _crops(inputs)
    face_tables, face_metrics = _face_stats(inputs, params, crops)
    result = audit(outcomes, params.stats, groups, params.seed, source=str(inputs.outcomes))
    tables = {out_dir / f"{name}.csv": getattr(result, name) for name in TABLES}
    tables[out_dir / "groups.csv"] = groups_table(groups)
    tables[out_dir / "tidy.csv"] = result.tidy()
    tables.update({out_dir / f"{name}.csv": t for name, t in face_tables.items()})
    paths = _write(result, tables, crops, face_metrics, out_dir, metrics_path)
    c = result.comparisons
    prim = c[c["primary"]] if len(c) else c
    counts = prim["verdict"].value_counts().to_dict() if len(prim) else {}
    return StatsOutcome(paths, len(prim), counts)


def _write(result: Any, tables: dict[Path, pd.DataFrame], crops: pd.DataFrame | None,
           face_metrics: dict[str, Any], out_dir: Path, metrics_path: Path) -> list[Path]:
    """Every output, in order: tables, findings/, summary.md, the metrics; on failure what
    was written is removed. Returns the paths written."""
    from cropaudit.stats.summary import metrics, summary_markdown

    summary = out_dir / "summary.md"
    findings = out_dir / FINDINGS_DIR
    paths = [*tables, summary, metrics_path]
    try:
        for path, table in tables.items():
            with atomic_path(path) as tmp:
                table.to_csv(tmp, index=False)
        faces = (out_dir / "face_rates.csv") in tables
        with atomic_dir(findings) as tmp:
            for name, table in _findings(out_dir, crops, faces).items():
                table.to_csv(tmp / name, index=False)
        write_text(summary, summary_markdown(result))
        write_json(metrics_path, json_safe({**metrics(result), **face_metrics}))
    except BaseException:
        remove_outputs(*paths)
        shutil.rmtree(findings, ignore_errors=True)
        raise
    paths.insert(len(tables), findings)
    return paths


def _findings(out_dir: Path, crops: pd.DataFrame | None, faces: bool) -> dict[str, pd.DataFrame]:
    """What the report shows of this stage, by file name under ``out_dir``/findings: the crop
    retention (with --crops) and the face rate tables per source (with --faces).

    The face tables are derived from the CSVs just written, read back as every reader of
    them reads them, so the report shows what the files say.
    """
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


def _groups(inputs: StatsInputs, outcomes: pd.DataFrame, attributes: list[str]) -> Any:
    """Each group's attribute values, as columns of the dataset table (--dataset) or, without
    it, of the outcomes table when it carries them; group labels are never split on ``_``
    (attribute values may contain it: FairFace's ``latino_hispanic``)."""
    from cropaudit.datasets.table import read_table
    from cropaudit.stats.groups import groups_from_table

    if inputs.dataset is not None:
        return groups_from_table(read_table(inputs.dataset), attributes,
                                 source=str(inputs.dataset))
    if all(a in outcomes.columns for a in attributes):
        return groups_from_table(outcomes, attributes, source=str(inputs.outcomes))
    raise InputFileError(
        f"{inputs.outcomes}: no attribute columns {attributes} (dataset.groups.attributes): "
        "pass --dataset, the dataset table the pairs were drawn from")


def _crops(inputs: StatsInputs) -> pd.DataFrame | None:
    """The crops table of --crops (None without it): its retention is summarised for the
    report, and with --faces its face columns are scored."""
    if inputs.crops is None:
        return None
    if inputs.faces is None:
        return read_stage_table(inputs.crops, CROP_COLUMNS, what="crops table",
                                producer="score-crops")
    return read_stage_table(inputs.crops, CROP_COLUMNS + CROP_FACE_COLUMNS,
                            what="crops table with face scores", producer="score-crops")


def _face_stats(inputs: StatsInputs, params: Params, crops: pd.DataFrame | None
                ) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The face tables by name (face_rates, face_comparisons, face_disparities,
    face_position_adjusted) and their metrics when --faces is given, else nothing; inputs are
    checked first."""
    if inputs.faces is None:
        if inputs.image_crops:
            raise ConfigError("--image-crops needs --faces and --dataset")
        return {}, {}
    from cropaudit.datasets.table import read_table
    from cropaudit.faces.table import read_faces
    from cropaudit.stats.face_rates import face_statistics_tables

    if inputs.dataset is None:
        raise ConfigError("--faces needs --dataset (group attributes)")
    table = read_table(inputs.dataset)
    faces = read_faces(inputs.faces, table)
    image_crops = None
    if inputs.image_crops is not None:
        image_crops = read_stage_table(inputs.image_crops, IMAGE_CROP_COLUMNS,
                                       what="single-image crops table", producer="score-crops")
    rates, comparisons, disparities, adjusted, metrics = face_statistics_tables(
        params=params, crops=crops, image_crops=image_crops, faces=faces, table=table)
    names = ("face_rates", "face_comparisons", "face_disparities", "face_position_adjusted")
    return dict(zip(names, (rates, comparisons, disparities, adjusted), strict=True)), metrics
