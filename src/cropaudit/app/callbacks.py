"""Callbacks: plain methods of :class:`Explorer`, wired to the page by :func:`register`.

Each method takes the values of its inputs and returns its outputs, so tests call them
directly with real images and the browser runs the very same code. User-facing problems (a
non-image, a missing model file, a removed image) come back as notices on the page; nothing
here raises into Dash.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, cast, get_args

import numpy as np
from dash import Dash, Input, Output, State, dcc, html, no_update

from cropaudit.app.analysis import (
    BACKENDS,
    Analyzer,
    ImageAnalysis,
    PairAnalysis,
    compare_analyses,
    crop_labels,
)
from cropaudit.app.dataset import DatasetSource
from cropaudit.app.export import image_numbers, image_png, pair_numbers, pair_png, to_json
from cropaudit.app.figures import (
    HEAT_TRACE,
    crop_colour,
    crop_thumbnail_url,
    image_figure,
    pair_bars_figure,
    pair_figure,
    scores_figure,
)
from cropaudit.app.images import ImageRecord, ImageStore
from cropaudit.app.layout import Ids, notice
from cropaudit.errors import CropauditError, ModelFileError
from cropaudit.geometry.placement import Layout, Scaling

log = logging.getLogger(__name__)

EMPTY_FIGURE: dict[str, Any] = {"data": [], "layout": {}}
#: The cropper analysed when the page sends none (the model choice cleared).
DEFAULT_BACKEND = "fastgaze"

ImageList = list[dict[str, Any]]
T = TypeVar("T")

#: Browser-side: restyle only the heat-map trace of a figure (no server round trip).
SET_HEAT_OPACITY_JS = """function(opacity, fig) {
    if (!fig || !fig.data || fig.data.length <= HEAT_TRACE) {
        return window.dash_clientside.no_update;
    }
    const data = fig.data.slice();
    data[HEAT_TRACE] = Object.assign({}, data[HEAT_TRACE], {opacity: opacity});
    return Object.assign({}, fig, {data: data});
}"""


def _backend(value: str | None) -> str:
    """The cropper the page chose, or :data:`DEFAULT_BACKEND` when it sent none."""
    return value or DEFAULT_BACKEND


def _records(images: ImageList | None) -> list[ImageRecord]:
    return [ImageRecord.from_dict(d) for d in images or []]


def _add_each(
    items: Iterable[T], add: Callable[[T], ImageRecord]
) -> tuple[list[ImageRecord], list[html.Div]]:
    """Add every item; a bad one becomes an error notice and the rest still go in."""
    added: list[ImageRecord] = []
    messages: list[html.Div] = []
    for item in items:
        try:
            record = add(item)
        except CropauditError as exc:
            messages.append(notice(str(exc), "error"))
            continue
        added.append(record)
        if record.notice:
            messages.append(notice(record.notice, "warning"))
    return added, messages


def _merge(images: ImageList | None, added: Sequence[ImageRecord]) -> Any:
    """The image list with new records appended, or ``no_update`` if all were listed already.

    Not touching the list when nothing is new keeps the current selection where it is.
    """
    out = list(images or [])
    seen = {d["key"] for d in out}
    for r in added:
        if r.key not in seen:
            out.append(r.to_dict())
            seen.add(r.key)
    return out if len(out) > len(images or []) else no_update


def _top_k(value: Any, default: int) -> int:
    """The top-k input's value (whatever the browser sent) as 0..100, else ``default``."""
    try:
        k = int(value)
    except (TypeError, ValueError):
        return default
    return max(0, min(100, k))


