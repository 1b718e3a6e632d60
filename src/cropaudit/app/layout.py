"""The page: a sidebar (images, model, display) and two views (single image, pair / group).

Component ids are constants of :class:`Ids` so that callbacks, tests and the browser test
name the same things. The layout is a function: each page load re-reads the dataset table and
the model-file status, and starts with an empty image list (nothing is kept between sessions).
"""

from __future__ import annotations

import base64
from typing import Any

from dash import dcc, html

from cropaudit.app.analysis import BACKENDS, ModelRegistry
from cropaudit.app.dataset import DatasetView
from cropaudit.app.params import AppParams


class Ids:
    """Ids of the components callbacks read or write."""

    IMAGES = "images-store"
    UPLOAD = "upload"
    UPLOAD_MESSAGES = "upload-messages"
    DATASET_PICK = "dataset-pick"
    DATASET_ADD = "dataset-add"
    IMAGE_COUNT = "image-count"
    CLEAR = "clear-images"
    BACKEND = "backend"
    BACKEND_STATUS = "backend-status"
    OPACITY = "opacity"
    TOP_K = "top-k"
    TABS = "tabs"
    EMPTY = "empty-state"
    VIEWS = "views"
    IMAGE_SELECT = "image-select"
    IMAGE_MESSAGES = "image-messages"
    IMAGE_STATS = "image-stats"
    IMAGE_FIGURE = "image-figure"
    SCORES_FIGURE = "scores-figure"
    CROPS = "crops-gallery"
    IMAGE_PNG = "image-png"
    IMAGE_JSON = "image-json"
    PAIR_SELECT = "pair-select"
    PAIR_LAYOUT = "pair-layout"
    PAIR_SCALING = "pair-scaling"
    PAIR_SIZE = "pair-size"
    PAIR_PADDING = "pair-padding"
    PAIR_MESSAGES = "pair-messages"
    PAIR_HEADLINE = "pair-headline"
    PAIR_FIGURE = "pair-figure"
    PAIR_BARS = "pair-bars"
    PAIR_TABLE = "pair-table"
    PAIR_PNG = "pair-png"
    PAIR_JSON = "pair-json"
    DOWNLOAD = "download"
    COMPARE_SELECT = "compare-select"
    COMPARE_FIRST = "compare-first"
    COMPARE_SECOND = "compare-second"
    COMPARE_MESSAGES = "compare-messages"
    COMPARE_SUMMARY = "compare-summary"
    COMPARE_FIGURE_FIRST = "compare-figure-first"
    COMPARE_FIGURE_SECOND = "compare-figure-second"


#: Plotly toolbar: no logo, PNG export at the figure's size, no editing tools users won't need.
GRAPH_CONFIG: dcc.Graph.Config = {
    "displaylogo": False,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
    "toImageButtonOptions": {"format": "png", "filename": "cropaudit", "scale": 2},
}


def _svg_url(body: str) -> str:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" '
        'stroke="#3949ab" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round">'
        f"{body}</svg>"
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")


UPLOAD_ICON = _svg_url('<path d="M12 16V4M7 9l5-5 5 5"/><path d="M4 16v3a1 1 0 0 0 1 1h14a1 1 0 0 '
                       '0 1-1v-3"/>')
IMAGE_ICON = _svg_url('<rect x="3" y="4" width="18" height="16" rx="2"/><circle cx="9" cy="10" '
                      'r="2"/><path d="M21 17l-5-5-9 8"/>')


def notice(text: str, level: str = "info") -> html.Div:
    """A one-line message box; level is info, warning or error."""
    return html.Div(text, className=f"notice notice-{level}", role="status")


def _card(title: str, *children: Any, **kw: Any) -> html.Section:
    return html.Section([html.H2(title, className="card-title"), *children], className="card",
                        **kw)


def _field(label: str, control: Any, hint: str | None = None) -> html.Div:
    parts: list[Any] = [html.Label(label, className="field-label"), control]
    if hint:
        parts.append(html.Div(hint, className="field-hint"))
    return html.Div(parts, className="field")


def _graph(id_: str, height: int) -> dcc.Graph:
    """A graph whose height follows its figure (``height`` is the placeholder's)."""
    return dcc.Graph(id=id_, config=GRAPH_CONFIG,
                     figure={"data": [], "layout": {"height": height}})


def _sidebar(params: AppParams, dataset: DatasetView, models: ModelRegistry,
             backend: str) -> html.Aside:
    """The left column: images in, the cropper, display settings."""
    return html.Aside([
        _images_card(params, dataset),
        _cropper_card(models, backend),
        _display_card(params),
        html.Div(["Images stay in this app's temporary folder and are deleted when it stops."],
                 className="privacy"),
    ], className="sidebar")


