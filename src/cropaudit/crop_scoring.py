"""Crops of each composite and how much of each member image survives them.

Which member holds the salient point is the paper's measure; what a viewer actually loses is
the part of each image outside the crop. For every composite and configured aspect ratio this
computes the crop the cropper would show (same geometry as the original program, see
:mod:`cropaudit.crops`) and each member's *retention*: the fraction of its area inside the
crop. A member that loses its whole area was cropped out of the picture.
"""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cropaudit.crops import DEFAULT_ASPECT_RATIOS, candidate_crops, intersection_area
from cropaudit.tables import CROP_COLUMNS


class CropsParams(BaseModel):
    """``crops:`` section of params.yaml."""

    model_config = ConfigDict(extra="forbid")

    aspect_ratios: list[float] = Field(
        default_factory=lambda: list(DEFAULT_ASPECT_RATIOS),
        min_length=1,
        description="crop aspect ratios (height / width), as Twitter's cropper used them",
    )

    @field_validator("aspect_ratios")
    @classmethod
    def _positive(cls, v: list[float]) -> list[float]:
        if any(not (r > 0 and r < float("inf")) for r in v):
            raise ValueError("aspect ratios must be positive numbers")
        if len(set(v)) != len(v):
            raise ValueError("aspect ratios must not repeat")
        return v


def score_crops(outcomes: pd.DataFrame, aspect_ratios: list[float]) -> pd.DataFrame:
    """One row per member and aspect ratio: the crop window and the member's retention."""
    rows: list[dict[str, object]] = []
    ordered = outcomes.sort_values(["tuple_id", "position"])
    for _, t in ordered.groupby("tuple_id", sort=True):
        first = t.iloc[0]
        symmetric = bool(first["symmetric"]) if "symmetric" in t.columns else False
        crops = candidate_crops(
            int(first["composite_width"]), int(first["composite_height"]),
            (int(first["salient_x"]), int(first["salient_y"])), aspect_ratios,
            symmetric=symmetric,
        )
        for m in t.itertuples(index=False):
            area = float(m.width * m.height)
            for c in crops:
                rows.append({
                    "tuple_id": int(m.tuple_id), "comparison": m.comparison, "kind": m.kind,
                    "position": int(m.position), "image_id": m.image_id, "group": m.group,
                    "won": bool(m.won), "aspect_ratio": c.aspect_ratio,
                    "crop_left": c.left, "crop_top": c.top,
                    "crop_width": c.width, "crop_height": c.height,
                    "retention": intersection_area(c, (m.x, m.y, m.width, m.height)) / area,
                })
    return pd.DataFrame(rows, columns=list(CROP_COLUMNS))


def retention_summary(crops: pd.DataFrame) -> pd.DataFrame:
    """Mean retention and share of members cropped out entirely, per group and aspect ratio."""
    g = crops.groupby(["kind", "group", "aspect_ratio"], sort=True)["retention"]
    out = pd.DataFrame({
        "members": g.size(),
        "mean_retention": g.mean(),
        "cropped_out": g.apply(lambda s: float((s == 0).mean())),
    })
    return out.reset_index()
