"""The .vxm reader: structure, typed views and clear errors on damaged files."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from cropaudit.engine.layers import (
    Activation,
    ConvLayer,
    GaussianLayer,
    MaxPoolLayer,
    parse_layers,
)
from cropaudit.engine.vxm import MAGIC, parse_vxm, read_vxm
from cropaudit.errors import ModelFileError


def _entry(key: str, value: bytes) -> bytes:
    k = key.encode() + b"\x00"
    return struct.pack("<I", len(k)) + k + struct.pack("<I", len(value)) + value


def _u32(v: int) -> bytes:
    return struct.pack("<I", v)


def _array_entries(key: str, arr: np.ndarray) -> list[tuple[str, bytes]]:
    out = [
        (key, arr.astype("<f4").tobytes()),
        (f"{key}.dtype", b"float32"),
        (f"{key}.ndims", _u32(arr.ndim)),
        (f"{key}.shape", b"".join(_u32(d) for d in arr.shape)),
    ]
    if arr.ndim > 1:
        out.append((f"{key}.shape.listlength", _u32(arr.ndim)))
        out += [(f"{key}.shape[{i}]", _u32(d)) for i, d in enumerate(arr.shape)]
    return out


def build_vxm(entries: list[tuple[str, bytes]]) -> bytes:
    return MAGIC + _u32(len(entries)) + b"".join(_entry(k, v) for k, v in entries)


def tiny_model(rng: np.random.Generator, act2: int = 4) -> bytes:
    """conv(3→4, 3×3, ReLU) → pool 2 → conv(4→1, 1×1, leaky) → Gaussian."""
    entries: list[tuple[str, bytes]] = [("layerCount", _u32(4)), ("modelType", _u32(2))]
    entries += [("0Type", _u32(0)), ("0Act", _u32(1))]
    entries += _array_entries("0w", rng.normal(size=(4, 3, 3, 3)))
    entries += _array_entries("0b", rng.normal(size=4))
    entries += [("1Type", _u32(2)), ("1Pool", _u32(2))]
    entries += [("2Type", _u32(0)), ("2Act", _u32(act2))]
    entries += _array_entries("2w", rng.normal(size=(1, 4, 1, 1)))
    entries += _array_entries("2b", rng.normal(size=1))
    entries += _array_entries("2alpha", np.array([0.25]))
    entries += [("3Type", _u32(3)), ("3KernelSize", _u32(5)), ("3Std", _u32(1))]
    return build_vxm(entries)


def test_typed_views_of_a_generated_file() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    vxm = parse_vxm(build_vxm(_array_entries("w", w)))
    assert vxm.dtype("w") == np.dtype("<f4")
    assert vxm.ndims("w") == 4
    assert vxm.shape("w") == (4, 3, 3, 3)
    np.testing.assert_array_equal(vxm.array("w"), w)


def test_layer_list_of_a_generated_model() -> None:
    stack = parse_layers(parse_vxm(tiny_model(np.random.default_rng(1))))
    kinds = [type(layer) for layer in stack.layers]
    assert kinds == [ConvLayer, MaxPoolLayer, ConvLayer, GaussianLayer]
    assert stack.layers[2].activation is Activation.LEAKY_RELU
    assert stack.layers[2].alpha == pytest.approx(0.25)
    assert stack.downsampling == 2
    assert stack.in_channels == 3 and stack.out_channels == 1


def test_fastgaze_layer_list(fastgaze_path) -> None:
    stack = parse_layers(read_vxm(fastgaze_path))
    convs = [layer for layer in stack.layers if isinstance(layer, ConvLayer)]
    assert len(convs) == 14
    assert sum(isinstance(layer, MaxPoolLayer) for layer in stack.layers) == 4
    assert isinstance(stack.layers[-1], GaussianLayer)
    assert (stack.layers[-1].kernel_size, stack.layers[-1].std) == (19, 3.0)
    assert stack.downsampling == 16
    # 6.5 GFLOP per 320×320 input, as the issue states
    assert stack.flops(320, 320) == pytest.approx(6.5e9, rel=0.01)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b"GIF8" + b[4:], "bad magic"),
        (lambda b: b[:3], "too short"),
        (lambda b: b[:-7], "truncated"),
        (lambda b: b + b"\x00\x01", "unexpected bytes"),
        (lambda b: b[:4] + struct.pack("<I", 10**7) + b[8:], "implausible entry count"),
    ],
)
def test_damaged_files_fail_with_one_line(mutate, message: str) -> None:
    data = tiny_model(np.random.default_rng(2))
    with pytest.raises(ModelFileError, match=message) as info:
        parse_vxm(mutate(data), "m.vxm")
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("m.vxm:")


def test_unknown_layer_type_and_activation_are_refused() -> None:
    data = tiny_model(np.random.default_rng(3), act2=7)
    with pytest.raises(ModelFileError, match="unknown activation 7"):
        parse_layers(parse_vxm(data))
    entries = [("layerCount", _u32(1)), ("0Type", _u32(9))]
    with pytest.raises(ModelFileError, match="unknown type 9"):
        parse_layers(parse_vxm(build_vxm(entries)))


def test_size_mismatch_and_broken_channel_chain_are_refused() -> None:
    entries = [*_array_entries("w", np.zeros((2, 2)))]
    entries[0] = ("w", b"\x00" * 12)  # 3 floats for a 2×2 array
    with pytest.raises(ModelFileError, match="needs 16"):
        parse_vxm(build_vxm(entries)).array("w")
    rng = np.random.default_rng(4)
    entries = [("layerCount", _u32(2))]
    for i, shape in enumerate([(4, 3, 3, 3), (2, 5, 1, 1)]):
        entries += [(f"{i}Type", _u32(0)), (f"{i}Act", _u32(1))]
        entries += _array_entries(f"{i}w", rng.normal(size=shape))
        entries += _array_entries(f"{i}b", rng.normal(size=shape[0]))
    with pytest.raises(ModelFileError, match="expects 5 channels"):
        parse_layers(parse_vxm(build_vxm(entries)))


def test_missing_model_file(tmp_path) -> None:
    with pytest.raises(ModelFileError, match="not found"):
        read_vxm(tmp_path / "absent.vxm")
