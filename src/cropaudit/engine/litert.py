"""FastGaze on LiteRT: the CPU runtime, converted from our TensorFlow network and cached.

TensorFlow stays the builder and the reference: :func:`convert` traces
:class:`~cropaudit.engine.network.FastGazeNetwork` (input ``[1, None, None, 3]``) and hands it
to ``tf.lite.TFLiteConverter``. Running the converted model needs only ``ai-edge-litert``
(XNNPACK): it imports, loads and runs a first image in a fraction of a second, where importing
TensorFlow alone takes seconds, and it changes input size without re-planning. Its outputs
differ from TensorFlow's by a few 1e-6 (summation order).

The ``.tflite`` files are artifacts derived from the ``.vxm``: never committed, cached under
:func:`cache_dir` with the model's sha256 (and what else shapes the conversion) in the name, so
a changed model file can never be served a stale conversion. Writes are atomic; concurrent
first runs at worst convert twice.

Two precisions: ``fp32`` (identical results to TensorFlow) and ``int8`` (dynamic-range int8
weights and activations, ~2× faster on CPUs with VNNI, scores off by up to 0.25). Int8 is only
ever used behind :class:`ExactDecisions`, which recomputes in fp32 every image whose decision
it could have changed.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from cropaudit.engine.layers import LayerStack
from cropaudit.errors import ModelFileError

log = logging.getLogger(__name__)

Precision = Literal["fp32", "int8"]

#: Bump when the conversion recipe changes, so old cache entries are not reused.
RECIPE_VERSION = 1
#: Environment variable that moves the conversion cache (wins over ``model.cache_dir``).
ENV_CACHE_DIR = "CROPAUDIT_CACHE_DIR"

#: Largest |int8 score − fp32 score| of any grid cell measured by benchmarks/bench_precision.py:
#: 0.251 over the 89 reference images, 0.265 over 200 demo composites; rounded up with margin.
#: Each of two cells can move by the bound, so an image whose int8 top cell leads the
#: runner-up by ≤ 2 × bound is recomputed in fp32.
INT8_ERROR_BOUND = 0.3
#: Share of images the int8 path recomputes at that bound (top cells lead by a median 0.09,
#: well inside the int8 error): 95 % of the reference images. Used to decide whether int8
#: pays off on a machine (:func:`int8_pays_off`); on the 2-core build machine it does not.
EXPECTED_FALLBACK_RATE = 0.95


def cache_dir(configured: str | os.PathLike[str] | None = None) -> Path:
    """Where converted models live: $CROPAUDIT_CACHE_DIR, else ``model.cache_dir``, else the
    user cache dir (``$XDG_CACHE_HOME/cropaudit/litert``, default ``~/.cache``)."""
    env = os.environ.get(ENV_CACHE_DIR, "").strip()
    if env:
        return Path(env)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache"
    return Path(base) / "cropaudit" / "litert"


def cache_name(model_sha256: str, precision: Precision, apply_gaussian: bool) -> str:
    """File name of a conversion: everything that shapes the converted graph is in it."""
    blur = "-blur" if apply_gaussian else ""
    return f"fastgaze-{model_sha256[:32]}-r{RECIPE_VERSION}-{precision}{blur}.tflite"


def convert(stack: LayerStack, *, precision: Precision, apply_gaussian: bool) -> bytes:
    """The ``.tflite`` flatbuffer of the network (imports TensorFlow: seconds)."""
    from cropaudit.engine.fastgaze import import_tensorflow
    from cropaudit.engine.network import FastGazeNetwork

    tf = import_tensorflow()
    net = FastGazeNetwork(stack, apply_gaussian=apply_gaussian)
    spec = tf.TensorSpec([1, None, None, stack.in_channels], tf.float32, name="image")
    fn = tf.function(lambda x: net._forward(x, None), input_signature=[spec])
    concrete = fn.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], fn)
    if precision == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic-range int8 weights
    return converter.convert()


def converted_model(
    stack: LayerStack,
    model_sha256: str,
    *,
    precision: Precision,
    apply_gaussian: bool,
    directory: Path,
) -> Path:
    """Path of the cached conversion, converting (and caching atomically) on first use."""
    from cropaudit.outputs import write_bytes

    path = directory / cache_name(model_sha256, precision, apply_gaussian)
    if path.is_file() and path.stat().st_size > 0:
        return path
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_bytes(path, convert(stack, precision=precision, apply_gaussian=apply_gaussian))
    except ModuleNotFoundError:
        raise ModelFileError(
            f"{path}: not converted yet, and converting needs TensorFlow once: install "
            "cropaudit[cpu] (or set model.cache_dir to a folder holding the converted model)"
        ) from None
    except OSError as exc:
        raise ModelFileError(f"{directory}: cannot write the converted model ({exc})") from None
    return path


class LiteNetwork:
    """One converted model, one interpreter per calling thread (interpreters are not
    thread-safe; XNNPACK releases the GIL while it computes, so threads run in parallel)."""

    def __init__(self, path: Path, *, threads: int = 1) -> None:
        self.path = path
        self.threads = threads
        self._local = threading.local()
        from cropaudit.engine.fastgaze import native_stderr_silenced

        # Load now so that a bad file fails here, naming it. Allocated at a tiny size: the
        # first image re-allocates at its own, and the model's default size costs 20 ms.
        with native_stderr_silenced():  # "Created TensorFlow Lite XNNPACK delegate", once
            it = self._interpreter()
            it.resize_tensor_input(it.get_input_details()[0]["index"], (1, 32, 32, 3),
                                   strict=False)
            it.allocate_tensors()

    def _interpreter(self):
        it = getattr(self._local, "interpreter", None)
        if it is None:
            from ai_edge_litert.interpreter import Interpreter

            try:
                it = Interpreter(model_path=str(self.path), num_threads=self.threads)
            except (ValueError, RuntimeError) as exc:
                raise ModelFileError(f"{self.path}: cannot load converted model ({exc})") from None
            self._local.interpreter = it
            self._local.shape = None
        return it

    def run_one(self, image: np.ndarray) -> np.ndarray:
        """Map [h, w] of one H×W×C float32 image at its own size."""
        it = self._interpreter()
        shape = (1, *image.shape)
        inp = it.get_input_details()[0]["index"]
        if self._local.shape != shape:
            it.resize_tensor_input(inp, shape, strict=False)
            it.allocate_tensors()
            self._local.shape = shape
        it.set_tensor(inp, np.ascontiguousarray(image[None], dtype=np.float32))
        it.invoke()
        return it.get_tensor(it.get_output_details()[0]["index"])[0].copy()


def top_margin(scores: np.ndarray) -> float:
    """How far the top cell leads the runner-up (inf with a single cell)."""
    flat = scores.ravel()
    if flat.size < 2:
        return float("inf")
    top2 = np.partition(flat, flat.size - 2)[-2:]
    return float(top2[1] - top2[0])


@dataclass
class ExactDecisions:
    """Int8 first, fp32 where the int8 decision could differ from fp32's.

    Every decision the engine's users take from a map follows from its salient point — the
    first maximum cell: crops are placed around it, a pair's winner is the member that holds
    it. Both precisions pick the same cell whenever the int8 top cell leads every other cell
    by more than twice the error bound (neither can cross the other), so only those images
    are recomputed. Exact ties in fp32 are kept because a zero margin always recomputes.
    The returned map is the one whose decision is certain (int8 values otherwise; see
    ``model.precision`` for what that means for score columns).
    """

    fast: LiteNetwork
    exact: LiteNetwork
    bound: float = INT8_ERROR_BOUND
    calls: int = 0
    fallbacks: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def run_one(self, image: np.ndarray) -> np.ndarray:
        scores = self.fast.run_one(image)
        fallback = not top_margin(scores) > 2.0 * self.bound
        with self._lock:
            self.calls += 1
            self.fallbacks += fallback
        return self.exact.run_one(image) if fallback else scores

    @property
    def fallback_rate(self) -> float:
        return self.fallbacks / self.calls if self.calls else 0.0


def _best_time(path: Path, image: np.ndarray, threads: int) -> float:
    net = LiteNetwork(path, threads=threads)
    net.run_one(image)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        net.run_one(image)
        best = min(best, time.perf_counter() - start)
    return best


def int8_pays_off(
    fp32: Path, make_int8: Callable[[], Path], directory: Path, *, threads: int
) -> bool:
    """Whether int8 plus its fp32 reruns beats fp32 alone on this machine.

    Dynamic-range int8 is fast only where the CPU has int8 dot products (VNNI and the like),
    and every close call costs an fp32 run on top: int8 is chosen only if
    t_int8 + EXPECTED_FALLBACK_RATE · t_fp32 < t_fp32. The two times are measured once per
    machine (hostname) and thread count and remembered beside the converted models.
    """
    record = directory / "precision-choice.json"
    key = f"{os.uname().nodename}:{threads}:{fp32.name}"
    try:
        choices = json.loads(record.read_text())
    except (OSError, ValueError):
        choices = {}
    entry = choices.get(key)
    if not isinstance(entry, dict) or not {"fp32_s", "int8_s"} <= entry.keys():
        image = np.random.default_rng(0).normal(0.0, 60.0, size=(213, 320, 3)).astype(np.float32)
        choices[key] = {"fp32_s": _best_time(fp32, image, threads),
                        "int8_s": _best_time(make_int8(), image, threads)}
        _record(record, choices)
    t32, t8 = choices[key]["fp32_s"], choices[key]["int8_s"]
    return bool(t8 + EXPECTED_FALLBACK_RATE * t32 < t32)


def _record(record: Path, choices: dict[str, dict[str, float]]) -> None:
    try:
        from cropaudit.outputs import write_json

        write_json(record, choices)
    except OSError:
        log.warning("%s: cannot record the precision timings; they are redone next run", record)
