"""``model:`` section of params.yaml: Twitter's FastGaze model, where its weights come from.

Kept apart from the model-file code (:mod:`cropaudit.engine.model_store`) so that
:mod:`cropaudit.config` composes the sections' schemas without importing what uses them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

FASTGAZE_COMMIT = "d66ad3bb3881fdbd12a27e04c3e57cc8fd772dd1"
FASTGAZE_URL = (
    "https://raw.githubusercontent.com/twitter-research/image-crop-analysis/"
    f"{FASTGAZE_COMMIT}/bin/fastgaze.vxm"
)
FASTGAZE_SHA256 = "b76cefc218ec8969cc62b26ad0f41111800421287e7f2725d808da1d90afbdf7"
ENV_LOCAL_MODEL = "CROPAUDIT_FASTGAZE"
#: The decompression-bomb limit without ``allow_large_images`` (a 10,000 × 10,000 photo).
DEFAULT_MAX_PIXELS = 100_000_000
#: The limit with it: one image then needs about 3 GB of memory to decode.
LARGE_MAX_PIXELS = 1_000_000_000


class ModelParams(BaseModel):
    """``model:`` section of params.yaml: FastGaze's weights and how it runs; the pixel limit
    of every image read."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_backend(cls, data: object) -> object:
        if isinstance(data, dict) and "backend" in data:
            raise ValueError("model.backend no longer picks a cropper: list them under "
                             "`croppers:` and name the one the report leads with in `primary:`")
        return data

    path: str = Field("models/fastgaze.vxm", description="where fetch-model stores the model")
    url: str = Field(FASTGAZE_URL, description="pinned public download URL")
    sha256: str | None = Field(
        FASTGAZE_SHA256,
        description="expected digest, checked on download and on every load; null accepts any",
    )
    custom: bool = Field(
        False,
        description="audit a model file other than the released one: its digest is not "
        "checked on load (it is still recorded with the run)",
    )
    local_path: str | None = Field(
        None, description=f"local copy used instead of downloading (env {ENV_LOCAL_MODEL} wins)"
    )
    batch_size: int = Field(16, ge=1, le=1024, description="images per network batch")
    # before max_pixels: its validator reads it
    allow_large_images: bool = Field(
        False, description=f"allow max_pixels above {DEFAULT_MAX_PIXELS} (up to "
        f"{LARGE_MAX_PIXELS}): such images take gigabytes of memory each",
    )
    max_pixels: int = Field(
        DEFAULT_MAX_PIXELS, ge=1, le=LARGE_MAX_PIXELS,
        description="refuse images with more pixels (decompression bombs); above "
        f"{DEFAULT_MAX_PIXELS} only with allow_large_images",
    )
    apply_gaussian: bool = Field(
        False, description="apply the model's Gaussian layer (the original program does not)"
    )
    runtime: Literal["auto", "litert", "tensorflow"] = Field(
        "auto", description="auto: TensorFlow (batched) where it sees a GPU, else LiteRT (CPU)"
    )
    precision: Literal["auto", "fp32", "int8"] = Field(
        "auto",
        description="LiteRT: int8 recomputes in fp32 every image whose salient point it could "
        "change (points, crops, winners exact; other scores within ~0.3); auto = int8 only "
        "where that is faster on this machine",
    )
    cache_dir: str | None = Field(
        None, description="converted (LiteRT) models; null: $CROPAUDIT_CACHE_DIR or "
        "~/.cache/cropaudit/litert"
    )

    @field_validator("max_pixels")
    @classmethod
    def _large_images_on_purpose(cls, v: int, info: ValidationInfo) -> int:
        """Raising the decompression-bomb guard is a decision, not a typo: say so."""
        if v > DEFAULT_MAX_PIXELS and not info.data.get("allow_large_images"):
            raise ValueError(
                f"{v} is above the default {DEFAULT_MAX_PIXELS}: set "
                "model.allow_large_images: true to raise the decompression-bomb limit "
                f"(allowed: ≥ 1 and ≤ {DEFAULT_MAX_PIXELS}, or ≤ {LARGE_MAX_PIXELS} with it)")
        return v
