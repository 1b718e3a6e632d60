"""The app's callbacks, called directly with real images (the browser runs the same methods)."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from dash import no_update
from PIL import Image

from cropaudit.app.figures import HEAT_TRACE
from cropaudit.app.layout import Ids
from cropaudit.app.server import create_app
from cropaudit.config import parse_params
from support.app_images import astronaut, chelsea, coffee, data_url, image_url, write_dataset


def _params(**app):
    return parse_params({"croppers": ["center"], "app": app})


@pytest.fixture
def app(tmp_path):
    explorer_app = create_app(_params(), root=tmp_path, temp_root=tmp_path)
    yield explorer_app
    explorer_app.close()


def _texts(component) -> str:
    """All text inside a Dash component tree (what a user would read)."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(_texts(c) for c in component)
    return _texts(getattr(component, "children", None))


def _upload(explorer, *items):
    contents = [c for c, _ in items]
    names = [n for _, n in items]
    return explorer.on_upload(contents, names, [])


def test_upload_adds_images_and_explains_rejects(app):
    e = app.explorer
    images, messages, reset = _upload(
        e, (image_url(astronaut()), "astronaut.png"), (image_url(chelsea(), "JPEG"), "cat.jpg"),
        (data_url(b"%PDF-1.4 not an image", "application/pdf"), "paper.pdf"),
    )
    assert reset is None  # the same file can be dropped again
    assert [d["name"] for d in images] == ["astronaut.png", "cat.jpg"]
    assert [(d["width"], d["height"]) for d in images] == [(512, 512), (451, 300)]
    text = _texts(messages)
    assert "Added 2 images" in text
    assert "paper.pdf: not a recognised image file" in text
    # dropping an image already listed leaves the list (and the selection) alone
    again, _, _ = e.on_upload([image_url(astronaut())], ["astronaut.png"], images)
    assert again is no_update


def test_image_list_drives_pickers_and_empty_state(app):
    e = app.explorer
    images, _, _ = _upload(e, (image_url(astronaut()), "a.png"), (image_url(coffee()), "c.png"))
    options, selected, _pair_options, pair, count, empty, views = e.on_images(images, None)
    assert [o["value"] for o in options] == [d["key"] for d in images]
    assert selected == images[-1]["key"]  # the newest image is shown
    assert pair == [d["key"] for d in images]
    assert count == "2 images"
    assert empty == {"display": "none"} and views == {"display": "block"}
    assert e.on_images([], pair)[-2:] == ({"display": "flex"}, {"display": "none"})
    assert e.on_clear(1) == ([], [])


def test_single_image_view(app):
    e = app.explorer
    images, _, _ = _upload(e, (image_url(chelsea()), "cat.png"))
    key = images[0]["key"]
    fig, scores_fig, crops, stats, messages = e.on_view_image(key, "center", 4, 0.35)
    assert messages == []
    result = e.analyzer.analyse(key, "center").result
    # heat map over the photo, at the slider's opacity
    assert fig.data[0].type == "image" and fig.data[HEAT_TRACE].type == "image"
    assert fig.data[HEAT_TRACE].opacity == pytest.approx(0.35)
    assert fig.data[HEAT_TRACE].source.startswith("data:image/png;base64,")
    # one box per crop, matching the crop geometry
    boxes = {t.name: t for t in fig.data if t.name and t.name.startswith("crop ")}
    assert list(boxes) == ["crop 0.56", "crop 1", "crop 1.14", "crop 2", "crop own 0.665"]
    for crop, trace in zip(result.crops(), boxes.values(), strict=True):
        assert (min(trace.x), min(trace.y), max(trace.x), max(trace.y)) == (
            crop.left, crop.top, crop.right, crop.bottom)
    top = next(t for t in fig.data if t.name == "top 4 cells")
    assert len(top.x) == 4 and list(top.text) == ["1", "2", "3", "4"]
    star = next(t for t in fig.data if t.name == "salient point")
    assert (star.x[0], star.y[0]) == result.salient_point
    # axes in the image's own pixels
    assert tuple(fig.layout.xaxis.range) == (0, 451)
    assert tuple(fig.layout.yaxis.range) == (300, 0)
    # grid scores plot
    assert np.array_equal(np.asarray(scores_fig.data[0].z), result.scores)
    # crop thumbnails: one per crop, each the crop's own aspect ratio
    assert len(crops) == 5
    for card, crop in zip(crops, result.crops(), strict=True):
        img_url = card.children[0].children.src
        thumb = Image.open(io.BytesIO(base64.b64decode(img_url.split(",", 1)[1])))
        assert thumb.height == 160
        assert thumb.width / thumb.height == pytest.approx(crop.width / crop.height, abs=0.02)
    text = _texts(stats)
    assert f"({result.salient_point[0]}, {result.salient_point[1]})" in text
    assert "451×300" in text and "Center baseline" in text


