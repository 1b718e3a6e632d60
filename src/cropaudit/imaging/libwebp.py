"""WebP decoding the way the original program does it: libwebp's own scaled decode.

Twitter's ``candidate_crops`` reads WebP through imagecore (``formats/internal/webp.cpp``),
which does not decode at full size and then resize, as it does for PNG. Like the JPEG DCT
scaling, it first picks a *read size*: the stored size halved (rounding up) at most **two**
times while both halves still cover the requested size; then ``WebPDecode`` runs with
``options.use_scaling = 1`` to that size, so libwebp's own rescaler does the first reduction
(``no_fancy_upsampling = 0``, single-threaded, RGBA output). The usual resize continues from
the decoded size. Pillow cannot ask libwebp for a scaled decode, hence this small binding.

The binding is cffi's ABI mode over the system's shared libwebp (Debian: ``libwebp7``), so
nothing is compiled at install time and the security updates of the distribution apply. The
structures below are those of ``webp/decode.h`` (decoder ABI 2.x, libwebp ≥ 0.5), whose
layout has not changed since.

Fidelity: libwebp 1.0.3 (2019) changed the rounding of its vertical shrink (upstream commit
ab2dc893, "Rescaler: fix rounding error"). The original program was built against an older
libwebp, so a current one differs from it by a grey level here and there on downscaled WebP
(measured on ``shared/reference/webp``: median max score difference 0.024). ``make setup``
therefore builds the distribution's own libwebp source, security patches included, with only
that commit reverted (``scripts/build_libwebp.sh``), into the virtual environment's
``lib/cropaudit-libwebp``; with it every reference WebP is bit-exact. Libraries are looked up
in this order: ``$CROPAUDIT_LIBWEBP`` (a path or soname), that build, the system's libwebp.
Old libwebp builds (< 1.0.3) also round the original way, but lack the fix for
CVE-2023-4863 (a heap overflow on crafted lossless WebP): name one only for trusted images.
"""

from __future__ import annotations

import ctypes.util
import functools
import json
import logging
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cropaudit.errors import InputFileError
from cropaudit.untrusted import quote_name

log = logging.getLogger(__name__)

#: The most halvings imagecore's WebP reader asks libwebp for (JPEG allows three).
MAX_WEBP_HALVINGS = 2
#: Decoder ABI major version of ``webp/decode.h`` the structures below follow.
_DECODER_ABI = 0x0200
#: Environment variable naming a specific libwebp shared library (path or soname).
LIBWEBP_ENV = "CROPAUDIT_LIBWEBP"
#: libwebp version (``WebPGetDecoderVersion``) from which the vertical rescaler rounds
#: differently from the original program's.
ROUNDING_CHANGE_VERSION = (1, 0, 3)
#: Folder, under the environment's ``lib``, that ``scripts/build_libwebp.sh`` installs into.
BUILD_FOLDER = "cropaudit-libwebp"
#: File beside a library built by that script, saying how it was built.
BUILD_INFO = "BUILD-INFO.json"