def _images_card(params: AppParams, dataset: DatasetView) -> html.Section:
    """Uploads (within the app's size limits), picks from the dataset table, the count."""
    mb = f"{params.max_upload_mb:g} MB"
    upload = dcc.Upload(
        id=Ids.UPLOAD,
        multiple=True,
        # the browser does not send a larger file; the server refuses larger requests (413)
        max_size=int(params.max_upload_mb * 2**20),
        className="upload-zone",
        children=html.Div([
            html.Img(src=UPLOAD_ICON, className="upload-icon", alt=""),
            html.Div([html.B("Drag and drop images"), " or ", html.U("choose files")]),
            html.Div(f"JPEG, PNG, WebP, TIFF… up to {mb} per drop (larger files are not "
                     f"sent); over {params.max_upload_pixels / 1e6:g} MP they are downscaled",
                     className="field-hint"),
        ]),
    )
    picker, hint = _dataset_picker(dataset)
    return _card(
        "Images",
        upload,
        html.Div(id=Ids.UPLOAD_MESSAGES, className="messages"),
        _field("From the dataset", picker, hint),
        html.Div([
            html.Span("No images yet", id=Ids.IMAGE_COUNT, className="image-count"),
            html.Button("Clear all", id=Ids.CLEAR, className="button button-link",
                        n_clicks=0),
        ], className="image-count-row"),
    )


def _dataset_picker(dataset: DatasetView) -> tuple[html.Div, str]:
    """The dataset table's images to pick from (disabled without a table), and a hint."""
    if dataset.available:
        options = dataset.options()
        picker = html.Div([
            dcc.Dropdown(id=Ids.DATASET_PICK, options=options, multi=True,
                         placeholder="Pick images from the table…"),
            html.Button("Add", id=Ids.DATASET_ADD, className="button button-secondary",
                        n_clicks=0),
        ], className="dataset-row")
        return picker, f"{len(options)} images in {dataset.path}"
    picker = html.Div([
        dcc.Dropdown(id=Ids.DATASET_PICK, options=[], multi=True, disabled=True,
                     placeholder="No dataset table"),
        html.Button("Add", id=Ids.DATASET_ADD, className="button button-secondary",
                    n_clicks=0, disabled=True),
    ], className="dataset-row")
    return picker, dataset.message


def _cropper_card(models: ModelRegistry, backend: str) -> html.Section:
    """The cropper choice, warned when FastGaze's model file is not usable."""
    usable, status = models.status("fastgaze")
    return _card(
        "Cropper",
        dcc.RadioItems(
            id=Ids.BACKEND,
            options=[{"label": label, "value": name} for name, label in BACKENDS.items()],
            value=backend, className="radio-list",
        ),
        html.Div(id=Ids.BACKEND_STATUS, className="field-hint",
                 children=None if usable else notice(
                     f"FastGaze unavailable: {status}", "warning")),
    )


def _display_card(params: AppParams) -> html.Section:
    """Heat-map opacity and how many top points to number."""
    return _card(
        "Display",
        _field("Heat map opacity", dcc.Slider(
            id=Ids.OPACITY, min=0, max=1, step=0.05, value=0.5, updatemode="drag",
            marks={0: "0", 0.5: "0.5", 1: "1"}, tooltip={"placement": "bottom"},
        )),
        _field("Top-k points", dcc.Input(
            id=Ids.TOP_K, type="number", min=0, max=100, step=1, value=params.top_k,
            debounce=True, className="input-number",
        ), "highest-scoring grid cells, numbered"),
    )


def _image_view() -> html.Div:
    return html.Div([
        html.Div([
            _field("Image", dcc.Dropdown(id=Ids.IMAGE_SELECT, options=[], clearable=False,
                                         placeholder="Upload or pick an image")),
            html.Div([
                html.Button("Download figure (PNG)", id=Ids.IMAGE_PNG, n_clicks=0,
                            className="button"),
                html.Button("Download numbers (JSON)", id=Ids.IMAGE_JSON, n_clicks=0,
                            className="button button-secondary"),
            ], className="button-row"),
        ], className="toolbar"),
        dcc.Loading(type="dot", color="#3949ab", children=[
            html.Div(id=Ids.IMAGE_MESSAGES, className="messages"),
            html.Div(id=Ids.IMAGE_STATS, className="stats"),
            html.Div([
                html.Div([html.H3("Heat map, salient point, crops", className="panel-title"),
                          _graph(Ids.IMAGE_FIGURE, 560)], className="panel panel-wide"),
                html.Div([html.H3("Grid scores", className="panel-title"),
                          _graph(Ids.SCORES_FIGURE, 360),
                          html.Div("One score per 16×16 cell of the model's input, placed at "
                                   "the cell's centre in image pixels. Hover the image to "
                                   "read the score under the cursor.", className="field-hint")],
                         className="panel"),
            ], className="panels"),
            html.Div([html.H3("Crops", className="panel-title"),
                      html.Div(id=Ids.CROPS, className="crops")], className="panel"),
        ]),
    ], className="view")