def _fmt(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "—"


def _stat(label: str, value: str, sub: str | None = None) -> html.Div:
    parts = [html.Div(label, className="stat-label"), html.Div(value, className="stat-value")]
    if sub:
        parts.append(html.Div(sub, className="stat-sub"))
    return html.Div(parts, className="stat")


def _timing(seconds: float, cached: bool) -> str:
    return "from cache" if cached else f"computed in {seconds:.2f} s"


class Explorer:
    """The app's behaviour, one method per callback."""

    def __init__(self, analyzer: Analyzer, dataset: DatasetSource, default_top_k: int = 5) -> None:
        self.analyzer = analyzer
        self.dataset = dataset
        self.default_top_k = default_top_k

    @property
    def store(self) -> ImageStore:
        return self.analyzer.store

    # -- images in ------------------------------------------------------------------------------

    def on_upload(
        self, contents: Sequence[str] | str | None, names: Sequence[str] | str | None,
        images: ImageList | None,
    ) -> tuple[Any, Any, None]:
        """Decode uploads into the store; -> (image list, notices, reset upload contents)."""
        if not contents:
            return no_update, no_update, None
        if isinstance(contents, str):
            contents = [contents]
            names = [names] if isinstance(names, str) else names
        names = list(names or [])
        named = [
            (item, str(names[i]) if i < len(names) and names[i] else f"upload {i + 1}")
            for i, item in enumerate(contents)
        ]
        added, messages = _add_each(named, lambda pair: self.store.add_upload(*pair))
        if added:
            messages.insert(0, notice(
                f"Added {len(added)} image{'s' if len(added) != 1 else ''}: "
                + ", ".join(r.name for r in added), "info"))
        return _merge(images, added), messages, None

    def on_add_dataset(
        self, picked: Sequence[str] | None, images: ImageList | None
    ) -> tuple[Any, list[html.Div]]:
        """Add images chosen from the dataset table; -> (image list, notices)."""
        if not picked:
            return no_update, [notice("Pick one or more images from the table first.", "info")]
        view = self.dataset.view()

        def add(image_id: str) -> ImageRecord:
            path, group = view.image(image_id)
            return self.store.add_file(path, str(image_id), group=group)

        added, messages = _add_each(picked, add)
        if added:
            messages.insert(0, notice(f"Added {len(added)} image(s) from {view.path}", "info"))
        return _merge(images, added), messages

    def on_clear(self, n_clicks: int | None) -> tuple[ImageList, list[html.Div]]:
        """Forget the page's images (the temp-dir store keeps them until the app stops)."""
        return [], []

    def on_images(
        self, images: ImageList | None, pair: Sequence[str] | None
    ) -> tuple[list[dict[str, str]], str | None, list[dict[str, str]], list[str], str,
               dict[str, str], dict[str, str]]:
        """Refresh the pickers when the image list changes.

        -> (image options, selected image, pair options, pair selection, count text,
        empty-state style, views style). The list only changes when images are added (or
        cleared), so the newest image becomes the selected one; the pair selection keeps what
        is still listed and otherwise takes the first two.
        """
        records = _records(images)
        options = [
            {"label": f"{r.name} · {r.width}×{r.height}" + (f" · {r.group}" if r.group else ""),
             "value": r.key}
            for r in records
        ]
        keys = [r.key for r in records]
        if not records:
            return ([], None, [], [], "No images yet", {"display": "flex"}, {"display": "none"})
        kept = [k for k in (pair or []) if k in keys]
        new_pair = kept if len(kept) >= 2 else keys[:2]
        count = f"{len(records)} image{'s' if len(records) != 1 else ''}"
        return (options, keys[-1], options, new_pair, count, {"display": "none"},
                {"display": "block"})

    def on_backend(self, backend: str | None) -> Any:
        """Status line under the model choice: is its model file there?"""
        name = _backend(backend)
        usable, status = self.analyzer.models.status(name)
        if usable:
            return html.Span(f"✓ {status}", className="ok")
        return notice(f"{BACKENDS.get(name, name)}: {status}", "error")

    # -- single image ---------------------------------------------------------------------------

    def _analyse(self, key: str, backend: str | None, top_k: object) -> ImageAnalysis:
        return self.analyzer.analyse(key, _backend(backend), _top_k(top_k, self.default_top_k))

    def on_view_image(
        self, key: str | None, backend: str | None, top_k: object, opacity: float | None
    ) -> tuple[Any, Any, list[Any], list[Any], list[html.Div]]:
        """-> (image figure, scores figure, crop thumbnails, stats, notices)."""
        if not key:
            return EMPTY_FIGURE, EMPTY_FIGURE, [], [], []
        try:
            a = self._analyse(key, backend, top_k)
            rgb = self.store.pixels(key)
        except CropauditError as exc:
            return EMPTY_FIGURE, EMPTY_FIGURE, [], [], [notice(_model_hint(exc, backend),
                                                               "error")]
        except Exception as exc:  # keep the page alive; the log has the traceback
            log.exception("analysis of %s failed", key)
            return EMPTY_FIGURE, EMPTY_FIGURE, [], [], [notice(f"internal error: {exc}", "error")]
        messages = [notice(a.record.notice, "warning")] if a.record.notice else []
        return (
            image_figure(rgb, a, _opacity(opacity)),
            scores_figure(a.result),
            self._crop_cards(rgb, a),
            self._image_stats(a),
            messages,
        )

    def _crop_cards(self, rgb: np.ndarray, a: ImageAnalysis) -> list[html.Figure]:
        cards = []
        for i, (crop, label) in enumerate(zip(a.crops, crop_labels(a.crops), strict=True)):
            data: dict[str, Any] = {"data-ratio": f"{crop.aspect_ratio:g}"}  # any data-* is valid
            cards.append(html.Figure([
                html.Div(html.Img(src=crop_thumbnail_url(rgb, crop), alt=f"crop {label}"),
                         className="crop-thumb"),
                html.Figcaption([
                    html.B(f"{label} "), html.Span("h/w", className="muted"),
                    html.Div(f"{crop.width}×{crop.height} at ({crop.left}, {crop.top})",
                             className="muted"),
                ]),
            ], className="crop-card", style={"borderTopColor": crop_colour(i)},
                **data))
        return cards

    def _image_stats(self, a: ImageAnalysis) -> list[html.Div]:
        r, rec = a.result, a.record
        size_sub = (f"downscaled from {rec.original_width}×{rec.original_height}"
                    if rec.downscaled else None)
        return [
            _stat("Salient point", f"({r.salient_point[0]}, {r.salient_point[1]})",
                  "symmetric: centred crops" if r.symmetric else None),
            _stat("Max score", _fmt(float(np.max(r.scores))),
                  f"min {_fmt(float(np.min(r.scores)))}") if r.scores.size
            else _stat("Max score", "no map", "point and crops only"),
            _stat("Image", f"{r.width}×{r.height}", size_sub),
            _stat("Model", BACKENDS.get(r.model, r.model).split(" (")[0],
                  _timing(a.seconds, a.cached)),
        ]

    # -- two croppers side by side -------------------------------------------------------------

    def on_compare_options(self, options: list[Any] | None, current: str | None) -> Any:
        """The compare view offers the same images as the single-image view."""
        options = options or []
        values = [o["value"] for o in options]
        return options, current if current in values else (values[-1] if values else None)

    def on_compare(self, key: str | None, first: str | None, second: str | None,
                   top_k: object, opacity: float | None) -> tuple[Any, Any, list[Any], list[Any]]:
        """-> (left figure, right figure, summary stats, notices) for two croppers."""
        if not key or not first or not second:
            return EMPTY_FIGURE, EMPTY_FIGURE, [], []
        figures, analyses, messages = [], [], []
        for backend in (first, second):
            try:
                a = self._analyse(key, backend, top_k)
            except CropauditError as exc:
                figures.append(EMPTY_FIGURE)
                messages.append(notice(_model_hint(exc, backend), "error"))
                continue
            analyses.append(a)
            figures.append(image_figure(self.store.pixels(key), a, _opacity(opacity)))
        if len(analyses) < 2:
            return figures[0], figures[1], [], messages
        c = compare_analyses(*analyses)
        summary = [_stat("Salient points apart", f"{c.point_distance:.0f} px",
                         f"{100 * c.diagonal_fraction:.1f} % of the diagonal")]
        summary += [_stat(f"Crop {a.label} overlap", f"{100 * a.iou:.0f} %", "IoU")
                    for a in c.crops]
        return figures[0], figures[1], summary, messages

    # -- pair / group ---------------------------------------------------------------------------

    def _analyse_pair(self, keys: Sequence[str], backend: str | None, layout: str | None,
                      scaling: str | None, size: Any, padding: Any,
                      top_k: Any) -> PairAnalysis:
        layout = layout or "horizontal"
        scaling = scaling or "none"
        if layout not in get_args(Layout) or scaling not in get_args(Scaling):
            raise CropauditError(f"unknown layout {layout!r} or scaling {scaling!r}")
        try:
            size_px = int(size) if size is not None else 0
            pad = int(padding) if padding is not None else 0
        except (TypeError, ValueError):
            raise CropauditError("size and padding must be whole numbers of pixels") from None
        if pad < 0:
            raise CropauditError("padding must be 0 or more pixels")
        if scaling != "none" and size_px < 16:
            raise CropauditError("scaling size must be at least 16 pixels")
        return self.analyzer.analyse_pair(
            list(keys), _backend(backend), layout=cast(Layout, layout),  # checked above
            scaling=cast(Scaling, scaling), scaling_size=size_px if scaling != "none" else 0,
            padding=pad, top_k=_top_k(top_k, self.default_top_k),
        )

    def on_view_pair(
        self, keys: Sequence[str] | None, layout: str | None, scaling: str | None, size: object,
        padding: object, backend: str | None, top_k: object, opacity: float | None,
    ) -> tuple[Any, Any, Any, Any, list[html.Div]]:
        """-> (composite figure, bars figure, member table, headline, notices)."""
        if not keys or len(keys) < 2:
            return (EMPTY_FIGURE, EMPTY_FIGURE, None, None,
                    [notice("Choose two or more images to compare.", "info")])
        try:
            a = self._analyse_pair(keys, backend, layout, scaling, size, padding, top_k)
        except CropauditError as exc:
            return EMPTY_FIGURE, EMPTY_FIGURE, None, None, [notice(_model_hint(exc, backend),
                                                                  "error")]
        except Exception as exc:
            log.exception("pair analysis failed")
            return EMPTY_FIGURE, EMPTY_FIGURE, None, None, [notice(f"internal error: {exc}",
                                                                  "error")]
        return (pair_figure(a, _opacity(opacity)), pair_bars_figure(a), _member_table(a),
                _headline(a), [])

    # -- downloads ------------------------------------------------------------------------------

    def on_download_image_png(self, n: int | None, key: str | None, backend: str | None,
                              top_k: object, opacity: float | None) -> Any:
        if not n or not key:
            return no_update
        try:
            a = self._analyse(key, backend, top_k)
            png = image_png(self.store.pixels(key), a, _opacity(opacity))
        except CropauditError:
            return no_update
        return dcc.send_bytes(png, f"{_stem(a.record.name)}-{a.result.model}.png")

    def on_download_image_json(self, n: int | None, key: str | None, backend: str | None,
                               top_k: object) -> Any:
        if not n or not key:
            return no_update
        try:
            a = self._analyse(key, backend, top_k)
        except CropauditError:
            return no_update
        return dcc.send_string(to_json(image_numbers(a)),
                               f"{_stem(a.record.name)}-{a.result.model}.json")

    def on_download_pair_png(self, n: int | None, keys: Sequence[str] | None,
                             layout: str | None, scaling: str | None, size: object,
                             padding: object, backend: str | None, top_k: object,
                             opacity: float | None) -> Any:
        if not n or not keys or len(keys) < 2:
            return no_update
        try:
            a = self._analyse_pair(keys, backend, layout, scaling, size, padding, top_k)
        except CropauditError:
            return no_update
        return dcc.send_bytes(pair_png(a, _opacity(opacity)), f"pair-{a.result.model}.png")

    def on_download_pair_json(self, n: int | None, keys: Sequence[str] | None,
                              layout: str | None, scaling: str | None, size: object,
                              padding: object, backend: str | None, top_k: object) -> Any:
        if not n or not keys or len(keys) < 2:
            return no_update
        try:
            a = self._analyse_pair(keys, backend, layout, scaling, size, padding, top_k)
        except CropauditError:
            return no_update
        return dcc.send_string(to_json(pair_numbers(a)), f"pair-{a.result.model}.json")


def _opacity(value: Any) -> float:
    try:
        return min(1.0, max(0.0, float(value)))
    except (TypeError, ValueError):
        return 0.5


def _stem(name: str) -> str:
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:60] or "image"


