"""Plotly figures and thumbnails of an analysis, in the image's own pixel coordinates.

Images travel to the browser as downscaled data URLs (a 24-megapixel photo would otherwise
be tens of megabytes per redraw); axes stay in original pixels so every coordinate the page
shows matches the JSON export and the CLI. The heat map is a separate image trace whose
opacity the slider changes in place (``HEAT_TRACE``) without resending anything else.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from matplotlib import colormaps
from PIL import Image

from cropaudit.app.analysis import (
    ImageAnalysis,
    PairAnalysis,
    TopPoint,
    crop_labels,
)
from cropaudit.engine.maps import normalise, upsample_scores
from cropaudit.engine.types import SaliencyResult
from cropaudit.geometry.crops import Crop
from cropaudit.untrusted import html

#: Longest side of the photo sent to the browser.
DISPLAY_LONG_SIDE = 1024
#: Longest side of the heat-map raster (smooth, so it needs fewer pixels than the photo).
HEAT_LONG_SIDE = 512
#: Index of the heat-map trace in image figures (the opacity slider patches it).
HEAT_TRACE = 1
#: Colour map of the heat map and the grid-scores plot.
COLORMAP = "turbo"
#: One colour per crop, in ratio order (0.56, 1, 1.14, 2, own), readable on photos.
CROP_COLOURS = ("#00e5ff", "#76ff03", "#ffea00", "#ff4081", "#ff9100", "#b388ff", "#ffffff")
SALIENT_COLOUR = "#ffd600"
WINNER_COLOUR = "#00c853"
MEMBER_COLOUR = "#eceff1"

_PLOT_FONT = {"family": "Inter, system-ui, -apple-system, Segoe UI, Roboto, sans-serif"}


def crop_colour(index: int) -> str:
    return CROP_COLOURS[index % len(CROP_COLOURS)]


def display_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """Size at most ``long_side`` on the long side (never upscaled)."""
    s = min(1.0, long_side / max(width, height))
    return max(1, round(width * s)), max(1, round(height * s))


def _data_url(img: Image.Image, fmt: str) -> str:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(buf, "JPEG", quality=88)
        mime = "image/jpeg"
    else:
        img.save(buf, "PNG", optimize=False)
        mime = "image/png"
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def shrink(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Downscale for display: Lanczos after a cheap box pre-reduction (``reducing_gap``).

    A 12-megapixel photo shrinks in tens of milliseconds instead of a second, with no
    visible difference at display size.
    """
    if rgb.shape[1] == width and rgb.shape[0] == height:
        return np.ascontiguousarray(rgb)
    img = Image.fromarray(np.ascontiguousarray(rgb))
    return np.asarray(img.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=2.0))


def display_rgb(rgb: np.ndarray, long_side: int = DISPLAY_LONG_SIDE) -> np.ndarray:
    """The image at most ``long_side`` pixels on its long side (never upscaled)."""
    h, w = rgb.shape[:2]
    return shrink(rgb, *display_size(w, h, long_side))


def photo_url(rgb: np.ndarray, long_side: int = DISPLAY_LONG_SIDE) -> str:
    """The image, downscaled for display, as a JPEG data URL."""
    return _data_url(Image.fromarray(display_rgb(rgb, long_side)), "JPEG")


def heat_rgb(result: SaliencyResult, long_side: int = HEAT_LONG_SIDE) -> np.ndarray:
    """Colour-mapped, upsampled saliency over the whole image (RGB uint8)."""
    w, h = display_size(result.width, result.height, long_side)
    heat = normalise(upsample_scores(result, w, h))
    return (colormaps[COLORMAP](heat)[..., :3] * 255).astype(np.uint8)


def heat_url(result: SaliencyResult) -> str:
    """The heat map as PNG; fully transparent for croppers without a map."""
    if result.scores.size == 0:
        w, h = display_size(result.width, result.height, HEAT_LONG_SIDE)
        return _data_url(Image.new("RGBA", (w, h), (0, 0, 0, 0)), "PNG")
    return _data_url(Image.fromarray(heat_rgb(result)), "PNG")


def _grid_axes(result: SaliencyResult) -> tuple[np.ndarray, np.ndarray]:
    """x of the first row and y of the first column of the grid (empty without a map)."""
    if result.scores.size == 0:
        return np.zeros(0), np.zeros(0)
    return result.grid_x[0], result.grid_y[:, 0]