def _pair_view() -> html.Div:
    return html.Div([
        html.Div([
            _field("Images, in order (left→right or top→bottom)", dcc.Dropdown(
                id=Ids.PAIR_SELECT, options=[], multi=True,
                placeholder="Choose two or more images")),
            _field("Layout", dcc.RadioItems(
                id=Ids.PAIR_LAYOUT, value="horizontal", inline=True,
                options=[{"label": "side by side", "value": "horizontal"},
                         {"label": "stacked", "value": "vertical"}])),
            _field("Scaling", dcc.RadioItems(
                id=Ids.PAIR_SCALING, value="none", inline=True,
                options=[{"label": "none", "value": "none"},
                         {"label": "fixed height", "value": "fixed_height"},
                         {"label": "max side", "value": "max_side"}])),
            _field("Size (px)", dcc.Input(id=Ids.PAIR_SIZE, type="number", min=16, step=1,
                                          value=512, debounce=True, className="input-number"),
                   "for fixed height / max side"),
            _field("Padding (px)", dcc.Input(id=Ids.PAIR_PADDING, type="number", min=0, step=1,
                                             value=0, debounce=True, className="input-number")),
        ], className="toolbar toolbar-pair"),
        dcc.Loading(type="dot", color="#3949ab", children=[
            html.Div(id=Ids.PAIR_MESSAGES, className="messages"),
            html.Div(id=Ids.PAIR_HEADLINE, className="headline"),
            html.Div([html.H3("Composite", className="panel-title"),
                      _graph(Ids.PAIR_FIGURE, 480)], className="panel"),
            html.Div([
                html.Div([html.H3("Max saliency per image", className="panel-title"),
                          _graph(Ids.PAIR_BARS, 180)], className="panel"),
                html.Div([html.H3("Members", className="panel-title"),
                          html.Div(id=Ids.PAIR_TABLE, className="table-wrap")],
                         className="panel"),
            ], className="panels panels-even"),
        ]),
        html.Div([
            html.Button("Download figure (PNG)", id=Ids.PAIR_PNG, n_clicks=0, className="button"),
            html.Button("Download numbers (JSON)", id=Ids.PAIR_JSON, n_clicks=0,
                        className="button button-secondary"),
        ], className="button-row"),
    ], className="view")


def _compare_view(backend: str) -> html.Div:
    """Two croppers side by side on one image: points, crops and how much they agree."""
    options = [{"label": label, "value": name} for name, label in BACKENDS.items()]
    second = next((n for n in BACKENDS if n not in (backend, "command")), backend)
    return html.Div([
        html.Div([
            _field("Image", dcc.Dropdown(id=Ids.COMPARE_SELECT, options=[], clearable=False,
                                         placeholder="Upload or pick an image")),
            _field("Left cropper", dcc.Dropdown(id=Ids.COMPARE_FIRST, options=options,
                                                value=backend, clearable=False)),
            _field("Right cropper", dcc.Dropdown(id=Ids.COMPARE_SECOND, options=options,
                                                 value=second, clearable=False)),
        ], className="toolbar toolbar-pair"),
        dcc.Loading(type="dot", color="#3949ab", children=[
            html.Div(id=Ids.COMPARE_MESSAGES, className="messages"),
            html.Div(id=Ids.COMPARE_SUMMARY, className="stats"),
            html.Div([
                html.Div([html.H3("Left cropper", className="panel-title"),
                          _graph(Ids.COMPARE_FIGURE_FIRST, 480)], className="panel"),
                html.Div([html.H3("Right cropper", className="panel-title"),
                          _graph(Ids.COMPARE_FIGURE_SECOND, 480)], className="panel"),
            ], className="panels panels-even"),
        ]),
    ], className="view")


def build_layout(params: AppParams, dataset: DatasetView, models: ModelRegistry,
                 backend: str) -> html.Div:
    """The whole page for one session."""
    return html.Div([
        dcc.Store(id=Ids.IMAGES, data=[], storage_type="memory"),
        dcc.Download(id=Ids.DOWNLOAD),
        html.Header([
            html.Div([html.Span("crop", className="logo-a"), html.Span("audit",
                                                                        className="logo-b")],
                     className="logo"),
            html.Div([html.H1("Crop explorer"),
                      html.P("See what a saliency cropper sees: heat map, salient point, "
                             "top cells and every crop — for one image or a pair.")]),
        ], className="header"),
        html.Main([
            _sidebar(params, dataset, models, backend),
            html.Div([
                html.Div([
                    html.Img(src=IMAGE_ICON, className="empty-icon", alt=""),
                    html.H2("Upload an image to start"),
                    html.P("Drop one or more images on the upload box, or pick them from the "
                           "dataset table. Use the Pair / group tab to join two or more images "
                           "and see which one the cropper keeps."),
                ], id=Ids.EMPTY, className="empty-state"),
                html.Div(dcc.Tabs(id=Ids.TABS, value="image", className="tabs", children=[
                    dcc.Tab(label="Single image", value="image", children=_image_view()),
                    dcc.Tab(label="Pair / group", value="pair", children=_pair_view()),
                    dcc.Tab(label="Compare croppers", value="compare",
                            children=_compare_view(backend)),
                ]), id=Ids.VIEWS, style={"display": "none"}),
            ], className="content"),
        ], className="main"),
    ], className="page")
