"""The one configuration: ``params.yaml``, validated once at the entry of every command.

Snakemake reads the same file as its ``configfile`` and DVC as its ``params``. Each concept
module owns the schema of its own section (a pydantic model named ``<Concept>Params``); this
module only composes them, so adding a parameter touches one place. Unknown keys are errors:
a typo in params.yaml must not silently fall back to a default.

Values are checked strictly (as JSON types): ``n: true`` is not the integer 1 and ``name: 5``
is not a string. The YAML itself is read by :func:`read_yaml_mapping`, which refuses what
YAML allows but a configuration never needs: aliases (``*a``: a few hundred bytes of nested
aliases expand to billions of nodes) and duplicate keys (the last one would silently win).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cropaudit.app.params import AppParams
from cropaudit.croppers.params import check_names, default_croppers
from cropaudit.datasets.params import DatasetParams
from cropaudit.engine.params import ModelParams
from cropaudit.errors import ConfigError
from cropaudit.faces.params import FacesParams
from cropaudit.gaze.params import GazeParams
from cropaudit.probes.params import ProbesParams
from cropaudit.reporting.params import ReportParams, TrackingParams
from cropaudit.stages.params import CropsParams, SaliencyParams, SamplingParams
from cropaudit.stats.params import StatsParams

DEFAULT_PARAMS_FILE = "params.yaml"


class Params(BaseModel):
    """Top level of params.yaml."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(
        20210517, ge=0, lt=2**32,
        description="master seed: every random choice derives from it (0 to 2**32-1)",
    )
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
    primary: str | None = Field(
        None,
        description="the cropper the report and the headline metrics lead with: one of "
        "croppers (null: the first listed)",
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

    @model_validator(mode="after")
    def _primary_is_audited(self) -> Params:
        if self.primary is not None and self.primary not in self.croppers:
            raise ValueError(f"primary: {self.primary!r} is not one of croppers "
                             f"({', '.join(self.croppers)})")
        return self

    @model_validator(mode="after")
    def _aggregates_name_attributes(self) -> Params:
        """Aggregates pool comparisons by one attribute, so each must name one of the groups'.

        Left unset, the defaults (race, gender) are kept for the attributes there are; listed,
        each is checked here, when the params are read, so a workflow refuses a bad one
        before its first job rather than in ``stats`` after the saliency jobs.
        """
        attributes = self.dataset.groups.attributes
        if "aggregates" not in self.stats.model_fields_set:
            self.stats.aggregates = [a for a in self.stats.aggregates
                                     if a.attribute in attributes]
        for i, agg in enumerate(self.stats.aggregates):
            if agg.attribute not in attributes:
                raise ValueError(f"stats.aggregates.{i}.attribute: {agg.attribute!r} is not "
                                 f"one of dataset.groups.attributes {attributes} (list "
                                 "stats.aggregates for these attributes, or [] for none)")
        return self

    @property
    def primary_cropper(self) -> str:
        """The cropper the report and the headline metrics lead with."""
        return self.primary or self.croppers[0]


#: pydantic error types of a number outside its bounds.
_BOUND_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})
_BOUND_SIGNS = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field holds (``X``, ``X | None``, ``list[X]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def allowed_range(loc: tuple[int | str, ...]) -> str:
    """``≥ 1 and ≤ 10000`` for the field at ``loc`` (a pydantic error's location), or ''.

    pydantic names only the bound that was crossed; a user fixing the value wants both.
    """
    model: type[BaseModel] | None = Params
    bounds: list[str] = []
    for part in loc:
        if isinstance(part, int):
            continue  # an item of a list: its field's bounds apply
        info = model.model_fields.get(part) if model is not None else None
        if info is None:
            return ""
        bounds = [f"{sign} {getattr(m, key)}" for m in info.metadata
                  for key, sign in _BOUND_SIGNS if hasattr(m, key)]
        model = _model_in(info.annotation)
    return " and ".join(bounds)


def _format_validation_error(exc: ValidationError, source: str) -> str:
    """One line naming the first offending field, e.g. ``params.yaml: sampling.n: ...``;
    a number out of bounds gets its whole allowed range."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "<top level>"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    allowed = allowed_range(err["loc"]) if err["type"] in _BOUND_ERRORS else ""
    range_text = f" (allowed: {allowed})" if allowed else ""
    return f"{source}: {field}: {err['msg']}{range_text}{more}"


def parse_params(data: dict[str, Any] | None, source: str = "params") -> Params:
    """Validate an already-loaded mapping (e.g. Snakemake's ``config``).

    Strict JSON-mode validation: YAML's ``true`` is not accepted for an integer, nor a number
    for a string (lax mode would coerce both silently); integers still count as floats.
    """
    try:
        text = json.dumps(data or {}, default=str)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: values must be plain YAML scalars, lists and mappings "
                          f"({exc})") from None
    try:
        return Params.model_validate_json(text, strict=True)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, source)) from None


class _NoDuplicateKeys:
    """Constructor mix-in: a mapping key given twice is an error, not "the last one wins"."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)  # type: ignore[attr-defined]
                if isinstance(key, list | dict):
                    continue  # unhashable keys are refused by SafeLoader itself
                if key in seen:
                    raise yaml.MarkedYAMLError(
                        problem=f"duplicate key {key!r} (the last one would silently win)",
                        problem_mark=key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


class _StrictLoader(_NoDuplicateKeys, yaml.SafeLoader):
    """SafeLoader that refuses aliases and duplicate mapping keys (see the module doc)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(
                problem=f"YAML alias *{event.anchor} is not allowed (write the value out)",
                problem_mark=event.start_mark,
            )
        return super().compose_node(parent, index)


#: libyaml's parser (10× faster: a tenth of a one-image ``cropaudit saliency``) composes
#: aliases in C, out of reach of :meth:`_StrictLoader.compose_node`; it reads only texts
#: without a ``*``, which therefore hold no alias.
_FastStrictLoader = (type("_FastStrictLoader", (_NoDuplicateKeys, yaml.CSafeLoader), {})
                     if getattr(yaml, "__with_libyaml__", False) else _StrictLoader)


def read_yaml_mapping(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """A YAML file as a mapping (None when empty), read with :class:`_StrictLoader`.

    Every problem is one :class:`ConfigError` line naming the file and line.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read ({exc.strerror or exc})") from None
    try:
        loader = _StrictLoader if "*" in text else _FastStrictLoader
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        raise ConfigError(f"{p}:{where} {problem or 'invalid YAML'}") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{p}: top level must be a mapping")
    return data


def load_params(path: str | os.PathLike[str] | None = None) -> Params:
    """Read and validate params.yaml (a missing default file means all defaults)."""
    explicit = path is not None
    p = Path(path if path is not None else DEFAULT_PARAMS_FILE)
    if not p.exists():
        if explicit:
            raise ConfigError(f"{p}: parameters file not found")
        return Params()
    return parse_params(read_yaml_mapping(p), source=str(p))
