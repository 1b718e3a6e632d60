"""Saliency backends behind one interface (see :mod:`cropaudit.saliency.types`).

``fastgaze`` is our TensorFlow port of Twitter's released model; ``center`` is the no-model
baseline. Importing this package is cheap: TensorFlow loads only when a FastGaze model is built.
"""

from __future__ import annotations

import os

from cropaudit.saliency.model_store import ModelParams, resolve_model_path, verify_model_file
from cropaudit.saliency.types import ImageFailure, ImageInput, SaliencyModel, SaliencyResult

__all__ = [
    "ImageFailure",
    "ImageInput",
    "SaliencyModel",
    "SaliencyResult",
    "limit_threads",
    "load_model",
]


def load_model(
    params: ModelParams | None = None, model_path: str | os.PathLike[str] | None = None
) -> SaliencyModel:
    """Build the configured backend; FastGaze resolves its weights via ``model_path``/params."""
    params = params or ModelParams()
    if params.backend == "center":
        from cropaudit.saliency.center import CenterModel

        return CenterModel(max_pixels=params.max_pixels)
    from cropaudit.saliency.fastgaze import FastGazeModel

    path = resolve_model_path(params, model_path)
    verify_model_file(path, params)  # before TensorFlow loads: a wrong file fails in a moment
    return FastGazeModel.from_file(
        path,
        batch_size=params.batch_size,
        max_pixels=params.max_pixels,
        apply_gaussian=params.apply_gaussian,
    )


def limit_threads(backend: str) -> None:
    """Honour the thread count a workflow manager gives the job (Snakemake sets OMP_NUM_THREADS).

    Call it before the model is built: TensorFlow fixes its thread pools at its first op.
    Only FastGaze runs threaded; the other backends ignore it.
    """
    n = os.environ.get("OMP_NUM_THREADS", "")
    if backend != "fastgaze" or not n.isdigit() or int(n) < 1:
        return
    from cropaudit.saliency.fastgaze import import_tensorflow

    tf = import_tensorflow()
    tf.config.threading.set_intra_op_parallelism_threads(int(n))
    tf.config.threading.set_inter_op_parallelism_threads(min(int(n), 2))
