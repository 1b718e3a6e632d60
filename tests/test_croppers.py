"""Croppers behind one interface: geometry contracts, known answers, the command cropper."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from cropaudit.cli import main
from cropaudit.croppers.base import CropperContext, Cropping, Pixels
from cropaudit.croppers.memory import cropper_memory_mb
from cropaudit.croppers.params import default_croppers
from cropaudit.croppers.registry import available, load_cropper
from cropaudit.croppers.smartcrop import SmartCropCropper
from cropaudit.engine.types import ImageFailure
from cropaudit.errors import ConfigError

#: Croppers that need neither a model file, TensorFlow nor a user program.
LIGHT = ["center", "smartcrop", "opencv-spectral", "opencv-finegrained"]


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(5)
    arr = rng.integers(110, 120, size=(120, 200, 3), dtype=np.uint8)
    arr[20:60, 140:180] = (250, 30, 30)  # a saturated, high-contrast block to be salient
    path = tmp_path / "photo.png"
    Image.fromarray(arr).save(path)
    return path


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_registry_lists_every_builtin_and_defaults_exclude_command():
    names = list(available())
    assert names[:7] == ["fastgaze", "center", "smartcrop", "opencv-spectral",
                         "opencv-finegrained", "face-center", "command"]
    assert default_croppers() == names[:6]


@pytest.mark.parametrize("name", LIGHT)
def test_crops_have_the_requested_ratios_and_lie_inside_the_image(name, photo):
    cropper = load_cropper(name)
    ratios = [0.56, 1.0, 2.0]
    (item,) = cropper.crop_images([photo], aspect_ratios=ratios)
    assert isinstance(item, Cropping)
    assert (item.saliency.width, item.saliency.height) == (200, 120)
    x, y = item.salient_point
    assert 0 <= x < 200 and 0 <= y < 120
    assert [c.aspect_ratio for c in item.crops] == ratios
    for c in item.crops:
        assert c.left >= 0 and c.top >= 0 and c.right <= 200 and c.bottom <= 120
        assert abs(c.height / c.width - min(c.aspect_ratio, 120 / c.width)) < 0.05 \
            or c.width == 200 or c.height == 120
    s = item.saliency
    assert s.has_map if hasattr(s, "has_map") else True
    assert s.scores.shape == s.grid_x.shape == s.grid_y.shape and s.scores.size > 0
    assert cropper.info.name == name and cropper.info.version
    # the SaliencyModel view gives the same point
    (result,) = cropper.predict([photo])
    assert result.salient_point == item.salient_point


@pytest.mark.parametrize("name", ["opencv-spectral", "opencv-finegrained", "smartcrop"])
def test_pixel_croppers_find_the_salient_block(name, photo):
    (item,) = load_cropper(name).crop_images([photo], aspect_ratios=[1.0])
    x, _ = item.salient_point
    assert x >= 100  # the block is in the right half; a centre crop would be at 100


def test_map_croppers_crop_by_the_original_rule_around_their_point(photo):
    from cropaudit.geometry.crops import candidate_crops

    for name in ["center", "opencv-spectral"]:
        (item,) = load_cropper(name).crop_images([photo], aspect_ratios=[0.56, 1.0])
        assert list(item.crops) == candidate_crops(200, 120, item.salient_point, [0.56, 1.0])


def test_arrays_and_files_give_the_same_answer(photo):
    rgb = np.asarray(Image.open(photo).convert("RGB"))
    cropper = load_cropper("opencv-spectral")
    a, b = cropper.crop_images([photo, rgb], aspect_ratios=[1.0])
    assert a.salient_point == b.salient_point and a.crops == b.crops


def test_bad_inputs_fail_alone_with_one_line(tmp_path, photo):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    items = list(load_cropper("smartcrop").crop_images([bad, photo], aspect_ratios=[1.0]))
    assert isinstance(items[0], ImageFailure) and "bad.png" in items[0].message
    assert "\n" not in items[0].message
    assert isinstance(items[1], Cropping)


def test_unknown_cropper_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match=r"unknown cropper 'nope'.*smartcrop"):
        load_cropper("nope")


# -- smartcrop's skin prior ----------------------------------------------------------------

#: Graded skin tones (the demo dataset's), light to dark.
TONES = ((255, 224, 196), (234, 192, 160), (198, 148, 110), (160, 110, 75), (110, 72, 48))
SMARTCROP_SKIN = np.array((0.78, 0.57, 0.44))


def skin_distance(tone) -> float:
    """smartcrop's skin score is 1 − this: distance of normalised RGB to its skin colour."""
    v = np.asarray(tone, dtype=float)
    return float(np.linalg.norm(v / np.linalg.norm(v) - SMARTCROP_SKIN))


