"""FastGaze: Twitter's released saliency model, run by our TensorFlow port.

Pipeline per image: decode + resize + normalise (:mod:`preprocess`, NumPy/Pillow, in worker
threads) → network (:mod:`network`, TensorFlow, batched) → grid → salient point
(:mod:`grid`). Results come back in input order whatever the batching.

Batching keeps results identical to one-at-a-time inference: images of the same network-input
size run together unpadded (the common case: photos share a few aspect ratios); the rest run
zero-padded with the padded region re-masked between layers (see :mod:`network`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

import numpy as np
from tqdm import tqdm

from cropaudit.errors import CropauditError
from cropaudit.saliency.grid import grid_coordinates, salient_point
from cropaudit.saliency.layers import LayerStack, parse_layers
from cropaudit.saliency.preprocess import PreparedImage, prepare_array, prepare_file
from cropaudit.saliency.types import ImageFailure, ImageInput, SaliencyResult
from cropaudit.saliency.vxm import read_vxm

log = logging.getLogger(__name__)

_TF_CONFIGURED = False


def import_tensorflow():  # returns the tensorflow module (untyped)
    """Import TensorFlow with its C++ start-up notices (oneDNN, CUDA probing) silenced.

    Those lines are printed by native code at import, whatever TF_CPP_MIN_LOG_LEVEL says, and
    look like errors to users; stderr is pointed at /dev/null for the import only.
    Set CROPAUDIT_TF_VERBOSE=1 to see them.
    """
    import sys

    if "tensorflow" in sys.modules or os.environ.get("CROPAUDIT_TF_VERBOSE"):
        import tensorflow as tf

        return tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                import tensorflow as tf
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
    return tf


def configure_tensorflow() -> str:
    """One-time TF set-up; returns the device used ("GPU" or "CPU").

    GPU memory growth stops TF from reserving the whole card; thread settings must be made
    before the first op runs, hence once, here.
    """
    global _TF_CONFIGURED
    tf = import_tensorflow()

    gpus = tf.config.list_physical_devices("GPU")
    if not _TF_CONFIGURED:
        for gpu in gpus:
            with contextlib.suppress(RuntimeError):  # already initialised: leave their choice
                tf.config.experimental.set_memory_growth(gpu, True)
        _TF_CONFIGURED = True
    return "GPU" if gpus else "CPU"


@dataclass
class _Item:
    """One input travelling through the pipeline."""

    index: int
    source: str
    prepared: PreparedImage | None = None
    failure: str | None = None
    scores: np.ndarray | None = None


class FastGazeModel:
    """The FastGaze backend (:class:`~cropaudit.saliency.types.SaliencyModel` interface)."""

    name = "fastgaze"

    def __init__(
        self,
        stack: LayerStack,
        *,
        batch_size: int = 16,
        max_pixels: int = 100_000_000,
        apply_gaussian: bool = False,
        workers: int | None = None,
    ) -> None:
        from cropaudit.saliency.network import FastGazeNetwork

        if batch_size <= 0:
            raise CropauditError(f"batch_size must be positive, got {batch_size}")
        self.device = configure_tensorflow()
        self.stack = stack
        self.network = FastGazeNetwork(stack, apply_gaussian=apply_gaussian)
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        self.workers = workers or min(4, os.cpu_count() or 1)
        #: how many inputs are grouped at once to find equally sized images
        self.window = max(4 * batch_size, 32)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **kwargs: object) -> FastGazeModel:
        """Load a ``.vxm`` model file and build the network from its layer list."""
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

        Decoding runs in a thread pool ahead of the network (one window of look-ahead), so
        image I/O overlaps with TensorFlow, which releases the GIL while it computes.
        """
        inputs = iter(enumerate(images))
        total = len(images) if hasattr(images, "__len__") else None  # type: ignore[arg-type]
        bar = tqdm(total=total, desc=f"saliency ({self.device})", unit="img",
                   disable=None if progress is None else not progress)

        def submit(pool: ThreadPoolExecutor) -> list[Future[_Item]]:
            chunk = list(islice(inputs, self.window))
            return [
                pool.submit(
                    self._prepare, i, img,
                    sources[i] if sources is not None else _describe(img, i),
                )
                for i, img in chunk
            ]

        try:
            with ThreadPoolExecutor(self.workers, thread_name_prefix="prepare") as pool:
                pending = submit(pool)
                while pending:
                    items = [f.result() for f in pending]
                    pending = submit(pool)  # next window decodes while this one runs
                    self._run_window(items)
                    for it in items:
                        yield self._result(it)
                        bar.update(1)
        finally:
            bar.close()


def _check_array(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise CropauditError(
            f"array input must be uint8 H×W×3 RGB, got {image.dtype} {image.shape}"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise CropauditError(f"array input has zero size {image.shape[:2]}")


def _describe(image: ImageInput, index: int) -> str:
    return f"<array #{index}>" if isinstance(image, np.ndarray) else str(image)
