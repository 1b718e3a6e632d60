"""Saliency of every dataset image on its own, kept with its whole grid of scores.

The pair stages only ever show the model composites. Two analyses need each image alone:
the single-image crops (what the cropper would show if the photo were posted by itself) and
the gaze analysis (the image's saliency map, segmented into regions). Both need the full
grid, not just the salient point, so the table stores the grid's scores and cell centres as
list columns; :func:`result_of` turns a row back into a
:class:`~cropaudit.engine.types.SaliencyResult` without running the model again.

Images are read from their files, so every number equals ``cropaudit saliency FILE``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from cropaudit.contracts import IMAGE_SALIENCY_COLUMNS, read_stage_table
from cropaudit.datasets.table import image_path
from cropaudit.engine.types import ImageFailure, SaliencyModel, SaliencyResult
from cropaudit.errors import InputFileError


def result_row(image_id: str, group: str, result: SaliencyResult) -> dict[str, object]:
    """One table row: the salient point, the symmetry flag and the whole grid."""
    rows, cols = result.scores.shape
    return {
        "image_id": image_id, "group": group, "width": int(result.width),
        "height": int(result.height), "model": result.model,
        "salient_x": int(result.salient_point[0]), "salient_y": int(result.salient_point[1]),
        "symmetric": bool(result.symmetric), "grid_rows": int(rows), "grid_cols": int(cols),
        "grid_x": result.grid_x.astype(np.float32).ravel().tolist(),
        "grid_y": result.grid_y.astype(np.float32).ravel().tolist(),
        "scores": result.scores.astype(np.float32).ravel().tolist(),
    }


def result_of(row: Any) -> SaliencyResult:
    """The SaliencyResult of a table row (attribute access, e.g. from ``itertuples``)."""
    shape = (int(row.grid_rows), int(row.grid_cols))

    def grid(values: object) -> np.ndarray:
        return np.asarray(values, dtype=np.float32).reshape(shape)

    return SaliencyResult(
        source=str(row.image_id),
        width=int(row.width), height=int(row.height),
        grid_x=grid(row.grid_x), grid_y=grid(row.grid_y),
        scores=grid(row.scores),
        salient_point=(int(row.salient_x), int(row.salient_y)),
        symmetric=bool(row.symmetric), model=str(row.model),
    )


def image_saliency(table: pd.DataFrame, dataset_path: str | os.PathLike[str],
                   model: SaliencyModel, *, progress: bool | None = None) -> pd.DataFrame:
    """Run the model on every image of the dataset table (the engine's batch API)."""
    paths = [image_path(dataset_path, str(p)) for p in table["path"]]
    ids = table["image_id"].astype(str).tolist()
    groups = table["group"].astype(str).tolist()
    rows = []
    results = model.predict(paths, sources=[str(p) for p in paths], progress=progress)
    for image_id, group, w, h, result in zip(ids, groups, table["width"], table["height"],
                                             results, strict=True):
        if isinstance(result, ImageFailure):
            raise InputFileError(f"{result.source}: saliency failed ({result.message})")
        if (result.width, result.height) != (int(w), int(h)):
            raise InputFileError(
                f"{result.source}: model saw {result.width}x{result.height} but the dataset "
                f"table says {w}x{h} (re-run `cropaudit prepare-data`)"
            )
        rows.append(result_row(image_id, group, result))
    return pd.DataFrame(rows, columns=list(IMAGE_SALIENCY_COLUMNS))


def read_image_saliency(path: str | os.PathLike[str]) -> pd.DataFrame:
    return read_stage_table(path, IMAGE_SALIENCY_COLUMNS, what="single-image saliency table",
                            producer="image-saliency")
