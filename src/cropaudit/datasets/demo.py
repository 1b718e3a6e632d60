"""The embedded demo dataset: synthetic portraits with one planted and one null difference.

A fresh clone must be able to run the whole audit offline, and the audit must be checkable
against known answers. So the project draws its own small dataset: cartoon portraits (head,
eyes, mouth, hair, shoulders on a soft background) in four groups, from two attributes:

* ``feature`` — ``marked`` portraits wear a high-contrast name badge (dark letters on a white
  card) on the chest; ``plain`` portraits do not. Saliency models are drawn to text and sharp
  contrast, so the cropper should prefer ``marked`` members: the **planted** difference.
* ``cohort`` — ``a`` or ``b``, a label only: both cohorts are drawn from the same distribution,
  so comparisons between cohorts with the same feature are **null** comparisons.

Everything else (image size and aspect ratio, skin tone, head position and size, colours) is
drawn from one distribution for every group. The generator is deterministic given
``dataset.demo.seed``; what is planted is documented in docs/demo-dataset.md.
"""

from __future__ import annotations

import itertools
import shutil
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from cropaudit.datasets.table import group_label
from cropaudit.errors import ConfigError
from cropaudit.model_store import sha256_file

if TYPE_CHECKING:
    from cropaudit.config import Params

#: Attribute -> values, in the order their groups are generated.
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "feature": ("marked", "plain"),
    "cohort": ("a", "b"),
}
#: The attribute that carries the planted visual difference, and its favoured value.
PLANTED_ATTRIBUTE, PLANTED_VALUE = "feature", "marked"

#: Every attribute combination ("marked-a", ...), in generation order.
_CELLS = ["-".join(c) for c in itertools.product(*ATTRIBUTES.values())]

IMAGES_DIR = "images"
LICENSE = "CC0-1.0"
ARTIST = "cropaudit demo generator"

# Sizes: widths and heights drawn independently, so aspect ratios (h/w) span about 0.6 to 2.2.
WIDTH_RANGE = (180, 320)
HEIGHT_RANGE = (200, 400)
SKIN_TONES = ((255, 224, 196), (234, 192, 160), (198, 148, 110), (160, 110, 75), (110, 72, 48))


@dataclass(frozen=True)
class Layout:
    """What image ``i`` of every group shares: size, head geometry, skin tone, badge place.

    Groups are generated in matched sets: image ``i`` of each group has the same layout and
    differs only in its details (colours, letters; random, one distribution for all groups)
    and, for ``marked`` groups, the badge. Size and skin tone therefore cannot differ between
    groups, and the planted badge is the only systematic difference.
    """

    width: int
    height: int
    head_radius: float
    head_elongation: float
    head_x: float
    head_y: float
    skin: tuple[int, int, int]
    badge_width: float
    badge_x: float


def _muted(rng: np.random.Generator, low: int = 70, high: int = 190) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(low, high, size=3))  # type: ignore[return-value]