def test_huge_image_is_downscaled_with_a_notice(tmp_path):
    explorer_app = create_app(_params(max_upload_pixels=60_000), root=tmp_path,
                              temp_root=tmp_path)
    e = explorer_app.explorer
    images, messages, _ = _upload(e, (image_url(astronaut()), "big.png"))
    rec = images[0]
    assert rec["width"] * rec["height"] <= 60_000
    assert "over the app's limit of 0.1 MP" in _texts(messages)
    fig, _, _, stats, notices = e.on_view_image(rec["key"], "center", 5, 0.5)
    assert "downscaled" in _texts(notices)
    assert "downscaled from 512×512" in _texts(stats)
    assert tuple(fig.layout.xaxis.range) == (0, rec["width"])
    explorer_app.close()


def test_missing_model_file_is_explained_not_raised(tmp_path, monkeypatch):
    monkeypatch.delenv("CROPAUDIT_FASTGAZE", raising=False)
    params = parse_params({"model": {"path": str(tmp_path / "missing.vxm")}})
    explorer_app = create_app(params, root=tmp_path, temp_root=tmp_path)
    e = explorer_app.explorer
    images, _, _ = _upload(e, (image_url(coffee()), "coffee.png"))
    fig, _, crops, _, messages = e.on_view_image(images[0]["key"], "fastgaze", 5, 0.5)
    text = _texts(messages)
    assert "missing.vxm" in text and "fetch-model" in text and "center baseline" in text
    assert fig["data"] == [] and crops == []
    assert "missing.vxm" in _texts(e.on_backend("fastgaze"))
    # the page opens on the baseline rather than on an error
    layout = explorer_app.dash.layout()
    assert _find(layout, Ids.BACKEND).value == "center"
    explorer_app.close()


def test_pair_view_names_the_winner_and_margin(app):
    e = app.explorer
    images, _, _ = _upload(e, (image_url(chelsea()), "cat.png"), (image_url(coffee()), "cup.png"))
    keys = [d["key"] for d in images]
    fig, bars, table, headline, messages = e.on_view_pair(
        keys, "horizontal", "fixed_height", 256, 12, "center", 3, 0.5)
    assert messages == []
    pair = e.analyzer.analyse_pair(keys, "center", scaling="fixed_height", scaling_size=256,
                                   padding=12)
    w = pair.winner
    assert f"#{w.position + 1} {w.record.name}" in _texts(headline)
    assert f"{pair.margin:.3f}" in _texts(headline)
    # bars: max saliency per member, the winner's the longest
    assert list(bars.data[0].x) == pytest.approx([m.score_max for m in pair.members])
    assert max(bars.data[0].x) == pytest.approx(w.score_max)
    rows = table.children[1].children
    assert len(rows) == 2 and rows[w.position].className == "winner"
    assert "256" in _texts(rows[0])  # scaled to the fixed height
    member_boxes = [t for t in fig.data if t.name and t.name.startswith("#")]
    assert [t.name for t in member_boxes] == ["#1 cat.png", "#2 cup.png"]
    assert max(member_boxes[1].x) == pair.geometry.width


