"""The ``Cropper`` interface: any image cropper, audited on the same terms.

A cropper is what a platform runs when it shows a thumbnail. Audits compare croppers on the
same images, so each one answers the same three questions through one interface:

- its **saliency map** with the map's geometry (``SaliencyResult.scores`` on the grid
  ``grid_x``/``grid_y`` in the image's own pixels), where it has one — empty (0×0) otherwise;
- its **salient point**: the map's first maximum for map-based croppers; for croppers that
  decide by other means (a crop search, a face), the centre of their best crop, as each
  cropper documents;
- its **crops**, one per requested aspect ratio (height / width).

A cropper is also a :class:`~cropaudit.engine.types.SaliencyModel` (``predict`` yields the
``SaliencyResult``), so every pipeline stage written for FastGaze runs any cropper unchanged.
Name, version, licence and parameters travel with it (:class:`CropperInfo`) for provenance.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from cropaudit.engine.model_store import ModelParams
from cropaudit.engine.types import ImageFailure, ImageInput, SaliencyModel, SaliencyResult
from cropaudit.errors import CropauditError
from cropaudit.faces.params import FacesParams
from cropaudit.geometry.crops import Crop, candidate_crops, default_aspect_ratios

#: Largest image a pixel-based cropper analyses at full size; larger ones are analysed
#: downscaled (JPEG DCT scaling, then Lanczos) and their point and crops mapped back to the
#: image's own pixels. smartcrop and OpenCV work far below it (≈ 100–320 px) anyway, so a
#: full decode of a large photo would only cost time.
ANALYSIS_PIXELS = 1_000_000


@dataclass(frozen=True)
class CropperInfo:
    """Who made a result: enough to reproduce it and to cite the cropper's licence."""

    name: str
    version: str
    licence: str
    has_map: bool
    description: str = ""
    parameters: Mapping[str, object] = field(default_factory=dict)

    def provenance(self) -> dict[str, object]:
        """Flat description for run metadata (MLflow params, table metadata)."""
        return {"cropper": self.name, "cropper_version": self.version,
                "cropper_licence": self.licence, "cropper_has_map": self.has_map,
                **{f"cropper.{k}": v for k, v in sorted(self.parameters.items())}}


@dataclass(frozen=True)
class Cropping:
    """What one cropper made of one image: its saliency (map may be empty) and its crops."""

    saliency: SaliencyResult
    crops: tuple[Crop, ...]

    @property
    def source(self) -> str:
        return self.saliency.source

    @property
    def salient_point(self) -> tuple[int, int]:
        return self.saliency.salient_point

    @property
    def has_map(self) -> bool:
        return self.saliency.scores.size > 0


@dataclass(frozen=True)
class CropperContext:
    """What built-in croppers may need from the run's configuration.

    Third-party factories receive it too; ``options`` carries free-form ``key=value`` settings
    (e.g. the ``command`` cropper's template) from the command line or params.
    """

    model: ModelParams = field(default_factory=ModelParams)
    model_path: str | None = None
    faces: FacesParams = field(default_factory=FacesParams)
    options: Mapping[str, str] = field(default_factory=dict)


class Cropper(ABC):
    """Base of every cropper; subclasses implement :meth:`crop_images`."""

    info: CropperInfo

    @property
    def name(self) -> str:
        return self.info.name

    @abstractmethod
    def crop_images(
        self,
        images: Iterable[ImageInput],
        *,
        aspect_ratios: Sequence[float] | None = None,
        sources: Sequence[str] | None = None,
        progress: bool | None = None,
    ) -> Iterator[Cropping | ImageFailure]:
        """One cropping or failure per input, in input order.

        ``aspect_ratios`` None means the original program's defaults (0.56, 1.0, 1.14, 2.0 and
        the image's own); ``progress`` None shows a bar only on a terminal.
        """

    def predict(
        self,
        images: Iterable[ImageInput],
        *,
        sources: Sequence[str] | None = None,
        progress: bool | None = None,
    ) -> Iterator[SaliencyResult | ImageFailure]:
        """The :class:`SaliencyModel` view: saliency only, no crops computed."""
        for item in self.crop_images(images, aspect_ratios=(), sources=sources,
                                     progress=progress):
            yield item.saliency if isinstance(item, Cropping) else item


