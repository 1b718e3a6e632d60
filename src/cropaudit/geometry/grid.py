"""Pure geometry shared by every backend: network input size, grid cells, salient point.

The original program fits each image inside 320 pixels, runs a network whose output has one
cell per 16×16 block, and reports each cell's centre in original pixels. Backends reuse these
functions so that a baseline's grid lines up cell for cell with FastGaze's.
"""

from __future__ import annotations

import math

import numpy as np

#: Long side of the network input.
NETWORK_LONG_SIDE = 320
#: Pixels per output cell (four 2×2 max-pools).
CELL = 16


def fit_size(width: int, height: int, long_side: int = NETWORK_LONG_SIDE) -> tuple[int, int]:
    """Size of the network input: long side = ``long_side``, short side rounded half up."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if width >= height:
        return long_side, max(1, math.floor(height * long_side / width + 0.5))
    return max(1, math.floor(width * long_side / height + 0.5)), long_side


def grid_shape(net_width: int, net_height: int) -> tuple[int, int]:
    """(rows, cols) of the output map: ceil(H/16) × ceil(W/16)."""
    return -(-net_height // CELL), -(-net_width // CELL)


def grid_coordinates(
    width: int, height: int, net_width: int, net_height: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres in original pixels, float32 arrays of shape (rows, cols).

    Cell (r, c) sits at (min(16c + 8, Wr − 1), min(16r + 8, Hr − 1)) in network pixels and is
    scaled by one float32 factor s = min(W/Wr, H/Hr), as the original does.
    """
    rows, cols = grid_shape(net_width, net_height)
    s = min(np.float32(width) / np.float32(net_width), np.float32(height) / np.float32(net_height))
    xs = np.minimum(CELL * np.arange(cols) + CELL // 2, net_width - 1).astype(np.float32) * s
    ys = np.minimum(CELL * np.arange(rows) + CELL // 2, net_height - 1).astype(np.float32) * s
    gx, gy = np.meshgrid(xs, ys)
    return gx.astype(np.float32), gy.astype(np.float32)


def salient_point(scores: np.ndarray, grid_x: np.ndarray, grid_y: np.ndarray) -> tuple[int, int]:
    """First maximum in row-major order (strict >), truncated to integer pixels."""
    flat = int(np.argmax(scores))  # argmax returns the first occurrence
    return int(grid_x.flat[flat]), int(grid_y.flat[flat])
