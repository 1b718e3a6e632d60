"""Crops of each composite and how much of each member image survives them.

Which member holds the salient point is the paper's measure; what a viewer actually loses is
the part of each image outside the crop. For every composite and configured aspect ratio this
computes the crop the cropper would show (same geometry as the original program, see
:mod:`cropaudit.geometry.crops`) and each member's *retention*: the fraction of its area inside the
crop. A member that loses its whole area was cropped out of the picture.

With the faces table (:mod:`cropaudit.faces.detect`) each member's face — "the" face of its image,
rank 0 — is mapped into the composite (:mod:`cropaudit.faces.geometry`) and scored too:
whether the composite's salient point lies in it, the fraction of the face box the crop keeps
and whether it keeps all of it. The same is done for every dataset image shown alone
(:func:`image_crops`, from the single-image saliency), which is what a user posting that one
photo would get. Members and images without a detected face get NA for the face columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cropaudit.contracts import CROP_COLUMNS, CROP_FACE_COLUMNS, IMAGE_CROP_COLUMNS
from cropaudit.faces.geometry import Box, box_in_composite, face_kept, kept_fraction
from cropaudit.geometry.crops import Crop, candidate_crops, intersection_area
from cropaudit.geometry.placement import Placement
from cropaudit.stages.params import CropsParams as CropsParams


def face_scores(face: Box | None, salient: tuple[float, float], crop: Crop
                ) -> dict[str, object]:
    """Face columns of one member (or image) and crop; NA throughout when there is no face."""
    if face is None:
        return {"has_face": False, "face_left": np.nan, "face_top": np.nan,
                "face_width": np.nan, "face_height": np.nan, "salient_in_face": pd.NA,
                "face_retention": np.nan, "face_kept": pd.NA}
    fraction = kept_fraction(face, crop)
    return {"has_face": True, "face_left": face.left, "face_top": face.top,
            "face_width": face.width, "face_height": face.height,
            "salient_in_face": face.contains(*salient), "face_retention": fraction,
            "face_kept": face_kept(fraction) == "full"}


def _primary_boxes(faces: pd.DataFrame | None) -> dict[str, tuple[Box, tuple[int, int]]]:
    """image_id -> (its primary face box, its image size)."""
    if faces is None:
        return {}
    primary = faces[faces["primary"].astype(bool)]
    return {
        str(r.image_id): (Box(float(r.x), float(r.y), float(r.width), float(r.height)),
                          (int(r.image_width), int(r.image_height)))
        for r in primary.itertuples(index=False)
    }


def score_crops(outcomes: pd.DataFrame, aspect_ratios: list[float],
                faces: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per member and aspect ratio: the crop window, retention and (with faces) the
    member's face scores."""
    boxes = _primary_boxes(faces)
    rows: list[dict[str, object]] = []
    ordered = outcomes.sort_values(["tuple_id", "position"])
    for _, t in ordered.groupby("tuple_id", sort=True):
        first = t.iloc[0]
        symmetric = bool(first["symmetric"]) if "symmetric" in t.columns else False
        salient = (int(first["salient_x"]), int(first["salient_y"]))
        crops = candidate_crops(
            int(first["composite_width"]), int(first["composite_height"]), salient,
            aspect_ratios, symmetric=symmetric,
        )
        for m in t.itertuples(index=False):
            area = float(m.width * m.height)
            face = None
            if faces is not None and str(m.image_id) in boxes:
                box, size = boxes[str(m.image_id)]
                placement = Placement(int(m.x), int(m.y), int(m.width), int(m.height),
                                      float(m.scale))
                face = box_in_composite(box, placement, size)
            for c in crops:
                row = {
                    "tuple_id": int(m.tuple_id), "comparison": m.comparison, "kind": m.kind,
                    "position": int(m.position), "image_id": m.image_id, "group": m.group,
                    "won": bool(m.won), "aspect_ratio": c.aspect_ratio,
                    "crop_left": c.left, "crop_top": c.top,
                    "crop_width": c.width, "crop_height": c.height,
                    "retention": intersection_area(c, (m.x, m.y, m.width, m.height)) / area,
                }
                if faces is not None:
                    row.update(face_scores(face, salient, c))
                rows.append(row)
    columns = list(CROP_COLUMNS) + (list(CROP_FACE_COLUMNS) if faces is not None else [])
    return _typed(pd.DataFrame(rows, columns=columns))


def image_crops(saliency: pd.DataFrame, aspect_ratios: list[float],
                faces: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per dataset image and aspect ratio: its own crop and its face scores.

    ``saliency`` is the single-image saliency table (``image-saliency``); crops follow the
    original program (centred horizontally for images it judges symmetric).
    """
    boxes = _primary_boxes(faces)
    rows: list[dict[str, object]] = []
    for r in saliency.itertuples(index=False):
        salient = (int(r.salient_x), int(r.salient_y))
        crops = candidate_crops(int(r.width), int(r.height), salient, aspect_ratios,
                                symmetric=bool(r.symmetric))
        face = boxes.get(str(r.image_id), (None, None))[0]
        for c in crops:
            rows.append({
                "image_id": str(r.image_id), "group": str(r.group), "width": int(r.width),
                "height": int(r.height), "salient_x": salient[0], "salient_y": salient[1],
                "aspect_ratio": c.aspect_ratio, "crop_left": c.left, "crop_top": c.top,
                "crop_width": c.width, "crop_height": c.height,
                **face_scores(face, salient, c),
            })
    return _typed(pd.DataFrame(rows, columns=list(IMAGE_CROP_COLUMNS)))


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Yes/no face columns as nullable booleans (NA = no face), so parquet keeps the NA."""
    for col in ("salient_in_face", "face_kept"):
        if col in df.columns:
            df[col] = df[col].astype("boolean")
    if "has_face" in df.columns:
        df["has_face"] = df["has_face"].astype(bool)
    return df
