"""Counterfactual edits of single images, localised with the face detector's boxes. Pure-ish.

What does a cropper respond to? Change one thing about an image and show the cropper the
edited image (alone, and beside the unedited one). Edits, all deterministic:

* ``luminance``: CIELAB lightness L* inside the primary face box shifted by ``step`` × 100
  (graded steps both ways: a dose–response);
* ``hue``: hue inside the face box rotated by ``step`` degrees (HSV);
* ``tone``: the whole image in ``greyscale`` or ``sepia`` (the classic sepia matrix);
* ``hair``: the band above the face box (60 % of the face height, 10 % wider each side)
  blended toward white by ``amount`` — HALT AI's lightened hair;
* ``text``: one sentence in a script (Latin, Arabic, CJK, Devanagari) drawn in black on a
  white strip across the bottom fifth of the image, in the Noto font of that script
  (Debian fonts-noto-core / fonts-noto-cjk); a script whose font is absent is skipped with a
  reason (:func:`font_for`).
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from cropaudit.faces.geometry import Box
from cropaudit.probes.params import EditsParams
from cropaudit.probes.recompose import ProbeSetting

#: One sentence per script ("The quick brown fox jumps over the lazy dog" and translations).
SENTENCES = {
    "latin": "The quick brown fox jumps over the lazy dog.",
    "arabic": "الثعلب البني السريع يقفز فوق الكلب الكسول.",
    "cjk": "敏捷的棕色狐狸跳过了懒狗。",
    "devanagari": "तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है।",
}
#: Noto font files per script, as Debian installs them (first found is used).
FONT_FILES = {
    "latin": ("truetype/noto/NotoSans-Regular.ttf",),
    "arabic": ("truetype/noto/NotoSansArabic-Regular.ttf",
               "truetype/noto/NotoNaskhArabic-Regular.ttf"),
    "cjk": ("opentype/noto/NotoSansCJK-Regular.ttc", "truetype/noto/NotoSansCJK-Regular.ttc"),
    "devanagari": ("truetype/noto/NotoSansDevanagari-Regular.ttf",),
}
FONT_ROOTS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
#: The sepia matrix (rows: output R, G, B), as used by most image editors.
SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])


#: An edit is a probe setting: ``kind`` (luminance, hue, tone, hair, text) and its value.
Edit = ProbeSetting


def font_for(script: str, roots: Sequence[Path] = FONT_ROOTS) -> Path | None:
    """The installed Noto font of a script, or None (its text edit is then skipped)."""
    for root in roots:
        for name in FONT_FILES[script]:
            if (root / name).is_file():
                return root / name
    return None


def edits_of(params: EditsParams, roots: Sequence[Path] = FONT_ROOTS
             ) -> tuple[list[Edit], list[str]]:
    """(the configured edits, one line per edit skipped and why)."""
    edits = [Edit("luminance", float(s)) for s in params.luminance_steps]
    edits += [Edit("hue", float(s)) for s in params.hue_steps]
    edits += [Edit("tone", t) for t in params.tone]
    edits += [Edit("hair", float(a)) for a in params.hair_lighten]
    skipped = []
    for script in params.text:
        if font_for(script, roots) is None:
            skipped.append(f"text={script}: no Noto font for {script} under "
                           f"{', '.join(map(str, roots))} (apt-get install fonts-noto-core "
                           "fonts-noto-cjk)")
        else:
            edits.append(Edit("text", script))
    return edits, skipped


def select_images(table: pd.DataFrame, faces: pd.DataFrame, per_group: int, seed: int
                  ) -> pd.DataFrame:
    """``per_group`` images of each group with a detected face (seeded, per group stream),
    with their primary face box (face_x, face_y, face_w, face_h)."""
    primary = faces[faces["primary"].astype(bool) & faces["width"].notna()]
    primary = primary.drop_duplicates("image_id").set_index("image_id")
    with_face = table[table["image_id"].isin(primary.index)]
    parts = []
    for group, g in with_face.groupby("group", sort=True):
        rng = np.random.default_rng([seed, zlib.crc32(f"edits:{group}".encode())])
        ids = np.sort(g["image_id"].to_numpy())
        pick = rng.choice(ids, size=min(per_group, len(ids)), replace=False)
        parts.append(g[g["image_id"].isin(pick)])
    out = pd.concat(parts, ignore_index=True) if parts else table.iloc[:0].copy()
    box = primary.loc[out["image_id"], ["x", "y", "width", "height"]].to_numpy(dtype=float)
    out[["face_x", "face_y", "face_w", "face_h"]] = box if len(out) else np.empty((0, 4))
    return out.sort_values("image_id").reset_index(drop=True)


def _region(rgb: np.ndarray, box: Box) -> tuple[slice, slice]:
    h, w = rgb.shape[:2]
    top, left = max(0, int(box.top)), max(0, int(box.left))
    bottom, right = min(h, int(np.ceil(box.bottom))), min(w, int(np.ceil(box.right)))
    return slice(top, max(top, bottom)), slice(left, max(left, right))


def shift_lightness(rgb: np.ndarray, step: float) -> np.ndarray:
    """L* + step × 100 (clipped to 0..100), colour kept; uint8 in and out."""
    from skimage.color import lab2rgb, rgb2lab

    lab = rgb2lab(rgb)
    lab[..., 0] = np.clip(lab[..., 0] + 100.0 * step, 0, 100)
    with warnings.catch_warnings():  # out-of-gamut colours are clipped to sRGB, as intended
        warnings.simplefilter("ignore", UserWarning)
        out = lab2rgb(lab)
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)


def rotate_hue(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """Hue rotated by ``degrees`` (HSV), saturation and value kept."""
    from skimage.color import hsv2rgb, rgb2hsv

    hsv = rgb2hsv(rgb)
    hsv[..., 0] = (hsv[..., 0] + degrees / 360.0) % 1.0
    return np.clip(np.round(hsv2rgb(hsv) * 255), 0, 255).astype(np.uint8)


def tone(rgb: np.ndarray, name: str) -> np.ndarray:
    """Greyscale (ITU-R 601 luma, as PIL's "L") or sepia of the whole image."""
    if name == "greyscale":
        grey = np.asarray(Image.fromarray(rgb).convert("L"))
        return np.repeat(grey[..., None], 3, axis=2)
    out = rgb.astype(np.float64) @ SEPIA.T
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def hair_box(face: Box, width: int) -> Box:
    """The band above the face: 60 % of its height, 10 % wider than it on each side."""
    top = max(0.0, face.top - 0.6 * face.height)
    left = max(0.0, face.left - 0.1 * face.width)
    right = min(float(width), face.right + 0.1 * face.width)
    return Box(left, top, right - left, face.top - top)


def overlay_text(rgb: np.ndarray, script: str, font_path: Path) -> np.ndarray:
    """The script's sentence in black on a white strip across the bottom fifth."""
    img = Image.fromarray(rgb)
    h, w = rgb.shape[:2]
    strip = max(8, h // 5)
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, h - strip, w, h], fill=(255, 255, 255))
    text = SENTENCES[script]
    size = max(6, strip // 2)
    font = ImageFont.truetype(str(font_path), size)
    while size > 6 and draw.textlength(text, font=font) > 0.95 * w:
        size -= 1
        font = ImageFont.truetype(str(font_path), size)
    draw.text((w / 2, h - strip / 2), text, fill=(0, 0, 0), font=font, anchor="mm")
    return np.asarray(img)


def apply_edit(rgb: np.ndarray, face: Box, edit: Edit) -> np.ndarray:
    """The edited copy of an upright RGB image (the input is not changed)."""
    out = rgb.copy()
    if edit.kind in ("luminance", "hue"):
        rows, cols = _region(out, face)
        change = shift_lightness if edit.kind == "luminance" else rotate_hue
        out[rows, cols] = change(out[rows, cols], float(edit.value))  # type: ignore[arg-type]
    elif edit.kind == "tone":
        out = tone(out, str(edit.value))
    elif edit.kind == "hair":
        rows, cols = _region(out, hair_box(face, out.shape[1]))
        amount = float(edit.value)  # type: ignore[arg-type]
        band = out[rows, cols].astype(np.float64)
        out[rows, cols] = np.round(band + amount * (255.0 - band)).astype(np.uint8)
    elif edit.kind == "text":
        path = font_for(str(edit.value))
        if path is None:
            raise ValueError(f"no font for script {edit.value!r}")
        out = overlay_text(out, str(edit.value), path)
    else:
        raise ValueError(f"unknown edit {edit.kind!r}")
    return out
