"""Preprocessing: bit-exact network input, each filter on hand-checkable arrays, every decode path.

Expected values come from the reference README's description of the original program, worked
out independently here (literal per-pixel loops, float64 kernels, Pillow's own transposes),
and from the original's own network inputs in ``shared/reference/network``.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from cropaudit.errors import CropauditError, InputFileError
from cropaudit.geometry.crops import DEFAULT_ASPECT_RATIOS, candidate_crops
from cropaudit.geometry.grid import fit_size
from cropaudit.imaging.preprocess import (
    CHANNEL_MEANS,
    apply_orientation,
    dct_halvings,
    decode_image,
    prepare_array,
    prepare_file,
    symmetry_score,
)
from cropaudit.imaging.resample import (
    downsample_12tap,
    downsample_weights,
    halve,
    resize_high_quality,
    upsample_4tap,
    upsample_weights,
)
from reference import parse_output, reference_images

LIMIT = 100_000_000
RNG_SEED = 20210518


def _rng() -> np.random.Generator:
    return np.random.default_rng(RNG_SEED)


def _random_image(h: int, w: int) -> np.ndarray:
    return _rng().integers(0, 256, size=(h, w, 3), dtype=np.uint8)


# ---------------------------------------------------------------------------------------------
# The original's own network inputs
# ---------------------------------------------------------------------------------------------


def _network_cases(reference_dir: Path) -> list[tuple[str, Path, Path]]:
    cases = []
    for case in sorted((reference_dir / "network").iterdir()):
        images = sorted((reference_dir / "images").glob(case.name + ".*"))
        if images and (case / "input.bin").is_file():
            cases.append((case.name, images[0], case))
    return cases


def test_network_input_is_bit_exact_for_every_reference(reference_dir: Path) -> None:
    """Max abs difference 0 against the input the original program built (float32 planar)."""
    cases = _network_cases(reference_dir)
    assert len(cases) >= 5
    report = {}
    for name, image, case in cases:
        h, w = (int(v) for v in (case / "dims.txt").read_text().split())
        expected = np.fromfile(case / "input.bin", dtype=np.float32).reshape(3, h, w)
        prepared = prepare_file(image, LIMIT)
        assert (prepared.net_height, prepared.net_width) == (h, w), name
        ours = prepared.network_input.transpose(2, 0, 1)
        assert ours.dtype == np.float32
        report[name] = float(np.abs(ours - expected).max())
    print("max abs diff per reference input:", report)
    assert all(diff == 0.0 for diff in report.values()), report


def test_network_input_is_fitted_minus_rgb_means() -> None:
    prepared = prepare_array(_random_image(40, 64))
    assert prepared.network_input.shape == (200, 320, 3)
    expected = prepared.fitted.astype(np.float32) - np.float32([103.939, 116.779, 123.68])
    np.testing.assert_array_equal(prepared.network_input, expected)
    assert CHANNEL_MEANS.dtype == np.float32


# ---------------------------------------------------------------------------------------------
# 2×2 halving
# ---------------------------------------------------------------------------------------------


def test_halving_truncates_the_mean_of_each_block() -> None:
    block = np.array([[1, 2], [2, 2]], dtype=np.uint8)  # mean 1.75: truncates to 1, rounds to 2
    image = np.repeat(block[:, :, None], 3, axis=2)
    assert halve(image)[0, 0].tolist() == [1, 1, 1]
    high = np.full((2, 2, 3), 255, dtype=np.uint8)  # 1020 must not overflow 8 bits
    assert halve(high)[0, 0].tolist() == [255, 255, 255]


def test_halving_drops_the_odd_last_row_and_column() -> None:
    image = np.zeros((5, 7, 3), dtype=np.uint8)
    image[4, :] = 255  # odd last row
    image[:, 6] = 255  # odd last column
    out = halve(image)
    assert out.shape == (2, 3, 3)
    assert not out.any()


def test_halving_a_constant_image_keeps_it_constant() -> None:
    image = np.full((9, 12, 3), 77, dtype=np.uint8)
    assert (halve(image) == 77).all()


# ---------------------------------------------------------------------------------------------
# 12-tap down-sampler
# ---------------------------------------------------------------------------------------------


def _lanczos3_float64(in_size: int, out_size: int) -> list[tuple[int, np.ndarray]]:
    """Start index and normalised weights of the spec's filter, in float64 (no float32 steps)."""
    ratio, inv = out_size / in_size, in_size / out_size
    half_window = min(6 - 1e-5, 3 * inv)
    rows = []
    for i in range(out_size):
        s = (i + 0.5) * inv - 1e-5
        start, end = math.trunc(s - half_window + 0.5), math.trunc(s + half_window + 0.5)
        x = ratio * (np.arange(start, end) - s + 0.5)
        w = np.sinc(x) * np.sinc(x / 3)
        rows.append((start, w / w.sum()))
    return rows