def crop_thumbnail_url(rgb: np.ndarray, crop: Crop, height: int = 160) -> str:
    """The crop itself, as the cropper would show it, at a thumbnail height."""
    part = rgb[crop.top : crop.bottom, crop.left : crop.right]
    width = max(1, round(crop.width * height / crop.height))
    return _data_url(Image.fromarray(shrink(part, width, height)), "JPEG")


def _raster_trace(url: str, raster_w: int, raster_h: int, width: int, height: int,
                  **kw: object) -> go.Image:
    """An image trace stretched over [0, width] × [0, height] in image pixels."""
    dx, dy = width / raster_w, height / raster_h
    return go.Image(source=url, dx=dx, dy=dy, x0=dx / 2, y0=dy / 2, hoverinfo="skip", **kw)


def _box_trace(left: float, top: float, width: float, height: float, **kw: object) -> go.Scatter:
    xs = [left, left + width, left + width, left, left]
    ys = [top, top, top + height, top + height, top]
    return go.Scatter(x=xs, y=ys, mode="lines", hoverinfo="name", **kw)


def _image_figure(
    rgb: np.ndarray,
    result: SaliencyResult,
    crops: Sequence[Crop],
    top: Sequence[TopPoint],
    opacity: float,
    *,
    crops_visible: bool | str = True,
    panel_px: int = 560,
) -> go.Figure:
    w, h = result.width, result.height
    fig = go.Figure()
    pw, ph = display_size(w, h, DISPLAY_LONG_SIDE)
    fig.add_trace(_raster_trace(photo_url(rgb), pw, ph, w, h, name="image"))
    hw, hh = display_size(w, h, HEAT_LONG_SIDE)
    fig.add_trace(_raster_trace(heat_url(result), hw, hh, w, h, name="heat map", opacity=opacity))
    fig.add_trace(
        go.Heatmap(  # invisible: gives every pixel a hover read-out of its grid cell's score
            z=result.scores, x=_grid_axes(result)[0], y=_grid_axes(result)[1], opacity=0,
            showscale=False, hovertemplate="x %{x:.0f}, y %{y:.0f}<br>score %{z:.3f}"
            "<extra>grid cell</extra>", name="scores",
        )
    )
    for i, (crop, label) in enumerate(zip(crops, crop_labels(crops), strict=True)):
        fig.add_trace(_box_trace(
            crop.left, crop.top, crop.width, crop.height, name=f"crop {label}",
            line={"color": crop_colour(i), "width": 2.5}, visible=crops_visible,
        ))
    if top:
        fig.add_trace(go.Scatter(
            x=[p.x for p in top], y=[p.y for p in top], mode="markers+text",
            text=[str(p.rank) for p in top], textposition="top right",
            textfont={"color": "white", "size": 12},
            marker={"size": 9, "color": "white", "line": {"color": "black", "width": 1.5}},
            customdata=[p.score for p in top], name=f"top {len(top)} cells",
            hovertemplate="#%{text}: x %{x:.0f}, y %{y:.0f}<br>score %{customdata:.3f}"
            "<extra></extra>",
        ))
    sx, sy = result.salient_point
    fig.add_trace(go.Scatter(
        x=[sx], y=[sy], mode="markers", name="salient point",
        marker={"symbol": "star", "size": 22, "color": SALIENT_COLOUR,
                "line": {"color": "black", "width": 1.5}},
        hovertemplate="salient point<br>x %{x}, y %{y}<extra></extra>",
    ))
    _image_axes(fig, w, h, panel_px)
    return fig


def figure_height(width: int, height: int, panel_px: int, extra: int = 90) -> int:
    """Figure height that shows the image at ``panel_px`` wide without empty bands.

    Plotly keeps pixels square, so a fixed height leaves blank space around wide images;
    the legend below the plot takes ``extra`` pixels. Clamped to a usable range.
    """
    return int(min(760, max(300, panel_px * height / width + extra)))


