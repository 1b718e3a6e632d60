"""The face detector (MTCNN, real weights from its wheel) and the faces table.

The smoke test uses scikit-image's astronaut photo (public domain, bundled in the wheel).
Hand-read positions in it (pixels of the 512 × 512 image): eyes at about (203, 101) and
(247, 103), mouth centre about (225, 147), cheeks at x ≈ 183 and 268, chin at y ≈ 180.
"""

from __future__ import annotations

import io
import math
import os
import socket

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from skimage import data

from cropaudit.config import parse_params
from cropaudit.contracts import FACE_COLUMNS
from cropaudit.datasets import demo
from cropaudit.errors import InputFileError
from cropaudit.faces.detect import (
    DetectedFace,
    FacesParams,
    MtcnnDetector,
    detect_faces,
    face_rows,
    mtcnn_weight_paths,
)
from cropaudit.faces.geometry import Box
from cropaudit.faces.table import primary_faces, read_faces
from cropaudit.outputs import write_parquet

EYES = ((203, 101), (247, 103))
MOUTH = (225, 147)
FACE_CENTRE = (225, 130)


@pytest.fixture(scope="module")
def no_network():
    """Any attempt to open a connection or resolve a name fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    mp = pytest.MonkeyPatch()
    mp.setattr(socket.socket, "connect", refuse)
    mp.setattr(socket, "create_connection", refuse)
    mp.setattr(socket, "getaddrinfo", refuse)
    yield
    mp.undo()


@pytest.fixture(scope="module")
def detector(no_network, tmp_path_factory):
    # a decoy weight file in the working directory must not be picked up
    cwd = os.getcwd()
    decoy = tmp_path_factory.mktemp("cwd")
    (decoy / "pnet.lz4").write_bytes(b"not weights")
    os.chdir(decoy)
    try:
        return MtcnnDetector()
    finally:
        os.chdir(cwd)


def test_weights_come_from_the_installed_package():
    paths = mtcnn_weight_paths()
    assert [p.name for p in paths] == ["pnet.lz4", "rnet.lz4", "onet.lz4"]
    assert all(p.is_absolute() and p.is_file() and "mtcnn" in p.parts for p in paths)


def test_astronaut_face_is_found_offline(detector):
    faces = detector.detect(data.astronaut())
    assert len(faces) == 1
    face = faces[0]
    assert face.confidence > 0.9
    box = face.box
    for x, y in (*EYES, MOUTH):
        assert box.contains(x, y), (box, (x, y))
    cx, cy = box.left + box.width / 2, box.top + box.height / 2
    assert math.dist((cx, cy), FACE_CENTRE) < 20
    assert 60 < box.width < 130 and 70 < box.height < 150
    for name, expected in zip(("left_eye", "right_eye"), EYES, strict=True):
        assert math.dist(face.landmarks[name], expected) < 8, (name, face.landmarks[name])
    assert math.dist(face.landmarks["mouth_left"], MOUTH) < 30


def _jpeg(rgb: np.ndarray, path, orientation: int | None = None) -> None:
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    Image.fromarray(rgb).save(path, "JPEG", quality=95, exif=exif)


def _table(rows) -> pd.DataFrame:
    return pd.DataFrame([{"image_id": i, "path": f"images/{i}.jpg", "width": w, "height": h,
                          "group": g} for i, g, w, h in rows])


def test_detection_uses_upright_pixels_and_maps_downscaled_boxes_back(detector, tmp_path):
    (tmp_path / "images").mkdir()
    upright = data.astronaut()
    # stored rotated 90° counter-clockwise; EXIF 6 says "rotate 90° clockwise to view"
    _jpeg(np.ascontiguousarray(np.rot90(upright, k=1)), tmp_path / "images/rot.jpg", 6)
    _jpeg(upright, tmp_path / "images/big.jpg")
    blank = np.full((120, 90, 3), 128, np.uint8)
    _jpeg(blank, tmp_path / "images/blank.jpg")
    table = _table([("rot", "a", 512, 512), ("big", "b", 512, 512), ("blank", "b", 90, 120)])
    params = FacesParams(max_pixels=200_000)  # astronaut (262 144 px) is detected downscaled
    faces = detect_faces(table, tmp_path / "images.parquet", detector, params,
                         hard_limit=10**9)
    assert list(faces.columns) == list(FACE_COLUMNS)
    primary = primary_faces(faces)
    for image_id in ("rot", "big"):
        row = primary.loc[image_id]
        box = Box(row["x"], row["y"], row["width"], row["height"])
        for x, y in (*EYES, MOUTH):
            assert box.contains(x, y), (image_id, box)
    blank_row = faces[faces["image_id"] == "blank"]
    assert len(blank_row) == 1 and int(blank_row["n_faces"].iloc[0]) == 0
    assert blank_row["x"].isna().all() and not blank_row["primary"].any()


def test_table_size_must_match_the_upright_image(detector, tmp_path):
    (tmp_path / "images").mkdir()
    _jpeg(np.zeros((50, 40, 3), np.uint8), tmp_path / "images/x.jpg")
    with pytest.raises(InputFileError, match="dataset table says 50x40"):
        detect_faces(_table([("x", "a", 50, 40)]), tmp_path / "t.parquet", detector,
                     FacesParams(), hard_limit=10**9)


def test_the_demo_portraits_give_the_detector_a_face(detector):
    """One matched set of the demo (one portrait per group) for three layouts."""
    for i in range(3):
        layout = demo.draw_layout(np.random.default_rng([2021, i]))
        for cell in range(4):
            img = demo.draw_portrait(layout, np.random.default_rng([2021, i, 1 + cell]),
                                     marked=cell < 2)
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=92)
            faces = [f for f in detector.detect(np.asarray(Image.open(buf).convert("RGB")))
                     if f.confidence >= 0.9]
            assert faces, (i, cell)
            best = max(faces, key=lambda f: f.box.area)
            centre = (best.box.left + best.box.width / 2, best.box.top + best.box.height / 2)
            assert math.dist(centre, (layout.head_x, layout.head_y)) < layout.head_radius


def test_graph_networks_find_what_keras_eager_calls_find(detector):
    """The detector runs MTCNN's networks as graph functions (faces.detect.as_graph); mtcnn's
    own eager Keras calls give the same boxes and confidences, bit for bit, on images of many
    sizes (one trace serves them all)."""
    from mtcnn import MTCNN

    assert all(hasattr(s._model, "get_concrete_function") for s in detector._mtcnn._stages)
    eager = MTCNN(stages=[type(s)(weights=str(w)) for s, w in
                          zip(detector._mtcnn._stages, mtcnn_weight_paths(), strict=True)])
    rng = np.random.default_rng(7)
    astronaut = data.astronaut()
    for _ in range(6):
        h, w = (int(v) for v in rng.integers(120, 520, size=2))
        img = np.asarray(Image.fromarray(astronaut).resize((w, h)))
        ours = detector._mtcnn.detect_faces(img, min_face_size=20, box_format="xywh")
        theirs = eager.detect_faces(img, min_face_size=20, box_format="xywh")
        assert [f["box"] for f in ours] == [f["box"] for f in theirs]
        assert [f["confidence"] for f in ours] == [f["confidence"] for f in theirs]
        assert ours, (w, h)


def _face(x, y, w, h, conf) -> DetectedFace:
    return DetectedFace(Box(x, y, w, h), conf, {"nose": (x + w / 2, y + h / 2)})


def test_primary_face_rule_and_confidence_cut():
    faces = [_face(0, 0, 10, 10, 0.99), _face(50, 50, 30, 30, 0.95), _face(5, 5, 60, 60, 0.5)]
    rows = face_rows("i", "g", (100, 100), faces, FacesParams(min_confidence=0.9))
    assert [r["face_index"] for r in rows] == [0, 1] and rows[0]["n_faces"] == 2
    assert rows[0]["width"] == 30 and rows[0]["primary"]  # largest confident box
    assert rows[0]["nose_x"] == 65 and np.isnan(rows[0]["left_eye_x"])
    rows = face_rows("i", "g", (100, 100), faces,
                     FacesParams(min_confidence=0.9, primary="most_confident"))
    assert rows[0]["width"] == 10
    none = face_rows("i", "g", (100, 100), faces, FacesParams(min_confidence=0.999))
    assert len(none) == 1 and none[0]["n_faces"] == 0 and none[0]["face_index"] == -1


def test_read_faces_refuses_a_table_missing_dataset_images(tmp_path):
    rows = face_rows("a", "g", (10, 10), [], FacesParams())
    write_parquet(pd.DataFrame(rows, columns=list(FACE_COLUMNS)), tmp_path / "faces.parquet")
    table = pd.DataFrame({"image_id": ["a", "b"]})
    assert len(read_faces(tmp_path / "faces.parquet", table.iloc[:1])) == 1
    with pytest.raises(InputFileError, match=r"1 dataset image.*'b'.*cropaudit faces"):
        read_faces(tmp_path / "faces.parquet", table)


def test_faces_section_is_validated():
    with pytest.raises(Exception, match=r"faces\.min_confidence"):
        parse_params({"faces": {"min_confidence": 1.5}}, source="params.yaml")
    with pytest.raises(Exception, match=r"faces\.primary"):
        parse_params({"faces": {"primary": "smallest"}}, source="params.yaml")
