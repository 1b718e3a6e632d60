"""Build Twitter's FastGaze model as ``model:`` of params.yaml configures it.

Kept out of the package's ``__init__`` so that importing any part of :mod:`cropaudit.engine`
(every command reads its params through the config) does not import the engine.
"""

from __future__ import annotations

import os

from cropaudit.engine.model_store import ModelParams, resolve_model_path, verify_model_file
from cropaudit.engine.types import SaliencyModel


def load_model(
    params: ModelParams | None = None, model_path: str | os.PathLike[str] | None = None
) -> SaliencyModel:
    """Build FastGaze; its weights come from ``model_path``, else from the params."""
    params = params or ModelParams()
    from cropaudit.engine.fastgaze import FastGazeModel

    path = resolve_model_path(params, model_path)
    verify_model_file(path, params)  # before TensorFlow loads: a wrong file fails in a moment
    return FastGazeModel.from_file(
        path,
        batch_size=params.batch_size,
        max_pixels=params.max_pixels,
        apply_gaussian=params.apply_gaussian,
        runtime=params.runtime,
        precision=params.precision,
        cache_dir=params.cache_dir,
    )
