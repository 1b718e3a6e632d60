"""Bit-exact image resampling of the original ``candidate_crops`` program (pure NumPy).

The program fits every image into 320 pixels with the "high quality" path of Twitter's image
library before the network sees it. The network is sensitive to single grey levels, so
reproducing its salient points needs the same pixels, not merely similar ones: Pillow's own
LANCZOS is off by up to 88 levels. This module follows the behaviour documented in the
reference README (``shared/reference/README.md``, section "Resize path"):

- :func:`halve`: 2×2 box, ``(a+b+c+d) >> 2`` (truncating), odd last row/column dropped;
- :func:`downsample_12tap`: the adaptive Lanczos-3 filter, weights computed in float32 exactly
  as the C code does, applied in 16.16 fixed point with bias 32767, horizontal pass first;
- :func:`upsample_4tap`: the fixed 4-tap Lanczos-2 up-sampler with its two-stage shifts;
- :func:`resize_high_quality`: the choice between copy, up-sampling and halving + 12-tap.

Weight tables depend only on (in, out) sizes and are cached, since composites repeat sizes.
Each pass is one gather of whole rows and one integer ``einsum`` over the taps (≤ 12), in
int32: every sum fits (|Σ W·p| < 2·65536·255), so the result is exact.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

_F = np.float32
#: Taps of the "high quality" down-sampling kernel (Lanczos-3 over a 12-sample window).
KERNEL_SIZE = 12
#: 16.16 fixed point of the filter weights.
_ONE = 65536
#: Rounding bias of the 12-tap filter: 32767, not 32768 (checked against the original).
_BIAS_12TAP = 32767


# ---------------------------------------------------------------------------------------------
# Weight tables
# ---------------------------------------------------------------------------------------------


def _sinc(x: np.float32) -> np.float32:
    """sin(πx)/(πx) in double from a float32 argument, rounded to float32; sinc(0) = 1.

    ``math.sin`` (the C library's) rather than ``np.sin``: NumPy may use SIMD approximations
    whose last-bit differences can flip a 16.16 weight.
    """
    if x == 0:
        return _F(1.0)
    xpi = float(x) * math.pi
    return _F(math.sin(xpi) / xpi)


def _lanczos2_fixed(x: np.float32) -> np.float32:
    """The up-sampler's kernel sin(πx)·sin(πx/2)/(πx)², πx floored at 1e-6 (so K(0) = 0.5)."""
    px = max(math.pi * float(x), 0.000001)
    return _F(math.sin(px) * math.sin(px * 0.5) / (px * px))


def _sinc_array(x: np.ndarray) -> np.ndarray:
    """:func:`_sinc` of a float32 array, element for element the same bits.

    The products and quotient are IEEE double operations in NumPy as in Python; only the sine
    is taken one value at a time from ``math.sin``, for the reason :func:`_sinc` gives.
    """
    xpi = x.astype(np.float64) * math.pi
    sin = np.fromiter(map(math.sin, xpi.ravel().tolist()), np.float64, xpi.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (sin.reshape(x.shape) / xpi).astype(np.float32)
    return np.where(x == 0, _F(1.0), out)


@lru_cache(maxsize=256)
def downsample_weights(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and 16.16 weights of the 12-tap filter, both of shape (out_size, taps).

    Indices are already clamped to ``[0, in_size)`` (borders repeat the edge pixel); unused
    taps have weight 0. Arithmetic is float32 step by step, as in the original C code, on
    whole (out_size × taps) arrays: every composite of a pair run has a size of its own, and
    a table computed one weight at a time in Python cost two thirds of its preprocessing (and
    held the GIL the other threads needed). ``tests/test_resample.py`` checks it against the
    C code's loop transcribed one weight at a time.
    """
    if in_size <= 0 or out_size <= 0:
        raise ValueError(f"sizes must be positive, got {in_size} -> {out_size}")
    ratio = _F(out_size) / _F(in_size)
    inv_ratio = _F(in_size) / _F(out_size)
    # (kernelSize * 0.5) - 0.00001f is computed in double, then stored as float.
    max_window = _F(KERNEL_SIZE * 0.5 - float(_F(0.00001)))
    window = min(max_window, _F(_F(KERNEL_SIZE) * _F(0.25)) * inv_ratio)
    inv_filter_scale = _F(1.0) / _F(_F(KERNEL_SIZE) * _F(0.25))
    half, eps = _F(0.5), _F(0.00001)

    sample = (np.arange(out_size, dtype=np.float32) + half) * inv_ratio - eps
    start = np.trunc(sample - window + half).astype(np.intp)  # C cast: toward zero
    end = np.trunc(sample + window + half).astype(np.intp)
    counts = end - start
    taps = int(counts.max())
    if taps <= 0:  # a window under one pixel (never for a real down-sampling): no taps at all
        empty = np.zeros((out_size, 0), dtype=np.intp)
        return empty, empty.astype(np.int32)
    k = np.arange(taps)
    used = k[None, :] < counts[:, None]
    source = start[:, None] + k[None, :]
    pos = ratio * ((source.astype(np.float32) - sample[:, None]) + half)
    weights = np.where(used, _sinc_array(pos) * _sinc_array(pos * inv_filter_scale), _F(0.0))
    # The C loop sums in float32 from the first tap on: a sequential accumulate (adding the
    # zero weights of unused taps changes no bit).
    total = np.add.accumulate(weights, axis=1, dtype=np.float32)[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):  # rows without a tap are unused
        normalised = weights * (_F(1.0) / total)[:, None]
    # (int)(w * 65536.0f): the product is exact (power of two), the cast truncates.
    fixed = np.where(used, np.trunc(normalised * _F(_ONE)), 0).astype(np.int32)
    last = np.where(counts > 0, np.clip(start + counts - 1, 0, in_size - 1), 0)
    index = np.where(used, np.clip(source, 0, in_size - 1), last[:, None]).astype(np.intp)
    index.setflags(write=False)
    fixed.setflags(write=False)
    return index, fixed


@lru_cache(maxsize=256)
def upsample_weights(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Source indices (start−1 … start+2, clamped) and 16.16 weights of the 4-tap up-sampler."""
    if in_size <= 0 or out_size <= 0:
        raise ValueError(f"sizes must be positive, got {in_size} -> {out_size}")
    ratio = _F(in_size) / _F(out_size)
    half, one, two = _F(0.5), _F(1.0), _F(2.0)
    index = np.zeros((out_size, 4), dtype=np.intp)
    fixed = np.zeros((out_size, 4), dtype=np.int32)
    for i in range(out_size):
        in_pos = max(_F(0.0), (_F(i) + half) * ratio - half)
        start = math.floor(in_pos)
        frac = in_pos - _F(start)
        a = _lanczos2_fixed(frac + one)
        b = _lanczos2_fixed(frac)
        c = _lanczos2_fixed(one - frac)
        d = _lanczos2_fixed(two - frac)
        scale = one / (((a + b) + c) + d)
        w = np.array([a * scale, b * scale, c * scale, d * scale], dtype=np.float32)
        fixed[i] = np.trunc(w * _F(_ONE)).astype(np.int32)
        index[i] = np.clip(np.arange(start - 1, start + 3), 0, in_size - 1)
    index.setflags(write=False)
    fixed.setflags(write=False)
    return index, fixed


# ---------------------------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------------------------


def _filter_axis0(src: np.ndarray, index: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Σ_k fixed[i, k] · src[index[i, k]] along axis 0, as int32 of shape (out, *src.shape[1:]).

    One gather of whole rows (out × taps × rest, the source's small dtype) and one integer
    ``einsum``: exact, and several times faster than a multiply-add per tap.
    """
    return np.einsum("ot...,ot->o...", src[index], fixed, dtype=np.int32)


def _require_image(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(
            f"expected a non-empty uint8 H×W×C image, got {image.dtype} {image.shape}"
        )


#: Output rows :func:`halve` computes at a time (bounds its temporary memory).
_HALVE_STRIP_ROWS = 256


def halve(image: np.ndarray) -> np.ndarray:
    """2×2 box reduction ``(a+b+c+d) >> 2``; size floor(W/2)×floor(H/2), odd edge dropped."""
    _require_image(image)
    h, w = image.shape[0] // 2, image.shape[1] // 2
    if h == 0 or w == 0:
        raise ValueError(f"cannot halve an image of {image.shape[1]}x{image.shape[0]}")
    out = np.empty((h, w, image.shape[2]), dtype=np.uint8)
    # In strips of output rows, so the 16-bit sums of a huge image never exist all at once.
    for r0 in range(0, h, _HALVE_STRIP_ROWS):
        r1 = min(h, r0 + _HALVE_STRIP_ROWS)
        s = image[2 * r0 : 2 * r1, : 2 * w].astype(np.uint16)
        total = s[0::2, 0::2] + s[0::2, 1::2] + s[1::2, 0::2] + s[1::2, 1::2]
        out[r0:r1] = total >> 2
    return out


def downsample_12tap(image: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """The 12-tap Lanczos-3 filter: horizontal pass into 8 bits, then vertical.

    Each pass: ``clamp((Σ W·p + 32767) >> 16, 0, 255)`` with edge-repeating borders.
    """
    _require_image(image)
    h, w = image.shape[:2]
    # Horizontal: filter along axis 1 by working on the transposed image (rows gather fast).
    index, fixed = downsample_weights(w, out_w)
    acc = _filter_axis0(np.ascontiguousarray(image.swapaxes(0, 1)), index, fixed)
    across = _shift_clamp(acc, 16, _BIAS_12TAP)  # (out_w, h, C)
    index, fixed = downsample_weights(h, out_h)
    acc = _filter_axis0(np.ascontiguousarray(across.swapaxes(0, 1)), index, fixed)
    return _shift_clamp(acc, 16, _BIAS_12TAP)


def upsample_4tap(image: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """The 4-tap Lanczos-2 up-sampler on both axes.

    Rows first: r = (Σ Wx·p) >> 10 (kept as int, not clamped); then
    ``clamp((Σ Wy·r + 2²¹ − 1) >> 22, 0, 255)``.
    """
    _require_image(image)
    h, w = image.shape[:2]
    index, fixed = upsample_weights(w, out_w)
    rows = _filter_axis0(np.ascontiguousarray(image.swapaxes(0, 1)), index, fixed) >> 10
    index, fixed = upsample_weights(h, out_h)
    acc = _filter_axis0(np.ascontiguousarray(rows.swapaxes(0, 1)), index, fixed)
    return _shift_clamp(acc, 22, (1 << 21) - 1)


def _shift_clamp(acc: np.ndarray, shift: int, bias: int) -> np.ndarray:
    acc += bias
    acc >>= shift  # arithmetic shift on int32, as in C
    np.clip(acc, 0, 255, out=acc)
    return acc.astype(np.uint8)


def resize_high_quality(image: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """The original's "high quality" resize of an 8-bit image to ``out_w`` × ``out_h``.

    Equal size: copy. Either side growing: the 4-tap up-sampler on both axes. Otherwise halve
    while both halves still cover the target (stopping if that hits it exactly), then the
    12-tap filter from the size reached.
    """
    _require_image(image)
    if out_w <= 0 or out_h <= 0:
        raise ValueError(f"target size must be positive, got {out_w}x{out_h}")
    h, w = image.shape[:2]
    if (w, h) == (out_w, out_h):
        return image.copy()
    if out_w > w or out_h > h:
        return upsample_4tap(image, out_w, out_h)
    current = image
    while current.shape[1] // 2 >= out_w and current.shape[0] // 2 >= out_h:
        current = halve(current)
        if current.shape[1] == out_w and current.shape[0] == out_h:
            return current
    return downsample_12tap(current, out_w, out_h)
