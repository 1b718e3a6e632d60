"""The ``center`` baseline: a centred Gaussian saliency map, i.e. cropping with no model.

Audits compare FastGaze against it to separate what the model prefers from what the geometry
of the composite alone produces (a centre crop of a side-by-side pair always favours the
middle). Its grid matches FastGaze's cell for cell, so every downstream step is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from tqdm import tqdm

from cropaudit.engine.types import ImageFailure, ImageInput, SaliencyResult
from cropaudit.errors import CropauditError
from cropaudit.geometry.grid import fit_size, grid_coordinates, salient_point
from cropaudit.imaging.source import open_image, oriented_size

#: Gaussian width as a fraction of the image side.
SIGMA_FRACTION = 0.25


def center_scores(width: int, height: int, grid_x: np.ndarray, grid_y: np.ndarray) -> np.ndarray:
    """Isotropic-in-relative-units Gaussian centred on the image middle, peak 1."""
    dx = (grid_x - width / 2.0) / (SIGMA_FRACTION * width)
    dy = (grid_y - height / 2.0) / (SIGMA_FRACTION * height)
    return np.exp(-0.5 * (dx * dx + dy * dy)).astype(np.float32)


class CenterModel:
    """Baseline backend with the :class:`~cropaudit.engine.types.SaliencyModel` interface."""

    name = "center"

    def __init__(self, max_pixels: int = 100_000_000) -> None:
        self.max_pixels = max_pixels

    def result_for_size(self, width: int, height: int, source: str) -> SaliencyResult:
        net_w, net_h = fit_size(width, height)
        gx, gy = grid_coordinates(width, height, net_w, net_h)
        scores = center_scores(width, height, gx, gy)
        return SaliencyResult(
            source=source, width=width, height=height, grid_x=gx, grid_y=gy, scores=scores,
            salient_point=salient_point(scores, gx, gy), symmetric=False, model=self.name,
        )

    def _size_of(self, image: ImageInput) -> tuple[int, int]:
        if isinstance(image, np.ndarray):
            if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
                raise CropauditError(f"array input must be HxWx3 and non-empty, got {image.shape}")
            return int(image.shape[1]), int(image.shape[0])
        with open_image(image, self.max_pixels) as img:
            return oriented_size(img)

    def predict(
        self,
        images: Iterable[ImageInput],
        *,
        sources: Sequence[str] | None = None,
        progress: bool | None = None,
    ) -> Iterator[SaliencyResult | ImageFailure]:
        disable = None if progress is None else not progress
        for i, image in enumerate(tqdm(images, desc="center", unit="img", disable=disable)):
            source = sources[i] if sources is not None else _describe(image, i)
            try:
                w, h = self._size_of(image)
            except CropauditError as exc:
                yield ImageFailure(source, str(exc))
                continue
            yield self.result_for_size(w, h, source)


def _describe(image: ImageInput, index: int) -> str:
    return f"<array #{index}>" if isinstance(image, np.ndarray) else str(image)
