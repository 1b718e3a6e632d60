"""Which croppers exist: the built-ins and those installed packages declare.

Third-party packages register a :class:`~cropaudit.croppers.base.CropperSpec` under the
entry-point group ``cropaudit.croppers`` (``[project.entry-points."cropaudit.croppers"]`` in
their pyproject.toml; the entry point's name must be the spec's name). They are found with
:mod:`importlib.metadata` each time the registry is read, so installing a package is all it
takes. A built-in name cannot be taken over; a plugin that fails to load is reported and
skipped, never silently replaced.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Any

from cropaudit.croppers.base import Cropper, CropperContext, CropperSpec
from cropaudit.croppers.params import ENTRY_POINT_GROUP
from cropaudit.errors import ConfigError

log = logging.getLogger(__name__)


def builtin_specs() -> list[CropperSpec]:
    """The croppers shipped with cropaudit, in listing order."""
    from cropaudit.croppers.command import COMMAND
    from cropaudit.croppers.face_center import FACE_CENTER
    from cropaudit.croppers.models import CENTER, FASTGAZE
    from cropaudit.croppers.opencv import OPENCV_FINEGRAINED, OPENCV_SPECTRAL
    from cropaudit.croppers.smartcrop import SMARTCROP

    return [FASTGAZE, CENTER, SMARTCROP, OPENCV_SPECTRAL, OPENCV_FINEGRAINED, FACE_CENTER,
            COMMAND]


def plugin_specs(reserved: set[str] | None = None) -> tuple[list[CropperSpec], list[str]]:
    """(specs of installed plugins, one-line problems with the ones that could not be used)."""
    specs: list[CropperSpec] = []
    problems: list[str] = []
    reserved = set(reserved or ())
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        where = f"entry point {ep.name!r} ({ep.value})"
        try:
            obj = ep.load()
        except Exception as exc:
            problems.append(f"{where}: cannot be loaded ({type(exc).__name__}: {exc})")
            continue
        spec = obj() if callable(obj) and not isinstance(obj, CropperSpec) else obj
        if not isinstance(spec, CropperSpec):
            problems.append(f"{where}: is {type(spec).__name__}, not a CropperSpec")
        elif spec.name != ep.name:
            problems.append(f"{where}: declares name {spec.name!r}, not {ep.name!r}")
        elif spec.name in reserved:
            problems.append(f"{where}: the name {spec.name!r} is already taken")
        else:
            specs.append(spec)
            reserved.add(spec.name)
    return specs, problems


def available(*, warn: bool = True) -> dict[str, CropperSpec]:
    """Every usable cropper by name: built-ins first, then plugins by name."""
    specs = {s.name: s for s in builtin_specs()}
    plugins, problems = plugin_specs(set(specs))
    if warn:
        for p in problems:
            log.warning("cropper plugin skipped: %s", p)
    specs.update((s.name, s) for s in plugins)
    return specs


def get_spec(name: str) -> CropperSpec:
    """The spec of one cropper, or a one-line error listing the known ones."""
    builtin = {s.name: s for s in builtin_specs()}
    if name in builtin:  # a built-in name cannot be taken over: no need to scan the
        return builtin[name]  # installed packages' entry points (≈ 0.1 s of start-up)
    specs = available()
    if name not in specs:
        raise ConfigError(f"unknown cropper {name!r} (known: {', '.join(specs)}; "
                          "`cropaudit croppers` lists them)")
    return specs[name]


def load_cropper(name: str, context: CropperContext | None = None) -> Cropper:
    """Build a cropper by name (imports its heavy libraries only now)."""
    return get_spec(name).build(context)


def cropper_from_params(params: Any, name: str, model_path: str | None = None,
                        options: dict[str, str] | None = None) -> Cropper:
    """The cropper ``name`` as a stage runs it, with the run's params.

    Its settings are ``cropper_options.<name>`` of params.yaml, updated by ``options``.
    """
    merged = {**getattr(params, "cropper_options", {}).get(name, {}), **(options or {})}
    context = CropperContext(model=params.model, model_path=model_path, faces=params.faces,
                             options=merged)
    return load_cropper(name, context)