class MapCropper(Cropper):
    """A saliency model used as a cropper: map → first maximum → the original crop rule.

    This is how ``fastgaze`` and ``center`` (existing :class:`SaliencyModel` backends) are
    croppers: their results, symmetry rule included, are unchanged.
    """

    def __init__(self, model: SaliencyModel, info: CropperInfo) -> None:
        self.model = model
        self.info = info

    def crop_images(self, images, *, aspect_ratios=None, sources=None, progress=None):
        for item in self.model.predict(images, sources=sources, progress=progress):
            if isinstance(item, ImageFailure):
                yield item
            else:
                yield Cropping(item, tuple(item.crops(aspect_ratios)))


def resolve_ratios(width: int, height: int, aspect_ratios: Sequence[float] | None) -> list[float]:
    """The requested ratios, or the original program's defaults for this image."""
    return default_aspect_ratios(width, height) if aspect_ratios is None else list(aspect_ratios)


def empty_map() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid and scores of a cropper without a map (0×0 arrays, so stages see 'no cells')."""
    z = np.zeros((0, 0), dtype=np.float32)
    return z, z.copy(), z.copy()


def point_result(source: str, width: int, height: int, point: tuple[int, int], model: str,
                 extra: dict[str, object] | None = None) -> SaliencyResult:
    """A map-less result: only the salient point."""
    gx, gy, scores = empty_map()
    return SaliencyResult(source=source, width=width, height=height, grid_x=gx, grid_y=gy,
                          scores=scores, salient_point=point, model=model, extra=extra or {})


def cell_centres(width: int, height: int, rows: int, cols: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Centres of a rows × cols map spread evenly over the image, in its own pixels."""
    xs = ((np.arange(cols) + 0.5) * (width / cols)).astype(np.float32)
    ys = ((np.arange(rows) + 0.5) * (height / rows)).astype(np.float32)
    gx, gy = np.meshgrid(xs, ys)
    return gx, gy


def crop_centre(crop: Crop) -> tuple[int, int]:
    """Centre of a crop in integer pixels (the salient point of crop-search croppers)."""
    return crop.left + crop.width // 2, crop.top + crop.height // 2


def point_cropping(source: str, width: int, height: int, point: tuple[int, int], model: str,
                   aspect_ratios: Sequence[float] | None,
                   extra: dict[str, object] | None = None) -> Cropping:
    """A map-less cropper's answer when its crops follow the original rule around its point."""
    result = point_result(source, width, height, point, model, extra)
    return Cropping(result, tuple(candidate_crops(width, height, point, aspect_ratios)))


@dataclass(frozen=True)
class Pixels:
    """Upright RGB pixels to analyse and the image's own size (they differ if downscaled)."""

    rgb: np.ndarray
    width: int
    height: int

    @property
    def scale(self) -> tuple[float, float]:
        """Factors from analysed pixels to the image's own pixels."""
        return self.width / self.rgb.shape[1], self.height / self.rgb.shape[0]


def scale_crop(crop: Crop, fx: float, fy: float, width: int, height: int) -> Crop:
    """A crop found on a downscaled copy, in the full image's pixels (clamped inside it)."""
    left = min(max(0, round(crop.left * fx)), width - 1)
    top = min(max(0, round(crop.top * fy)), height - 1)
    w = max(1, min(width - left, round(crop.width * fx)))
    h = max(1, min(height - top, round(crop.height * fy)))
    return Crop(left, top, w, h, crop.aspect_ratio)