@pytest.mark.parametrize(("in_size", "out_size"), [(517, 320), (451, 320), (300, 213), (20, 10)])
def test_12tap_weights_follow_the_lanczos3_formula(in_size: int, out_size: int) -> None:
    index, fixed = downsample_weights(in_size, out_size)
    for i, (start, w) in enumerate(_lanczos3_float64(in_size, out_size)):
        n = len(w)
        expected_index = np.clip(np.arange(start, start + n), 0, in_size - 1)
        np.testing.assert_array_equal(index[i, :n], expected_index)
        # float32 steps vs float64: sample positions near 500 carry ~3e-5 of float32 error,
        # which moves a 16.16 weight by a unit or two, never more
        assert np.abs(fixed[i, :n] - np.trunc(w * 65536)).max() <= 3
        assert not fixed[i, n:].any()


def _scalar_12tap_weights(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The C code's weight loop transcribed one float32 weight at a time (the table's oracle:
    the engine computes whole arrays at once and must give the same bits)."""
    f = np.float32

    def sinc(x):
        if x == 0:
            return f(1.0)
        xpi = float(x) * math.pi
        return f(math.sin(xpi) / xpi)

    ratio, inv_ratio = f(out_size) / f(in_size), f(in_size) / f(out_size)
    window = min(f(12 * 0.5 - float(f(0.00001))), f(f(12) * f(0.25)) * inv_ratio)
    inv_filter_scale = f(1.0) / f(f(12) * f(0.25))
    rows = []
    for i in range(out_size):
        sample = (f(i) + f(0.5)) * inv_ratio - f(0.00001)
        start, end = int(sample - window + f(0.5)), int(sample + window + f(0.5))
        weights, total = [], f(0.0)
        for k in range(end - start):
            pos = ratio * ((f(start + k) - sample) + f(0.5))
            w = sinc(pos) * sinc(pos * inv_filter_scale)
            weights.append(w)
            total = f(total + w)
        rows.append((start, [f(w * (f(1.0) / total)) for w in weights]))
    taps = max(len(w) for _, w in rows)
    index = np.zeros((out_size, taps), dtype=np.intp)
    fixed = np.zeros((out_size, taps), dtype=np.int32)
    for i, (start, weights) in enumerate(rows):
        n = len(weights)
        index[i, :n] = np.clip(np.arange(start, start + n), 0, in_size - 1)
        index[i, n:] = index[i, n - 1]
        fixed[i, :n] = np.trunc(np.asarray(weights, dtype=np.float32) * f(65536)).astype(np.int32)
    return index, fixed


def test_12tap_weight_table_has_the_c_loops_bits() -> None:
    """Every index and 16.16 weight equals the one-weight-at-a-time C loop's, over a spread of
    sizes: small, odd, prime, composite-like (≈ 400–600 → 320) and large reductions."""
    rng = np.random.default_rng(RNG_SEED)
    sizes = [(20, 10), (21, 11), (641, 320), (640, 320), (517, 320), (320, 213), (2, 1),
             (1999, 997), (13, 7), (4000, 320)]
    sizes += [(int(a), int(b)) for a, b in zip(rng.integers(330, 700, 40),
                                               rng.integers(100, 330, 40), strict=True)]
    for in_size, out_size in sizes:
        index, fixed = downsample_weights(in_size, out_size)
        want_index, want_fixed = _scalar_12tap_weights(in_size, out_size)
        np.testing.assert_array_equal(index, want_index, err_msg=f"{in_size}->{out_size}")
        np.testing.assert_array_equal(fixed, want_fixed, err_msg=f"{in_size}->{out_size}")


def _literal_12tap_pass(image: np.ndarray, out_size: int) -> np.ndarray:
    """One pass along axis 1, written literally from the spec, one pixel at a time."""
    index, fixed = downsample_weights(image.shape[1], out_size)
    h, _, c = image.shape
    out = np.zeros((h, out_size, c), dtype=np.uint8)
    for y in range(h):
        for i in range(out_size):
            for ch in range(c):
                acc = sum(int(fixed[i, k]) * int(image[y, index[i, k], ch])
                          for k in range(index.shape[1]))
                out[y, i, ch] = min(255, max(0, (acc + 32767) >> 16))
    return out


def test_12tap_matches_a_literal_per_pixel_implementation() -> None:
    image = _random_image(13, 17)
    across = _literal_12tap_pass(image, 9)  # horizontal first, into 8 bits
    expected = _literal_12tap_pass(across.swapaxes(0, 1), 7).swapaxes(0, 1)
    np.testing.assert_array_equal(downsample_12tap(image, 9, 7), expected)


@pytest.mark.parametrize("value", [0, 1, 128, 254, 255])
@pytest.mark.parametrize(("size", "target"), [((17, 23), (10, 10)), ((517, 426), (320, 263))])
def test_12tap_keeps_a_constant_image_constant(value, size, target) -> None:
    image = np.full((size[1], size[0], 3), value, dtype=np.uint8)
    out = downsample_12tap(image, *target)
    assert out.shape == (target[1], target[0], 3)
    assert (out == value).all()


# ---------------------------------------------------------------------------------------------
# 4-tap up-sampler
# ---------------------------------------------------------------------------------------------


def _lanczos2_fixed_float64(x: float) -> float:
    px = max(math.pi * x, 1e-6)
    return math.sin(px) * math.sin(px / 2) / (px * px)


@pytest.mark.parametrize(("in_size", "out_size"), [(17, 237), (23, 320), (100, 320), (3, 10)])
def test_4tap_weights_follow_the_kernel(in_size: int, out_size: int) -> None:
    index, fixed = upsample_weights(in_size, out_size)
    r = in_size / out_size
    for i in range(out_size):
        pos = max(0.0, (i + 0.5) * r - 0.5)
        start, f = math.floor(pos), pos - math.floor(pos)
        k = np.array([_lanczos2_fixed_float64(x) for x in (1 + f, f, 1 - f, 2 - f)])
        assert np.abs(fixed[i] - np.trunc(k / k.sum() * 65536)).max() <= 2
        np.testing.assert_array_equal(
            index[i], np.clip(np.arange(start - 1, start + 3), 0, in_size - 1)
        )


def _literal_upsample(image: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """The spec's up-sampler, one output pixel at a time (4 rows >> 10, then >> 22)."""
    ix, wx = upsample_weights(image.shape[1], out_w)
    iy, wy = upsample_weights(image.shape[0], out_h)
    out = np.zeros((out_h, out_w, image.shape[2]), dtype=np.uint8)
    for j in range(out_h):
        for i in range(out_w):
            for ch in range(image.shape[2]):
                acc = 0
                for t in range(4):
                    row = sum(int(wx[i, s]) * int(image[iy[j, t], ix[i, s], ch]) for s in range(4))
                    acc += int(wy[j, t]) * (row >> 10)
                out[j, i, ch] = min(255, max(0, (acc + (1 << 21) - 1) >> 22))
    return out


