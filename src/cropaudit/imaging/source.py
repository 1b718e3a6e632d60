"""Opening image files with clear, one-line errors before any pixel is decoded.

Every backend goes through :func:`open_image`, so a missing file, a non-image, a zero-size
image or a decompression bomb is reported the same way whichever model runs.
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from pathlib import Path

from PIL import Image, ImageFile, UnidentifiedImageError

from cropaudit.errors import InputFileError
from cropaudit.untrusted import quote_name

#: EXIF tag holding the orientation (1..8).
EXIF_ORIENTATION = 0x0112


def file_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` is not a regular file, in a few words; None when it is one.

    ``Path.exists()`` is False for a symbolic link loop, a dangling link and a permission
    error alike, so each would read "no such file"; ``os.stat``'s error says which it is.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        if exc.errno == errno.ENOENT:
            return "broken symbolic link" if os.path.islink(path) else "no such file"
        return (exc.strerror or type(exc).__name__).lower()
    except ValueError:  # a NUL byte in the name
        return "invalid file name"
    return None if stat.S_ISREG(st.st_mode) else "not a regular file"


def open_image(
    path: str | os.PathLike[str], max_pixels: int, *, name: str | None = None
) -> ImageFile.ImageFile:
    """Open (not decode) an image, checking existence, format, size and the pixel limit.

    ``max_pixels`` (``model.max_pixels``) is the decompression-bomb limit; Pillow's own global
    warning threshold is ignored so that the configured limit is the one that applies.
    ``name`` is how the file is called in messages (e.g. an upload's name, not its temp path);
    it is quoted there when it holds anything unusual (:func:`cropaudit.untrusted.quote_name`).
    """
    p = Path(path)
    name = quote_name(name or str(p))
    problem = file_problem(p)
    if problem:
        raise InputFileError(f"{name}: {problem}")
    if p.stat().st_size == 0:
        raise InputFileError(f"{name}: empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(p)
    except UnidentifiedImageError:
        raise InputFileError(f"{name}: not a recognised image file") from None
    except Image.DecompressionBombError:
        raise InputFileError(f"{name}: image too large (decompression bomb check)") from None
    except OSError as exc:
        raise InputFileError(f"{name}: cannot open image ({exc})") from None
    w, h = img.size
    if w <= 0 or h <= 0:
        img.close()
        raise InputFileError(f"{name}: image has zero size ({w}x{h})")
    if w * h > max_pixels:
        img.close()
        raise InputFileError(
            f"{name}: {w}x{h} = {w * h} pixels exceeds the limit of {max_pixels} "
            "(model.max_pixels)"
        )
    return img


def is_jpeg(img: Image.Image) -> bool:
    """JPEG files, including camera files Pillow reports as MPO (multi-picture JPEG)."""
    return img.format in ("JPEG", "MPO")


def exif_orientation(img: Image.Image) -> int:
    """EXIF orientation 1..8 as the original applies it (1 when absent or invalid).

    Only JPEG EXIF blocks count: the original reads the orientation from a JPEG's APP1 EXIF
    segment and nowhere else, so PNG eXIf chunks and XMP ``tiff:Orientation`` (which Pillow's
    ``getexif`` falls back to) are ignored.
    """
    raw = img.info.get("exif") if is_jpeg(img) else None
    if not raw:
        return 1
    try:
        exif = Image.Exif()
        exif.load(raw)
        value = int(exif.get(EXIF_ORIENTATION, 1))
    except Exception:  # malformed EXIF must not stop the audit; the original ignores it too
        return 1
    return value if 1 <= value <= 8 else 1


def oriented_size(img: Image.Image) -> tuple[int, int]:
    """(width, height) after applying the EXIF orientation (5..8 swap the axes)."""
    w, h = img.size
    return (h, w) if exif_orientation(img) >= 5 else (w, h)