def _background(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A soft vertical gradient with mild noise, like an out-of-focus backdrop."""
    top = np.array(_muted(rng, 120, 220), dtype=np.float32)
    bottom = np.array(_muted(rng, 90, 200), dtype=np.float32)
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    pixels = top * (1 - t) + bottom * t + rng.normal(0, 4, size=(height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def _badge(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: tuple[int, ...]) -> None:
    """A white card with two lines of dark capital letters: text-like, high-contrast structure."""
    left, top, right, bottom = box
    draw.rectangle(box, fill=(250, 250, 250), outline=(20, 20, 20), width=2)
    letters = string.ascii_uppercase
    line_h = (bottom - top - 6) // 2
    font = ImageFont.load_default(size=max(8, int(line_h * 0.9)))
    for line in range(2):
        n = int(rng.integers(4, 8))
        word = "".join(letters[i] for i in rng.integers(0, len(letters), size=n))
        draw.text((left + 5, top + 3 + line * line_h), word, fill=(15, 15, 15), font=font)


def draw_layout(rng: np.random.Generator) -> Layout:
    width = int(rng.integers(WIDTH_RANGE[0], WIDTH_RANGE[1] + 1))
    height = int(rng.integers(HEIGHT_RANGE[0], HEIGHT_RANGE[1] + 1))
    return Layout(
        width=width,
        height=height,
        head_radius=min(width, height * 0.75) * rng.uniform(0.17, 0.24),
        head_elongation=rng.uniform(1.15, 1.35),
        head_x=width / 2 + rng.uniform(-0.12, 0.12) * width,
        head_y=height * rng.uniform(0.30, 0.42),
        skin=SKIN_TONES[int(rng.integers(0, len(SKIN_TONES)))],
        badge_width=width * rng.uniform(0.36, 0.44),
        badge_x=rng.uniform(-0.25, 0.05) * width,
    )


def draw_portrait(layout: Layout, rng: np.random.Generator, marked: bool) -> Image.Image:
    """One synthetic portrait; ``marked`` adds the planted badge, nothing else differs."""
    width, height = layout.width, layout.height
    img = _background(rng, width, height)
    draw = ImageDraw.Draw(img)
    rx, ry = layout.head_radius, layout.head_radius * layout.head_elongation
    cx, cy, skin = layout.head_x, layout.head_y, layout.skin

    # Shoulders and neck below the head.
    shirt = _muted(rng)
    shoulder_top = cy + ry * 1.25
    draw.ellipse(
        (cx - width * 0.42, shoulder_top, cx + width * 0.42, shoulder_top + height * 0.9),
        fill=shirt,
    )
    draw.rectangle((cx - rx * 0.35, cy + ry * 0.6, cx + rx * 0.35, shoulder_top + 4), fill=skin)

    # Hair behind, face on top.
    hair = _muted(rng, 20, 110)
    draw.ellipse((cx - rx * 1.1, cy - ry * 1.12, cx + rx * 1.1, cy + ry * 0.5), fill=hair)
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=skin)

    # Eyes, nose and mouth.
    eye_y = cy - ry * 0.12
    for side in (-1, 1):
        ex = cx + side * rx * 0.4
        ew, eh = rx * 0.22, ry * 0.1
        draw.ellipse((ex - ew, eye_y - eh, ex + ew, eye_y + eh), fill=(240, 240, 240))
        pr = eh * 0.9
        draw.ellipse((ex - pr, eye_y - pr, ex + pr, eye_y + pr), fill=(40, 30, 25))
    nose = tuple(max(0, c - 30) for c in skin)
    draw.line((cx, eye_y + ry * 0.1, cx, cy + ry * 0.3), fill=nose, width=2)
    draw.arc(
        (cx - rx * 0.35, cy + ry * 0.25, cx + rx * 0.35, cy + ry * 0.6),
        start=20, end=160, fill=(150, 60, 60), width=3,
    )

    if marked:  # drawn last, so everything else is identical with and without it
        badge_h = max(22.0, height * 0.11)
        bx = float(np.clip(cx + layout.badge_x, 2, width - layout.badge_width - 2))
        by = min(shoulder_top + ry * 0.6, height - badge_h - 4)
        _badge(draw, rng, (int(bx), int(by), int(bx + layout.badge_width), int(by + badge_h)))

    return img.filter(ImageFilter.GaussianBlur(0.6))


def _groups_for(attributes: list[str]) -> list[dict[str, str]]:
    """Attribute values of each demo group, for the configured grouping attributes."""
    unknown = [a for a in attributes if a not in ATTRIBUTES]
    if unknown:
        raise ConfigError(
            f"dataset.groups.attributes: the demo dataset has attributes "
            f"{', '.join(ATTRIBUTES)}; unknown {', '.join(unknown)}"
        )
    combos: list[dict[str, str]] = [{}]
    for name, values in ATTRIBUTES.items():
        combos = [{**c, name: v} for c in combos for v in values]
    return combos


def build(params: Params, out_path: str | Path) -> pd.DataFrame:
    """Generate the demo images under ``<table dir>/images`` and return the dataset table.

    Images are written to a temporary folder that replaces ``images/`` only when complete.
    """
    demo = params.dataset.demo
    attributes = list(params.dataset.groups.attributes)
    combos = _groups_for(attributes)
    root = Path(out_path).parent
    root.mkdir(parents=True, exist_ok=True)
    final_dir = root / IMAGES_DIR
    tmp_dir = Path(tempfile.mkdtemp(prefix=".images.", dir=root))
    rows = []
    try:
        layouts = [draw_layout(np.random.default_rng([demo.seed, i]))
                   for i in range(demo.images_per_group)]
        for combo in combos:
            cell = "-".join(combo[a] for a in ATTRIBUTES)
            cell_index = _CELLS.index(cell)
            marked = combo[PLANTED_ATTRIBUTE] == PLANTED_VALUE
            for i, layout in enumerate(layouts):
                # Details get their own stream per (attribute combination, image): the same
                # however the attributes are grouped, independent between groups.
                rng = np.random.default_rng([demo.seed, i, 1 + cell_index])
                image_id = f"demo-{cell}-{i:03d}"
                img = draw_portrait(layout, rng, marked)
                name = f"{image_id}.jpg"
                img.save(tmp_dir / name, quality=demo.jpeg_quality)
                rows.append(
                    {
                        "image_id": image_id,
                        "path": f"{IMAGES_DIR}/{name}",
                        "width": img.width,
                        "height": img.height,
                        "sha256": sha256_file(tmp_dir / name),
                        "group": group_label([combo[a] for a in attributes]),
                        "source": "demo",
                        "source_url": "",
                        "file_name": name,
                        "license": LICENSE,
                        "artist": ARTIST,
                        "attribution": "Synthetic portrait generated by cropaudit (demo dataset)",
                        **combo,
                    }
                )
        if final_dir.exists():
            shutil.rmtree(final_dir)
        tmp_dir.rename(final_dir)
    finally:
        if tmp_dir.exists():
            shutil.rmtree(tmp_dir)
    return pd.DataFrame(rows)