def skin_probe(order, side=160, gap=40, luminance=140.0):
    """One composition: a row of textured patches, one per tone, all of equal luminance.

    Equal luminance and one shared multiplicative texture give every patch the same edges
    (smartcrop's detail feature), so only the tone's chromaticity differs between patches.
    """
    rng = np.random.default_rng(0)
    texture = 1 + 0.12 * rng.standard_normal((side, side))
    lum = np.array((0.2126, 0.7152, 0.0722))
    img = np.full((side + 2 * gap, len(order) * (side + gap) + gap, 3), 128.0)
    boxes = []
    for i, k in enumerate(order):
        tone = np.asarray(TONES[k], dtype=float)
        tone *= luminance / (tone @ lum)
        x = gap + i * (side + gap)
        img[gap:gap + side, x:x + side] = tone * texture[..., None]
        boxes.append((x, gap, side, side))
    return np.clip(img, 0, 255).astype(np.uint8), boxes


def _patch_stats(cropper, order):
    img, boxes = skin_probe(order)
    item = cropper.crop_pixels(Pixels(img, img.shape[1], img.shape[0]), "probe", [1.0])
    means = [float(item.saliency.scores_in_box(*b).mean()) for b in boxes]
    x, _ = item.salient_point
    chosen = next(order[i] for i, b in enumerate(boxes) if b[0] <= x < b[0] + b[2])
    by_tone = {order[i]: m for i, m in enumerate(means)}
    return chosen, by_tone


@pytest.mark.parametrize("order", [(0, 1, 2, 3, 4), (4, 3, 2, 1, 0), (2, 0, 4, 1, 3),
                                   (0, 2, 1, 3, 4)])
def test_smartcrop_prefers_the_patch_closest_to_its_skin_colour(order):
    closest = min(range(len(TONES)), key=lambda k: skin_distance(TONES[k]))
    chosen, by_tone = _patch_stats(SmartCropCropper(), order)
    assert chosen == closest  # its square crop is centred on that patch, wherever it is
    assert max(by_tone, key=by_tone.get) == closest  # and its map is highest there
    # the prior is measurable: without the skin weight, that patch is not preferred
    chosen0, by_tone0 = _patch_stats(SmartCropCropper(skin_weight=0.0), order)
    lift = by_tone[closest] - np.mean([v for k, v in by_tone.items() if k != closest])
    lift0 = by_tone0[closest] - np.mean([v for k, v in by_tone0.items() if k != closest])
    assert chosen0 != closest
    assert lift > 0.01 and lift > 3 * abs(lift0)


# -- the command cropper -------------------------------------------------------------------

def _script(tmp_path, body: str):
    path = tmp_path / "cropper.py"
    path.write_text(textwrap.dedent(body))
    return f"{sys.executable} {path} {{image}} {{aspect_ratios}}"


PRINTED = "17 23\n0 5 200 112\n40 0 120 120\n3 8 0.5\n11 8 0.25\n3 24 1\n11 24 0.125\n"


