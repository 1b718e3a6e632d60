"""``opencv-spectral`` and ``opencv-finegrained``: OpenCV's static saliency (contrib module).

Both give a map only (spectral residual: Hou & Zhang 2007; fine-grained: Montabone & Soto
2010). The crop comes from the same policy as FastGaze: the map is computed on the image
fitted inside 320 pixels (FastGaze's input size, so maps are comparable in scale), the salient
point is its first maximum (cell centres in the image's own pixels, truncated), and each crop
is the largest window of its ratio centred on that point, shifted inside the image.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cropaudit.croppers.base import (
    CropperInfo,
    CropperSpec,
    Cropping,
    PixelCropper,
    Pixels,
    cell_centres,
)
from cropaudit.engine.types import SaliencyResult
from cropaudit.errors import CropauditError
from cropaudit.geometry.grid import fit_size, salient_point

#: cropper name → (OpenCV factory name, description)
ALGORITHMS: dict[str, tuple[str, str]] = {
    "opencv-spectral": ("StaticSaliencySpectralResidual_create",
                        "OpenCV spectral residual saliency map → argmax → crop rule"),
    "opencv-finegrained": ("StaticSaliencyFineGrained_create",
                           "OpenCV fine-grained saliency map → argmax → crop rule"),
}


def opencv_version() -> str:
    try:
        import cv2
    except ImportError:
        return "opencv (not installed)"
    return f"opencv-contrib {cv2.__version__}"


class OpenCVSaliencyCropper(PixelCropper):
    """One of OpenCV's static saliency algorithms, as a map cropper."""

    def __init__(self, name: str) -> None:
        import cv2

        factory, description = ALGORITHMS[name]
        self._algorithm = getattr(cv2.saliency, factory)()
        self.info = CropperInfo(name, opencv_version(), "Apache-2.0", True, description,
                                {"algorithm": factory, "long_side": 320})

    def saliency_map(self, rgb: np.ndarray) -> np.ndarray:
        """The algorithm's map of the image fitted inside 320 pixels (float32, 0..1)."""
        import cv2

        h, w = rgb.shape[:2]
        net_w, net_h = fit_size(w, h)
        small = cv2.resize(rgb, (net_w, net_h), interpolation=cv2.INTER_AREA) \
            if (net_w, net_h) != (w, h) else rgb
        ok, saliency = self._algorithm.computeSaliency(
            np.ascontiguousarray(small[..., ::-1]))  # OpenCV works in BGR
        if not ok:
            raise CropauditError(f"{self.name}: OpenCV could not compute a saliency map")
        return np.ascontiguousarray(saliency, dtype=np.float32)

    def crop_pixels(self, pixels: Pixels, source: str,
                    aspect_ratios: Sequence[float] | None) -> Cropping:
        scores = self.saliency_map(pixels.rgb)
        rows, cols = scores.shape
        gx, gy = cell_centres(pixels.width, pixels.height, rows, cols)
        result = SaliencyResult(
            source=source, width=pixels.width, height=pixels.height, grid_x=gx, grid_y=gy,
            scores=scores, salient_point=salient_point(scores, gx, gy), model=self.name,
        )
        return Cropping(result, tuple(result.crops(aspect_ratios)))


def _spec(name: str) -> CropperSpec:
    return CropperSpec(
        name=name, factory=lambda _context: OpenCVSaliencyCropper(name), has_map=True,
        licence="Apache-2.0", description=ALGORITHMS[name][1], version=opencv_version,
        requires=("opencv-contrib-python-headless",),
    )


OPENCV_SPECTRAL = _spec("opencv-spectral")
OPENCV_FINEGRAINED = _spec("opencv-finegrained")
