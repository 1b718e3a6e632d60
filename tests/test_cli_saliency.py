"""`cropaudit saliency`: output formats, batch behaviour and bad inputs, run in-process."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from cropaudit.cli import main
from reference import parse_output


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(5)
    arr = rng.integers(0, 255, size=(90, 160, 3), dtype=np.uint8)
    arr[30:60, 100:130] = 255  # a bright block to be salient
    path = tmp_path / "photo.jpg"
    Image.fromarray(arr).save(path, quality=95)
    return path


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_original_text_format_on_the_reference_sample(capsys, reference_dir, fastgaze_path):
    image = reference_dir / "images" / "dummy.jpeg"
    code, out, _ = _run(capsys, "saliency", str(image), "--model", str(fastgaze_path),
                        "--aspect-ratios", "0.56", "1.0", "1.14", "2.0", "--all-points")
    assert code == 0
    expected = (reference_dir / "outputs" / "dummy.out").read_text()
    ours = parse_output_text(out)
    ref = parse_output_text(expected)
    assert ours[:5] == ref[:5]  # salient point and crops byte for byte
    assert len(ours) == len(ref)
    # grid coordinates are printed exactly like the original
    assert [ln.split()[:2] for ln in ours[5:]] == [ln.split()[:2] for ln in ref[5:]]


def parse_output_text(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln]


def test_out_dir_and_json(capsys, tmp_path, photo, fastgaze_path):
    out_dir = tmp_path / "out"
    code, out, _ = _run(capsys, "saliency", str(photo), "--model", str(fastgaze_path),
                        "--out-dir", str(out_dir))
    assert code == 0 and out == ""
    result = parse_output(out_dir / "photo.out")
    assert len(result.crops) == 5  # 4 default ratios + the image's own
    code, out, _ = _run(capsys, "saliency", str(photo), "--model", str(fastgaze_path),
                        "--format", "json", "--aspect-ratios", "1")
    record = json.loads(out)
    assert record["salient_point"] == list(result.salient_point)
    assert record["width"] == 160 and record["height"] == 90
    assert [c["width"] for c in record["crops"]] == [90]


def test_bad_inputs_are_reported_and_skipped(capsys, tmp_path, photo, fastgaze_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(photo.read_bytes()[:200])
    code, out, err = _run(capsys, "saliency", str(empty), str(photo), str(tmp_path / "nope.png"),
                          str(text), str(truncated), "--model", str(fastgaze_path))
    assert code == 1
    lines = err.strip().splitlines()
    assert any("empty.jpg: empty file" in ln for ln in lines)
    assert any("nope.png: no such file" in ln for ln in lines)
    assert any("notes.jpg: not a recognised image" in ln for ln in lines)
    assert any("truncated.jpg" in ln for ln in lines)
    assert lines[-1].endswith("4 of 5 images failed")
    assert f"# {photo}" in out  # the good image was still processed


def test_pixel_limit_refuses_decompression_bombs(capsys, photo, fastgaze_path):
    code, _, err = _run(capsys, "saliency", str(photo), "--model", str(fastgaze_path),
                        "--max-pixels", "1000")
    assert code == 1
    assert "exceeds the limit of 1000" in err


def test_bad_model_file_is_one_line_and_nonzero(capsys, tmp_path, photo):
    bad = tmp_path / "bad.vxm"
    bad.write_bytes(b"\x01tPM\x05\x00")
    code, _, err = _run(capsys, "saliency", str(photo), "--model", str(bad))
    assert code == 2
    assert err.strip().count("\n") == 0 and "bad.vxm" in err


def test_center_baseline_needs_no_model(capsys, photo):
    code, out, _ = _run(capsys, "saliency", str(photo), "--cropper", "center")
    assert code == 0
    x, y = (int(v) for v in out.splitlines()[0].split())
    assert abs(x - 80) <= 16 and abs(y - 45) <= 16  # the middle of a 160×90 image
