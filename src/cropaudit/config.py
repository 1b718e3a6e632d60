"""The one configuration: ``params.yaml``, validated once at the entry of every command.

Snakemake reads the same file as its ``configfile`` and DVC as its ``params``. Each concept
module owns the schema of its own section (a pydantic model named ``<Concept>Params``); this
module only composes them, so adding a parameter touches one place. Unknown keys are errors:
a typo in params.yaml must not silently fall back to a default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cropaudit.app.params import AppParams
from cropaudit.croppers.registry import check_names, default_croppers
from cropaudit.datasets.params import DatasetParams
from cropaudit.errors import ConfigError
from cropaudit.faces.detect import FacesParams
from cropaudit.gaze.analysis import GazeParams
from cropaudit.probes.params import ProbesParams
from cropaudit.reporting.report import ReportParams
from cropaudit.reporting.tracking import TrackingParams
from cropaudit.saliency.model_store import ModelParams
from cropaudit.stages.pair_saliency import SaliencyParams
from cropaudit.stages.sample_pairs import SamplingParams
from cropaudit.stages.score_crops import CropsParams
from cropaudit.stats.params import StatsParams

DEFAULT_PARAMS_FILE = "params.yaml"


class Params(BaseModel):
    """Top level of params.yaml."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(20210517, description="master seed: every random choice derives from it")
    model: ModelParams = Field(default_factory=ModelParams)
    dataset: DatasetParams = Field(default_factory=DatasetParams)
    sampling: SamplingParams = Field(default_factory=SamplingParams)
    saliency: SaliencyParams = Field(default_factory=SaliencyParams)
    crops: CropsParams = Field(default_factory=CropsParams)
    faces: FacesParams = Field(default_factory=FacesParams)
    gaze: GazeParams = Field(default_factory=GazeParams)
    stats: StatsParams = Field(default_factory=StatsParams)
    report: ReportParams = Field(default_factory=ReportParams)
    tracking: TrackingParams = Field(default_factory=TrackingParams)
    app: AppParams = Field(default_factory=AppParams)
    croppers: list[str] = Field(
        default_factory=default_croppers,
        description="croppers audited side by side on the same tuples (results/croppers/)",
    )
    cropper_options: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="settings per cropper, e.g. {command: {template: 'prog {image}'}}",
    )
    probes: ProbesParams = Field(default_factory=ProbesParams)

    @field_validator("croppers")
    @classmethod
    def _known_croppers(cls, v: list[str]) -> list[str]:
        return check_names(v)


def _format_validation_error(exc: ValidationError, source: str) -> str:
    """One line naming the first offending field, e.g. ``params.yaml: sampling.n: ...``."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "<top level>"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{source}: {field}: {err['msg']}{more}"


def parse_params(data: dict[str, Any] | None, source: str = "params") -> Params:
    """Validate an already-loaded mapping (e.g. Snakemake's ``config``)."""
    try:
        return Params.model_validate(data or {})
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, source)) from None


def load_params(path: str | os.PathLike[str] | None = None) -> Params:
    """Read and validate params.yaml (a missing default file means all defaults)."""
    explicit = path is not None
    p = Path(path if path is not None else DEFAULT_PARAMS_FILE)
    if not p.exists():
        if explicit:
            raise ConfigError(f"{p}: parameters file not found")
        return Params()
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" line {line + 1}" if line is not None else ""
        raise ConfigError(f"{p}:{where} invalid YAML") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{p}: top level must be a mapping")
    return parse_params(data, source=str(p))
