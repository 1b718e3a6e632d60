"""What the app computes: saliency per image or composite, cached, plus what is drawn from it.

Models load lazily (TensorFlow only when FastGaze is first used) and a failure to load is an
ordinary, one-line :class:`~cropaudit.errors.CropauditError` the page shows, never a crash.
Every cropper (:mod:`cropaudit.croppers`) can be picked; crops are each cropper's own.
Results are cached in memory per (backend, image hash), bounded, so moving sliders or switching
tabs never reruns the network.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cropaudit.app.images import ImageRecord, ImageStore, pixel_hash
from cropaudit.croppers.base import Cropper, CropperContext, Cropping
from cropaudit.croppers.registry import available, load_cropper
from cropaudit.engine.member_scores import score_members
from cropaudit.engine.model_store import ModelParams, resolve_model_path
from cropaudit.engine.types import ImageFailure, ImageInput, SaliencyResult
from cropaudit.errors import CropauditError
from cropaudit.geometry.crops import DEFAULT_ASPECT_RATIOS, Crop, intersection_area
from cropaudit.geometry.placement import CompositeGeometry, Layout, Scaling, compose
from cropaudit.imaging.composite import render_composite

#: Labels of the engine's own models; other croppers are labelled "name (licence)".
_LABELS = {"fastgaze": "FastGaze (Twitter's model)", "center": "Center baseline (no model)"}


def cropper_labels() -> dict[str, str]:
    """Every cropper (built-ins and installed plugins) with the label shown in the picker."""
    return {name: _LABELS.get(name, f"{name} ({spec.licence})")
            for name, spec in available(warn=False).items()}


#: Croppers offered in the app (every available one), with the label shown next to each.
BACKENDS: dict[str, str] = cropper_labels()


class ModelRegistry:
    """Backends built on first use and kept; a failed load is retried next time.

    Retrying lets a user fix the problem (``cropaudit fetch-model`` in another terminal)
    without restarting the app.
    """

    def __init__(
        self, params: ModelParams, model_path: str | os.PathLike[str] | None = None
    ) -> None:
        self.params = params
        self.model_path = model_path
        self._models: dict[str, Cropper] = {}
        self._lock = threading.Lock()

    def get(self, backend: str) -> Cropper:
        if backend not in BACKENDS:
            raise CropauditError(f"unknown saliency backend {backend!r}")
        with self._lock:
            if backend not in self._models:
                path = None if self.model_path is None else str(self.model_path)
                context = CropperContext(model=self.params, model_path=path)
                self._models[backend] = load_cropper(backend, context)
            return self._models[backend]

    def status(self, backend: str) -> tuple[bool, str]:
        """(usable, one line) without loading the model: is its file where it should be?"""
        if backend == "center":
            return True, "no model file needed"
        if backend == "command":
            return False, ("needs a program: use `cropaudit saliency --cropper command "
                           "--command TEMPLATE`")
        if backend != "fastgaze":
            spec = available(warn=False).get(backend)
            return (True, spec.version()) if spec else (False, "not installed")
        try:
            path = resolve_model_path(self.params, self.model_path)
        except CropauditError as exc:
            return False, str(exc)
        return True, f"model file {path}"


class ResultCache:
    """Bounded least-recently-used map (backend, image hash) -> Cropping."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], Cropping] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[str, str]) -> Cropping | None:
        with self._lock:
            result = self._items.get(key)
            if result is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return result

    def put(self, key: tuple[str, str], result: Cropping) -> None:
        with self._lock:
            self._items[key] = result
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items


# -- what is drawn from a result ---------------------------------------------------------------


@dataclass(frozen=True)
class TopPoint:
    """One of the k highest-scoring grid cells, in image pixels."""

    rank: int
    x: float
    y: float
    score: float


def top_points(result: SaliencyResult, k: int) -> list[TopPoint]:
    """The k grid cells with the highest scores, best first (ties in row-major order)."""
    flat = result.scores.ravel()
    k = max(0, min(k, flat.size))
    order = np.argsort(-flat, kind="stable")[:k]
    return [
        TopPoint(i + 1, float(result.grid_x.flat[j]), float(result.grid_y.flat[j]), float(flat[j]))
        for i, j in enumerate(order)
    ]


def crop_labels(crops: Sequence[Crop]) -> list[str]:
    """``0.56``, ``1``, ... for the configured ratios and ``own 0.667`` for the image's own.

    Crops come from :meth:`SaliencyResult.crops` with the default ratios, so the image's own
    ratio is the one after the configured ones (it may equal one of them, e.g. a square).
    """
    n = len(DEFAULT_ASPECT_RATIOS)
    return [
        f"own {c.aspect_ratio:.3g}" if i == n else f"{c.aspect_ratio:g}"
        for i, c in enumerate(crops)
    ]


# -- analyses ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageAnalysis:
    """Saliency of one stored image with everything the page draws from it."""

    record: ImageRecord
    result: SaliencyResult
    crops: list[Crop]
    top: list[TopPoint]
    seconds: float
    cached: bool


@dataclass(frozen=True)
class MemberOutcome:
    """One member of a composite: where it sits and the scores inside it."""

    record: ImageRecord
    position: int
    x: int
    y: int
    width: int
    height: int
    scale: float
    score_max: float
    score_mean: float
    won: bool