def test_4tap_matches_a_literal_per_pixel_implementation() -> None:
    image = _random_image(5, 7)
    np.testing.assert_array_equal(upsample_4tap(image, 23, 16), _literal_upsample(image, 23, 16))


def test_4tap_borders_repeat_the_edge_and_keep_corners() -> None:
    image = _random_image(6, 9)
    out = upsample_4tap(image, 40, 27)
    # The first output sample sits on source pixel 0 with weights (0, 1, 0, 0): corners survive.
    assert out[0, 0].tolist() == image[0, 0].tolist()
    # A constant image stays constant even where the taps run past the border.
    flat = np.full((6, 9, 3), 200, dtype=np.uint8)
    assert (upsample_4tap(flat, 40, 27) == 200).all()
    # A one-pixel image can only repeat its pixel.
    one = np.array([[[12, 34, 56]]], dtype=np.uint8)
    assert (upsample_4tap(one, 5, 4) == [12, 34, 56]).all()


# ---------------------------------------------------------------------------------------------
# Resize path
# ---------------------------------------------------------------------------------------------


def test_resize_copies_equal_sizes_and_upsamples_when_either_side_grows() -> None:
    image = _random_image(20, 30)
    np.testing.assert_array_equal(resize_high_quality(image, 30, 20), image)
    np.testing.assert_array_equal(resize_high_quality(image, 45, 20), upsample_4tap(image, 45, 20))


