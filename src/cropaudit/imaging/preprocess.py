"""From an image file (or an in-memory composite) to the exact network input of the original.

FastGaze's scores, hence salient points and crops, move with single grey levels of its input,
so this module rebuilds the ``candidate_crops`` input bit for bit (see the reference README,
``shared/reference/README.md``): decode like libjpeg-turbo/libpng (JPEG DCT scaling, PNG alpha
rule, 16-bit high byte), fit the long side to 320 with the original's resampling
(:mod:`cropaudit.imaging.resample`), apply the EXIF orientation *after* the resize, subtract
the Caffe means in RGB order. It also computes the left-right symmetry flag that makes the
original centre its crops horizontally.

NumPy and Pillow only (no TensorFlow), so it can run in data-loading threads.
"""

from __future__ import annotations

import functools
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile

from cropaudit.errors import CropauditError, InputFileError
from cropaudit.geometry.grid import fit_size
from cropaudit.imaging.libwebp import decode_webp
from cropaudit.imaging.resample import halve, resize_high_quality
from cropaudit.imaging.source import exif_orientation, is_jpeg, open_image
from cropaudit.untrusted import quote_name

#: Per-channel means subtracted from R, G, B (Caffe's BGR means, applied in RGB order).
CHANNEL_MEANS = np.array([103.939, 116.779, 123.68], dtype=np.float32)
#: Most DCT scaling steps libjpeg is asked for (scale 1/8).
MAX_DCT_HALVINGS = 3
#: Source rows decoded and halved at a time for large images (even: halving pairs rows).
DECODE_STRIP_ROWS = 512
#: Side of the thumbnail the symmetry rule compares with its mirror image.
SYMMETRY_SIDE = 10
#: Images whose symmetry score is below this are treated as left-right symmetric.
SYMMETRY_THRESHOLD = 25.0


@dataclass(frozen=True)
class DecodedImage:
    """Decoded RGB pixels in the file's stored (unrotated) frame, before any resize.

    ``pixels`` may be smaller than ``stored_width`` × ``stored_height``: JPEGs and WebPs are
    decoded at a reduced scale when that still covers the network size, as the original does,
    and other large images arrive already halved once (the resize's own first step).
    """

    pixels: np.ndarray
    stored_width: int
    stored_height: int
    orientation: int
    format: str

    @property
    def oriented_size(self) -> tuple[int, int]:
        """(width, height) in the frame the results are reported in (EXIF 5..8 swap axes)."""
        if self.orientation >= 5:
            return self.stored_height, self.stored_width
        return self.stored_width, self.stored_height


@dataclass(frozen=True)
class PreparedImage:
    """One image ready for the network, with the sizes needed to map its grid back.

    ``network_input`` is float32 H×W×3 (NHWC without the batch axis), RGB, mean-subtracted.
    ``fitted`` is the same image as uint8 (after resize and orientation). ``width``/``height``
    are the original size in the oriented frame, which is where coordinates are reported.
    """

    network_input: np.ndarray
    fitted: np.ndarray
    width: int
    height: int
    net_width: int
    net_height: int
    symmetric: bool
    symmetry_score: float


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------