def test_pair_view_needs_two_images_and_valid_numbers(app):
    e = app.explorer
    images, _, _ = _upload(e, (image_url(chelsea()), "cat.png"), (image_url(coffee()), "cup.png"))
    keys = [d["key"] for d in images]
    assert "two or more" in _texts(e.on_view_pair(keys[:1], "horizontal", "none", 0, 0,
                                                  "center", 5, 0.5)[4])
    assert "padding" in _texts(e.on_view_pair(keys, "horizontal", "none", 0, -3, "center", 5,
                                              0.5)[4])
    assert "at least 16" in _texts(e.on_view_pair(keys, "vertical", "max_side", 4, 0, "center",
                                                  5, 0.5)[4])


def test_downloads(app):
    e = app.explorer
    images, _, _ = _upload(e, (image_url(astronaut()), "astro naut.png"),
                           (image_url(chelsea()), "cat.png"))
    key = images[0]["key"]
    png = e.on_download_image_png(1, key, "center", 5, 0.5)
    assert png["filename"] == "astro_naut-center.png"
    picture = Image.open(io.BytesIO(base64.b64decode(png["content"])))
    assert picture.format == "PNG" and picture.width > 800
    numbers = json.loads(e.on_download_image_json(1, key, "center", 3)["content"])
    result = e.analyzer.analyse(key, "center").result
    assert numbers["salient_point"] == list(result.salient_point)
    assert numbers["image"]["sha256"] == key and numbers["model"] == "center"
    assert [c["label"] for c in numbers["crops"]] == ["0.56", "1", "1.14", "2", "own 1"]
    assert len(numbers["top_k"]) == 3
    assert len(numbers["points"]) == result.scores.size
    keys = [d["key"] for d in images]
    pair = json.loads(e.on_download_pair_json(1, keys, "vertical", "none", 0, 5, "center",
                                              5)["content"])
    assert [m["won"] for m in pair["members"]].count(True) == 1
    assert pair["members"][pair["winner"]]["won"]
    assert pair["composite"] == {"layout": "vertical", "scaling": "none", "scaling_size": 0,
                                 "padding": 5, "width": 512, "height": 817}
    pair_png = e.on_download_pair_png(1, keys, "vertical", "none", 0, 5, "center", 5, 0.5)
    assert Image.open(io.BytesIO(base64.b64decode(pair_png["content"]))).format == "PNG"
    assert e.on_download_image_png(0, key, "center", 5, 0.5) is no_update  # not clicked yet


def test_dataset_images_can_be_picked(tmp_path):
    write_dataset(tmp_path, {"img-a": (chelsea(), "white_female"),
                             "img-b": (coffee(), "black_male")})
    explorer_app = create_app(_params(), root=tmp_path, temp_root=tmp_path)
    e = explorer_app.explorer
    picker = _find(explorer_app.dash.layout(), Ids.DATASET_PICK)
    assert [o["value"] for o in picker.options] == ["img-a", "img-b"]
    assert not getattr(picker, "disabled", False)
    images, messages = e.on_add_dataset(["img-b", "nope"], [])
    assert [(d["name"], d["group"], d["origin"]) for d in images] == [
        ("img-b", "black_male", "dataset")]
    assert "no image with image_id 'nope'" in _texts(messages)
    explorer_app.close()


def test_without_a_dataset_table_the_page_says_so(app):
    layout = app.dash.layout()
    assert _find(layout, Ids.DATASET_PICK).disabled
    text = _texts(layout)
    assert "No dataset table at" in text and "data/demo/images.parquet" in text
    assert "cropaudit prepare-data" in text


def test_page_loads_its_scripts_locally(app):
    client = app.dash.server.test_client()
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    scripts = [s.split('"')[0] for s in html.split('<script src="')[1:]]
    assert scripts and all(s.startswith("/_dash-component-suites/") for s in scripts)
    assert "http://" not in html and "https://" not in html
    assert client.get("/assets/style.css").status_code == 200


def _find(component, id_):
    """The component with ``id_`` in a layout tree."""
    if getattr(component, "id", None) == id_:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            found = _find(child, id_)
            if found is not None:
                return found
    return None