_CDEF = """
typedef struct { uint8_t* rgba; int stride; size_t size; } WebPRGBABuffer;
typedef struct { uint8_t* y; uint8_t* u; uint8_t* v; uint8_t* a;
  int y_stride; int u_stride; int v_stride; int a_stride;
  size_t y_size; size_t u_size; size_t v_size; size_t a_size; } WebPYUVABuffer;
typedef struct { int colorspace; int width; int height; int is_external_memory;
  union { WebPRGBABuffer RGBA; WebPYUVABuffer YUVA; } u;
  uint32_t pad[4]; uint8_t* private_memory; } WebPDecBuffer;
typedef struct { int width; int height; int has_alpha; int has_animation; int format;
  uint32_t pad[5]; } WebPBitstreamFeatures;
typedef struct { int bypass_filtering; int no_fancy_upsampling; int use_cropping;
  int crop_left; int crop_top; int crop_width; int crop_height;
  int use_scaling; int scaled_width; int scaled_height; int use_threads;
  int dither_strength; int flip; int alpha_dithering_strength; uint32_t pad[5]; }
  WebPDecoderOptions;
typedef struct { WebPBitstreamFeatures input; WebPDecBuffer output;
  WebPDecoderOptions options; } WebPDecoderConfig;
int WebPGetDecoderVersion(void);
int WebPInitDecoderConfigInternal(WebPDecoderConfig*, int);
int WebPGetFeaturesInternal(const uint8_t*, size_t, WebPBitstreamFeatures*, int);
int WebPDecode(const uint8_t*, size_t, WebPDecoderConfig*);
"""
#: ``WEBP_CSP_MODE`` value for non-premultiplied RGBA output.
_MODE_RGBA = 1
#: ``VP8StatusCode`` names, for error messages.
_STATUS = {
    1: "out of memory",
    2: "invalid parameter",
    3: "bitstream error",
    4: "unsupported feature",
    5: "suspended",
    6: "user abort",
    7: "not enough data",
}


@dataclass(frozen=True)
class LibWebP:
    """A loaded libwebp: the cffi handles, its version (major, minor, revision), where it
    came from, and whether a build note beside it says its rescaler rounds the original way."""

    ffi: Any
    lib: Any
    version: tuple[int, int, int]
    name: str
    built_with_original_rounding: bool = False

    @property
    def matches_original_rounding(self) -> bool:
        """Whether its rescaler rounds like the libwebp the original program was built with:
        a release before 1.0.3, or a build of ``scripts/build_libwebp.sh``."""
        return self.built_with_original_rounding or self.version < ROUNDING_CHANGE_VERSION


def project_build(prefix: str | os.PathLike[str] | None = None) -> Path | None:
    """The library ``make setup`` built into ``<prefix>/lib/cropaudit-libwebp`` (prefix: the
    running environment), if it is there with its build note."""
    folder = Path(sys.prefix if prefix is None else prefix) / "lib" / BUILD_FOLDER
    library = folder / "libwebp.so.7"
    return library if library.is_file() and (folder / BUILD_INFO).is_file() else None


def _built_with_original_rounding(library: str) -> bool:
    """What the build note beside ``library`` says (False without one, or if unreadable)."""
    note = Path(library).parent / BUILD_INFO
    if not Path(library).is_absolute() or not note.is_file():
        return False
    try:
        return json.loads(note.read_text(encoding="utf-8")).get("rounding") == "original"
    except (OSError, ValueError, AttributeError):
        return False


@functools.cache
def load_libwebp() -> LibWebP | None:
    """``$CROPAUDIT_LIBWEBP``, else the project's build, else the system's libwebp; None when
    none can be loaded.

    A library named explicitly that cannot be loaded is an error (a typo must not silently
    fall back); a missing system library only costs fidelity (see :func:`decode_webp`).
    """
    import cffi  # cheap, but only needed for WebP inputs

    requested = os.environ.get(LIBWEBP_ENV, "").strip()
    built = project_build()
    name = (requested or (str(built) if built else None) or ctypes.util.find_library("webp")
            or "libwebp.so.7")
    ffi = cffi.FFI()
    ffi.cdef(_CDEF)
    try:
        if built is not None and not requested:
            _load_companions(built)
        lib = ffi.dlopen(name)
        packed = int(lib.WebPGetDecoderVersion())
    except (OSError, AttributeError) as exc:
        if requested:
            msg = f"{LIBWEBP_ENV}={requested}: cannot load libwebp ({exc})"
            raise InputFileError(msg) from None
        return None
    version = ((packed >> 16) & 0xFF, (packed >> 8) & 0xFF, packed & 0xFF)
    return LibWebP(ffi, lib, version, name, _built_with_original_rounding(name))


