"""``sampling:``, ``saliency:`` and ``crops:`` sections of params.yaml: how the stages run.

Kept apart from the stages' code so that :mod:`cropaudit.config` composes the sections'
schemas without importing what uses them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cropaudit.contracts import COMPARISON_SEP
from cropaudit.geometry.crops import DEFAULT_ASPECT_RATIOS


class SamplingParams(BaseModel):
    """``sampling:`` section of params.yaml: the design of the composites."""

    model_config = ConfigDict(extra="forbid")

    groups: list[str] = Field(
        default_factory=list, max_length=1000,
        description="groups to compare, in canonical order; empty = every group, sorted",
    )
    pairs: Literal["all", "none"] | list[str] = Field(
        "all", description="'all' pairs of groups, 'none', or a list like ['a~b', 'a~c']"
    )
    together: bool = Field(True, description="also show all groups at once (one k-way tuple)")
    n: int = Field(100, gt=0, le=1_000_000, description="tuples drawn per comparison")
    both_orders: bool = Field(
        True, description="show every tuple also in reverse order (counterbalancing)"
    )
    together_orders: Literal["cyclic", "all", "reverse", "canonical"] = Field(
        "cyclic",
        description="arrangements of each together tuple: cyclic (k rotations, a Latin "
        "square), all (k! orders), reverse (as drawn and reversed: confounds position and "
        "group for k > 2), canonical (as drawn only)",
    )
    layout: Literal["horizontal", "vertical"] = "horizontal"
    scaling: Literal["none", "fixed_height", "max_side"] = Field(
        "none", description="none | fixed_height (scaling_size px high) | max_side"
    )
    scaling_size: int = Field(256, ge=1, le=10_000,
                              description="pixels for fixed_height / max_side")
    padding: int = Field(0, ge=0, le=10_000, description="pixels between members")
    background: tuple[int, int, int] = Field(
        (255, 255, 255), description="RGB colour of padding and empty composite areas"
    )

    @field_validator("background")
    @classmethod
    def _rgb(cls, v: tuple[int, int, int]) -> tuple[int, int, int]:
        if any(not 0 <= c <= 255 for c in v):
            raise ValueError("colour components must be 0..255")
        return v

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, v: str | list[str]) -> str | list[str]:
        if isinstance(v, list):
            for item in v:
                parts = item.split(COMPARISON_SEP)
                if len(parts) != 2 or parts[0] == parts[1] or not all(parts):
                    raise ValueError(f"{item!r} is not 'group1~group2' with two different groups")
        return v


#: Most jobs the saliency stage may be split into (``saliency.shards``, ``--shards``).
MAX_SHARDS = 10_000


class SaliencyParams(BaseModel):
    """``saliency:`` section of params.yaml: how the saliency stage is run (not what it finds)."""

    model_config = ConfigDict(extra="forbid")

    shards: int = Field(2, ge=1, le=MAX_SHARDS,
                        description="Snakemake jobs the stage is split into")
    save_composites: bool = Field(
        False, description="also write each composite as JPEG under "
                           "results/croppers/<cropper>/composites/"
    )
    image_cache_mb: int = Field(
        512, ge=0, le=65_536,
        description="decoded member images kept in memory (they repeat across tuples)"
    )


class CropsParams(BaseModel):
    """``crops:`` section of params.yaml."""

    model_config = ConfigDict(extra="forbid")

    aspect_ratios: list[float] = Field(
        default_factory=lambda: list(DEFAULT_ASPECT_RATIOS),
        min_length=1, max_length=20,
        description="crop aspect ratios (height / width), as Twitter's cropper used them",
    )

    @field_validator("aspect_ratios")
    @classmethod
    def _positive(cls, v: list[float]) -> list[float]:
        if any(not 0.01 <= r <= 100 for r in v):
            raise ValueError("aspect ratios must be in 0.01..100 (height / width)")
        if len(set(v)) != len(v):
            raise ValueError("aspect ratios must not repeat")
        return v
