"""Saliency maps at image resolution, from the model's coarse grid of scores. Pure NumPy/SciPy.

The model scores one cell per 16×16 block of its 320-pixel input; people look at, and the gaze
analysis segments, a map over the image's own pixels. Two ways to get there:

* :func:`upsample_scores`: a bicubic spline through the cell centres, smooth enough to read as
  a heat map (the app and the review sheets draw it);
* :func:`nearest_scores`: each pixel takes its nearest cell's score, blocky, as the paper's
  notebooks resized their saliency images (``Image.NEAREST``) before segmenting them.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import RectBivariateSpline

from cropaudit.engine.types import SaliencyResult


def _pixel_centres(result: SaliencyResult, width: int, height: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Centres of a ``height`` × ``width`` raster's pixels, in the result's image pixels."""
    xs = (np.arange(width) + 0.5) * (result.width / width)
    ys = (np.arange(height) + 0.5) * (result.height / height)
    return xs, ys


def upsample_scores(result: SaliencyResult, width: int, height: int,
                    scores: np.ndarray | None = None) -> np.ndarray:
    """Grid scores interpolated to a ``height`` × ``width`` raster spanning the whole image.

    A bicubic interpolating spline through the cell centres (which sit at ``grid_x`` /
    ``grid_y``, not on a regular lattice over the image: the last cell is clamped to the
    edge), constant beyond the outer centres, clipped to the scores' range. Smooth enough to
    read as a heat map, exact at every cell centre. ``scores`` replaces the result's own
    (same grid shape), e.g. a transformed map.
    """
    xs, ys = _pixel_centres(result, width, height)
    xs = np.clip(xs, result.grid_x[0, 0], result.grid_x[0, -1])
    ys = np.clip(ys, result.grid_y[0, 0], result.grid_y[-1, 0])
    cx = result.grid_x[0].astype(np.float64)
    cy = result.grid_y[:, 0].astype(np.float64)
    values = (result.scores if scores is None else scores).astype(np.float64)
    if values.shape != result.scores.shape:
        raise ValueError(f"scores of shape {values.shape} do not fit a {result.scores.shape} grid")
    if cx.size == 1:  # one column: repeat it so the spline has an x extent
        cx, values = np.array([cx[0], cx[0] + 1.0]), np.repeat(values, 2, axis=1)
    if cy.size == 1:
        cy, values = np.array([cy[0], cy[0] + 1.0]), np.repeat(values, 2, axis=0)
    # first axis = rows (y), second = columns (x); degree drops on grids too small for cubic
    spline = RectBivariateSpline(cy, cx, values, kx=min(3, cy.size - 1), ky=min(3, cx.size - 1))
    out = spline(ys, xs, grid=True)
    return np.clip(out, values.min(), values.max()).astype(np.float32)


def nearest_scores(result: SaliencyResult, width: int, height: int,
                   scores: np.ndarray | None = None) -> np.ndarray:
    """Each pixel of a ``height`` × ``width`` raster takes the score of its grid cell.

    Cells split the image evenly (rows × cols blocks), as resizing the rows × cols score
    image to the image size with nearest-neighbour sampling does.
    """
    values = result.scores if scores is None else scores
    if values.shape != result.scores.shape:
        raise ValueError(f"scores of shape {values.shape} do not fit a {result.scores.shape} grid")
    rows, cols = values.shape
    r = np.minimum((np.arange(height) * rows) // height, rows - 1)
    c = np.minimum((np.arange(width) * cols) // width, cols - 1)
    return np.asarray(values, dtype=np.float32)[np.ix_(r, c)]


def normalise(values: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] (all zeros when flat), for colouring."""
    lo, hi = float(np.min(values)), float(np.max(values))
    if hi <= lo:
        return np.zeros_like(values, dtype=np.float32)
    return ((values - lo) / (hi - lo)).astype(np.float32)