def _load_companions(library: Path) -> None:
    """Libraries a build links beside itself (libsharpyuv from libwebp 1.3 on), loaded
    globally first so that the build's own dependency on them resolves by name."""
    import ctypes

    for companion in sorted(library.parent.glob("libsharpyuv.so*")):
        ctypes.CDLL(str(companion), mode=ctypes.RTLD_GLOBAL)


def webp_read_size(width: int, height: int, target_w: int, target_h: int) -> tuple[int, int]:
    """imagecore's ``computeReadDimensions`` for WebP: halve (rounding up) ≤ 2 times.

    Each halving must leave both sides at least as large as the target, so the decoded image
    still covers the network size.
    """
    rw, rh = width, height
    for _ in range(MAX_WEBP_HALVINGS):
        hw, hh = -(-rw // 2), -(-rh // 2)
        if hw < target_w or hh < target_h:
            break
        rw, rh = hw, hh
    return rw, rh


def decode_webp(path: Path, target_w: int, target_h: int) -> tuple[np.ndarray, np.ndarray] | None:
    """RGB and alpha planes of a still WebP at imagecore's read size, or None without libwebp.

    Returns ``(rgb, alpha)`` uint8 arrays of the read size (:func:`webp_read_size`). Raises
    :class:`InputFileError` for a file libwebp rejects.
    """
    webp = load_libwebp()
    if webp is None:
        _warn_missing_libwebp()
        return None
    ffi, lib = webp.ffi, webp.lib
    data = path.read_bytes()
    config = ffi.new("WebPDecoderConfig*")
    if not lib.WebPInitDecoderConfigInternal(config, _DECODER_ABI):
        raise InputFileError(f"{path}: libwebp {webp.version} has an incompatible decoder ABI")
    status = lib.WebPGetFeaturesInternal(data, len(data), ffi.addressof(config, "input"),
                                         _DECODER_ABI)
    if status != 0:
        raise InputFileError(
            f"{quote_name(path)}: cannot decode WebP ({_STATUS.get(status, status)})")
    width, height = int(config.input.width), int(config.input.height)
    read_w, read_h = webp_read_size(width, height, target_w, target_h)
    rgba = np.empty((read_h, read_w, 4), dtype=np.uint8)
    options = config.options
    options.use_threads = 0
    options.no_fancy_upsampling = 0
    if (read_w, read_h) != (width, height):
        if not webp.matches_original_rounding:
            _warn_rounding(".".join(map(str, webp.version)), webp.name)
        options.use_scaling = 1
        options.scaled_width = read_w
        options.scaled_height = read_h
    out = config.output
    out.colorspace = _MODE_RGBA
    out.is_external_memory = 1
    out.u.RGBA.rgba = ffi.cast("uint8_t*", ffi.from_buffer(rgba))
    out.u.RGBA.stride = read_w * 4
    out.u.RGBA.size = rgba.nbytes
    status = lib.WebPDecode(data, len(data), config)
    if status != 0:
        raise InputFileError(
            f"{quote_name(path)}: cannot decode WebP ({_STATUS.get(status, status)})")
    return rgba[:, :, :3], rgba[:, :, 3]


@functools.cache
def _warn_missing_libwebp() -> None:
    warnings.warn(
        "libwebp not found (Debian: apt-get install libwebp7, or set "
        f"{LIBWEBP_ENV}); WebP images are decoded by Pillow at full size, which differs "
        "slightly from the original program for downscaled WebP inputs",
        RuntimeWarning,
        stacklevel=3,
    )


@functools.cache
def _warn_rounding(version: str, name: str) -> None:
    """Once per library: why downscaled WebP may differ from the original, and the remedy."""
    log.warning(
        "libwebp %s (%s) rounds its downscaling differently from the original program's "
        "(since 1.0.3): downscaled WebP inputs may differ by a grey level; `make setup` "
        "(scripts/build_libwebp.sh) builds the bit-exact one", version, name)
