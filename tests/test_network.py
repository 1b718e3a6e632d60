"""The TensorFlow network: conventions against an independent NumPy forward pass, the real
model against the original program's raw maps, and mixed-size batching against one-at-a-time."""

from __future__ import annotations

import numpy as np
import pytest

from cropaudit.engine.layers import (
    Activation,
    ConvLayer,
    LayerStack,
    MaxPoolLayer,
    parse_layers,
)
from cropaudit.engine.network import FastGazeNetwork
from cropaudit.engine.vxm import parse_vxm, read_vxm
from test_vxm import tiny_model


def numpy_forward(stack, image: np.ndarray) -> np.ndarray:
    """Straightforward reference: zero-padded cross-correlation, ceil-mode max-pool."""
    x = image.astype(np.float64)
    for layer in stack.layers:
        if isinstance(layer, ConvLayer):
            w = layer.weights.astype(np.float64)
            kh, kw = layer.kernel_size
            padded = np.pad(x, ((kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
            h, wd = x.shape[:2]
            out = np.zeros((h, wd, layer.out_channels))
            for dy in range(kh):
                for dx in range(kw):
                    patch = padded[dy : dy + h, dx : dx + wd, :]
                    out += patch @ w[:, :, dy, dx].T
            out += layer.bias
            if layer.activation is Activation.RELU:
                out = np.maximum(out, 0)
            elif layer.activation is Activation.LEAKY_RELU:
                out = np.where(out > 0, out, layer.alpha * out)
            x = out
        elif isinstance(layer, MaxPoolLayer):
            s = layer.size
            h, wd = x.shape[:2]
            oh, ow = -(-h // s), -(-wd // s)
            padded = np.full((oh * s, ow * s, x.shape[2]), -np.inf)
            padded[:h, :wd] = x
            x = padded.reshape(oh, s, ow, s, -1).max(axis=(1, 3))
    return x[..., 0]


@pytest.fixture(scope="module")
def tiny_stack():
    return parse_layers(parse_vxm(tiny_model(np.random.default_rng(7))))


@pytest.mark.parametrize("size", [(5, 7), (8, 8), (1, 1), (13, 4)])
def test_conventions_match_a_numpy_forward_pass(tiny_stack, size) -> None:
    rng = np.random.default_rng(sum(size))
    image = rng.normal(size=(*size, 3)).astype(np.float32)
    net = FastGazeNetwork(tiny_stack)
    ours = net.run_one(image)
    expected = numpy_forward(tiny_stack, image)
    assert ours.shape == expected.shape == net.output_size(*size)
    np.testing.assert_allclose(ours, expected, atol=1e-4)


def test_kernels_are_not_flipped() -> None:
    """Cross-correlation with [out, in, kh, kw] kernels, checked against outputs worked by hand.

    An impulse at (2, 2) of input channel 0 comes out as each kernel rotated by 180° around
    it (cross-correlation); a convolution (flipped kernels) would give the kernel upright, and
    reading the stored kernels as [in, out, ...] would route the wrong kernel to channel 1.
    A 1×1 layer then adds channel 0 plus 10 × channel 1, so both channels show in one map.
    """
    first = np.zeros((2, 2, 3, 3), np.float32)  # [out, in, kh, kw]
    first[0, 0] = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    first[1, 0] = [[0, 0, 1], [0, 0, 0], [0, 0, 0]]  # channel 1 reads input 0 top-right
    first[0, 1] = [[0, 0, 0], [0, 0, 0], [5, 0, 0]]  # only used if [out, in] were swapped
    mix = np.array([1.0, 10.0], np.float32).reshape(1, 2, 1, 1)
    stack = LayerStack(
        (ConvLayer(0, first, np.zeros(2, np.float32), Activation.NONE),
         ConvLayer(1, mix, np.zeros(1, np.float32), Activation.NONE)),
        "hand-built",
    )
    image = np.zeros((5, 5, 2), np.float32)
    image[2, 2, 0] = 1.0
    expected = np.array([
        [0, 0, 0, 0, 0],
        [0, 9, 8, 7, 0],
        [0, 6, 5, 4, 0],
        [0, 13, 2, 1, 0],  # 3 + 10 x the top-right 1 of channel 1's kernel, rotated
        [0, 0, 0, 0, 0],
    ], np.float32)
    np.testing.assert_allclose(FastGazeNetwork(stack).run_one(image), expected, atol=1e-5)


def test_mixed_sizes_in_one_padded_batch_match_single_runs(tiny_stack) -> None:
    rng = np.random.default_rng(11)
    sizes = [(5, 7), (8, 3), (2, 2)]
    images = [rng.normal(size=(*s, 3)).astype(np.float32) for s in sizes]
    net = FastGazeNetwork(tiny_stack)
    ph = max(net.padded_size(*s)[0] for s in sizes)
    pw = max(net.padded_size(*s)[1] for s in sizes)
    batch = np.zeros((len(images), ph, pw, 3), np.float32)
    for i, im in enumerate(images):
        batch[i, : im.shape[0], : im.shape[1]] = im
    maps = net.run_padded(batch, np.array(sizes, np.int32))
    for im, m in zip(images, maps, strict=True):
        oh, ow = net.output_size(*im.shape[:2])
        np.testing.assert_allclose(m[:oh, :ow], net.run_one(im), atol=1e-5)


@pytest.fixture(scope="module")
def fastgaze_network(fastgaze_path):
    return FastGazeNetwork(parse_layers(read_vxm(fastgaze_path)))


def _reference_io(reference_dir, name):
    d = reference_dir / "network" / name
    h, w = (int(v) for v in (d / "dims.txt").read_text().split())
    x = np.fromfile(d / "input.bin", np.float32).reshape(3, h, w).transpose(1, 2, 0)
    y = np.fromfile(d / "output.bin", np.float32).reshape(-(-h // 16), -(-w // 16))
    return np.ascontiguousarray(x), y


def test_fastgaze_matches_the_original_raw_maps(reference_dir, fastgaze_network) -> None:
    names = sorted(p.name for p in (reference_dir / "network").iterdir())
    assert names, "no reference network inputs"
    worst = {}
    for name in names:
        x, y = _reference_io(reference_dir, name)
        worst[name] = float(np.abs(fastgaze_network.run_one(x) - y).max())
    print("max abs difference per reference map:", worst)
    assert max(worst.values()) <= 1e-4


def test_fastgaze_padded_batch_matches_the_original(reference_dir, fastgaze_network) -> None:
    names = sorted(p.name for p in (reference_dir / "network").iterdir())
    pairs = [_reference_io(reference_dir, n) for n in names]
    ph = max(fastgaze_network.padded_size(*x.shape[:2])[0] for x, _ in pairs)
    pw = max(fastgaze_network.padded_size(*x.shape[:2])[1] for x, _ in pairs)
    batch = np.zeros((len(pairs), ph, pw, 3), np.float32)
    for i, (x, _) in enumerate(pairs):
        batch[i, : x.shape[0], : x.shape[1]] = x
    valid = np.array([x.shape[:2] for x, _ in pairs], np.int32)
    maps = fastgaze_network.run_padded(batch, valid)
    for m, (_, y) in zip(maps, pairs, strict=True):
        assert np.abs(m[: y.shape[0], : y.shape[1]] - y).max() <= 1e-4
