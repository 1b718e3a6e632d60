"""Croppers: every image cropper an audit can compare, behind one interface.

:mod:`~cropaudit.croppers.base` defines the interface (:class:`Cropper`, its results
:class:`Cropping`, provenance :class:`CropperInfo`, registry entries :class:`CropperSpec`);
:mod:`~cropaudit.croppers.registry` finds the built-ins (``fastgaze``, ``center``,
``smartcrop``, ``opencv-spectral``, ``opencv-finegrained``, ``face-center``, ``command``) and
third-party ones (entry-point group ``cropaudit.croppers``). Importing this package is cheap:
each cropper imports its libraries when it is built. See docs/croppers.md.
"""

from __future__ import annotations

from cropaudit.croppers.base import (
    Cropper,
    CropperContext,
    CropperInfo,
    CropperSpec,
    Cropping,
    MapCropper,
    PerImageCropper,
    PixelCropper,
    Pixels,
)
from cropaudit.croppers.registry import (
    ENTRY_POINT_GROUP,
    available,
    default_croppers,
    get_spec,
    load_cropper,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Cropper",
    "CropperContext",
    "CropperInfo",
    "CropperSpec",
    "Cropping",
    "MapCropper",
    "PerImageCropper",
    "PixelCropper",
    "Pixels",
    "available",
    "default_croppers",
    "get_spec",
    "load_cropper",
]
