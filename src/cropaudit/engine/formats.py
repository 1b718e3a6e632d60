"""Text and JSON renderings of a saliency result.

``candidate-crops`` reproduces, byte for byte, the stdout of Twitter's original
``candidate_crops`` program, so scripts written against it keep working: the salient point,
one ``left top width height`` line per aspect ratio, then (with all points) one
``x y score`` line per grid cell, numbers printed like C's ``%g``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from cropaudit.engine.types import SaliencyResult
from cropaudit.geometry.crops import Crop
from cropaudit.untrusted import terminal


def _g(value: float) -> str:
    """C ``%g`` of a float32 value (6 significant digits)."""
    return format(float(np.float32(value)), "g")


def candidate_crops_text(
    result: SaliencyResult, crops: Sequence[Crop], *, all_points: bool = False
) -> str:
    """The original program's output for one image."""
    x, y = result.salient_point
    lines = [f"{x} {y}"]
    lines += [f"{c.left} {c.top} {c.width} {c.height}" for c in crops]
    if all_points:
        lines += [
            f"{_g(px)} {_g(py)} {_g(s)}"
            for px, py, s in zip(
                result.grid_x.ravel(), result.grid_y.ravel(), result.scores.ravel(), strict=True
            )
        ]
    return "\n".join(lines) + "\n"


BACKSLASH = "\\"


def source_header(source: str) -> str:
    """The ``# <file>`` line that separates images in candidate-crops output.

    A file name may contain a newline (or a backslash, or any other control character); those
    are written as ``\\n``, ``\\\\`` and ``\\x..`` (:func:`cropaudit.untrusted.terminal`)
    so that the header stays one line and a reader cannot take the rest of the name for a
    result line.
    """
    return f"# {terminal(source.replace(BACKSLASH, BACKSLASH * 2))}\n"


def result_dict(
    result: SaliencyResult, crops: Sequence[Crop], *, all_points: bool = False
) -> dict[str, Any]:
    """A JSON-ready description of one result (points only when asked: they are many)."""
    out: dict[str, Any] = {
        "source": result.source,
        "model": result.model,
        "width": result.width,
        "height": result.height,
        "salient_point": list(result.salient_point),
        "symmetric": result.symmetric,
        "max_score": float(np.max(result.scores)) if result.scores.size else None,
        "crops": [
            {"aspect_ratio": c.aspect_ratio, "left": c.left, "top": c.top,
             "width": c.width, "height": c.height}
            for c in crops
        ],
    }
    if all_points:
        out["grid_shape"] = list(result.grid_shape)
        out["points"] = [
            [float(px), float(py), float(s)]
            for px, py, s in zip(
                result.grid_x.ravel(), result.grid_y.ravel(), result.scores.ravel(), strict=True
            )
        ]
    return out


def result_json(result: SaliencyResult, crops: Sequence[Crop], *, all_points: bool = False) -> str:
    """One JSON object on one line (JSON Lines when several images are printed)."""
    return json.dumps(result_dict(result, crops, all_points=all_points)) + "\n"
