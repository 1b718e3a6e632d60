"""FastGaze: Twitter's released saliency model, run by our TensorFlow port.

Pipeline per image: decode + resize + normalise (:mod:`preprocess`, NumPy/Pillow) → network
→ grid → salient point (:mod:`grid`). Results come back in input order.

Two runtimes (``model.runtime``):

* ``litert`` (CPU; the default when TensorFlow sees no GPU): the network converted once to
  LiteRT (:mod:`litert`) and run one image at a time by as many worker threads as the job has
  cores, each thread decoding, resizing and running its own images, so decoding overlaps with
  the network and every core is busy. No TensorFlow import: start-up is a fraction of a second.
* ``tensorflow`` (GPU; the reference): batches on TensorFlow. Images of the same network-input
  size run together unpadded; the rest run zero-padded with the padded region re-masked
  between layers (see :mod:`network`), so batching never changes a result.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm import tqdm

from cropaudit.engine.layers import LayerStack, parse_layers
from cropaudit.engine.model_store import sha256_file
from cropaudit.engine.threads import available_cores, ordered_map, workers_within
from cropaudit.engine.types import ImageFailure, ImageInput, SaliencyResult
from cropaudit.engine.vxm import read_vxm
from cropaudit.errors import CropauditError
from cropaudit.geometry.grid import grid_coordinates, salient_point
from cropaudit.imaging.preprocess import PreparedImage, prepare_array, prepare_file

log = logging.getLogger(__name__)

#: Memory of a FastGaze process (libraries, the model), MB: ``benchmarks/bench_memory.py``.
FASTGAZE_BASE_MB = 126
#: What one image in flight adds per megapixel of the largest image, MB: a 100 MP PNG
#: (decoded in strips, halved on the way) peaks at +460 MB; a JPEG, decoded at 1/8, +3 MB.
FASTGAZE_MB_PER_MEGAPIXEL = 4.6

_TF_CONFIGURED = False


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for a block: native libraries (TensorFlow's
    oneDNN and CUDA probing, LiteRT's delegate notice) print start-up lines there that look
    like errors to users, whatever TF_CPP_MIN_LOG_LEVEL says. CROPAUDIT_TF_VERBOSE=1 keeps them.
    """
    if os.environ.get("CROPAUDIT_TF_VERBOSE"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def import_tensorflow():
    """Import TensorFlow with its C++ start-up notices silenced."""
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with native_stderr_silenced():
            import tensorflow as tf
    import tensorflow as tf

    return tf


def configure_tensorflow() -> str:
    """One-time TF set-up; returns the device used ("GPU" or "CPU").

    GPU memory growth stops TF from reserving the whole card; the thread count a workflow
    manager gives the job (Snakemake sets OMP_NUM_THREADS) is honoured. Both must be set
    before the first op runs, hence once, here.
    """
    global _TF_CONFIGURED
    tf = import_tensorflow()

    gpus = tf.config.list_physical_devices("GPU")
    if not _TF_CONFIGURED:
        if os.environ.get("OMP_NUM_THREADS", "").strip().isdigit():
            cores = available_cores()
            try:
                tf.config.threading.set_intra_op_parallelism_threads(cores)
                tf.config.threading.set_inter_op_parallelism_threads(min(cores, 2))
            except RuntimeError:  # TF already running: leave the caller's choice
                pass
        for gpu in gpus:
            with contextlib.suppress(RuntimeError):  # already initialised: leave their choice
                tf.config.experimental.set_memory_growth(gpu, True)
        _TF_CONFIGURED = True
    return "GPU" if gpus else "CPU"


Runtime = Literal["auto", "litert", "tensorflow"]
PrecisionChoice = Literal["auto", "fp32", "int8"]

#: Device nodes of GPU drivers TensorFlow can use; without one, no TF import is needed to know
#: there is no GPU.
_GPU_DEVICE_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg")


def tensorflow_sees_gpu() -> bool:
    """Whether TensorFlow would run on a GPU, importing it only where a GPU driver exists."""
    if not any(Path(p).exists() for p in _GPU_DEVICE_NODES):
        return False
    if importlib.util.find_spec("tensorflow") is None:
        return False
    return configure_tensorflow() == "GPU"


def resolve_runtime(runtime: Runtime) -> Literal["litert", "tensorflow"]:
    """``auto``: TensorFlow (batched) where it sees a GPU, LiteRT on CPU."""
    if runtime == "auto":
        return "tensorflow" if tensorflow_sees_gpu() else "litert"
    return runtime


@dataclass
class _Item:
    """One input travelling through the pipeline."""

    index: int
    source: str
    prepared: PreparedImage | None = None
    failure: str | None = None
    scores: np.ndarray | None = None


class FastGazeModel:
    """The FastGaze backend (:class:`~cropaudit.engine.types.SaliencyModel` interface)."""

    name = "fastgaze"

    def __init__(
        self,
        stack: LayerStack,
        *,
        batch_size: int = 16,
        max_pixels: int = 100_000_000,
        apply_gaussian: bool = False,
        workers: int | None = None,
        runtime: Runtime = "auto",
        precision: PrecisionChoice = "auto",
        model_sha256: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if batch_size <= 0:
            raise CropauditError(f"batch_size must be positive, got {batch_size}")
        self.stack = stack
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        # one image in flight per worker: as many workers as the cores and the memory hold
        self.workers = workers or workers_within(FASTGAZE_MB_PER_MEGAPIXEL * max_pixels / 1e6,
                                                 reserved_mb=FASTGAZE_BASE_MB)
        #: how many inputs are grouped at once to find equally sized images (TensorFlow)
        self.window = max(4 * batch_size, 32)
        self.runtime = resolve_runtime(runtime)
        self.precision = "fp32"
        if self.runtime == "tensorflow":
            from cropaudit.engine.network import FastGazeNetwork

            self.device = configure_tensorflow()
            self.network = FastGazeNetwork(stack, apply_gaussian=apply_gaussian)
        else:
            self.device = "CPU"
            self._setup_litert(precision, model_sha256, cache_dir, apply_gaussian)

    def _setup_litert(self, precision: PrecisionChoice, model_sha256: str | None,
                      cache_dir: str | os.PathLike[str] | None, apply_gaussian: bool) -> None:
        """Converted networks from the cache: one interpreter thread per worker for batch
        runs (the workers are the parallelism), all cores for a lone image (latency)."""
        from cropaudit.engine import litert

        if model_sha256 is None:
            raise CropauditError("the LiteRT runtime needs the model file's sha256 (from_file)")
        directory = litert.cache_dir(cache_dir)

        def converted(p: litert.Precision) -> Path:
            path = directory / litert.cache_name(model_sha256, p, apply_gaussian)
            if not path.is_file():
                log.info("converting the model to LiteRT %s (once; cached as %s)", p, path)
            return litert.converted_model(self.stack, model_sha256, precision=p,
                                          apply_gaussian=apply_gaussian, directory=directory)

        fp32 = converted("fp32")
        if precision == "auto":
            precision = "int8" if litert.int8_pays_off(
                fp32, lambda: converted("int8"), directory, threads=1) else "fp32"
        self.precision = precision
        int8 = converted("int8") if precision == "int8" else None

        def network(threads: int) -> object:
            exact = litert.LiteNetwork(fp32, threads=threads)
            if int8 is None:
                return exact
            return litert.ExactDecisions(litert.LiteNetwork(int8, threads=threads), exact)

        self._make_lite = network
        self._lite: dict[int, object] = {}

    def _lite_network(self, threads: int) -> object:
        """The LiteRT network whose interpreters use ``threads`` threads, made on first use."""
        if threads not in self._lite:
            self._lite[threads] = self._make_lite(threads)
        return self._lite[threads]

    @property
    def fallback_rate(self) -> float | None:
        """Share of images recomputed in fp32 by the int8 path (None when not in use)."""
        if self.runtime != "litert" or self.precision != "int8":
            return None
        nets = list(self._lite.values())
        calls = sum(n.calls for n in nets)  # type: ignore[attr-defined]
        return sum(n.fallbacks for n in nets) / calls if calls else 0.0  # type: ignore[attr-defined]

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **kwargs: object) -> FastGazeModel:
        """Load a ``.vxm`` model file and build the network from its layer list."""
        kwargs.setdefault("model_sha256", sha256_file(path))
        return cls(parse_layers(read_vxm(path)), **kwargs)  # type: ignore[arg-type]

    # -- pipeline ---------------------------------------------------------------------------

    def _prepare(self, index: int, image: ImageInput, source: str) -> _Item:
        item = _Item(index, source)
        try:
            if isinstance(image, np.ndarray):
                _check_array(image)
                item.prepared = prepare_array(image)
            else:
                item.prepared = prepare_file(image, self.max_pixels)
        except CropauditError as exc:
            item.failure = str(exc)
        except (OSError, ValueError, MemoryError) as exc:  # decoder errors not caught upstream
            item.failure = f"{source}: cannot process image ({type(exc).__name__}: {exc})"
        return item

    def _run_window(self, items: list[_Item]) -> None:
        """Run the network on every prepared item of a window, filling ``item.scores``."""
        by_size: dict[tuple[int, int], list[_Item]] = defaultdict(list)
        for it in items:
            if it.prepared is not None:
                by_size[(it.prepared.net_height, it.prepared.net_width)].append(it)
        leftovers: list[_Item] = []
        for group in by_size.values():
            full = len(group) - len(group) % self.batch_size
            if len(group) >= self.batch_size // 2 or len(group) == len(items):
                full = len(group)  # big enough to run unpadded on its own
            for start in range(0, full, self.batch_size):
                self._run_same_size(group[start : start + self.batch_size])
            leftovers.extend(group[full:])
        by_bucket: dict[tuple[int, int], list[_Item]] = defaultdict(list)
        for it in leftovers:
            p = it.prepared
            assert p is not None
            by_bucket[self.network.padded_size(p.net_height, p.net_width)].append(it)
        for (ph, pw), group in by_bucket.items():
            for start in range(0, len(group), self.batch_size):
                self._run_padded(group[start : start + self.batch_size], ph, pw)

    def _run_same_size(self, batch: list[_Item]) -> None:
        x = np.stack([it.prepared.network_input for it in batch])  # type: ignore[union-attr]
        maps = self.network.run_same_size(x)
        for it, m in zip(batch, maps, strict=True):
            it.scores = m

    def _run_padded(self, batch: list[_Item], ph: int, pw: int) -> None:
        if len(batch) == 1 or all(
            (it.prepared.net_height, it.prepared.net_width) == (ph, pw)  # type: ignore[union-attr]
            for it in batch
        ):
            return self._run_same_size(batch) if len(batch) > 1 else self._run_single(batch[0])
        x = np.zeros((len(batch), ph, pw, self.stack.in_channels), dtype=np.float32)
        valid = np.zeros((len(batch), 2), dtype=np.int32)
        for i, it in enumerate(batch):
            p = it.prepared
            assert p is not None
            x[i, : p.net_height, : p.net_width] = p.network_input
            valid[i] = (p.net_height, p.net_width)
        maps = self.network.run_padded(x, valid)
        for it, m, (h, w) in zip(batch, maps, valid, strict=True):
            oh, ow = self.network.output_size(int(h), int(w))
            it.scores = m[:oh, :ow]

    def _run_single(self, item: _Item) -> None:
        assert item.prepared is not None
        item.scores = self.network.run_one(item.prepared.network_input)

    def _result(self, item: _Item) -> SaliencyResult | ImageFailure:
        if item.failure is not None or item.prepared is None or item.scores is None:
            return ImageFailure(item.source, item.failure or f"{item.source}: not processed")
        p = item.prepared
        gx, gy = grid_coordinates(p.width, p.height, p.net_width, p.net_height)
        scores = np.ascontiguousarray(item.scores, dtype=np.float32)
        if scores.shape != gx.shape:
            raise AssertionError(f"map {scores.shape} does not match grid {gx.shape}")
        return SaliencyResult(
            source=item.source,
            width=p.width,
            height=p.height,
            grid_x=gx,
            grid_y=gy,
            scores=scores,
            salient_point=salient_point(scores, gx, gy),
            symmetric=p.symmetric,
            model=self.name,
            extra={"symmetry_score": p.symmetry_score, "network_size": (p.net_width, p.net_height)},
        )

    def predict(
        self,
        images: Iterable[ImageInput],
        *,
        sources: Sequence[str] | None = None,
        progress: bool | None = None,
    ) -> Iterator[SaliencyResult | ImageFailure]:
        """Yield one result or failure per input, in input order.

        ``progress``: True shows a bar on stderr, False hides it, None shows it on a terminal.

        Decoding runs in worker threads ahead of the network (a bounded look-ahead, so memory
        does not grow with the number of inputs); both runtimes release the GIL while they
        compute, so decoding overlaps with the network.
        """
        total = len(images) if hasattr(images, "__len__") else None  # type: ignore[arg-type]
        desc = f"saliency ({self.device}" + (
            f", LiteRT {self.precision})" if self.runtime == "litert" else ")")
        bar = tqdm(total=total, desc=desc, unit="img",
                   disable=None if progress is None else not progress)
        run = self._predict_litert if self.runtime == "litert" else self._predict_batched
        try:
            for item in run(images, sources, total):
                yield item
                bar.update(1)
        finally:
            bar.close()

    def _predict_litert(
        self, images: Iterable[ImageInput], sources: Sequence[str] | None, total: int | None
    ) -> Iterator[SaliencyResult | ImageFailure]:
        """Each worker thread prepares, runs and reads out whole images, a few ahead of the
        one returned. A lone image gets every core in one interpreter."""
        network = self._lite_network(self.workers if total == 1 else 1)

        def one(job: tuple[int, ImageInput]) -> SaliencyResult | ImageFailure:
            index, image = job
            item = self._prepare(index, image,
                                 sources[index] if sources is not None else _describe(image, index))
            if item.prepared is not None:
                item.scores = network.run_one(item.prepared.network_input)  # type: ignore[attr-defined]
            return self._result(item)

        if total == 1:
            return map(one, enumerate(images))
        return ordered_map(one, enumerate(images), workers=self.workers, name="saliency")

    def _predict_batched(
        self, images: Iterable[ImageInput], sources: Sequence[str] | None, total: int | None
    ) -> Iterator[SaliencyResult | ImageFailure]:
        """TensorFlow: decode a window in a thread pool while the previous window runs."""
        inputs = iter(enumerate(images))

        def submit(pool: ThreadPoolExecutor) -> list[Future[_Item]]:
            chunk = list(islice(inputs, self.window))
            return [
                pool.submit(
                    self._prepare, i, img,
                    sources[i] if sources is not None else _describe(img, i),
                )
                for i, img in chunk
            ]

        with ThreadPoolExecutor(self.workers, thread_name_prefix="prepare") as pool:
            pending = submit(pool)
            while pending:
                items = [f.result() for f in pending]
                pending = submit(pool)  # next window decodes while this one runs
                self._run_window(items)
                for it in items:
                    yield self._result(it)


def _check_array(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise CropauditError(
            f"array input must be uint8 H×W×3 RGB, got {image.dtype} {image.shape}"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise CropauditError(f"array input has zero size {image.shape[:2]}")


def _describe(image: ImageInput, index: int) -> str:
    return f"<array #{index}>" if isinstance(image, np.ndarray) else str(image)
