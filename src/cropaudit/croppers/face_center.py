"""``face-center``: centre the crop on the largest face (the rule of thumbor and autocrop).

Faces come from the project's MTCNN detector (:mod:`cropaudit.faces.detect`, weights from the
mtcnn wheel) with the ``faces:`` settings of params.yaml (confidence threshold, smallest
face, downscaling of large images). The salient point is the centre of the largest kept face
box; crops follow the original rule around it. **Fallback**: when no face is found, the point
is the image's centre (a centre crop), and the result says so (``extra["face"] = False``).
No map.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cropaudit.croppers.base import (
    CropperContext,
    CropperInfo,
    CropperSpec,
    Cropping,
    PixelCropper,
    Pixels,
    point_cropping,
)

if TYPE_CHECKING:  # the detector module (and its table code) loads when the cropper is built,
    # not when the registry lists it: every other cropper's start-up stays free of it
    from cropaudit.faces.detect import FaceDetector, FacesParams


def face_center_version() -> str:
    from cropaudit.faces.detect import detector_version

    return detector_version()


class FaceCenterCropper(PixelCropper):
    """Largest-face centre → crop rule; image centre when there is no face."""

    def __init__(self, params: FacesParams, detector: FaceDetector | None = None) -> None:
        from cropaudit.faces.detect import load_detector

        self.params = params
        self.analysis_pixels = params.max_pixels
        self.detector = detector or load_detector(params)
        self.info = CropperInfo(
            "face-center", face_center_version(), FACE_CENTER.licence, False,
            FACE_CENTER.description,
            {"min_confidence": params.min_confidence, "min_face_size": params.min_face_size,
             "fallback": "image centre"},
        )

    def crop_pixels(self, pixels: Pixels, source: str,
                    aspect_ratios: Sequence[float] | None) -> Cropping:
        from cropaudit.faces.detect import rank_faces

        faces = [f for f in self.detector.detect(pixels.rgb)
                 if f.confidence >= self.params.min_confidence]
        ranked = rank_faces(faces, "largest")
        if ranked:
            fx, fy = pixels.scale
            box = ranked[0].box
            point = (int((box.left + box.width / 2) * fx), int((box.top + box.height / 2) * fy))
            extra: dict[str, object] = {"face": True, "faces": len(ranked)}
        else:
            point = (pixels.width // 2, pixels.height // 2)
            extra = {"face": False, "faces": 0}
        point = (min(max(point[0], 0), pixels.width - 1), min(max(point[1], 0), pixels.height - 1))
        return point_cropping(source, pixels.width, pixels.height, point, self.name,
                              aspect_ratios, extra)


def build_face_center(context: CropperContext) -> FaceCenterCropper:
    return FaceCenterCropper(context.faces)


FACE_CENTER = CropperSpec(
    name="face-center", factory=build_face_center, has_map=False, licence="MIT (mtcnn)",
    description="centre of the largest MTCNN face (image centre when none) → crop rule",
    version=face_center_version, settings=("faces",),
    requires=("mtcnn", "tensorflow", "tensorflow-cpu"),
)