def dct_halvings(width: int, height: int, target_w: int, target_h: int) -> int:
    """How many times the JPEG decoder may halve (rounding up) and still cover the target."""
    n, rw, rh = 0, width, height
    while n < MAX_DCT_HALVINGS and -(-rw // 2) >= target_w and -(-rh // 2) >= target_h:
        rw, rh, n = -(-rw // 2), -(-rh // 2), n + 1
    return n


def decode_image(
    path: str | os.PathLike[str], max_pixels: int, *, full_resolution: bool = False
) -> DecodedImage:
    """Decode an image file to RGB uint8 as the original program sees it (before resizing).

    JPEG and WebP are decoded reduced when that still covers the network size, as the
    original does; ``full_resolution`` turns that off for WebP (callers wanting every pixel
    decode JPEG themselves, see :mod:`cropaudit.imaging.upright`).

    Raises :class:`InputFileError` (one line naming the file) for missing, empty, non-image,
    oversized, truncated or corrupt files.
    """
    p = Path(path)
    img = open_image(p, max_pixels)
    try:
        with img:
            width, height = img.size
            fmt = img.format or "unknown"
            orientation = exif_orientation(img)
            if is_jpeg(img):
                pixels = _decode_jpeg(img, *fit_size(width, height))
            elif fmt == "WEBP" and not getattr(img, "is_animated", False):
                target = (width, height) if full_resolution else fit_size(width, height)
                pixels = _decode_webp(img, p, *target)
            else:
                decode: Callable[[Image.Image], np.ndarray]
                if fmt == "PNG":
                    decode = functools.partial(_decode_png, bit_depth=_png_header(p)[0])
                else:
                    decode = _decode_other
                if full_resolution:
                    pixels = decode(img)
                else:
                    pixels = _decode_halved(img, decode, *fit_size(width, height))
    except InputFileError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
        raise InputFileError(f"{quote_name(p)}: cannot decode image ({_one_line(exc)})") from None
    return DecodedImage(pixels, width, height, orientation, fmt)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _decode_jpeg(img: ImageFile.ImageFile, target_w: int, target_h: int) -> np.ndarray:
    """libjpeg-turbo decode (ISLOW, fancy upsampling) at the original's DCT scale 1/2ⁿ.

    Pillow ≥ 13 decodes byte-identically to the original when asked through ``draft``.
    Greyscale becomes three equal channels; CMYK goes through Pillow's conversion.
    """
    width, height = img.size
    n = dct_halvings(width, height, target_w, target_h)
    scale = 1 << n
    expected = (-(-width // scale), -(-height // scale))
    if n:
        if width // scale >= 1 and height // scale >= 1:
            img.draft("RGB", (width // scale, height // scale))
        if img.size != expected:
            # A side shorter than 2ⁿ (e.g. 1-pixel-high strips): draft() cannot express the
            # scale through a requested size, so set libjpeg's scale the way draft() does.
            _force_jpeg_scale(img, scale)
        if img.size != expected:
            raise InputFileError(
                f"{os.fsdecode(img.filename)}: JPEG decoded at {img.size}, expected {expected}"
            )
    img.load()
    if img.mode == "L":
        grey = np.asarray(img)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if img.mode != "RGB":
        return np.asarray(img.convert("RGB")).copy()
    return np.asarray(img).copy()


def _force_jpeg_scale(img: ImageFile.ImageFile, scale: int) -> None:
    """Mirror of Pillow's ``JpegImageFile.draft`` for an explicit power-of-two scale."""
    d, e, o, a = img.tile[0]
    if e is None:  # JPEG tiles always have extents; this tells the type checker so
        raise InputFileError(f"{quote_name(os.fsdecode(img.filename))}: JPEG without tile extents")
    e = (e[0], e[1], (e[2] - e[0] + scale - 1) // scale + e[0],
         (e[3] - e[1] + scale - 1) // scale + e[1])
    img._size = (-(-img.size[0] // scale), -(-img.size[1] // scale))  # private, as draft() does
    img.tile = [type(img.tile[0])(d, e, o, a)]
    img.decoderconfig = (scale, 0)


def _png_header(path: Path) -> tuple[int, int]:
    """(bit depth, colour type) from the PNG IHDR chunk."""
    with open(path, "rb") as fh:
        head = fh.read(26)
    if len(head) < 26 or head[12:16] != b"IHDR":
        raise InputFileError(f"{quote_name(path)}: PNG without a valid IHDR chunk")
    return head[24], head[25]


def _decode_halved(
    img: Image.Image, decode: Callable[[Image.Image], np.ndarray], target_w: int, target_h: int
) -> np.ndarray:
    """Decode, and halve once already when the resize would start by halving (big images).

    The resize to the network size begins with 2×2 box halvings (:func:`resize_high_quality`),
    so doing the first one here, strip by strip, gives the same bytes while only the decoder's
    own buffer and one half-size image exist at full size: a 100-megapixel PNG costs about
    0.5 GB instead of several.
    """
    width, height = img.size
    if width // 2 < target_w or height // 2 < target_h:
        return decode(img)
    img.load()
    rows = 2 * (height // 2)  # an odd last row is dropped by the halving anyway
    out = np.empty((height // 2, width // 2, 3), dtype=np.uint8)
    for y0 in range(0, rows, DECODE_STRIP_ROWS):
        y1 = min(rows, y0 + DECODE_STRIP_ROWS)
        out[y0 // 2 : y1 // 2] = halve(decode(img.crop((0, y0, width, y1))))
    return out


def _decode_png(img: Image.Image, bit_depth: int) -> np.ndarray:
    """libpng-style decode: expand to RGB(A), 16-bit keeps the high byte, tRNS → alpha.

    The original's alpha rule: fully transparent pixels become white, all others keep their
    RGB unchanged (no blending). ICC profiles and gamma are ignored. ``img`` may be a strip
    cropped from the decoded image (it keeps its mode, palette and transparency key).
    """
    img.load()
    mode = img.mode
    key = img.info.get("transparency")
    alpha: np.ndarray | None = None
    if mode == "P":
        if img.palette is None:
            raise ValueError("palette PNG without a palette")
        palette = np.frombuffer(img.palette.tobytes(), dtype=np.uint8)
        palette = palette[: len(palette) // 3 * 3].reshape(-1, 3)
        lut = np.zeros((256, 3), dtype=np.uint8)
        lut[: min(256, len(palette))] = palette[:256]
        index = np.asarray(img)
        rgb = lut[index]
        if key is not None:
            alpha_lut = np.full(256, 255, dtype=np.uint8)
            if isinstance(key, bytes):
                alpha_lut[: min(256, len(key))] = np.frombuffer(key[:256], dtype=np.uint8)
            else:
                alpha_lut[int(key)] = 0
            alpha = alpha_lut[index]
    elif mode in ("I;16", "I;16B", "I;16L", "I"):
        sixteen = np.asarray(img).astype(np.uint32)
        grey = (sixteen >> 8).astype(np.uint8) if bit_depth == 16 else sixteen.astype(np.uint8)
        rgb = np.repeat(grey[:, :, None], 3, axis=2)
        if key is not None:
            alpha = np.where(sixteen == int(key), 0, 255).astype(np.uint8)
    elif mode in ("1", "L"):
        grey = np.asarray(img.convert("L"))
        rgb = np.repeat(grey[:, :, None], 3, axis=2)
        if key is not None:
            # Pillow scales 1/2/4-bit samples to 0..255; the tRNS key is in sample units.
            scale = {1: 255, 2: 85, 4: 17}.get(bit_depth, 1)
            alpha = np.where(grey == int(key) * scale, 0, 255).astype(np.uint8)
    elif mode == "LA":
        la = np.asarray(img)
        rgb = np.repeat(la[:, :, :1], 3, axis=2)
        alpha = la[:, :, 1]
    elif mode == "RGBA":
        rgba = np.asarray(img)
        rgb, alpha = rgba[:, :, :3], rgba[:, :, 3]
    elif mode == "RGB":
        rgb = np.asarray(img)
        if key is not None:
            # Pillow keeps only the high byte of 16-bit samples, so a 16-bit colour key is
            # compared on high bytes (exact for 8-bit PNGs).
            k: np.ndarray = np.array(key, dtype=np.uint32)
            if bit_depth == 16:
                k = k >> 8
            alpha = np.where((rgb == k.astype(np.uint8)).all(axis=2), 0, 255).astype(np.uint8)
    else:
        return _decode_other(img)
    return _apply_alpha_rule(rgb, alpha)


def _decode_webp(img: Image.Image, path: Path, target_w: int, target_h: int) -> np.ndarray:
    """libwebp's scaled decode at imagecore's read size (:mod:`cropaudit.imaging.libwebp`).

    Without a loadable libwebp, Pillow decodes at full size (a warning says so).
    """
    planes = decode_webp(path, target_w, target_h)
    if planes is None:
        return _decode_other(img)
    return _apply_alpha_rule(*planes)


def _decode_other(img: Image.Image) -> np.ndarray:
    """Other formats (GIF, BMP, TIFF, animated WebP...): Pillow's RGBA, alpha rule applied."""
    rgba = np.asarray(img.convert("RGBA"))
    return _apply_alpha_rule(rgba[:, :, :3], rgba[:, :, 3])


def _apply_alpha_rule(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Alpha 0 → white; any other alpha keeps the RGB unchanged; alpha is dropped."""
    if alpha is None:
        return np.array(rgb, dtype=np.uint8, copy=True)
    # OR with 255 where transparent (else 0): white there, untouched elsewhere; much faster
    # than boolean-mask assignment.
    white = (alpha == 0).view(np.uint8) * np.uint8(255)
    return np.bitwise_or(rgb, white[:, :, None], dtype=np.uint8)


# ---------------------------------------------------------------------------------------------
# Orientation, symmetry, normalisation
# ---------------------------------------------------------------------------------------------


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an H×W×C array; other values leave it unchanged.

    2 flip horizontal, 3 rotate 180°, 4 flip vertical, 5 transpose, 6 rotate 90° clockwise,
    7 transverse, 8 rotate 90° counter-clockwise.
    """
    if orientation == 2:
        out = image[:, ::-1]
    elif orientation == 3:
        out = image[::-1, ::-1]
    elif orientation == 4:
        out = image[::-1]
    elif orientation == 5:
        out = image.swapaxes(0, 1)
    elif orientation == 6:
        out = image[::-1].swapaxes(0, 1)
    elif orientation == 7:
        out = image[::-1, ::-1].swapaxes(0, 1)
    elif orientation == 8:
        out = image.swapaxes(0, 1)[::-1]
    else:
        out = image
    return np.ascontiguousarray(out)


def symmetry_score(fitted: np.ndarray) -> float:
    """The original's left-right symmetry score of an 8-bit RGB image (lower = more symmetric).

    The image is resized to 10×10 ("high quality"); the 300 absolute differences with its
    mirror image are sorted and element (n−1)·95//100 taken; score = that / (max − min + 10)
    · 137, where max/min are over the 10×10 image's samples, in float32.
    """
    thumb = resize_high_quality(fitted, SYMMETRY_SIDE, SYMMETRY_SIDE).astype(np.int32)
    diffs = np.sort(np.abs(thumb - thumb[:, ::-1]), axis=None)
    p95 = diffs[(diffs.size - 1) * 95 // 100]
    spread = int(thumb.max()) - int(thumb.min()) + 10
    return float(np.float32(p95) / np.float32(spread) * np.float32(137))


def normalise(fitted: np.ndarray) -> np.ndarray:
    """Network input: float32 RGB minus the channel means (no /255, no std)."""
    return fitted.astype(np.float32) - CHANNEL_MEANS


def _prepare(fitted: np.ndarray, width: int, height: int) -> PreparedImage:
    score = symmetry_score(fitted)
    fitted.setflags(write=False)
    return PreparedImage(
        network_input=normalise(fitted),
        fitted=fitted,
        width=width,
        height=height,
        net_width=int(fitted.shape[1]),
        net_height=int(fitted.shape[0]),
        symmetric=score < SYMMETRY_THRESHOLD,
        symmetry_score=score,
    )


def prepare_file(path: str | os.PathLike[str], max_pixels: int) -> PreparedImage:
    """Decode, fit to 320 (stored frame), orient, and normalise an image file."""
    decoded = decode_image(path, max_pixels)
    net_w, net_h = fit_size(decoded.stored_width, decoded.stored_height)
    fitted = resize_high_quality(decoded.pixels, net_w, net_h)
    fitted = apply_orientation(fitted, decoded.orientation)
    width, height = decoded.oriented_size
    return _prepare(fitted, width, height)


def prepare_array(rgb: np.ndarray) -> PreparedImage:
    """Prepare an in-memory composite: upright RGB uint8 H×W×3, no JPEG scaling, no EXIF."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 \
            or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        shape = getattr(rgb, "shape", None)
        dtype = getattr(rgb, "dtype", type(rgb).__name__)
        raise CropauditError(f"array input must be non-empty uint8 HxWx3, got {dtype} {shape}")
    height, width = rgb.shape[:2]
    fitted = resize_high_quality(np.ascontiguousarray(rgb), *fit_size(width, height))
    return _prepare(fitted, width, height)