class PerImageCropper(Cropper):
    """A cropper that handles one image at a time: the loop, progress and failures.

    Files are decoded by :func:`cropaudit.imaging.upright.decode_upright` (EXIF orientation
    from JPEG EXIF only, PNG alpha 0 → white, as the engine), downscaled above
    ``analysis_pixels``; arrays are taken as already upright RGB. Subclasses implement
    :meth:`crop_one`; a :class:`CropauditError` fails that image only.
    """

    analysis_pixels: int = ANALYSIS_PIXELS
    hard_limit: int = 100_000_000

    @abstractmethod
    def crop_one(self, image: ImageInput, source: str,
                 aspect_ratios: Sequence[float] | None) -> Cropping:
        """Saliency and crops of one input."""

    def load(self, image: ImageInput, source: str) -> Pixels:
        """Upright pixels of a file or an array (one-line errors naming the input)."""
        from cropaudit.imaging.upright import decode_upright

        if isinstance(image, np.ndarray):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 \
                    or 0 in image.shape[:2]:
                raise CropauditError(
                    f"{source}: array input must be non-empty uint8 H×W×3 RGB, "
                    f"got {image.dtype} {image.shape}")
            return Pixels(image, int(image.shape[1]), int(image.shape[0]))
        up = decode_upright(Path(image), source, max_pixels=self.analysis_pixels,
                            hard_limit=self.hard_limit, limit_label="the analysis limit")
        return Pixels(up.rgb, up.original_width, up.original_height)

    def crop_images(self, images, *, aspect_ratios=None, sources=None, progress=None):
        disable = None if progress is None else not progress
        for i, image in enumerate(tqdm(images, desc=self.name, unit="img", disable=disable)):
            source = sources[i] if sources is not None else describe(image, i)
            try:
                yield self.crop_one(image, source, aspect_ratios)
            except CropauditError as exc:
                yield ImageFailure(source, str(exc))
            except (OSError, ValueError, MemoryError) as exc:
                yield ImageFailure(source, f"{source}: cannot process image "
                                           f"({type(exc).__name__}: {exc})")


class PixelCropper(PerImageCropper):
    """A cropper that works on upright RGB pixels from the one decoder; subclasses implement
    :meth:`crop_pixels` and return point and crops in the image's own pixels."""

    @abstractmethod
    def crop_pixels(self, pixels: Pixels, source: str,
                    aspect_ratios: Sequence[float] | None) -> Cropping:
        """Saliency and crops of one image."""

    def crop_one(self, image: ImageInput, source: str,
                 aspect_ratios: Sequence[float] | None) -> Cropping:
        return self.crop_pixels(self.load(image, source), source, aspect_ratios)


def number_option(options: Mapping[str, str], key: str, default: float, cropper: str) -> float:
    """A numeric cropper option, or a one-line error naming it."""
    text = options.get(key)
    if text is None:
        return default
    try:
        return float(text)
    except ValueError:
        raise CropauditError(f"cropper {cropper}: option {key}={text!r} is not a number") from None


def describe(image: ImageInput, index: int) -> str:
    """How an input is named in messages when the caller gave no name."""
    return f"<array #{index}>" if isinstance(image, np.ndarray) else str(image)


@dataclass(frozen=True)
class CropperSpec:
    """A cropper as the registry knows it, before anything heavy is loaded.

    ``version`` is a callable so that listing croppers never builds a model (FastGaze and
    MTCNN import TensorFlow). Third-party packages expose one ``CropperSpec`` through the
    ``cropaudit.croppers`` entry-point group (docs/croppers.md).
    """

    name: str
    factory: Callable[[CropperContext], Cropper]
    has_map: bool
    licence: str
    description: str
    version: Callable[[], str]
    #: runs without network or user-supplied programs: part of the default audit
    offline: bool = True
    #: configuration keys its factory reads besides ``cropper_options.<name>`` (a workflow
    #: reruns the cropper's jobs when they change, and only then)
    settings: tuple[str, ...] = ()
    #: distributions whose versions change its results (a new pin reruns its jobs)
    requires: tuple[str, ...] = ()

    def build(self, context: CropperContext | None = None) -> Cropper:
        cropper = self.factory(context or CropperContext())
        if not isinstance(cropper, Cropper):
            raise CropauditError(f"cropper {self.name!r}: its factory returned "
                                 f"{type(cropper).__name__}, not a Cropper")
        return cropper