def test_resize_halves_first_and_stops_when_halving_hits_the_target() -> None:
    image = _random_image(48, 64)
    np.testing.assert_array_equal(resize_high_quality(image, 16, 12), halve(halve(image)))
    # 64x48 -> 20x15: halve to 32x24 (16x12 would undershoot), then the 12-tap filter.
    np.testing.assert_array_equal(
        resize_high_quality(image, 20, 15), downsample_12tap(halve(image), 20, 15)
    )


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------


def test_dct_scaling_halves_while_the_target_is_still_covered() -> None:
    assert dct_halvings(1034, 851, 320, 263) == 1  # 517x426, then 259 < 320
    assert dct_halvings(3000, 2000, 320, 213) == 3  # capped at 1/8
    assert dct_halvings(640, 480, 320, 240) == 1  # exactly the target
    assert dct_halvings(641, 480, 320, 240) == 1  # ceil(641/2) = 321
    assert dct_halvings(320, 240, 320, 240) == 0


def _save(image: Image.Image, path: Path, **kwargs) -> Path:
    image.save(path, **kwargs)
    return path


def test_jpeg_is_decoded_at_the_dct_scale(tmp_path: Path) -> None:
    path = _save(Image.fromarray(_random_image(480, 640)), tmp_path / "a.jpg", quality=90)
    decoded = decode_image(path, LIMIT)
    assert decoded.pixels.shape == (240, 320, 3)
    with Image.open(path) as img:
        img.draft("RGB", (320, 240))
        np.testing.assert_array_equal(decoded.pixels, np.asarray(img.convert("RGB")))
    # the DCT-scaled size is already the target: the fitted image is those pixels unchanged
    np.testing.assert_array_equal(prepare_file(path, LIMIT).fitted, decoded.pixels)


def test_one_pixel_high_jpeg_still_uses_the_dct_scale(tmp_path: Path) -> None:
    path = _save(Image.fromarray(_random_image(1, 1000)), tmp_path / "strip.jpg")
    assert decode_image(path, LIMIT).pixels.shape == (1, 500, 3)
    assert prepare_file(path, LIMIT).fitted.shape == (1, 320, 3)


# Pillow's own transposes for EXIF orientations (as in ImageOps.exif_transpose).
_PIL_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _exif_bytes(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_after_the_resize(tmp_path: Path, orientation: int) -> None:
    pixels = _random_image(24, 40)
    path = _save(Image.fromarray(pixels), tmp_path / "o.jpg", exif=_exif_bytes(orientation))
    upright = prepare_file(_save(Image.fromarray(pixels), tmp_path / "u.jpg"), LIMIT)
    prepared = prepare_file(path, LIMIT)
    expected = Image.fromarray(upright.fitted)
    if orientation != 1:
        expected = expected.transpose(_PIL_TRANSPOSE[orientation])
    np.testing.assert_array_equal(prepared.fitted, np.asarray(expected))
    swapped = orientation >= 5
    assert (prepared.width, prepared.height) == ((24, 40) if swapped else (40, 24))
    assert (prepared.net_width, prepared.net_height) == ((192, 320) if swapped else (320, 192))


def test_apply_orientation_agrees_with_pillow_exif_transpose() -> None:
    pixels = _random_image(3, 5)
    for orientation in range(1, 9):
        img = Image.fromarray(pixels)
        exif = img.getexif()
        exif[0x0112] = orientation
        img.info["exif"] = exif.tobytes()
        expected = np.asarray(ImageOps.exif_transpose(img))
        np.testing.assert_array_equal(apply_orientation(pixels, orientation), expected)


def test_orientation_outside_jpeg_exif_is_ignored(tmp_path: Path) -> None:
    pixels = _random_image(20, 32)
    png = _save(Image.fromarray(pixels), tmp_path / "o.png", exif=_exif_bytes(6))
    assert prepare_file(png, LIMIT).width == 32  # PNG eXIf: the original does not rotate
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
           b'02/22-rdf-syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/"'
           b' tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>')
    jpg = _save(Image.fromarray(pixels), tmp_path / "x.jpg", xmp=xmp)
    with Image.open(jpg) as img:
        assert img.getexif().get(0x0112) == 6  # Pillow reads XMP; the original does not
    assert prepare_file(jpg, LIMIT).width == 32