@pytest.mark.parametrize("size", [(1, 1), (1, 40), (40, 1), (3, 50), (12, 200)])
def test_smartcrop_on_images_a_few_pixels_wide_prints_no_warning(tmp_path, size):
    """Issue 25, item 9: smartcrop divided by zero on crops narrower than its 8-pixel
    scoring grid and NumPy printed a RuntimeWarning; such crops are now the centred ones."""
    import subprocess

    from support.workflow import tool_env

    path = tmp_path / "thin.png"
    Image.new("RGB", size, (200, 120, 90)).save(path)
    proc = subprocess.run([sys.executable, "-m", "cropaudit", "saliency", "--cropper",
                           "smartcrop", "--format", "json", str(path)],
                          capture_output=True, text=True, env=tool_env(), timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    result = json.loads(proc.stdout)
    w, h = size
    for crop in result["crops"]:
        assert crop["width"] >= 1 and crop["height"] >= 1
        assert crop["left"] + crop["width"] <= w and crop["top"] + crop["height"] <= h


def test_command_returns_exactly_what_the_script_printed(capsys, tmp_path, photo):
    template = _script(tmp_path, f"""
        import sys
        assert sys.argv[2:] == ["0.56", "1"], sys.argv
        sys.stdout.write({PRINTED!r})
    """)
    code, out, err = _run(capsys, "saliency", str(photo), "--cropper", "command",
                          "--command", template, "--aspect-ratios", "0.56", "1",
                          "--all-points")
    assert code == 0, err
    assert out == PRINTED
    code, out, _ = _run(capsys, "saliency", str(photo), "--cropper", "command",
                        "--command", template, "--aspect-ratios", "0.56", "1",
                        "--format", "json")
    record = json.loads(out)
    assert record["salient_point"] == [17, 23]
    assert [(c["left"], c["top"], c["width"], c["height"]) for c in record["crops"]] == [
        (0, 5, 200, 112), (40, 0, 120, 120)]
    assert record["max_score"] == 1.0


def test_command_json_point_gets_the_original_crop_rule(tmp_path, photo):
    from cropaudit.geometry.crops import candidate_crops

    template = _script(tmp_path, 'print(\'{"x": 150, "y": 40}\')\n')
    cropper = load_cropper("command", CropperContext(options={"template": template}))
    (item,) = cropper.crop_images([photo], aspect_ratios=[1.0, 2.0])
    assert item.salient_point == (150, 40) and not item.has_map
    assert list(item.crops) == candidate_crops(200, 120, (150, 40), [1.0, 2.0])


@pytest.mark.parametrize(("body", "message"), [
    ("import sys; sys.exit('boom')", "exit status 1 boom"),
    ("print('hello world')", "cannot parse output line"),
    ("print('500 10')", "outside the 200x120 image"),
    ("pass", "printed nothing"),
])
def test_command_failures_are_one_line_per_image(capsys, tmp_path, photo, body, message):
    template = _script(tmp_path, body + "\n")
    code, _, err = _run(capsys, "saliency", str(photo), "--cropper", "command",
                        "--command", template)
    assert code == 1
    assert message in err and "cropper.py" in err


def test_command_template_must_name_the_image():
    with pytest.raises(ConfigError, match="does not contain"):
        load_cropper("command", CropperContext(options={"template": "prog --fast"}))


def test_command_runs_on_arrays_through_a_temporary_file(tmp_path):
    template = _script(tmp_path, """
        import sys, json
        from PIL import Image
        w, h = Image.open(sys.argv[1]).size
        print(json.dumps({"x": w - 1, "y": h - 1}))
    """)
    cropper = load_cropper("command", CropperContext(options={"template": template}))
    (item,) = cropper.crop_images([np.zeros((30, 50, 3), np.uint8)], aspect_ratios=[1.0])
    assert item.salient_point == (49, 29)


# -- command line ----------------------------------------------------------------------------

def test_croppers_command_lists_name_version_map_licence(capsys):
    code, out, _ = _run(capsys, "croppers", "--format", "json")
    assert code == 0
    rows = {r["name"]: r for r in map(json.loads, out.splitlines())}
    assert rows["smartcrop"]["licence"] == "MIT" and rows["smartcrop"]["version"].endswith("0.5.0")
    assert rows["face-center"]["map"] is False and rows["opencv-spectral"]["map"] is True
    assert rows["command"]["offline"] is False
    assert rows["smartcrop"]["memory_mb"] == cropper_memory_mb("smartcrop")  # issue 25, 10
    code, out, _ = _run(capsys, "croppers")
    assert out.splitlines()[0].split()[:4] == ["NAME", "VERSION", "MAP", "LICENCE"]


@pytest.mark.parametrize("name", LIGHT)
def test_saliency_cli_runs_every_light_cropper_in_both_formats(capsys, photo, name):
    code, out, _ = _run(capsys, "saliency", str(photo), "--cropper", name, "--format", "json",
                        "--aspect-ratios", "1")
    assert code == 0
    record = json.loads(out)
    assert record["model"] == name and len(record["crops"]) == 1
    code, text, _ = _run(capsys, "saliency", str(photo), "--cropper", name)
    assert code == 0
    lines = text.splitlines()
    assert lines[0] == " ".join(map(str, record["salient_point"]))
    assert len(lines) == 1 + 5  # default ratios: 4 + the image's own


def test_bad_cropper_options_are_one_line(capsys, photo):
    code, _, err = _run(capsys, "saliency", str(photo), "--cropper", "smartcrop",
                        "--cropper-option", "nonsense")
    assert code == 2 and "KEY=VALUE" in err
    code, _, err = _run(capsys, "saliency", str(photo), "--cropper", "smartcrop",
                        "--cropper-option", "skin_weight=lots")
    assert code == 2 and "skin_weight='lots' is not a number" in err
    code, _, err = _run(capsys, "saliency", str(photo), "--cropper", "smartcrop",
                        "--cropper-option", "skin_wieght=1")
    assert code == 2 and "unknown setting" in err and err.count("\n") == 1


@pytest.mark.parametrize(("croppers", "message"), [
    (["center", "nope"], "croppers: Value error, unknown cropper 'nope'"),
    ([], "croppers: Value error, list at least one cropper"),
    (["center", "center"], "croppers: Value error, cropper 'center' is listed twice"),
])
def test_croppers_in_params_are_checked(croppers, message):
    from cropaudit.config import parse_params

    with pytest.raises(ConfigError, match=message):
        parse_params({"croppers": croppers}, source="params.yaml")
    assert "command" not in parse_params({}).croppers  # the default runs offline


def test_params_list_the_builtin_croppers_the_registry_builds():
    """Config validates cropper names without importing croppers: its list must match."""
    from cropaudit.croppers.params import BUILTIN_CROPPERS
    from cropaudit.croppers.registry import builtin_specs

    assert {s.name: s.offline for s in builtin_specs()} == BUILTIN_CROPPERS
