"""Downloads: the numbers as JSON and a figure as PNG, built in memory (nothing on disk).

The JSON reuses :func:`cropaudit.engine.formats.result_dict`, the same object ``cropaudit saliency
--format json --all-points`` prints, plus what only the app knows (image provenance, top-k,
pair outcomes), so a number seen in the app can be traced to the CLI. The PNG is drawn with
matplotlib's object API (no pyplot global state: callbacks run in threads); image names
(an upload's file name, a dataset id) are drawn through :func:`cropaudit.untrusted.mathtext`, so
``a $x^{$ b.png`` is a name, not bad mathtext.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cropaudit import __version__
from cropaudit.app.analysis import ImageAnalysis, PairAnalysis, TopPoint, crop_labels
from cropaudit.app.figures import (
    COLORMAP,
    MEMBER_COLOUR,
    SALIENT_COLOUR,
    WINNER_COLOUR,
    crop_colour,
    display_rgb,
    heat_rgb,
)
from cropaudit.app.images import ImageRecord
from cropaudit.engine.formats import result_dict
from cropaudit.untrusted import mathtext

#: Long side of the photo drawn in the PNG (enough for a 12-inch figure at 110 dpi).
EXPORT_LONG_SIDE = 1400
#: Long side of each crop thumbnail in the PNG.
THUMB_LONG_SIDE = 400


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _image_meta(record: ImageRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "sha256": record.sha256,
        "origin": record.origin,
        "group": record.group,
        "width": record.width,
        "height": record.height,
        "original_width": record.original_width,
        "original_height": record.original_height,
        "downscaled": record.downscaled,
    }


def _top(points: list[TopPoint]) -> list[dict[str, float]]:
    return [{"rank": p.rank, "x": p.x, "y": p.y, "score": p.score} for p in points]


def image_numbers(analysis: ImageAnalysis) -> dict[str, Any]:
    """Everything computed for one image, JSON-ready."""
    out = result_dict(analysis.result, analysis.crops, all_points=True)
    for c, label in zip(out["crops"], crop_labels(analysis.crops), strict=True):
        c["label"] = label
    out.update({
        "cropaudit_version": __version__,
        "image": _image_meta(analysis.record),
        "top_k": _top(analysis.top),
    })
    return out


def pair_numbers(analysis: PairAnalysis) -> dict[str, Any]:
    """A composite's outcome, JSON-ready: geometry, per-member scores, winner and margin."""
    out = result_dict(analysis.result, analysis.crops, all_points=True)
    out["source"] = "composite"
    out.update({
        "cropaudit_version": __version__,
        "composite": {
            "layout": analysis.layout,
            "scaling": analysis.scaling,
            "scaling_size": analysis.scaling_size,
            "padding": analysis.padding,
            "width": analysis.geometry.width,
            "height": analysis.geometry.height,
        },
        "members": [
            {
                "position": m.position,
                "image": _image_meta(m.record),
                "x": m.x, "y": m.y, "width": m.width, "height": m.height, "scale": m.scale,
                "score_max": _finite(m.score_max),
                "score_mean": _finite(m.score_mean),
                "won": m.won,
            }
            for m in analysis.members
        ],
        "winner": analysis.winner.position,
        "margin": _finite(analysis.margin),
        "top_k": _top(analysis.top),
    })
    return out


def to_json(numbers: dict[str, Any]) -> str:
    return json.dumps(numbers, indent=2, allow_nan=False) + "\n"


# -- PNG ------------------------------------------------------------------------------------------


