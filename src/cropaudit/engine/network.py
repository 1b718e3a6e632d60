"""The FastGaze network in TensorFlow, built from a parsed layer list.

Convolutions are run NHWC with "same" zero padding and the stored kernels transposed (not
flipped) to TensorFlow's [kh, kw, in, out], which is cross-correlation like the original.
Max-pools use TF's 'SAME' mode: ceil(n/2) outputs, border windows take the max of the pixels
that exist, as the original does.

Batches may mix images of different sizes: each image is zero-padded to the batch's size and
carries its valid height/width. After every layer the padded region is reset (to 0 before a
convolution, to −inf before a pool), so every image sees exactly the borders it would see
alone; results match one-at-a-time inference up to float summation order (≤ 1e-5).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cropaudit.engine.layers import (
    Activation,
    ConvLayer,
    GaussianLayer,
    LayerStack,
    MaxPoolLayer,
)


def gaussian_kernel(size: int, std: float) -> np.ndarray:
    """Normalised 2-D Gaussian (size × size), for the optional final blur."""
    ax = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(ax**2) / (2.0 * std * std))
    k = np.outer(g, g)
    return (k / k.sum()).astype(np.float32)


class FastGazeNetwork:
    """Compiled TensorFlow functions mapping images [B,H,W,C] to saliency maps [B,h,w].

    Two entry points: :meth:`run_same_size` for a batch of images that all have the batch's
    size (no padding, fastest), and :meth:`run_padded` for mixed sizes, where ``H`` and ``W``
    are multiples of the total stride (see :meth:`padded_size`) and ``valid`` gives each
    image's own height and width.
    """

    def __init__(self, stack: LayerStack, *, apply_gaussian: bool = False) -> None:
        import tensorflow as tf

        self.stack = stack
        self.apply_gaussian = apply_gaussian
        self.stride = stack.downsampling
        self._ops = self._plan(stack, apply_gaussian)
        spec = tf.TensorSpec([None, None, None, stack.in_channels], tf.float32)
        self._same = tf.function(
            lambda x: self._forward(x, None), input_signature=[spec], reduce_retracing=True
        )
        self._padded = tf.function(
            self._forward,
            input_signature=[spec, tf.TensorSpec([None, 2], tf.int32)],
            reduce_retracing=True,
        )

    @staticmethod
    def _plan(stack: LayerStack, apply_gaussian: bool) -> list[tuple[str, Any]]:
        """TF constants per layer, plus where the padded region must be re-zeroed.

        Zero padding only matters to ops that look at neighbours (k×k convolutions with k > 1,
        pools, the blur), so the mask is applied just before those, not after every layer.
        A pool of non-negative values (after ReLU) needs no −inf mask: zeros never win a max.
        """
        import tensorflow as tf

        ops: list[tuple[str, Any]] = []
        last_nonnegative = False
        for layer in stack.layers:
            if isinstance(layer, ConvLayer):
                if max(layer.kernel_size) > 1:
                    ops.append(("mask", None))
                kernel = tf.constant(np.transpose(layer.weights, (2, 3, 1, 0)))  # HWIO
                bias = tf.constant(layer.bias)
                ops.append(("conv", (kernel, bias, layer.activation, layer.alpha)))
                last_nonnegative = layer.activation is Activation.RELU
            elif isinstance(layer, MaxPoolLayer):
                ops.append(("mask" if last_nonnegative else "mask_neg", None))
                ops.append(("pool", layer.size))
            elif isinstance(layer, GaussianLayer) and apply_gaussian:
                k = gaussian_kernel(layer.kernel_size, layer.std)
                kernel = np.repeat(k[:, :, None, None], stack.out_channels, axis=2)
                ops.append(("mask", None))
                ops.append(("blur", tf.constant(kernel)))
                last_nonnegative = False
        # the first convolution sees the zero-padded input itself: no mask needed there
        while ops and ops[0][0] == "mask":
            ops.pop(0)
        # a final mask keeps padded output cells at zero (they are cut off anyway)
        return ops

    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """Size an image is padded to so that every pooling level halves exactly."""
        s = self.stride
        return s * math.ceil(height / s), s * math.ceil(width / s)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Valid output map size of an unpadded input: ceil at each pool."""
        h, w = height, width
        for kind, arg in self._ops:
            if kind == "pool":
                h, w = -(-h // arg), -(-w // arg)
        return h, w

    @staticmethod
    def _valid_mask(x, valid):  # TF tensors
        import tensorflow as tf

        shape = tf.shape(x)
        rows = tf.range(shape[1])[None, :, None] < valid[:, 0][:, None, None]
        cols = tf.range(shape[2])[None, None, :] < valid[:, 1][:, None, None]
        return tf.cast(tf.logical_and(rows, cols), tf.float32)[..., None]

    def _forward(self, images, valid):  # TF tensors
        import tensorflow as tf

        x = images
        mask = None if valid is None else self._valid_mask(x, valid)
        for kind, arg in self._ops:
            if kind == "conv":
                kernel, bias, activation, alpha = arg
                x = tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, "SAME"), bias)
                if activation is Activation.RELU:
                    x = tf.nn.relu(x)
                elif activation is Activation.LEAKY_RELU:
                    x = tf.nn.leaky_relu(x, alpha=alpha)
            elif kind == "mask" and mask is not None:
                x = x * mask
            elif kind == "mask_neg" and mask is not None:
                x = x * mask + (mask - 1.0) * 3.0e38
            elif kind == "pool":
                x = tf.nn.max_pool2d(x, arg, arg, "SAME")
                if valid is not None:
                    valid = (valid + arg - 1) // arg
                    mask = self._valid_mask(x, valid)
            elif kind == "blur":
                x = tf.nn.depthwise_conv2d(x, arg, [1, 1, 1, 1], "SAME")
        return x[..., 0]

    def run_same_size(self, images: np.ndarray) -> np.ndarray:
        """Maps [B, h, w] of a batch of equally sized images (no padding)."""
        return self._same(images).numpy()

    def run_padded(self, images: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Padded maps [B, H/16, W/16] of a mixed batch; crop each to its output_size."""
        return self._padded(images, valid).numpy()

    def run_one(self, image: np.ndarray) -> np.ndarray:
        """One image H×W×C at its own size: the reference behaviour."""
        return self.run_same_size(image[None])[0]