@dataclass(frozen=True)
class PairAnalysis:
    """Saliency of a composite of two or more stored images: who wins, by how much."""

    members: list[MemberOutcome]
    geometry: CompositeGeometry
    composite: np.ndarray = field(repr=False)
    result: SaliencyResult = field(repr=False)
    crops: list[Crop] = field(repr=False)
    top: list[TopPoint] = field(repr=False)
    layout: str = "horizontal"
    scaling: str = "none"
    scaling_size: int = 0
    padding: int = 0
    seconds: float = 0.0
    cached: bool = False

    @property
    def winner(self) -> MemberOutcome:
        return next(m for m in self.members if m.won)

    @property
    def margin(self) -> float:
        """Winner's max score minus the best other member's max (how clearly it won)."""
        others = [m.score_max for m in self.members if not m.won and np.isfinite(m.score_max)]
        if not others or not np.isfinite(self.winner.score_max):
            return float("nan")
        return self.winner.score_max - max(others)


class Analyzer:
    """The app's computation service: stored images + models + the result cache."""

    def __init__(self, store: ImageStore, models: ModelRegistry, cache: ResultCache) -> None:
        self.store = store
        self.models = models
        self.cache = cache
        self._predict_lock = threading.Lock()

    def _saliency(
        self, backend: str, key: str, image: ImageInput, name: str
    ) -> tuple[Cropping, float, bool]:
        """The cropper's saliency and its own crops (default ratios), cached per image."""
        cached = self.cache.get((backend, key))
        if cached is not None:
            return cached, 0.0, True
        cropper = self.models.get(backend)
        start = time.perf_counter()
        with self._predict_lock:  # one inference at a time: the CPU is the bottleneck anyway
            item = next(iter(cropper.crop_images([image], sources=[name], progress=False)))
        seconds = time.perf_counter() - start
        if isinstance(item, ImageFailure):
            raise CropauditError(item.message)
        self.cache.put((backend, key), item)
        return item, seconds, False

    def analyse(self, key: str, backend: str, top_k: int = 5) -> ImageAnalysis:
        """Saliency of a stored image: from its file unless it was downscaled."""
        record = self.store.record(key)
        image: ImageInput = (
            np.ascontiguousarray(self.store.pixels(key))
            if record.downscaled
            else self.store.file_path(key)
        )
        cropping, seconds, cached = self._saliency(backend, key, image, record.name)
        result = cropping.saliency
        if (result.width, result.height) != (record.width, record.height):
            raise CropauditError(
                f"{record.name}: model saw {result.width}x{result.height}, "
                f"app decoded {record.width}x{record.height}"
            )
        return ImageAnalysis(record, result, list(cropping.crops), top_points(result, top_k),
                             seconds, cached)

    def analyse_pair(
        self,
        keys: Sequence[str],
        backend: str,
        *,
        layout: Layout = "horizontal",
        scaling: Scaling = "none",
        scaling_size: int = 0,
        padding: int = 0,
        top_k: int = 5,
    ) -> PairAnalysis:
        """Join stored images into one composite, run saliency on it, score each member."""
        if len(keys) < 2:
            raise CropauditError("pair mode needs at least two images")
        records = [self.store.record(k) for k in keys]
        geometry = compose(
            [(r.width, r.height) for r in records],
            layout=layout, scaling=scaling, scaling_size=scaling_size, padding=padding,
        )
        composite = render_composite([self.store.pixels(k) for k in keys], geometry)
        name = " + ".join(r.name for r in records)
        cropping, seconds, cached = self._saliency(
            backend, pixel_hash(composite), composite, f"composite of {name}"
        )
        result = cropping.saliency
        members = [
            MemberOutcome(record, i, p.x, p.y, p.width, p.height, p.scale, m.score_max,
                          m.score_mean, m.won)
            for i, (record, p, m) in enumerate(
                zip(records, geometry.placements, score_members(result, geometry), strict=True)
            )
        ]
        return PairAnalysis(
            members, geometry, composite, result, list(cropping.crops), top_points(result, top_k),
            layout, scaling, scaling_size, padding, seconds, cached,
        )



# -- two croppers on one image -------------------------------------------------------------------


@dataclass(frozen=True)
class CropAgreement:
    """How two croppers' crops of one ratio overlap."""

    label: str
    iou: float


@dataclass(frozen=True)
class CropperComparison:
    """Two croppers on one image: how far apart their points are, how much their crops share."""

    first: ImageAnalysis
    second: ImageAnalysis
    point_distance: float
    diagonal_fraction: float
    crops: list[CropAgreement]


def crop_iou(a: Crop, b: Crop) -> float:
    """Intersection over union of two crop windows (1 = the same window)."""
    inter = intersection_area(a, b.as_tuple())
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else float("nan")


def compare_analyses(first: ImageAnalysis, second: ImageAnalysis) -> CropperComparison:
    """Side-by-side numbers of two analyses of the same image."""
    (x1, y1), (x2, y2) = first.result.salient_point, second.result.salient_point
    distance = float(np.hypot(x1 - x2, y1 - y2))
    diagonal = float(np.hypot(first.result.width, first.result.height))
    crops = [CropAgreement(label, crop_iou(a, b)) for label, a, b in
             zip(crop_labels(first.crops), first.crops, second.crops, strict=False)]
    return CropperComparison(first, second, distance, distance / diagonal, crops)