def _model_hint(exc: CropauditError, backend: str | None) -> str:
    """The error, with what to do about it when the model itself is the problem."""
    if isinstance(exc, ModelFileError):
        name = _backend(backend)
        return (f"{BACKENDS.get(name, name)} cannot be used: {exc}. "
                "Choose the center baseline, or run `cropaudit fetch-model` and try again.")
    return str(exc)


def _headline(a: PairAnalysis) -> html.Div:
    w = a.winner
    where = "left" if a.layout == "horizontal" else "top"
    if len(a.members) == 2 and w.position == 1:
        where = "right" if a.layout == "horizontal" else "bottom"
    elif len(a.members) > 2:
        where = f"position {w.position + 1}"
    sx, sy = a.result.salient_point
    lead = (f"leads by {_fmt(a.margin)} in max saliency" if math.isfinite(a.margin)
            else "max saliency not comparable")
    return html.Div([
        html.Span("Winner", className="badge"),
        html.Span([html.B(f"#{w.position + 1} {w.record.name}"), f" ({where})"],
                  className="headline-name"),
        html.Span(f"salient point ({sx}, {sy}) falls in it · {lead}", className="muted"),
    ])


def _member_table(a: PairAnalysis) -> html.Table:
    """One row per member; the group column only when some member came from the dataset."""
    groups = any(m.record.group for m in a.members)
    head = ["#", "image", *(["group"] if groups else []), "rectangle", "scale", "max", "mean", ""]
    rows = []
    for m in a.members:
        cells = [str(m.position + 1), m.record.name, *([m.record.group or "—"] if groups else []),
                 f"{m.width}×{m.height} @ {m.x},{m.y}", f"{m.scale:.3g}", _fmt(m.score_max),
                 _fmt(m.score_mean)]
        badge = html.Span("wins", className="badge") if m.won else ""
        rows.append(html.Tr([*(html.Td(c) for c in cells), html.Td(badge)],
                            className="winner" if m.won else None))
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
                      className="table")


