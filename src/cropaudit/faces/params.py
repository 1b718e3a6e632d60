"""``faces:`` section of params.yaml: how faces are found and which one is "the" face."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class FacesParams(BaseModel):
    """``faces:`` section of params.yaml: how faces are found and which one is "the" face."""

    model_config = ConfigDict(extra="forbid")

    detector: Literal["mtcnn"] = Field("mtcnn", description="face detector (weights in its wheel)")
    min_confidence: float = Field(
        0.9, ge=0.0, le=1.0, description="boxes below this detector confidence are dropped"
    )
    min_face_size: int = Field(
        20, ge=12, le=10_000, description="smallest face side searched for, in detector pixels"
    )
    primary: Literal["largest", "most_confident"] = Field(
        "largest", description="which box is 'the' face of an image (rank 0)"
    )
    max_pixels: int = Field(
        4_000_000, ge=1, le=100_000_000,
        description="larger images are downscaled to detect (boxes mapped back)"
    )
