"""Face boxes of every dataset image, detected once and kept as a table.

Whether a crop keeps a person's *face*, or whether the salient point lands on it, needs to
know where the face is. Faces are found by MTCNN (the ``mtcnn`` package, TensorFlow), whose
weights ship inside its wheel: they are loaded from the installed package by absolute path,
so nothing is ever downloaded and no file of the working directory can stand in for them.
Detection runs on the same upright pixels the saliency engine sees
(:func:`cropaudit.imaging.upright.decode_upright`: EXIF orientation from JPEG EXIF only,
PNG alpha 0 → white); very large images are downscaled first (``faces.max_pixels``) and their
boxes mapped back to the image's own pixels.

The table keeps **every** box at or above ``faces.min_confidence``, ranked: rank 0 is "the"
face of the image (``primary``) — by default the largest box (portraits: the subject is the
largest face; bystanders are smaller), ties broken by confidence; ``faces.primary:
most_confident`` ranks by confidence instead. An image where nothing is found still has one
row, with ``n_faces = 0`` and no box, so the table shows that every image was looked at.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from tqdm import tqdm

from cropaudit.contracts import FACE_COLUMNS
from cropaudit.datasets.table import image_path
from cropaudit.errors import CropauditError, InputFileError
from cropaudit.faces.geometry import Box
from cropaudit.faces.params import FacesParams as FacesParams

if TYPE_CHECKING:  # pandas only for the faces table: the face-center cropper starts without it
    import pandas as pd

log = logging.getLogger(__name__)

#: MTCNN's landmarks, in the order of the table's columns.
LANDMARKS: tuple[str, ...] = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
#: The weight files inside the mtcnn wheel, one per stage of its cascade.
MTCNN_WEIGHTS: tuple[str, ...] = ("pnet.lz4", "rnet.lz4", "onet.lz4")


@dataclass(frozen=True)
class DetectedFace:
    """One face in an image's own upright pixels."""

    box: Box
    confidence: float
    landmarks: dict[str, tuple[float, float]]


class FaceDetector(Protocol):
    """Upright RGB uint8 pixels (H, W, 3) in, faces out (any order)."""

    name: str

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]: ...


def detector_version() -> str:
    try:
        return f"mtcnn {version('mtcnn')}"
    except PackageNotFoundError:  # pragma: no cover - mtcnn is a dependency
        return "mtcnn (unknown version)"


def mtcnn_weight_paths() -> list[Path]:
    """Absolute paths of the weights shipped in the mtcnn wheel (checked to exist).

    Found from the package's location without importing it (importing mtcnn imports
    TensorFlow).
    """
    spec = importlib.util.find_spec("mtcnn")
    if spec is None or spec.origin is None:
        raise CropauditError("the mtcnn package is not installed (pip install mtcnn)")
    root = Path(spec.origin).resolve().parent / "assets" / "weights"
    paths = [root / name for name in MTCNN_WEIGHTS]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise CropauditError(
            f"mtcnn's packaged weights are missing ({', '.join(missing)}): reinstall mtcnn"
        )
    return paths


class MtcnnDetector:
    """MTCNN (P-, R- and O-Net cascade, with five landmarks) on TensorFlow.

    Each stage is given the absolute path of its packaged weight file: mtcnn would otherwise
    look for ``pnet.lz4`` & co. in the current directory first.
    """

    name = "mtcnn"

    def __init__(self, *, min_face_size: int = 20) -> None:
        from cropaudit.engine.fastgaze import configure_tensorflow, import_tensorflow

        import_tensorflow()  # before mtcnn imports TensorFlow itself: silences start-up noise
        device = configure_tensorflow()
        from mtcnn import MTCNN
        from mtcnn.stages import StageONet, StagePNet, StageRNet

        pnet, rnet, onet = (str(p) for p in mtcnn_weight_paths())
        stages = [StagePNet(weights=pnet), StageRNet(weights=rnet), StageONet(weights=onet)]
        for stage, patch in zip(stages, (None, 24, 48), strict=True):
            stage._model = as_graph(stage._model, patch)
        self._mtcnn = MTCNN(stages=stages, device=f"{device}:0")
        self.min_face_size = min_face_size

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        if min(rgb.shape[:2]) < 12:  # below MTCNN's smallest window: nothing to find
            return []
        found = self._mtcnn.detect_faces(
            np.ascontiguousarray(rgb), min_face_size=self.min_face_size, box_format="xywh"
        )
        out = []
        for face in found:
            x, y, w, h = (float(v) for v in face["box"])
            if w <= 0 or h <= 0:
                continue
            points = face.get("keypoints", {})
            out.append(DetectedFace(
                Box(x, y, w, h), float(face["confidence"]),
                {k: (float(points[k][0]), float(points[k][1])) for k in LANDMARKS if k in points},
            ))
        return out


