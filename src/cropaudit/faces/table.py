"""The faces table (``data/<dataset>/faces.parquet``): reading it back and summarising it.

Apart from :mod:`cropaudit.faces.detect` so that the stages that only *use* the table
(score-crops, stats) do not load the detector (and TensorFlow with it).
"""

from __future__ import annotations

import os

import pandas as pd

from cropaudit.contracts import FACE_COLUMNS, read_stage_table
from cropaudit.errors import InputFileError


def read_faces(path: str | os.PathLike[str], table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Read the faces table; with the dataset table, check that it covers every image."""
    faces = read_stage_table(path, FACE_COLUMNS, what="faces table", producer="faces")
    if table is not None:
        missing = set(table["image_id"].astype(str)) - set(faces["image_id"].astype(str))
        if missing:
            example = sorted(missing)[0]
            raise InputFileError(
                f"{path}: {len(missing)} dataset image(s) not in the faces table, e.g. "
                f"{example!r} (re-run `cropaudit faces`)"
            )
    return faces


def primary_faces(faces: pd.DataFrame) -> pd.DataFrame:
    """"The" face of each image that has one, indexed by image_id (box + image size)."""
    primary = faces[faces["primary"].astype(bool)]
    return primary.set_index(primary["image_id"].astype(str))[
        ["x", "y", "width", "height", "confidence", "image_width", "image_height"]]


def summary(faces: pd.DataFrame) -> dict[str, object]:
    """Counts for logs and metrics: images, images with a face, faces, rate per group."""
    per_image = faces.drop_duplicates("image_id")
    found = per_image["n_faces"] > 0
    by_group = found.groupby(per_image["group"]).mean()
    return {
        "images": len(per_image),
        "with_face": int(found.sum()),
        "faces": int((faces["face_index"] >= 0).sum()),
        "detection_rate": float(found.mean()) if len(per_image) else float("nan"),
        "detection_rate_by_group": {str(g): float(v) for g, v in by_group.items()},
    }

