"""The gaze stage end to end: tables in, one folder of tables, sheets and a template out.

Pure pieces live in :mod:`cropaudit.gaze.analysis` (selection, labels, rates) and
:mod:`cropaudit.gaze.review` (sheets, template, agreement); this module reads and writes.
What the report shows of it is derived here too, under ``findings/``.
The output folder is built next to its final place and swapped in only when complete, so a
failed run never leaves a folder that looks finished (and no sheet of an earlier run stays).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from cropaudit.contracts import FINDINGS_DIR, findings_path, read_stats_table
from cropaudit.datasets.table import image_path
from cropaudit.errors import InputFileError
from cropaudit.gaze.analysis import (
    gaze_metrics,
    gaze_rates,
    image_labels,
    review_sample,
    salient_regions,
    selection_row,
)
from cropaudit.gaze.review import SHEET_MAX_PIXELS, draw_sheet, sheet_name, template
from cropaudit.geometry.crops import Crop
from cropaudit.outputs import atomic_dir, json_safe, write_json
from cropaudit.stages.image_saliency import result_of
from cropaudit.stats.findings import gaze_tables
from cropaudit.untrusted import mathtext

TABLES = ("selection", "labels", "rates", "comparisons", "review")
SHEETS_DIR = "sheets"


@dataclass(frozen=True)
class GazeOutcome:
    images: int
    selected: int
    with_face: int
    sheets: int


def run_gaze(*, params, table: pd.DataFrame, dataset_path: Path, saliency: pd.DataFrame,
             image_crops: pd.DataFrame, attributes: list[str], out_dir: Path,
             metrics_path: Path, progress: bool | None = None) -> GazeOutcome:
    """Select and label every image, draw review sheets for a seeded sample, compare the label
    rates of groups; writes ``out_dir`` (tables, sheets, review template) and the metrics."""
    g = params.gaze
    ratios = list(params.crops.aspect_ratios)
    info = table.set_index(table["image_id"].astype(str))
    crops_by_image = _crops_by_image(image_crops, saliency, ratios)
    disable = None if progress is None else not progress
    seen = _look_at_images(saliency, crops_by_image, info, attributes, ratios, g, disable)
    labels = seen.labels
    by = g.review_attribute or "group"
    chosen = (review_sample(labels, by, g.review_per_value, params.seed)
              if len(labels) and g.review_per_value else pd.Index([]))
    if len(labels):
        labels["sheet"] = ""
        labels.loc[chosen, "sheet"] = [f"{SHEETS_DIR}/{sheet_name(i)}" for i in chosen]
    rates, comparisons = gaze_rates(
        labels if len(labels) else _empty_labels(ratios), ratios, ["group", *attributes],
        alpha=params.stats.alpha, interval=params.stats.interval,
        correction=params.stats.correction,
    )
    sheets = pd.DataFrame({"image_id": list(chosen),
                           "sheet": [labels.at[i, "sheet"] for i in chosen]})
    with atomic_dir(out_dir) as tmp:
        (tmp / SHEETS_DIR).mkdir()
        for n, image_id in enumerate(tqdm(list(chosen), desc="sheets", unit="sheet",
                                          disable=disable)):
            _sheet(tmp / labels.at[image_id, "sheet"], dataset_path, info.loc[image_id],
                   seen.results[image_id], seen.regions[image_id],
                   crops_by_image[image_id], ratios, g.min_region_area,
                   f"sheet {n + 1} of {len(chosen)}: {mathtext(image_id)}",
                   hard_limit=params.model.max_pixels)
        frames = {"selection": seen.selection, "labels": labels.reset_index() if len(labels)
                  else labels, "rates": rates, "comparisons": comparisons,
                  "review": template(sheets, ratios)}
        for name, df in frames.items():
            df.to_csv(tmp / f"{name}.csv", index=False)
        _write_findings(tmp, round(100 * (1 - params.stats.alpha)))
    write_json(metrics_path, json_safe(gaze_metrics(seen.selection, labels, rates, comparisons,
                                                    len(chosen))))
    selected = int(seen.selection["selected"].sum()) if len(seen.selection) else 0
    with_face = int(labels["has_face"].sum()) if len(labels) else 0
    return GazeOutcome(len(seen.selection), selected, with_face, len(chosen))


def _write_findings(folder: Path, level: int) -> None:
    """What the report shows of this stage (findings/): the label rates, wide, and the
    differences between attribute values, derived from the CSVs just written as every reader
    of them reads them."""
    rates = read_stats_table(folder / "rates.csv", producer="gaze")
    comparisons = read_stats_table(folder / "comparisons.csv", producer="gaze")
    wide, notable = gaze_tables(rates, comparisons, level)
    (folder / FINDINGS_DIR).mkdir()
    wide.to_csv(findings_path(folder, "rates.csv"), index=False)
    notable.to_csv(findings_path(folder, "differences.csv"), index=False)


def _crops_by_image(image_crops: pd.DataFrame, saliency: pd.DataFrame,
                    ratios: list[float]) -> dict[str, pd.DataFrame]:
    """Each image's single-image crops, refused in one line when score-crops' table does not
    cover every configured aspect ratio and every image of the saliency table."""
    missing = set(ratios) - set(image_crops["aspect_ratio"].astype(float))
    if missing:
        raise InputFileError(
            f"single-image crops lack aspect ratio(s) {sorted(missing)} of crops.aspect_ratios "
            "(re-run `cropaudit score-crops`)"
        )
    crops_by_image = {str(k): v for k, v in image_crops.groupby("image_id", sort=False)}
    uncovered = set(saliency["image_id"].astype(str)) - set(crops_by_image)
    if uncovered:
        raise InputFileError(
            f"single-image crops lack {len(uncovered)} image(s) of the saliency table, e.g. "
            f"{sorted(uncovered)[0]!r} (re-run `cropaudit score-crops`)"
        )
    return crops_by_image


@dataclass
class _Seen:
    """What the gaze analysis made of every image: the selection table (one row per image),
    the labels of the selected ones (by image_id), and their salient regions and results."""

    selection: pd.DataFrame
    labels: pd.DataFrame
    regions: dict[str, Any]
    results: dict[str, Any]


def _look_at_images(saliency: pd.DataFrame, crops_by_image: dict[str, pd.DataFrame],
                    info: pd.DataFrame, attributes: list[str], ratios: list[float], g: Any,
                    disable: bool | None) -> _Seen:
    """Salient regions of every image; for those selected (a face to look at), the labels of
    where each crop and the maximum fall."""
    selection_rows, label_rows, regions_by_image, results = [], [], {}, {}
    for row in tqdm(list(saliency.itertuples(index=False)), desc="gaze", unit="img",
                    disable=disable):
        result = result_of(row)
        image_id = str(row.image_id)
        regions = salient_regions(result, g)
        sel = selection_row(result, regions, g)
        sel.update(group=str(row.group), **{a: info.at[image_id, a] for a in attributes})
        selection_rows.append(sel)
        if sel["selected"]:
            regions_by_image[image_id], results[image_id] = regions, result
            rows = crops_by_image[image_id].sort_values("aspect_ratio", kind="stable")
            rows = rows.set_index("aspect_ratio").loc[ratios].reset_index()
            label_rows.append({"image_id": image_id, "group": str(row.group),
                               **{a: info.at[image_id, a] for a in attributes},
                               **image_labels(rows, regions, g.min_region_area)})
    labels = pd.DataFrame(label_rows)
    labels = labels.set_index("image_id") if len(labels) else labels
    return _Seen(pd.DataFrame(selection_rows), labels, regions_by_image, results)


def _empty_labels(ratios: list[float]) -> pd.DataFrame:
    from cropaudit.gaze.analysis import MAX_ON_FACE, OTHER_REGION, crop_column

    cols = ["group", "has_face", MAX_ON_FACE, OTHER_REGION, *map(crop_column, ratios)]
    return pd.DataFrame(columns=cols)


def _sheet(path: Path, dataset_path: Path, row: pd.Series, result, regions, crop_rows,
           ratios, min_area: int, title: str, *, hard_limit: int) -> None:
    from cropaudit.imaging.upright import decode_upright

    file = image_path(dataset_path, str(row["path"]))
    upright = decode_upright(file, str(file), max_pixels=SHEET_MAX_PIXELS,
                             hard_limit=hard_limit, limit_label="the sheet size")
    by_ratio = crop_rows.set_index("aspect_ratio")
    crops = [Crop(int(by_ratio.at[r, "crop_left"]), int(by_ratio.at[r, "crop_top"]),
                  int(by_ratio.at[r, "crop_width"]), int(by_ratio.at[r, "crop_height"]), r)
             for r in ratios]
    draw_sheet(path, upright.rgb, result, regions, crops, min_area=min_area, title=title)
