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
import math
import shutil
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from cropaudit.errors import InputFileError
from cropaudit.saliency.preprocess import apply_orientation
from cropaudit.saliency.preprocess import decode_image as engine_decode
from cropaudit.saliency.source import exif_orientation, is_jpeg, open_image


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
    def from_dict(cls, data: dict[str, object]) -> ImageRecord:
        return cls(**data)  # type: ignore[arg-type]


@dataclass(frozen=True)
class DecodedImage:
    """Upright RGB pixels of one image, possibly downscaled, and what happened to it."""

    rgb: np.ndarray
    original_width: int
    original_height: int
    notice: str = ""


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


def _to_rgb(img: Image.Image) -> np.ndarray:
    """RGB uint8 pixels of a Pillow image under the engine's alpha rule (alpha 0 → white)."""
    if img.mode in ("RGBA", "LA", "P", "PA"):
        rgba = np.asarray(img.convert("RGBA")).copy()
        rgba[rgba[..., 3] == 0, :3] = 255
        return np.ascontiguousarray(rgba[..., :3])
    return np.ascontiguousarray(np.asarray(img.convert("RGB")))


def downscaled_size(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """Largest size of the same aspect whose pixel count is at most ``max_pixels``."""
    if width * height <= max_pixels:
        return width, height
    s = math.sqrt(max_pixels / (width * height))
    return max(1, math.floor(width * s)), max(1, math.floor(height * s))


def decode_file(path: str | Path, name: str, *, max_pixels: int,
                hard_limit: int) -> DecodedImage:
    """Upright RGB pixels of an image file, as the engine decodes it, downscaled if huge.

    Within ``max_pixels`` the pixels follow the engine's decoding rules exactly (PNG alpha
    and 16-bit rules, EXIF orientation from JPEG EXIF only), at full resolution, so what the
    page shows is what the model was given. Above it, the image is decoded at a reduced JPEG
    DCT scale where possible, resized with Lanczos and oriented; these pixels are then what
    the model analyses. Above ``hard_limit`` (the engine's decompression-bomb limit) it is
    refused.
    """
    p = Path(path)
    with open_image(p, hard_limit, name=name) as img:
        w, h = img.size
        orientation = exif_orientation(img)
        jpeg = is_jpeg(img)
        tw, th = downscaled_size(w, h, max_pixels)
        try:
            if (tw, th) != (w, h):
                img.draft("RGB", (tw, th))  # JPEG only: decode at 1/2, 1/4 or 1/8 scale
                full = Image.fromarray(_to_rgb(img))  # palette/alpha resolved before filtering
                rgb = np.asarray(full.resize((tw, th), Image.Resampling.LANCZOS))
            elif jpeg:
                img.load()
                rgb = _to_rgb(img)
            else:
                rgb = None
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise InputFileError(f"{name}: cannot decode image ({exc})") from None
    if rgb is None:  # PNG, GIF, WebP, ...: the engine's own decoder, nothing to rescale
        try:
            rgb = engine_decode(p, hard_limit).pixels
        except InputFileError as exc:
            raise InputFileError(str(exc).replace(str(p), name)) from None
    rgb = apply_orientation(rgb, orientation)
    ow, oh = (h, w) if orientation >= 5 else (w, h)
    notice = ""
    if (tw, th) != (w, h):
        notice = (
            f"{name}: {ow}×{oh} ({ow * oh / 1e6:.1f} MP) is over the app's limit of "
            f"{max_pixels / 1e6:.1f} MP; analysed downscaled to {rgb.shape[1]}×{rgb.shape[0]}"
        )
    return DecodedImage(rgb, ow, oh, notice)


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
    """

    def __init__(
        self,
        max_pixels: int,
        hard_limit: int,
        *,
        max_bytes: int | None = None,
        root: str | Path | None = None,
    ) -> None:
        self.max_pixels = max_pixels
        self.hard_limit = hard_limit
        self.max_bytes = max_bytes
        self.root = Path(tempfile.mkdtemp(prefix="cropaudit-app-", dir=root))
        self._records: dict[str, ImageRecord] = {}
        self._lock = threading.Lock()
        atexit.register(self.close)

    def close(self) -> None:
        """Delete every stored image (also runs at interpreter exit)."""
        shutil.rmtree(self.root, ignore_errors=True)
        with self._lock:
            self._records.clear()

    def add_bytes(
        self, data: bytes, name: str, *, origin: str = "upload", group: str = ""
    ) -> ImageRecord:
        """Decode and keep an image; the same bytes added twice are stored once."""
        sha = hashlib.sha256(data).hexdigest()
        with self._lock:
            known = self._records.get(sha)
        if known is not None:
            return known
        if not data:
            raise InputFileError(f"{name}: empty file")
        self.root.mkdir(parents=True, exist_ok=True)
        original = self.root / f"{sha}.bin"
        original.write_bytes(data)
        try:
            decoded = decode_file(original, name, max_pixels=self.max_pixels,
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
        with self._lock:
            self._records[sha] = record
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
