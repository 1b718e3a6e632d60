"""The app's cropper picker and its side-by-side view of two croppers on one image."""

from __future__ import annotations

import numpy as np
import pytest

from cropaudit.app.analysis import BACKENDS, crop_iou
from cropaudit.app.layout import Ids
from cropaudit.app.server import create_app
from cropaudit.config import parse_params
from cropaudit.croppers.registry import available
from cropaudit.geometry.crops import Crop
from support.app_images import astronaut, image_url
from test_app_callbacks import _find, _texts


@pytest.fixture
def app(tmp_path):
    explorer_app = create_app(parse_params({"croppers": ["center"]}), root=tmp_path,
                              temp_root=tmp_path)
    yield explorer_app
    explorer_app.close()


def test_picker_offers_every_cropper(app):
    layout = app.dash.layout() if callable(app.dash.layout) else app.dash.layout
    picker = _find(layout, Ids.BACKEND)
    assert [o["value"] for o in picker.options] == list(available(warn=False))
    assert set(BACKENDS) >= {"smartcrop", "opencv-spectral", "face-center", "command"}
    first, second = _find(layout, Ids.COMPARE_FIRST), _find(layout, Ids.COMPARE_SECOND)
    assert first.value == "center" and second.value != "center"
    assert [o["value"] for o in second.options] == list(BACKENDS)


def test_status_of_croppers_without_model_files(app):
    models = app.explorer.analyzer.models
    assert models.status("smartcrop") == (True, "smartcrop 0.5.0")
    usable, why = models.status("command")
    assert not usable and "--command" in why


def test_side_by_side_shows_each_croppers_point_and_crops(app):
    e = app.explorer
    images, _, _ = e.on_upload([image_url(astronaut())], ["astronaut.png"], [])
    key = images[0]["key"]
    _options, value = e.on_compare_options([{"label": "a", "value": key}], None)
    assert value == key
    left, right, summary, messages = e.on_compare(key, "center", "smartcrop", 3, 0.5)
    assert messages == []
    star = next(t for t in left.data if t.name == "salient point")
    assert abs(star.x[0] - 256) <= 16 and abs(star.y[0] - 256) <= 16  # the grid cell at the
    # centre of a 512×512 image
    smart = e.analyzer.analyse(key, "smartcrop")
    star = next(t for t in right.data if t.name == "salient point")
    assert (star.x[0], star.y[0]) == smart.result.salient_point
    crops = [t for t in right.data if str(t.name).startswith("crop ")]
    assert len(crops) == len(smart.crops)
    text = _texts(summary)
    assert "Salient points apart" in text and "Crop 1 overlap" in text


def test_side_by_side_with_a_cropper_without_map(app):
    """face-center has no map: the heat map is transparent and the stats say so."""
    e = app.explorer
    images, _, _ = e.on_upload([image_url(astronaut())], ["astronaut.png"], [])
    key = images[0]["key"]
    a = e.analyzer.analyse(key, "face-center")
    assert a.result.scores.size == 0 and a.top == []
    x, y = a.result.salient_point
    assert 150 < x < 300 and 50 < y < 250  # the astronaut's face, not the image centre
    left, right, _, messages = e.on_compare(key, "face-center", "center", 3, 0.5)
    assert messages == [] and left.data and right.data
    _, _, _, stats, _ = e.on_view_image(key, "face-center", 3, 0.5)
    assert "no map" in _texts(stats)


def test_crop_iou():
    a = Crop(0, 0, 10, 10, 1.0)
    assert crop_iou(a, a) == 1.0
    assert crop_iou(a, Crop(5, 0, 10, 10, 1.0)) == pytest.approx(50 / 150)
    assert crop_iou(a, Crop(20, 0, 10, 10, 1.0)) == 0.0
    assert np.isfinite(crop_iou(a, Crop(9, 9, 1, 1, 1.0)))