def test_mpo_camera_files_are_treated_as_jpeg(tmp_path: Path) -> None:
    first, second = (Image.fromarray(_random_image(480, 640)) for _ in range(2))
    path = _save(first, tmp_path / "cam.mpo", save_all=True, append_images=[second],
                 exif=_exif_bytes(6))
    decoded = decode_image(path, LIMIT)
    assert decoded.pixels.shape == (240, 320, 3)  # DCT-scaled like a JPEG
    assert decoded.oriented_size == (480, 640)


def test_alpha_zero_becomes_white_and_other_alpha_keeps_rgb(tmp_path: Path) -> None:
    rgba = np.zeros((200, 320, 4), dtype=np.uint8)  # long side 320: no resize, pixels visible
    rgba[..., :3] = (10, 20, 30)
    rgba[:, :100, 3] = 0
    rgba[:, 100:200, 3] = 1
    rgba[:, 200:, 3] = 255
    prepared = prepare_file(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png"), LIMIT)
    assert (prepared.fitted[:, :100] == 255).all()
    assert (prepared.fitted[:, 100:] == (10, 20, 30)).all()  # no blending, even at alpha 1


def test_palette_png_with_transparency(tmp_path: Path) -> None:
    index = np.zeros((100, 320), dtype=np.uint8)
    index[:, 160:] = 1
    img = Image.fromarray(index, "P")
    img.putpalette([200, 100, 50, 1, 2, 3] + [0] * 762)
    path = _save(img, tmp_path / "p.png", transparency=bytes([255, 0]))
    fitted = prepare_file(path, LIMIT).fitted
    assert (fitted[:, :160] == (200, 100, 50)).all()
    assert (fitted[:, 160:] == 255).all()  # palette entry 1 is fully transparent


def test_greyscale_png_and_jpeg_become_three_equal_channels(tmp_path: Path) -> None:
    grey = _rng().integers(0, 256, size=(100, 320), dtype=np.uint8)
    png = prepare_file(_save(Image.fromarray(grey, "L"), tmp_path / "g.png"), LIMIT).fitted
    np.testing.assert_array_equal(png, np.repeat(grey[:, :, None], 3, axis=2))
    jpg_path = _save(Image.fromarray(grey, "L"), tmp_path / "g.jpg")
    with Image.open(jpg_path) as img:
        jpeg_grey = np.asarray(img)
    jpg = prepare_file(jpg_path, LIMIT).fitted
    np.testing.assert_array_equal(jpg, np.repeat(jpeg_grey[:, :, None], 3, axis=2))


def test_grey_png_colour_key_becomes_white(tmp_path: Path) -> None:
    grey = np.full((10, 320), 7, dtype=np.uint8)
    grey[:, :5] = 9
    fitted = prepare_file(_save(Image.fromarray(grey, "L"), tmp_path / "k.png",
                                transparency=9), LIMIT).fitted
    assert (fitted[:, :5] == 255).all() and (fitted[:, 5:] == 7).all()


def _png_bytes(width: int, height: int, color_type: int, rows: bytes) -> bytes:
    """A minimal 16-bit PNG (Pillow cannot write 16-bit RGB), filter type 0 on every row."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def test_16bit_png_keeps_the_high_byte(tmp_path: Path) -> None:
    width, height = 320, 2
    samples = np.zeros((height, width, 3), dtype=">u2")
    samples[...] = (0x12FF, 0x3480, 0xFF00)  # rounding would give 0x13, 0x35, 0xFF
    rows = b"".join(b"\x00" + samples[y].tobytes() for y in range(height))
    path = tmp_path / "rgb16.png"
    path.write_bytes(_png_bytes(width, height, 2, rows))
    assert (prepare_file(path, LIMIT).fitted == (0x12, 0x34, 0xFF)).all()

    grey = np.full((height, width), 0xABFF, dtype=">u2")
    rows = b"".join(b"\x00" + grey[y].tobytes() for y in range(height))
    path = tmp_path / "grey16.png"
    path.write_bytes(_png_bytes(width, height, 0, rows))
    assert (prepare_file(path, LIMIT).fitted == 0xAB).all()


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path: Path) -> None:
    cmyk = _rng().integers(0, 256, size=(100, 320, 4), dtype=np.uint8)
    path = _save(Image.fromarray(cmyk, "CMYK"), tmp_path / "c.jpg", quality=95)
    fitted = prepare_file(path, LIMIT).fitted
    with Image.open(path) as img:
        assert img.mode == "CMYK"
        np.testing.assert_array_equal(fitted, np.asarray(img.convert("RGB")))


def test_prepare_array_matches_a_lossless_file_and_checks_its_input(tmp_path: Path) -> None:
    pixels = _random_image(333, 500)
    from_file = prepare_file(_save(Image.fromarray(pixels), tmp_path / "c.png"), LIMIT)
    from_array = prepare_array(pixels)
    np.testing.assert_array_equal(from_array.network_input, from_file.network_input)
    assert (from_array.width, from_array.height) == (500, 333)
    assert (from_array.net_width, from_array.net_height) == fit_size(500, 333)
    for bad in (pixels.astype(np.float32), pixels[:, :, :2], np.zeros((0, 5, 3), np.uint8)):
        with pytest.raises(CropauditError, match="array input"):
            prepare_array(bad)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def _assert_one_line_error(path: Path, match: str, max_pixels: int = LIMIT) -> None:
    with pytest.raises(InputFileError, match=match) as info:
        prepare_file(path, max_pixels)
    message = str(info.value)
    assert "\n" not in message and str(path) in message


def test_errors_are_one_line_input_file_errors(tmp_path: Path) -> None:
    _assert_one_line_error(tmp_path / "missing.jpg", "no such file")
    (tmp_path / "empty.jpg").write_bytes(b"")
    _assert_one_line_error(tmp_path / "empty.jpg", "empty")
    (tmp_path / "notes.jpg").write_text("not an image\n")
    _assert_one_line_error(tmp_path / "notes.jpg", "not a recognised image")
    big = _save(Image.fromarray(_random_image(40, 50)), tmp_path / "big.png")
    _assert_one_line_error(big, "exceeds the limit", max_pixels=1999)


def test_truncated_and_corrupt_files_are_input_file_errors(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(_random_image(300, 400)).save(buf, "JPEG", quality=95)
    data = buf.getvalue()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    _assert_one_line_error(tmp_path / "cut.jpg", "cannot decode")
    buf = io.BytesIO()
    Image.fromarray(_random_image(300, 400)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[200:260] = bytes(60)  # zeroes in the middle of the compressed stream
    (tmp_path / "bad.png").write_bytes(bytes(data))
    _assert_one_line_error(tmp_path / "bad.png", "cannot decode")


# ---------------------------------------------------------------------------------------------
# Symmetry rule
# ---------------------------------------------------------------------------------------------


def test_symmetry_score_of_mirror_images_and_constants() -> None:
    half = _random_image(64, 40)
    mirrored = np.concatenate([half, half[:, ::-1]], axis=1)
    assert symmetry_score(mirrored) == 0.0
    assert symmetry_score(np.full((30, 50, 3), 9, np.uint8)) == 0.0
    assert symmetry_score(_random_image(64, 80)) > 25


def test_symmetric_flag_agrees_where_the_original_crops_decide_it(reference_dir: Path) -> None:
    """Where only one centring (symmetric or not) explains the printed crops, we must agree.

    Mirrors the geometry check in test_crops.py: given the original's salient point, the crops
    of both output files follow from either the salient x or the image middle.
    """
    decided, disagreements = [], []
    for name, image in reference_images(reference_dir):
        prepared = prepare_file(image, LIMIT)
        w, h = prepared.width, prepared.height
        full = parse_output(reference_dir / "outputs" / f"{name}.out")
        plain = parse_output(reference_dir / "outputs" / f"{name}.plain.out")
        explains = []
        for symmetric in (False, True):
            ours_full = [c.as_tuple() for c in candidate_crops(
                w, h, full.salient_point, DEFAULT_ASPECT_RATIOS, symmetric=symmetric)]
            ours_plain = [c.as_tuple() for c in candidate_crops(
                w, h, plain.salient_point, None, symmetric=symmetric)]
            explains.append(ours_full == full.crops and ours_plain == plain.crops)
        if explains[0] != explains[1]:
            decided.append((name, prepared.symmetry_score, explains[1]))
            if prepared.symmetric != explains[1]:
                disagreements.append(name)
    print("\nimage, symmetry score, original treats as symmetric:")
    for name, score, symmetric in decided:
        print(f"  {name:45s} {score:8.3f} {symmetric}")
    assert len(decided) >= 70
    assert any(symmetric for _, _, symmetric in decided)
    assert disagreements == []
