"""``model:`` section of params.yaml: which saliency backend, and where its weights come from.

Kept apart from the model-file code (:mod:`cropaudit.saliency.model_store`) so that
:mod:`cropaudit.config` composes the sections' schemas without importing what uses them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FASTGAZE_COMMIT = "d66ad3bb3881fdbd12a27e04c3e57cc8fd772dd1"
FASTGAZE_URL = (
    "https://raw.githubusercontent.com/twitter-research/image-crop-analysis/"
    f"{FASTGAZE_COMMIT}/bin/fastgaze.vxm"
)
FASTGAZE_SHA256 = "b76cefc218ec8969cc62b26ad0f41111800421287e7f2725d808da1d90afbdf7"
ENV_LOCAL_MODEL = "CROPAUDIT_FASTGAZE"


class ModelParams(BaseModel):
    """``model:`` section of params.yaml: which backend, and where its weights come from."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["fastgaze", "center"] = Field(
        "fastgaze", description="fastgaze = Twitter's model; center = centred Gaussian baseline"
    )
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
    batch_size: int = Field(16, gt=0, description="images per network batch")
    max_pixels: int = Field(
        100_000_000, gt=0, description="refuse images with more pixels (decompression bombs)"
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
