"""Croppers: every image cropper an audit can compare, behind one interface.

:mod:`~cropaudit.croppers.base` defines the interface (:class:`Cropper`, its results
:class:`Cropping`, provenance :class:`CropperInfo`, registry entries :class:`CropperSpec`);
:mod:`~cropaudit.croppers.registry` finds the built-ins (``fastgaze``, ``center``,
``smartcrop``, ``opencv-spectral``, ``opencv-finegrained``, ``face-center``, ``command``) and
third-party ones (entry-point group ``cropaudit.croppers``). Importing this package imports
nothing (import from the submodules, so that each command's code dependencies stay what it
runs); each cropper imports its libraries when it is built. See docs/croppers.md.
"""
