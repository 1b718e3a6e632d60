"""Typed results that cross the boundary between saliency backends and their users."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, Union

import numpy as np

from cropaudit.geometry.crops import Crop, candidate_crops

#: What a backend accepts: an image file, or an RGB uint8 array (H, W, 3) already upright.
ImageInput = Union[str, "os.PathLike[str]", np.ndarray]


@dataclass(frozen=True)
class SaliencyResult:
    """Saliency of one image on the model's grid, in the image's own pixel coordinates.

    ``scores[r, c]`` is the model's raw score of grid cell (r, c); that cell sits at
    ``(grid_x[r, c], grid_y[r, c])`` in original pixels (after EXIF orientation). The salient
    point is the first maximum in row-major order, truncated to integers like the original.
    """

    source: str
    width: int
    height: int
    grid_x: np.ndarray
    grid_y: np.ndarray
    scores: np.ndarray
    salient_point: tuple[int, int]
    symmetric: bool = False
    model: str = "fastgaze"
    extra: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    @property
    def grid_shape(self) -> tuple[int, int]:
        rows, cols = self.scores.shape
        return int(rows), int(cols)

    def crops(self, aspect_ratios: Iterable[float] | None = None) -> list[Crop]:
        """Crops like the original program: default ratios (incl. the image's own) if None."""
        return candidate_crops(
            self.width, self.height, self.salient_point, aspect_ratios, symmetric=self.symmetric
        )

    def scores_in_box(self, left: float, top: float, width: float, height: float) -> np.ndarray:
        """Scores of the grid cells whose centre lies inside the given box (e.g. a sub-image)."""
        inside = (
            (self.grid_x >= left)
            & (self.grid_x < left + width)
            & (self.grid_y >= top)
            & (self.grid_y < top + height)
        )
        return self.scores[inside]


@dataclass(frozen=True)
class ImageFailure:
    """An input that could not be processed; batch runs report it and carry on."""

    source: str
    message: str


class SaliencyModel(Protocol):
    """A saliency backend: images in, one result (or failure) per image out, in input order."""

    @property
    def name(self) -> str:
        """The backend's name (``fastgaze``, ``center``, a cropper's name)."""
        ...

    def predict(
        self,
        images: Iterable[ImageInput],
        *,
        sources: Sequence[str] | None = None,
        progress: bool | None = None,
    ) -> Iterator[SaliencyResult | ImageFailure]:
        """Yield one item per input, in order. ``sources`` names inputs in messages;
        ``progress`` None shows a progress bar only on a terminal."""
        ...
