"""Decoding uploads: orientation, transparency, size limits, bad files, the temp-dir store."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from cropaudit.app.images import ImageStore, data_url_bytes, pixel_hash
from cropaudit.errors import InputFileError
from cropaudit.imaging.upright import decode_upright as decode_file, downscaled_size
from support.app_images import astronaut, chelsea, data_url, encode, image_url

BIG = 10**9


@pytest.fixture
def decode_image(tmp_path):
    """decode_file on bytes written to a temp file (as the store does with uploads)."""
    def decode(payload: bytes, name: str, **limits: int):
        path = tmp_path / "upload.bin"
        path.write_bytes(payload)
        return decode_file(path, name, **limits)
    return decode


def test_png_decodes_to_the_same_pixels(decode_image):
    rgb = chelsea()
    decoded = decode_image(encode(rgb), "cat.png", max_pixels=BIG, hard_limit=BIG)
    assert np.array_equal(decoded.rgb, rgb)
    assert (decoded.original_width, decoded.original_height) == (451, 300)
    assert decoded.notice == ""


def test_jpeg_exif_orientation_is_applied_like_pillow(decode_image):
    rgb = chelsea()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=95, exif=exif)
    decoded = decode_image(buf.getvalue(), "rotated.jpg", max_pixels=BIG, hard_limit=BIG)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(buf.getvalue()))))
    assert decoded.rgb.shape == (451, 300, 3)
    assert (decoded.original_width, decoded.original_height) == (300, 451)
    assert np.array_equal(decoded.rgb, expected)


def test_png_exif_orientation_is_ignored_like_the_engine(decode_image):
    """The original reads orientation from JPEG EXIF only; the app shows what it analyses."""
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    Image.fromarray(chelsea()).save(buf, "PNG", exif=exif)
    decoded = decode_image(buf.getvalue(), "rotated.png", max_pixels=BIG, hard_limit=BIG)
    assert np.array_equal(decoded.rgb, chelsea())


def test_sixteen_bit_png_keeps_the_high_byte(decode_image):
    grey = (np.arange(64 * 32, dtype=np.uint32).reshape(32, 64) * 31).astype(np.uint16)
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, "PNG")  # uint16 → mode I;16
    decoded = decode_image(buf.getvalue(), "deep.png", max_pixels=BIG, hard_limit=BIG)
    assert np.array_equal(decoded.rgb[..., 0], (grey >> 8).astype(np.uint8))
    assert (decoded.rgb[..., 0] == decoded.rgb[..., 2]).all()


def test_transparent_pixels_become_white(decode_image):
    rgba = np.zeros((20, 30, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[:, 15:, 3] = 255  # right half opaque red, left half fully transparent
    decoded = decode_image(encode(rgba), "alpha.png", max_pixels=BIG, hard_limit=BIG)
    assert (decoded.rgb[:, :15] == 255).all()
    assert (decoded.rgb[:, 15:] == [200, 0, 0]).all()


def test_image_over_the_limit_is_downscaled_with_a_notice(decode_image):
    limit = 50_000
    decoded = decode_image(encode(astronaut()), "big.png", max_pixels=limit, hard_limit=BIG)
    h, w = decoded.rgb.shape[:2]
    assert w * h <= limit
    assert abs(w / h - 1.0) < 0.01  # aspect kept
    assert (decoded.original_width, decoded.original_height) == (512, 512)
    assert "512×512" in decoded.notice and f"{w}×{h}" in decoded.notice


def test_downscaled_jpeg_keeps_aspect_and_content(decode_image):
    rgb = chelsea()
    decoded = decode_image(encode(rgb, "JPEG", quality=95), "cat.jpg", max_pixels=30_000,
                           hard_limit=BIG)
    h, w = decoded.rgb.shape[:2]
    assert (w, h) == downscaled_size(451, 300, 30_000)
    small = np.asarray(Image.fromarray(rgb).resize((w, h), Image.Resampling.LANCZOS))
    assert np.abs(decoded.rgb.astype(int) - small).mean() < 8  # same picture, not garbage


def test_image_over_the_hard_limit_is_refused(decode_image):
    with pytest.raises(InputFileError, match="exceeds the limit"):
        decode_image(encode(astronaut()), "huge.png", max_pixels=1000, hard_limit=100_000)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "empty file"),
        (b"just some text, not a picture", "not a recognised image file"),
        (encode(chelsea(), "PNG")[:200], "cannot"),  # truncated PNG
    ],
)
def test_bad_files_give_one_line_messages(decode_image, payload, message):
    with pytest.raises(InputFileError, match=message) as info:
        decode_image(payload, "bad.bin", max_pixels=BIG, hard_limit=BIG)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("bad.bin:")


def test_data_url_checks():
    assert data_url_bytes(data_url(b"abc"), "x") == b"abc"
    with pytest.raises(InputFileError, match="not a base64 data URL"):
        data_url_bytes("hello", "x")
    with pytest.raises(InputFileError, match="invalid base64"):
        data_url_bytes("data:image/png;base64,@@@@", "x")
    with pytest.raises(InputFileError, match="over the upload limit of 1 MB"):
        data_url_bytes(data_url(bytes(2 * 2**20)), "x", max_bytes=2**20)


def test_store_keeps_uploads_only_in_its_temp_dir(tmp_path):
    store = ImageStore(BIG, BIG, root=tmp_path)
    record = store.add_upload(image_url(chelsea()), "cat.png")
    again = store.add_upload(image_url(chelsea()), "same-cat.png")
    assert again == record  # same bytes: stored once, first name kept
    files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert len(files) == 2 and all(f.parts[0] == store.root.name for f in files)
    assert np.array_equal(store.pixels(record.key), chelsea())
    assert store.file_path(record.key).read_bytes() == encode(chelsea())
    store.close()
    assert not store.root.exists()
    with pytest.raises(InputFileError, match="upload it again"):
        store.pixels(record.key)


def test_pixel_hash_depends_on_shape_and_pixels():
    a = np.zeros((4, 6, 3), np.uint8)
    assert pixel_hash(a) == pixel_hash(a.copy())
    assert pixel_hash(a) != pixel_hash(a.reshape(6, 4, 3))
    b = a.copy()
    b[0, 0, 0] = 1
    assert pixel_hash(a) != pixel_hash(b)