def register(app: Dash, explorer: Explorer) -> None:
    """Wire the explorer's methods to the page's components, view by view."""
    _wire_image_list(app, explorer)
    _wire_single_image(app, explorer)
    _wire_compare(app, explorer)
    _wire_pair(app, explorer)
    _wire_heat_opacity(app)
    _wire_downloads(app, explorer)


I = Ids  # noqa: E741 - short alias keeps the wiring readable

#: The pair view's controls (component, property): inputs of the view, states of its downloads.
PAIR_CONTROLS = [(I.PAIR_SELECT, "value"), (I.PAIR_LAYOUT, "value"), (I.PAIR_SCALING, "value"),
                 (I.PAIR_SIZE, "value"), (I.PAIR_PADDING, "value"), (I.BACKEND, "value"),
                 (I.TOP_K, "value")]


def _wire_image_list(app: Dash, e: Explorer) -> None:
    """Uploads, dataset picks and clearing change the image list; the list drives the pickers."""
    app.callback(
        Output(I.IMAGES, "data"), Output(I.UPLOAD_MESSAGES, "children"),
        Output(I.UPLOAD, "contents"),
        Input(I.UPLOAD, "contents"), State(I.UPLOAD, "filename"), State(I.IMAGES, "data"),
        prevent_initial_call=True,
    )(e.on_upload)
    app.callback(
        Output(I.IMAGES, "data", allow_duplicate=True),
        Output(I.UPLOAD_MESSAGES, "children", allow_duplicate=True),
        Input(I.DATASET_ADD, "n_clicks"), State(I.DATASET_PICK, "value"), State(I.IMAGES, "data"),
        prevent_initial_call=True,
    )(lambda _n, picked, images: e.on_add_dataset(picked, images))
    app.callback(
        Output(I.IMAGES, "data", allow_duplicate=True),
        Output(I.UPLOAD_MESSAGES, "children", allow_duplicate=True),
        Input(I.CLEAR, "n_clicks"), prevent_initial_call=True,
    )(e.on_clear)
    app.callback(
        Output(I.IMAGE_SELECT, "options"), Output(I.IMAGE_SELECT, "value"),
        Output(I.PAIR_SELECT, "options"), Output(I.PAIR_SELECT, "value"),
        Output(I.IMAGE_COUNT, "children"), Output(I.EMPTY, "style"), Output(I.VIEWS, "style"),
        Input(I.IMAGES, "data"), State(I.PAIR_SELECT, "value"),
    )(e.on_images)