def _draw_overlay(ax: Any, rgb: np.ndarray, analysis: ImageAnalysis | PairAnalysis,
                  opacity: float) -> None:
    result = analysis.result
    extent = (0, result.width, result.height, 0)
    ax.imshow(display_rgb(rgb, EXPORT_LONG_SIDE), extent=extent, interpolation="antialiased")
    if result.scores.size:  # croppers without a map show the photo only
        ax.imshow(heat_rgb(result), extent=extent, alpha=opacity, interpolation="bilinear")
    for p in analysis.top:
        ax.plot(p.x, p.y, "o", ms=6, mfc="white", mec="black")
        ax.annotate(str(p.rank), (p.x, p.y), xytext=(4, 4), textcoords="offset points",
                    color="white", fontsize=8, fontweight="bold")
    sx, sy = result.salient_point
    ax.plot(sx, sy, "*", ms=18, mfc=SALIENT_COLOUR, mec="black", label="salient point")
    ax.set_xlim(0, result.width)
    ax.set_ylim(result.height, 0)
    ax.tick_params(labelsize=7)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def image_png(rgb: np.ndarray, analysis: ImageAnalysis, opacity: float) -> bytes:
    """Heat map with crops and points, the grid scores, and every crop as a thumbnail."""
    result = analysis.result
    n = max(1, len(analysis.crops))
    fig = Figure(figsize=(12, 8.5), layout="constrained")
    grid = fig.add_gridspec(2, n, height_ratios=[3, 1.2])
    ax = fig.add_subplot(grid[0, : max(1, n - 2)])
    _draw_overlay(ax, rgb, analysis, opacity)
    labels = crop_labels(analysis.crops)
    for i, crop in enumerate(analysis.crops):
        ax.add_patch(Rectangle((crop.left, crop.top), crop.width, crop.height, fill=False,
                               lw=2, ec=crop_colour(i), label=f"crop {labels[i]}"))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.04), ncol=min(6, n + 1), fontsize=8,
              frameon=False)
    ax.set_title(f"{mathtext(analysis.record.name)} — {result.model}, salient point "
                 f"{result.salient_point}", fontsize=11)
    sax = fig.add_subplot(grid[0, max(1, n - 2):])
    sax.set_xlim(0, result.width)
    sax.set_ylim(result.height, 0)
    sax.set_aspect("equal")
    sax.tick_params(labelsize=7)
    if result.scores.size:
        xs, ys = result.grid_x[0], result.grid_y[:, 0]
        mesh = sax.pcolormesh(xs, ys, result.scores, cmap=COLORMAP, shading="nearest")
        sax.set_title(f"grid scores ({result.grid_shape[0]}×{result.grid_shape[1]})",
                      fontsize=10)
        fig.colorbar(mesh, ax=sax, shrink=0.7)
    else:
        sax.set_title(f"{result.model} has no saliency map", fontsize=10)
    for i, crop in enumerate(analysis.crops):
        tax = fig.add_subplot(grid[1, i])
        part = rgb[crop.top : crop.bottom, crop.left : crop.right]
        tax.imshow(display_rgb(part, THUMB_LONG_SIDE))
        tax.set_title(f"{labels[i]}  ({crop.width}×{crop.height})", fontsize=9,
                      color="black")
        for spine in tax.spines.values():
            spine.set_edgecolor(crop_colour(i))
            spine.set_linewidth(3)
        tax.set_xticks([])
        tax.set_yticks([])
    return _png(fig)


def pair_png(analysis: PairAnalysis, opacity: float) -> bytes:
    """The composite with member rectangles and heat map, and max saliency per member."""
    g = analysis.geometry
    n = len(analysis.members)
    width = 11.0
    image_height = min(9.0, width * g.height / g.width)
    fig = Figure(figsize=(width, image_height + 0.9 + 0.35 * n), layout="constrained")
    grid = fig.add_gridspec(2, 1, height_ratios=[image_height, 0.5 + 0.35 * n])
    ax = fig.add_subplot(grid[0])
    _draw_overlay(ax, analysis.composite, analysis, opacity)
    for m in analysis.members:
        ax.add_patch(Rectangle((m.x, m.y), m.width, m.height, fill=False,
                               lw=3 if m.won else 1.5, ls="-" if m.won else "--",
                               ec=WINNER_COLOUR if m.won else MEMBER_COLOUR))
        ax.text(m.x + 8, m.y + 8, f"#{m.position + 1}" + (" wins" if m.won else ""),
                va="top", color="white", fontsize=10, fontweight="bold",
                bbox={"fc": WINNER_COLOUR if m.won else "black", "alpha": 0.7, "lw": 0})
    w = analysis.winner
    margin = analysis.margin
    ax.set_title(f"{analysis.result.model}: #{w.position + 1} {mathtext(w.record.name)} wins"
                 + (f", leading by {margin:.3f} in max saliency" if math.isfinite(margin)
                    else ""), fontsize=11)
    bax = fig.add_subplot(grid[1])
    names = [f"#{m.position + 1} {mathtext(m.record.name)}" for m in analysis.members]
    values = [m.score_max if math.isfinite(m.score_max) else 0.0 for m in analysis.members]
    bars = bax.barh(names, values, height=0.6,
                    color=[WINNER_COLOUR if m.won else "#90a4ae" for m in analysis.members])
    bax.bar_label(bars, fmt="%.3f", padding=3, fontsize=8)
    bax.invert_yaxis()
    bax.set_xlabel("max saliency in the member's rectangle", fontsize=9)
    bax.tick_params(labelsize=8)
    bax.spines[["top", "right"]].set_visible(False)
    return _png(fig)
