"""The layer list of a FastGaze ``.vxm`` model, as plain data (no TensorFlow).

Entries are numbered ``0..layerCount-1``; ``{i}Type`` says what layer ``i`` is:

* 0 convolution — ``{i}w`` [out, in, kh, kw], ``{i}b`` [out], ``{i}Act`` activation
  (0 none, 1 ReLU, 4 leaky ReLU with scalar ``{i}alpha``); stride 1, zero "same" padding,
  cross-correlation (kernels are not flipped);
* 2 max-pool — ``{i}Pool`` window and stride (2 in fastgaze), ceil-mode output;
* 3 Gaussian blur — ``{i}KernelSize``, ``{i}Std``. fastgaze.vxm ends with one, but the
  original program does **not** apply it: its printed scores are the raw output of the last
  convolution. We keep it in the parsed model so experiments can switch it on.

Parsing checks that channel counts chain up, so a corrupt or foreign file is refused here
rather than by a shape error deep inside TensorFlow.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from cropaudit.engine.vxm import VxmFile
from cropaudit.errors import ModelFileError


class LayerType(IntEnum):
    CONV = 0
    MAX_POOL = 2
    GAUSSIAN = 3


class Activation(IntEnum):
    NONE = 0
    RELU = 1
    LEAKY_RELU = 4


@dataclass(frozen=True)
class ConvLayer:
    index: int
    weights: np.ndarray  # float32 [out, in, kh, kw], as stored
    bias: np.ndarray  # float32 [out]
    activation: Activation
    alpha: float = 0.0  # leaky ReLU slope

    @property
    def in_channels(self) -> int:
        return int(self.weights.shape[1])

    @property
    def out_channels(self) -> int:
        return int(self.weights.shape[0])

    @property
    def kernel_size(self) -> tuple[int, int]:
        return int(self.weights.shape[2]), int(self.weights.shape[3])


@dataclass(frozen=True)
class MaxPoolLayer:
    index: int
    size: int


@dataclass(frozen=True)
class GaussianLayer:
    """A Gaussian blur of the final map; not applied by the original program."""

    index: int
    kernel_size: int
    std: float


Layer = ConvLayer | MaxPoolLayer | GaussianLayer


@dataclass(frozen=True)
class LayerStack:
    """All layers of a model in order, plus what the network consumes and produces."""

    layers: tuple[Layer, ...]
    source: str

    @property
    def in_channels(self) -> int:
        return next(lay.in_channels for lay in self.layers if isinstance(lay, ConvLayer))

    @property
    def out_channels(self) -> int:
        convs = [lay for lay in self.layers if isinstance(lay, ConvLayer)]
        return convs[-1].out_channels

    @property
    def downsampling(self) -> int:
        """Total stride of the network (16 for fastgaze: four 2×2 pools)."""
        factor = 1
        for lay in self.layers:
            if isinstance(lay, MaxPoolLayer):
                factor *= lay.size
        return factor

    def flops(self, height: int, width: int) -> int:
        """Multiply-adds × 2 of the convolutions for one input of the given size."""
        total, h, w = 0, height, width
        for lay in self.layers:
            if isinstance(lay, ConvLayer):
                kh, kw = lay.kernel_size
                total += 2 * h * w * lay.out_channels * lay.in_channels * kh * kw
            elif isinstance(lay, MaxPoolLayer):
                h, w = -(-h // lay.size), -(-w // lay.size)
        return total


def _conv(vxm: VxmFile, i: int) -> ConvLayer:
    weights = vxm.array(f"{i}w").astype(np.float32)
    bias = vxm.array(f"{i}b").astype(np.float32)
    if weights.ndim != 4:
        raise ModelFileError(f"{vxm.source}: layer {i} weights have {weights.ndim} dims, not 4")
    if bias.shape != (weights.shape[0],):
        raise ModelFileError(f"{vxm.source}: layer {i} bias shape {bias.shape} != [out]")
    code = vxm.uint(f"{i}Act")
    try:
        activation = Activation(code)
    except ValueError:
        raise ModelFileError(f"{vxm.source}: layer {i} has unknown activation {code}") from None
    alpha = 0.0
    if activation is Activation.LEAKY_RELU:
        alpha = float(vxm.array(f"{i}alpha").reshape(-1)[0])
    return ConvLayer(i, weights, bias, activation, alpha)


def parse_layers(vxm: VxmFile) -> LayerStack:
    """Build the layer list of a FastGaze-style model from parsed ``.vxm`` entries."""
    count = vxm.uint("layerCount")
    layers: list[Layer] = []
    for i in range(count):
        code = vxm.uint(f"{i}Type")
        try:
            kind = LayerType(code)
        except ValueError:
            raise ModelFileError(f"{vxm.source}: layer {i} has unknown type {code}") from None
        if kind is LayerType.CONV:
            layers.append(_conv(vxm, i))
        elif kind is LayerType.MAX_POOL:
            layers.append(MaxPoolLayer(i, vxm.uint(f"{i}Pool")))
        else:
            layers.append(GaussianLayer(i, vxm.uint(f"{i}KernelSize"), float(vxm.uint(f"{i}Std"))))
    _check_chain(layers, vxm.source)
    return LayerStack(tuple(layers), vxm.source)


def _check_chain(layers: list[Layer], source: str) -> None:
    convs = [lay for lay in layers if isinstance(lay, ConvLayer)]
    if not convs:
        raise ModelFileError(f"{source}: model has no convolution layers")
    for prev, cur in itertools.pairwise(convs):
        if cur.in_channels != prev.out_channels:
            raise ModelFileError(
                f"{source}: layer {cur.index} expects {cur.in_channels} channels, "
                f"layer {prev.index} gives {prev.out_channels}"
            )
    for lay in layers:
        if isinstance(lay, MaxPoolLayer) and lay.size < 1:
            raise ModelFileError(f"{source}: layer {lay.index} has pool size {lay.size}")
        if isinstance(lay, ConvLayer) and any(k % 2 == 0 for k in lay.kernel_size):
            raise ModelFileError(
                f"{source}: layer {lay.index} has an even kernel {lay.kernel_size}"
            )
