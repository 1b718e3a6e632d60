"""``probes:`` section of params.yaml: which fragility probes run, each a list of settings.

Every probe re-shows a seeded subsample of the audit's own pair tuples (results/pairs.parquet)
to every cropper of ``croppers:``, changed in one way at a time, and measures the change
against the unchanged (baseline) composites. An empty list switches a probe off. Defaults are
the published settings (Hoppe's padding offsets, the paper's two scalings, a WACV-style 3×1
grid) at a size that keeps ``snakemake --cores 2`` on the demo reasonable.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Probe kinds of the composition probes, in report order.
COMPOSITION_KINDS = ("padding", "gap", "order", "layout", "scaling", "jpeg", "grid")
#: Scripts of the text-overlay edit (one sentence each, drawn with a Noto font).
Script = Literal["latin", "arabic", "cjk", "devanagari"]
SCRIPTS: tuple[str, ...] = get_args(Script)
Tone = Literal["greyscale", "sepia"]
Order = Literal["swapped"]
LayoutName = Literal["horizontal", "vertical"]
ScalingName = Literal["none", "fixed_height", "max_side"]


#: Most settings one probe may list (each is a rerun of every cropper on the probe's tuples).
MAX_SETTINGS = 50


def _unique(values: list) -> list:
    if len(values) > MAX_SETTINGS:
        raise ValueError(f"at most {MAX_SETTINGS} settings, got {len(values)}")
    if len(set(values)) != len(values):
        raise ValueError("settings must not repeat")
    return values


class EditsParams(BaseModel):
    """``probes.edits``: counterfactual edits of single images, localised with face boxes."""

    model_config = ConfigDict(extra="forbid")

    images_per_group: int = Field(
        2, ge=0, le=10_000,
        description="images edited per group (with a detected face; seeded draw); 0 = off")
    luminance_steps: list[float] = Field(
        default_factory=lambda: [-0.25, -0.2, -0.15, -0.1, -0.05, 0.05, 0.1, 0.15, 0.2, 0.25],
        description="lightness change inside the face box (fraction of full scale, CIELAB L*)")
    hue_steps: list[float] = Field(
        default_factory=lambda: [-25.0, -20.0, -15.0, -10.0, -5.0, 5.0, 10.0, 15.0, 20.0, 25.0],
        description="hue rotation inside the face box, degrees")
    tone: list[Tone] = Field(
        default_factory=lambda: list(get_args(Tone)), description="whole-image tone edits")
    hair_lighten: list[float] = Field(
        default_factory=lambda: [0.3, 0.6],
        description="blend toward white of the region above the face box (0..1)")
    text: list[Script] = Field(
        default_factory=lambda: list(get_args(Script)),
        description="scripts of the one-sentence overlay (skipped when its font is absent)")

    @field_validator("luminance_steps", "hue_steps", "tone", "hair_lighten", "text")
    @classmethod
    def _no_repeats(cls, v: list) -> list:
        return _unique(v)

    @field_validator("luminance_steps")
    @classmethod
    def _luminance(cls, v: list[float]) -> list[float]:
        if any(not -1 <= s <= 1 or s == 0 for s in v):
            raise ValueError("steps must be non-zero and within -1..1")
        return v

    @field_validator("hair_lighten")
    @classmethod
    def _hair(cls, v: list[float]) -> list[float]:
        if any(not 0 < s <= 1 for s in v):
            raise ValueError("amounts must be in (0, 1]")
        return v


class ProbesParams(BaseModel):
    """``probes:`` section of params.yaml (docs/probes.md)."""

    model_config = ConfigDict(extra="forbid")

    tuples_per_comparison: int = Field(
        10, ge=1, le=100_000,
        description="base tuples per pair comparison re-shown by every probe (seeded draw; "
                    "both orders of each are kept)")
    top_k: int = Field(10, ge=1, le=10_000, description="cells counted by the top-k share")
    padding: list[int] = Field(
        default_factory=lambda: [0, 6, 13, 19, 26, 31],
        description="blank pixels added before the composite (Hoppe's offsets)")
    padding_side: Literal["left", "top"] = "left"
    gap: list[int] = Field(default_factory=lambda: [16, 64],
                           description="pixels between members")
    order: list[Order] = Field(default_factory=lambda: list(get_args(Order)),
                               description="members shown in reverse order")
    layout: list[LayoutName] = Field(default_factory=lambda: list(get_args(LayoutName)))
    scaling: list[ScalingName] = Field(default_factory=lambda: list(get_args(ScalingName)))
    scaling_size: int = Field(256, ge=1, le=10_000,
                              description="pixels for fixed_height / max_side")
    jpeg: list[int] = Field(default_factory=lambda: [95, 75, 50],
                            description="JPEG quality the composite is re-encoded at")
    grid: list[float] = Field(
        default_factory=lambda: [1.0],
        description="3×1 grids (top face, blank, bottom face): blank height / taller member")
    edits: EditsParams = Field(default_factory=EditsParams)

    @field_validator("padding", "gap", "order", "layout", "scaling", "jpeg", "grid")
    @classmethod
    def _no_repeats(cls, v: list) -> list:
        return _unique(v)

    @field_validator("padding", "gap")
    @classmethod
    def _pixels(cls, v: list[int]) -> list[int]:
        if any(not 0 <= p <= 10_000 for p in v):
            raise ValueError("pixels must be in 0..10000")
        return v

    @field_validator("jpeg")
    @classmethod
    def _quality(cls, v: list[int]) -> list[int]:
        if any(not 1 <= q <= 100 for q in v):
            raise ValueError("JPEG quality must be in 1..100")
        return v

    @field_validator("grid")
    @classmethod
    def _grid(cls, v: list[float]) -> list[float]:
        if any(not 0 <= b <= 10 for b in v):
            raise ValueError("blank height must be in 0..10 member heights")
        return v

    def kinds(self) -> list[str]:
        """The composition probes switched on (a non-empty list), in report order."""
        return [k for k in COMPOSITION_KINDS if getattr(self, k)]
