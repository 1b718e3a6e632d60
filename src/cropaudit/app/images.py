"""Images entering the app: decoded once, checked, and kept only in a per-process temp dir.

An upload arrives as a base64 data URL. It is decoded here with one-line messages for the
things users actually send (a PDF, a truncated file, a 200-megapixel panorama), oriented by its
EXIF tag like the engine does, and stored under a temporary directory that is deleted when the
app stops: nothing is written anywhere else, nothing survives the session.

The original bytes are kept next to the decoded pixels so that an image within the size limit
is analysed from its *file*, exactly as ``cropaudit saliency`` and the pipeline would see it
(same decoder path, same numbers), and the pixels shown follow the engine's decoding rules.
Only images downscaled for the size limit are analysed from their pixels, and the user is told.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import hashlib
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cropaudit.errors import InputFileError
from cropaudit.imaging.upright import decode_upright


@dataclass(frozen=True)
class ImageRecord:
    """What the browser holds about a stored image: a key and labels, never pixels.

    ``width``/``height`` are the analysed size (after orientation and any downscaling);
    ``original_width``/``original_height`` the size of the file as oriented.
    """

    key: str
    name: str
    sha256: str
    width: int
    height: int
    original_width: int
    original_height: int
    origin: str = "upload"
    group: str = ""
    notice: str = ""

    @property
    def downscaled(self) -> bool:
        return (self.width, self.height) != (self.original_width, self.original_height)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageRecord:
        return cls(**data)


def data_url_bytes(contents: str, name: str, max_bytes: int | None = None) -> bytes:
    """The raw bytes of a ``data:...;base64,...`` URL as ``dcc.Upload`` delivers it.

    The size is checked before decoding, from the base64 length (4 characters per 3 bytes).
    """
    head, sep, payload = contents.partition(",")
    if not sep or ";base64" not in head:
        raise InputFileError(f"{name}: upload is not a base64 data URL")
    size = len(payload) * 3 // 4
    if max_bytes is not None and size > max_bytes:
        raise InputFileError(
            f"{name}: {size / 2**20:.1f} MB is over the upload limit of {max_bytes / 2**20:g} MB"
        )
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InputFileError(f"{name}: upload is corrupt (invalid base64)") from None


def pixel_hash(rgb: np.ndarray) -> str:
    """sha256 of an RGB array's shape and pixels: the cache key of images made in the app."""
    h = hashlib.sha256(f"{rgb.shape}".encode())
    h.update(np.ascontiguousarray(rgb).data)
    return h.hexdigest()


class ImageStore:
    """Uploaded images of this app process, in a temp dir removed at exit.

    Each image is kept twice: the original bytes (``<key>.bin``, what the model reads when
    the image was not downscaled) and its upright RGB pixels (``<key>.npy``, what figures,
    thumbnails and composites use, memory-mapped on read).

    The folder is capped (``max_images`` images, ``max_store_bytes`` on disk): beyond either,
    the least recently used images are deleted, so a long session cannot fill the disk (a
    40-megapixel upload takes 120 MB as pixels). A deleted image asks to be uploaded again.
    """

    def __init__(
        self,
        max_pixels: int,
        hard_limit: int,
        *,
        max_bytes: int | None = None,
        root: str | os.PathLike[str] | None = None,
        max_images: int | None = None,
        max_store_bytes: int | None = None,
    ) -> None:
        self.max_pixels = max_pixels
        self.hard_limit = hard_limit
        self.max_bytes = max_bytes
        self.max_images = max_images
        self.max_store_bytes = max_store_bytes
        self.root = Path(tempfile.mkdtemp(prefix="cropaudit-app-", dir=root))
        self._records: OrderedDict[str, ImageRecord] = OrderedDict()  # least recent first
        self._sizes: dict[str, int] = {}
        self._lock = threading.Lock()
        atexit.register(self.close)

    @property
    def stored_bytes(self) -> int:
        with self._lock:
            return sum(self._sizes.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def _evict(self, keep: str) -> None:
        """Delete least recently used images until the caps hold (never ``keep``)."""
        with self._lock:
            victims = []
            total = sum(self._sizes.values())
            for key in list(self._records):
                over_count = self.max_images is not None and len(self._records) > self.max_images
                over_size = self.max_store_bytes is not None and total > self.max_store_bytes
                if not (over_count or over_size):
                    break
                if key == keep:
                    continue
                del self._records[key]
                total -= self._sizes.pop(key, 0)
                victims.append(key)
        for key in victims:
            for suffix in (".bin", ".npy"):
                (self.root / f"{key}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        """Delete every stored image (also runs at interpreter exit)."""
        shutil.rmtree(self.root, ignore_errors=True)
        with self._lock:
            self._records.clear()
            self._sizes.clear()

    def add_bytes(
        self, data: bytes, name: str, *, origin: str = "upload", group: str = ""
    ) -> ImageRecord:
        """Decode and keep an image; the same bytes added twice are stored once."""
        sha = hashlib.sha256(data).hexdigest()
        with self._lock:
            known = self._records.get(sha)
            if known is not None:
                self._records.move_to_end(sha)
        if known is not None:
            return known
        if not data:
            raise InputFileError(f"{name}: empty file")
        self.root.mkdir(parents=True, exist_ok=True)
        original = self.root / f"{sha}.bin"
        original.write_bytes(data)
        try:
            decoded = decode_upright(original, name, max_pixels=self.max_pixels,
                                  hard_limit=self.hard_limit)
        except Exception:
            original.unlink(missing_ok=True)
            raise
        record = ImageRecord(
            key=sha,
            name=name,
            sha256=sha,
            width=int(decoded.rgb.shape[1]),
            height=int(decoded.rgb.shape[0]),
            original_width=decoded.original_width,
            original_height=decoded.original_height,
            origin=origin,
            group=group,
            notice=decoded.notice,
        )
        np.save(self.root / f"{sha}.npy", decoded.rgb)
        size = original.stat().st_size + (self.root / f"{sha}.npy").stat().st_size
        with self._lock:
            self._records[sha] = record
            self._sizes[sha] = size
        self._evict(keep=sha)
        return record

    def add_upload(self, contents: str, name: str) -> ImageRecord:
        """Store one ``dcc.Upload`` item (a base64 data URL)."""
        return self.add_bytes(data_url_bytes(contents, name, self.max_bytes), name)

    def add_file(self, path: str | Path, name: str, *, group: str = "") -> ImageRecord:
        """Store an image from disk (the dataset table), read once into the temp dir."""
        p = Path(path)
        if not p.is_file():
            raise InputFileError(f"{p}: no such file")
        return self.add_bytes(p.read_bytes(), name, origin="dataset", group=group)

    def record(self, key: str) -> ImageRecord:
        with self._lock:
            record = self._records.get(key)
            if record is not None:
                self._records.move_to_end(key)
        if record is None or not (self.root / f"{key}.npy").is_file():
            raise InputFileError(f"image {key[:12]}… is no longer stored; upload it again")
        return record

    def pixels(self, key: str) -> np.ndarray:
        """Upright RGB pixels (read-only, memory-mapped)."""
        self.record(key)
        return np.load(self.root / f"{key}.npy", mmap_mode="r")

    def file_path(self, key: str) -> Path:
        """The stored original bytes (what the model reads for images not downscaled)."""
        self.record(key)
        return self.root / f"{key}.bin"