def _image_axes(fig: go.Figure, width: int, height: int, panel_px: int) -> None:
    fig.update_xaxes(range=[0, width], showgrid=False, zeroline=False, constrain="domain",
                     ticks="outside", tickfont={"size": 10})
    fig.update_yaxes(range=[height, 0], showgrid=False, zeroline=False, scaleanchor="x",
                     constrain="domain", ticks="outside", tickfont={"size": 10})
    fig.update_layout(
        margin={"l": 40, "r": 10, "t": 10, "b": 10}, font=_PLOT_FONT,
        height=figure_height(width, height, panel_px),
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="#f4f5f7", hovermode="closest",
        legend={"orientation": "h", "yanchor": "top", "y": -0.04, "x": 0, "font": {"size": 12}},
        uirevision="image",
    )


def image_figure(rgb: np.ndarray, analysis: ImageAnalysis, opacity: float) -> go.Figure:
    """The image with heat map, crop boxes, top-k cells and salient point."""
    return _image_figure(rgb, analysis.result, analysis.crops, analysis.top, opacity)


def scores_figure(result: SaliencyResult) -> go.Figure:
    """The raw grid scores, one cell per model output, at their positions in the image."""
    fig = go.Figure(go.Heatmap(
        z=result.scores, x=_grid_axes(result)[0], y=_grid_axes(result)[1],
        colorscale=COLORMAP.title(),
        colorbar={"title": {"text": "score"}, "thickness": 12},
        hovertemplate="x %{x:.0f}, y %{y:.0f}<br>score %{z:.3f}<extra></extra>",
    ))
    sx, sy = result.salient_point
    fig.add_trace(go.Scatter(
        x=[sx], y=[sy], mode="markers", name="salient point", showlegend=False,
        marker={"symbol": "star", "size": 16, "color": SALIENT_COLOUR,
                "line": {"color": "black", "width": 1.2}},
        hovertemplate="salient point<br>x %{x}, y %{y}<extra></extra>",
    ))
    fig.update_xaxes(range=[0, result.width], showgrid=False, constrain="domain")
    fig.update_yaxes(range=[result.height, 0], showgrid=False, scaleanchor="x", constrain="domain")
    rows, cols = result.grid_shape
    fig.update_layout(
        margin={"l": 40, "r": 10, "t": 30, "b": 30}, height=360, font=_PLOT_FONT,
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="#f4f5f7",
        title={"text": f"{rows}×{cols} grid, {result.model}", "font": {"size": 13}, "x": 0.02},
    )
    return fig


def pair_figure(analysis: PairAnalysis, opacity: float) -> go.Figure:
    """The composite with heat map, member rectangles (winner in green) and salient point.

    The composite's own crops start hidden (click their legend entries): the question here is
    which member holds the salient point.
    """
    fig = _image_figure(analysis.composite, analysis.result, analysis.crops, analysis.top,
                        opacity, crops_visible="legendonly", panel_px=1000)
    for m in analysis.members:
        colour = WINNER_COLOUR if m.won else MEMBER_COLOUR
        fig.add_trace(_box_trace(
            m.x, m.y, m.width, m.height, name=f"#{m.position + 1} {html(m.record.name)}",
            line={"color": colour, "width": 4 if m.won else 2,
                  "dash": "solid" if m.won else "dash"},
        ))
        fig.add_annotation(
            x=m.x + 6, y=m.y + 6, xanchor="left", yanchor="top", showarrow=False,
            text=f"<b>#{m.position + 1}</b>" + (" wins" if m.won else ""),
            font={"color": "white", "size": 14}, bgcolor=colour if m.won else "rgba(0,0,0,0.55)",
            borderpad=3,
        )
    return fig


def pair_bars_figure(analysis: PairAnalysis) -> go.Figure:
    """Max saliency per member: the winner's bar and its lead over the others."""
    names = [f"#{m.position + 1} {html(m.record.name)}" for m in analysis.members]
    values = [m.score_max for m in analysis.members]
    colours = [WINNER_COLOUR if m.won else "#90a4ae" for m in analysis.members]
    fig = go.Figure(go.Bar(
        x=values, y=names, orientation="h", marker_color=colours,
        text=[f"{v:.3f}" for v in values], textposition="auto",
        hovertemplate="%{y}<br>max score %{x:.3f}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        margin={"l": 10, "r": 10, "t": 10, "b": 30}, height=70 + 40 * len(names),
        font=_PLOT_FONT, paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="#f4f5f7",
    )
    return fig