def _wire_single_image(app: Dash, e: Explorer) -> None:
    """The model choice's status line, and the single-image view."""
    app.callback(Output(I.BACKEND_STATUS, "children"), Input(I.BACKEND, "value"))(e.on_backend)
    app.callback(
        Output(I.IMAGE_FIGURE, "figure"), Output(I.SCORES_FIGURE, "figure"),
        Output(I.CROPS, "children"), Output(I.IMAGE_STATS, "children"),
        Output(I.IMAGE_MESSAGES, "children"),
        Input(I.IMAGE_SELECT, "value"), Input(I.BACKEND, "value"), Input(I.TOP_K, "value"),
        State(I.OPACITY, "value"),
    )(e.on_view_image)


def _wire_compare(app: Dash, e: Explorer) -> None:
    """Two croppers side by side on one image (the images of the single-image view)."""
    app.callback(
        Output(I.COMPARE_SELECT, "options"), Output(I.COMPARE_SELECT, "value"),
        Input(I.IMAGE_SELECT, "options"), State(I.COMPARE_SELECT, "value"),
    )(e.on_compare_options)
    app.callback(
        Output(I.COMPARE_FIGURE_FIRST, "figure"), Output(I.COMPARE_FIGURE_SECOND, "figure"),
        Output(I.COMPARE_SUMMARY, "children"), Output(I.COMPARE_MESSAGES, "children"),
        Input(I.COMPARE_SELECT, "value"), Input(I.COMPARE_FIRST, "value"),
        Input(I.COMPARE_SECOND, "value"), Input(I.TOP_K, "value"), State(I.OPACITY, "value"),
    )(e.on_compare)


