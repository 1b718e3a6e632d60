"""Reader for Twitter's ``.vxm`` model files (the format of ``fastgaze.vxm``).

Layout (little endian): magic ``\\x01tPM``, u32 entry count, then per entry u32 key length,
key bytes including a trailing NUL, u32 value length, value bytes. Scalars (layer type,
activation, pool size, ...) are u32 values. An array ``K`` is stored as raw bytes under ``K``
with typed views beside it: ``K.dtype`` (e.g. ``float32``), ``K.ndims`` (u32), ``K.shape``
(u32 × ndims) and, for ndims > 1, ``K.shape.listlength`` and ``K.shape[i]``.

The reader validates everything it can (magic, truncation, duplicate keys, sizes against
shapes) so a damaged download fails with one clear line instead of producing a wrong network.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cropaudit.errors import ModelFileError

MAGIC = b"\x01tPM"
_U32 = struct.Struct("<I")

#: dtype names the format uses, mapped to little-endian NumPy types.
DTYPES: dict[str, np.dtype] = {
    "float32": np.dtype("<f4"),
    "float64": np.dtype("<f8"),
    "int32": np.dtype("<i4"),
    "uint32": np.dtype("<u4"),
    "int8": np.dtype("i1"),
    "uint8": np.dtype("u1"),
}

#: Largest entry count / value size accepted (guards against garbage headers).
_MAX_ENTRIES = 1_000_000


@dataclass(frozen=True)
class VxmFile(Mapping[str, bytes]):
    """Parsed entries of a ``.vxm`` file: raw bytes per key, with typed accessors."""

    entries: dict[str, bytes]
    source: str = "<bytes>"

    # Mapping interface: raw values by key, in file order.
    def __getitem__(self, key: str) -> bytes:
        try:
            return self.entries[key]
        except KeyError:
            raise ModelFileError(f"{self.source}: missing entry {key!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def uint(self, key: str) -> int:
        """A u32 scalar entry (layer type, activation, pool size, ...)."""
        raw = self[key]
        if len(raw) != 4:
            raise ModelFileError(f"{self.source}: entry {key!r} is {len(raw)} bytes, not a u32")
        return _U32.unpack(raw)[0]

    def dtype(self, key: str) -> np.dtype:
        """The typed view ``key.dtype`` of an array entry."""
        name = self[f"{key}.dtype"].rstrip(b"\x00").decode("ascii", errors="replace")
        if name not in DTYPES:
            raise ModelFileError(f"{self.source}: entry {key!r} has unknown dtype {name!r}")
        return DTYPES[name]

    def ndims(self, key: str) -> int:
        return self.uint(f"{key}.ndims")

    def shape(self, key: str) -> tuple[int, ...]:
        """The typed view ``key.shape`` (cross-checked with ``key.shape[i]`` when present)."""
        raw = self[f"{key}.shape"]
        ndims = self.ndims(key)
        if len(raw) != 4 * ndims:
            raise ModelFileError(
                f"{self.source}: {key}.shape has {len(raw) // 4} dims, {key}.ndims says {ndims}"
            )
        shape = tuple(int(v) for v in np.frombuffer(raw, dtype="<u4"))
        for i, dim in enumerate(shape):
            item = f"{key}.shape[{i}]"
            if item in self.entries and self.uint(item) != dim:
                raise ModelFileError(f"{self.source}: {item} disagrees with {key}.shape")
        return shape

    def array(self, key: str) -> np.ndarray:
        """An array entry as a read-only NumPy array of its declared dtype and shape."""
        dtype, shape = self.dtype(key), self.shape(key)
        raw = self[key]
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if len(raw) != expected:
            raise ModelFileError(
                f"{self.source}: entry {key!r} has {len(raw)} bytes, shape {list(shape)} "
                f"of {dtype.name} needs {expected}"
            )
        return np.frombuffer(raw, dtype=dtype).reshape(shape)

    def has(self, key: str) -> bool:
        return key in self.entries


def parse_vxm(data: bytes, source: str = "<bytes>") -> VxmFile:
    """Parse the bytes of a ``.vxm`` file, validating structure and sizes."""
    if len(data) < 8:
        raise ModelFileError(f"{source}: too short to be a .vxm model ({len(data)} bytes)")
    if data[:4] != MAGIC:
        raise ModelFileError(f"{source}: not a .vxm model (bad magic {data[:4]!r})")
    (count,) = _U32.unpack_from(data, 4)
    if count > _MAX_ENTRIES:
        raise ModelFileError(f"{source}: implausible entry count {count}")
    entries: dict[str, bytes] = {}
    offset = 8
    for index in range(count):
        key_bytes, offset = _read_chunk(data, offset, source, index, "key")
        if not key_bytes.endswith(b"\x00"):
            raise ModelFileError(f"{source}: entry {index} key is not NUL-terminated")
        try:
            key = key_bytes[:-1].decode("ascii")
        except UnicodeDecodeError:
            raise ModelFileError(f"{source}: entry {index} key is not ASCII") from None
        value, offset = _read_chunk(data, offset, source, index, "value")
        if key in entries:
            raise ModelFileError(f"{source}: duplicate entry {key!r}")
        entries[key] = value
    if offset != len(data):
        raise ModelFileError(f"{source}: {len(data) - offset} unexpected bytes after last entry")
    return VxmFile(entries, source)


def _read_chunk(data: bytes, offset: int, source: str, index: int, what: str) -> tuple[bytes, int]:
    if offset + 4 > len(data):
        raise ModelFileError(f"{source}: truncated in entry {index} ({what} length)")
    (length,) = _U32.unpack_from(data, offset)
    start, end = offset + 4, offset + 4 + length
    if end > len(data):
        raise ModelFileError(f"{source}: truncated in entry {index} ({what} of {length} bytes)")
    return data[start:end], end


def read_vxm(path: str | os.PathLike[str]) -> VxmFile:
    """Read and parse a ``.vxm`` file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{p}: model file not found") from None
    except OSError as exc:
        raise ModelFileError(f"{p}: cannot read model file ({exc.strerror})") from None
    return parse_vxm(data, str(p))
