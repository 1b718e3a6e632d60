"""``fastgaze`` and ``center``: the engine's saliency models as croppers.

Both already implement :class:`~cropaudit.engine.types.SaliencyModel`; wrapping them in
:class:`~cropaudit.croppers.base.MapCropper` adds crops by the original program's rule (largest
window of each ratio centred on the salient point, shifted inside the image; symmetric images
centred horizontally), so their outputs are byte-identical to ``cropaudit saliency`` before
croppers existed.
"""

from __future__ import annotations

from cropaudit import __version__
from cropaudit.croppers.base import CropperContext, CropperInfo, CropperSpec, MapCropper


def fastgaze_version() -> str:
    return f"FastGaze (Twitter 2018) via cropaudit {__version__} TensorFlow port"


def center_version() -> str:
    return f"cropaudit {__version__}"


def build_fastgaze(context: CropperContext) -> MapCropper:
    from cropaudit.engine.loader import load_model

    params = context.model
    info = CropperInfo(
        "fastgaze", fastgaze_version(), FASTGAZE.licence, True, FASTGAZE.description,
        {"model_sha256": params.sha256, "apply_gaussian": params.apply_gaussian},
    )
    return MapCropper(load_model(params, context.model_path), info)


def build_center(context: CropperContext) -> MapCropper:
    from cropaudit.engine.center import SIGMA_FRACTION, CenterModel

    info = CropperInfo("center", center_version(), CENTER.licence, True, CENTER.description,
                       {"sigma_fraction": SIGMA_FRACTION})
    return MapCropper(CenterModel(max_pixels=context.model.max_pixels), info)


FASTGAZE = CropperSpec(
    name="fastgaze", factory=build_fastgaze, has_map=True,
    licence="Apache-2.0 (model weights: Twitter)",
    description="Twitter's saliency model (the paper's cropper): 16-px grid, argmax, crop rule",
    version=fastgaze_version, settings=("model",),
)
CENTER = CropperSpec(
    name="center", factory=build_center, has_map=True, licence="Apache-2.0 (cropaudit)",
    description="no model: centred Gaussian map, i.e. a centre crop (the geometry baseline)",
    version=center_version, settings=("model.max_pixels",),
)