def _wire_pair(app: Dash, e: Explorer) -> None:
    """The pair (or group) view: a composite of the chosen images and who wins it."""
    app.callback(
        Output(I.PAIR_FIGURE, "figure"), Output(I.PAIR_BARS, "figure"),
        Output(I.PAIR_TABLE, "children"), Output(I.PAIR_HEADLINE, "children"),
        Output(I.PAIR_MESSAGES, "children"),
        *(Input(c, p) for c, p in PAIR_CONTROLS), State(I.OPACITY, "value"),
    )(e.on_view_pair)


def _wire_heat_opacity(app: Dash) -> None:
    """The opacity slider restyles the heat-map trace in the browser: no round trip, no redraw
    of the photo. HEAT_TRACE is the heat map's index in every figure."""
    for graph in (I.IMAGE_FIGURE, I.PAIR_FIGURE, I.COMPARE_FIGURE_FIRST,
                  I.COMPARE_FIGURE_SECOND):
        app.clientside_callback(
            SET_HEAT_OPACITY_JS.replace("HEAT_TRACE", str(HEAT_TRACE)),
            Output(graph, "figure", allow_duplicate=True),
            Input(I.OPACITY, "value"), State(graph, "figure"), prevent_initial_call=True,
        )


def _wire_downloads(app: Dash, e: Explorer) -> None:
    """PNG and JSON downloads of what the single-image and pair views show."""
    pair_states = [State(c, p) for c, p in PAIR_CONTROLS]
    app.callback(
        Output(I.DOWNLOAD, "data"), Input(I.IMAGE_PNG, "n_clicks"), State(I.IMAGE_SELECT, "value"),
        State(I.BACKEND, "value"), State(I.TOP_K, "value"), State(I.OPACITY, "value"),
        prevent_initial_call=True,
    )(e.on_download_image_png)
    app.callback(
        Output(I.DOWNLOAD, "data", allow_duplicate=True), Input(I.IMAGE_JSON, "n_clicks"),
        State(I.IMAGE_SELECT, "value"), State(I.BACKEND, "value"), State(I.TOP_K, "value"),
        prevent_initial_call=True,
    )(e.on_download_image_json)
    app.callback(
        Output(I.DOWNLOAD, "data", allow_duplicate=True), Input(I.PAIR_PNG, "n_clicks"),
        *pair_states, State(I.OPACITY, "value"), prevent_initial_call=True,
    )(e.on_download_pair_png)
    app.callback(
        Output(I.DOWNLOAD, "data", allow_duplicate=True), Input(I.PAIR_JSON, "n_clicks"),
        *pair_states, prevent_initial_call=True,
    )(e.on_download_pair_json)
