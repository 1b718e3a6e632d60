"""``app:`` section of params.yaml: how the crop explorer is served and what it accepts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AppParams(BaseModel):
    """Settings of ``cropaudit app`` (command-line flags override host and port)."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="interface to serve on (local only by default)")
    port: int = Field(8050, ge=1, le=65535, description="TCP port")
    max_upload_pixels: int = Field(
        40_000_000,
        ge=1, le=100_000_000,
        description="images with more pixels are downscaled to this for analysis (with a notice)",
    )
    max_upload_mb: float = Field(
        50.0, gt=0, le=1024, description="largest image upload accepted, in megabytes (a drop "
        "of several files shares it: the server refuses larger requests before reading them)"
    )
    cache_size: int = Field(
        256, ge=1, le=100_000,
        description="saliency results kept in memory (per image hash and model)"
    )
    top_k: int = Field(5, ge=0, le=100, description="grid cells marked as top-k points by default")
    allowed_hosts: list[str] = Field(
        ["127.0.0.1", "localhost", "::1"], max_length=100,
        description="host names the app answers to (Host and Origin headers); others get 403, "
        "which stops DNS-rebinding pages. The interface served on (--host) is added",
    )
    max_stored_images: int = Field(
        100, ge=2, le=100_000,
        description="uploaded images kept; beyond, the least recently used go"
    )
    max_store_mb: float = Field(
        1024.0, gt=0, le=1_048_576,
        description="disk the upload folder may use (pixels and files), in MB"
    )
