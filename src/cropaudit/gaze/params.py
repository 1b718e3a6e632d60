"""``gaze:`` section of params.yaml: which images the gaze analysis looks at, and how."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class GazeParams(BaseModel):
    """``gaze:`` section of params.yaml: which images the gaze analysis looks at, and how."""

    model_config = ConfigDict(extra="forbid")

    selection: Literal["paper", "all"] = Field(
        "paper", description="paper: tall images with >= min_regions large regions; all: all"
    )
    min_aspect_ratio: float = Field(1.25, gt=0, le=100,
                                    description="tall = height / width >= this")
    min_regions: int = Field(2, ge=1, le=1000, description="large salient regions an image needs")
    min_region_area: int = Field(1000, ge=0, le=1_000_000_000,
                                 description="large = area > this, image pixels")
    percentile: float = Field(
        90.0, ge=0, lt=100, description="saliency cells at or below this percentile are zeroed "
        "before Otsu (0 = keep all)"
    )
    upsampling: Literal["nearest", "spline"] = Field(
        "nearest", description="grid to image pixels: nearest cell (paper) or bicubic spline"
    )
    closing_size: int = Field(3, ge=1, le=1000,
                              description="side of the square closing footprint, px")
    review_attribute: str | None = Field(
        None, description="attribute whose values get review sheets (null: every group)"
    )
    review_per_value: int = Field(
        100, ge=0, le=100_000,
        description="review sheets per value of review_attribute (the paper: 100)"
    )
