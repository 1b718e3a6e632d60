"""Real images for the app's tests: scikit-image's bundled photos and generated ones."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from skimage import data

from cropaudit.datasets.table import BASE_COLUMNS, write_table


def astronaut() -> np.ndarray:
    return data.astronaut()


def chelsea() -> np.ndarray:
    return data.chelsea()


def coffee() -> np.ndarray:
    return data.coffee()


def encode(rgb: np.ndarray, fmt: str = "PNG", **save: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt, **save)
    return buf.getvalue()


def data_url(payload: bytes, mime: str = "image/png") -> str:
    """What ``dcc.Upload`` hands to its callback for one file."""
    return f"data:{mime};base64," + base64.b64encode(payload).decode("ascii")


def image_url(rgb: np.ndarray, fmt: str = "PNG") -> str:
    return data_url(encode(rgb, fmt), f"image/{fmt.lower()}")


def write_dataset(root: Path, images: dict[str, tuple[np.ndarray, str]],
                  name: str = "demo") -> Path:
    """A dataset table ``root/data/<name>/images.parquet`` with the given (pixels, group)."""
    folder = root / "data" / name
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for image_id, (rgb, group) in images.items():
        rel = f"images/{image_id}.png"
        payload = encode(rgb)
        (folder / rel).write_bytes(payload)
        race, gender = group.split("_")
        rows.append({
            "image_id": image_id, "path": rel, "width": rgb.shape[1], "height": rgb.shape[0],
            "sha256": hashlib.sha256(payload).hexdigest(), "group": group, "source": "demo",
            "source_url": "", "file_name": f"{image_id}.png", "license": "", "artist": "",
            "attribution": "", "race": race, "gender": gender,
        })
    table = pd.DataFrame(rows)
    assert set(BASE_COLUMNS) <= set(table.columns)
    return write_table(table, folder / "images.parquet")