def as_graph(model: Any, patch: int | None) -> Any:
    """One MTCNN network as a TensorFlow graph function over any batch (and, for PNet, any
    image size): one trace instead of Keras' eager layer calls for every pyramid scale and
    batch. 2.2× less CPU per image, the same boxes and confidences to the last bit
    (tests/test_faces.py). ``patch``: RNet's and ONet's fixed input side; None for PNet."""
    import tensorflow as tf

    shape = [None, None, None, 3] if patch is None else [None, patch, patch, 3]
    return tf.function(model, input_signature=[tf.TensorSpec(shape, tf.float32)])


def load_detector(params: FacesParams) -> FaceDetector:
    """The configured detector (only MTCNN today)."""
    return MtcnnDetector(min_face_size=params.min_face_size)


def rank_faces(faces: Iterable[DetectedFace], rule: str) -> list[DetectedFace]:
    """Faces best first under the primary-face rule (stable for exact ties)."""
    if rule == "largest":
        return sorted(faces, key=lambda f: (-f.box.area, -f.confidence))
    if rule == "most_confident":
        return sorted(faces, key=lambda f: (-f.confidence, -f.box.area))
    raise ValueError(f"unknown primary-face rule {rule!r}")


def scale_face(face: DetectedFace, fx: float, fy: float) -> DetectedFace:
    """A face found on a downscaled copy, in the full image's pixels."""
    b = face.box
    return DetectedFace(
        Box(b.left * fx, b.top * fy, b.width * fx, b.height * fy), face.confidence,
        {k: (x * fx, y * fy) for k, (x, y) in face.landmarks.items()},
    )


def face_rows(image_id: str, group: str, size: tuple[int, int],
              faces: list[DetectedFace], params: FacesParams) -> list[dict[str, object]]:
    """The table rows of one image: its kept faces ranked, or one row saying none was found."""
    kept = rank_faces((f for f in faces if f.confidence >= params.min_confidence),
                      params.primary)
    base = {"image_id": image_id, "group": group, "image_width": size[0],
            "image_height": size[1], "n_faces": len(kept)}
    if not kept:
        empty = dict.fromkeys(
            ["x", "y", "width", "height", "confidence",
             *(f"{k}_{a}" for k in LANDMARKS for a in "xy")], np.nan)
        return [{**base, "face_index": -1, "primary": False, **empty}]
    rows: list[dict[str, object]] = []
    for i, f in enumerate(kept):
        marks: dict[str, float] = {}
        for k in LANDMARKS:
            x, y = f.landmarks.get(k, (np.nan, np.nan))
            marks[f"{k}_x"], marks[f"{k}_y"] = x, y
        rows.append({
            **base, "face_index": i, "primary": i == 0,
            "x": f.box.left, "y": f.box.top, "width": f.box.width, "height": f.box.height,
            "confidence": f.confidence, **marks,
        })
    return rows


def detect_image(path: Path, detector: FaceDetector, params: FacesParams, *, hard_limit: int
                 ) -> tuple[tuple[int, int], list[DetectedFace]]:
    """(upright size, faces in its pixels) of one image file."""
    from cropaudit.imaging.upright import decode_upright

    upright = decode_upright(path, str(path), max_pixels=params.max_pixels,
                             hard_limit=hard_limit, limit_label="faces.max_pixels")
    size = (upright.original_width, upright.original_height)
    faces = detector.detect(upright.rgb)
    h, w = upright.rgb.shape[:2]
    if (w, h) != size:
        faces = [scale_face(f, size[0] / w, size[1] / h) for f in faces]
    return size, faces


def detect_faces(table: pd.DataFrame, dataset_path: str | os.PathLike[str],
                 detector: FaceDetector, params: FacesParams, *, hard_limit: int,
                 progress: bool | None = None) -> pd.DataFrame:
    """The faces table of a dataset table (docs/data-contracts.md)."""
    import pandas as pd

    rows: list[dict[str, object]] = []
    disable = None if progress is None else not progress
    for r in tqdm(list(table.itertuples(index=False)), desc="faces", unit="img",
                  disable=disable):
        path = image_path(dataset_path, str(r.path))
        size, faces = detect_image(path, detector, params, hard_limit=hard_limit)
        if size != (int(r.width), int(r.height)):
            raise InputFileError(
                f"{path}: image is {size[0]}x{size[1]} but the dataset table says "
                f"{r.width}x{r.height} (re-run `cropaudit prepare-data`)"
            )
        rows += face_rows(str(r.image_id), str(r.group), size, faces, params)
    return pd.DataFrame(rows, columns=list(FACE_COLUMNS))
