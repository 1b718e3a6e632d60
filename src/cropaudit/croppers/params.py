"""``croppers:`` and ``cropper_options:`` of params.yaml, checked without loading any cropper.

The configuration is read by every command, so validating the cropper list must not import
OpenCV, smartcrop or MTCNN: the built-in names are listed here (the registry checks it builds
exactly these), plugins are found by their entry-point names alone.
"""

from __future__ import annotations

from importlib.metadata import entry_points

#: Entry-point group third-party croppers register under.
ENTRY_POINT_GROUP = "cropaudit.croppers"
#: Built-in croppers in listing order, and whether each runs offline (what an audit runs by
#: default): ``command`` needs a program the user names.
BUILTIN_CROPPERS: dict[str, bool] = {
    "fastgaze": True,
    "center": True,
    "smartcrop": True,
    "opencv-spectral": True,
    "opencv-finegrained": True,
    "face-center": True,
    "command": False,
}


def default_croppers() -> list[str]:
    """The built-ins an audit runs by default: every one that runs offline."""
    return [name for name, offline in BUILTIN_CROPPERS.items() if offline]


def known_cropper_names() -> list[str]:
    """Built-in names, then installed plugins' entry-point names (not loaded)."""
    plugins = sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)
                     if ep.name not in BUILTIN_CROPPERS)
    return [*BUILTIN_CROPPERS, *plugins]


def check_names(names: list[str]) -> list[str]:
    """``croppers:`` of params.yaml: at least one, no repeats, each one installed."""
    if not names:
        raise ValueError("list at least one cropper")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"cropper {repeated[0]!r} is listed twice")
    if all(n in BUILTIN_CROPPERS for n in names):
        return names  # no need to scan installed packages' entry points
    known = known_cropper_names()
    for n in names:
        if n not in known:
            raise ValueError(f"unknown cropper {n!r} (known: {', '.join(known)})")
    return names
