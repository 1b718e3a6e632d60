"""Saliency of sampled tuples: compose each tuple in memory, run the model, score each member.

For every composite this records the model's salient point, which member holds it (``won``)
and statistics of the model's grid scores inside each member's rectangle (max, p95, median,
mean: the paper's "stats of saliency scores"). Composites are built from the pairs table's
geometry alone, so they can always be rebuilt; they are written to disk only on request.

Work is split into shards (contiguous blocks of tuples) so that a cluster executor can run
them as separate jobs; each shard file records which shard of how many it is and the digest
of the pairs table it came from, and :func:`gather` refuses an incomplete or mixed set.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageOps
from pydantic import BaseModel, ConfigDict, Field

from cropaudit.contracts import OUTCOME_COLUMNS, PAIRS_COLUMNS
from cropaudit.datasets.table import image_path
from cropaudit.errors import InputFileError
from cropaudit.geometry.composition import CompositeGeometry, Placement
from cropaudit.outputs import read_parquet_metadata, write_parquet
from cropaudit.saliency import ImageFailure, SaliencyModel, SaliencyResult
from cropaudit.saliency.model_store import sha256_file
from cropaudit.saliency.source import open_image


class SaliencyParams(BaseModel):
    """``saliency:`` section of params.yaml: how the saliency stage is run (not what it finds)."""

    model_config = ConfigDict(extra="forbid")

    shards: int = Field(2, ge=1, le=10_000, description="Snakemake jobs the stage is split into")
    save_composites: bool = Field(
        False, description="also write each composite as JPEG under results/composites/"
    )
    image_cache_mb: int = Field(
        512, ge=0, description="decoded member images kept in memory (they repeat across tuples)"
    )


def shard_tuple_ids(tuple_ids: np.ndarray, shard: int, shards: int) -> np.ndarray:
    """The tuple ids of shard ``shard`` of ``shards``: contiguous, sizes differing by at most 1."""
    if shards < 1 or not 0 <= shard < shards:
        raise ValueError(f"shard must be in 0..{shards - 1}, got {shard}")
    return np.array_split(np.unique(tuple_ids), shards)[shard]


def geometry_of(rows: pd.DataFrame) -> CompositeGeometry:
    """A tuple's composite geometry from its pairs-table rows (sorted by position)."""
    first = rows.iloc[0]
    return CompositeGeometry(
        int(first["composite_width"]),
        int(first["composite_height"]),
        tuple(
            Placement(int(r.x), int(r.y), int(r.width), int(r.height), float(r.scale))
            for r in rows.itertuples(index=False)
        ),
    )


class MemberImages:
    """Decoded, upright, scaled member images, with a memory-bounded LRU cache.

    The same image appears in many tuples; decoding it once per tuple would dominate the run.
    """

    def __init__(self, dataset_path: str | os.PathLike[str], table: pd.DataFrame,
                 *, max_pixels: int, cache_bytes: int) -> None:
        self.dataset_path = Path(dataset_path)
        self.rows = table.set_index("image_id")
        self.max_pixels = max_pixels
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[tuple[str, int, int], np.ndarray] = OrderedDict()
        self._bytes = 0

    def get(
        self, image_id: str, width: int, height: int, background: tuple[int, ...]
    ) -> np.ndarray:
        key = (image_id, width, height)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        array = self._load(image_id, width, height, background)
        if array.nbytes <= self.cache_bytes:
            self._cache[key] = array
            self._bytes += array.nbytes
            while self._bytes > self.cache_bytes:
                _, old = self._cache.popitem(last=False)
                self._bytes -= old.nbytes
        return array

    def _load(self, image_id: str, width: int, height: int, background: tuple[int, ...]
              ) -> np.ndarray:
        if image_id not in self.rows.index:
            raise InputFileError(
                f"{self.dataset_path}: image {image_id!r} of the pairs table is not in the "
                "dataset table (re-run `cropaudit sample-pairs`)"
            )
        row = self.rows.loc[image_id]
        path = image_path(self.dataset_path, str(row["path"]))
        with open_image(path, self.max_pixels) as img:
            try:
                upright = ImageOps.exif_transpose(img)
                upright.load()
            except OSError as exc:
                raise InputFileError(f"{path}: cannot decode image ({exc})") from None
            if upright.size != (int(row["width"]), int(row["height"])):
                raise InputFileError(
                    f"{path}: image is {upright.size[0]}x{upright.size[1]} but the dataset table "
                    f"says {row['width']}x{row['height']} (re-run `cropaudit prepare-data`)"
                )
            if upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info:
                flat = Image.new("RGB", upright.size, tuple(background))
                flat.paste(upright.convert("RGBA"), mask=upright.convert("RGBA"))
                upright = flat
            rgb = upright.convert("RGB")
        if rgb.size != (width, height):
            rgb = rgb.resize((width, height), Image.Resampling.LANCZOS)
        return np.asarray(rgb, dtype=np.uint8)


def parse_colour(text: str) -> tuple[int, int, int]:
    """'#rrggbb' -> (r, g, b)."""
    text = text.lstrip("#")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def render_composite(rows: pd.DataFrame, images: MemberImages) -> np.ndarray:
    """The composite of one tuple as an RGB uint8 array (H, W, 3)."""
    first = rows.iloc[0]
    background = parse_colour(str(first.get("background", "#ffffff")))
    members = [images.get(str(r.image_id), int(r.width), int(r.height), background)
               for r in rows.itertuples(index=False)]
    return paste_members(geometry_of(rows), members, background)


def paste_members(geometry: CompositeGeometry, members: list[np.ndarray],
                  background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Members (already at their rectangles' sizes) pasted on a plain canvas: the one place
    composites are drawn, for pairs-table tuples and for in-memory images alike."""
    canvas = np.empty((geometry.height, geometry.width, 3), np.uint8)
    canvas[...] = background
    for p, member in zip(geometry.placements, members, strict=True):
        canvas[p.y:p.y + p.height, p.x:p.x + p.width] = member
    return canvas


def member_outcomes(result: SaliencyResult, geometry: CompositeGeometry) -> list[dict[str, object]]:
    """Per member: who holds the salient point, and score statistics inside its rectangle."""
    sx, sy = result.salient_point
    winner = geometry.member_at(sx, sy)
    out = []
    for i, p in enumerate(geometry.placements):
        scores = result.scores_in_box(p.x, p.y, p.width, p.height).astype(np.float64)
        if scores.size:
            stats = {
                "score_max": float(scores.max()),
                "score_p95": float(np.percentile(scores, 95)),
                "score_p50": float(np.percentile(scores, 50)),
                "score_mean": float(scores.mean()),
            }
        else:  # a member smaller than one grid cell holds no cell centre
            stats = dict.fromkeys(("score_max", "score_p95", "score_p50", "score_mean"), np.nan)
        out.append({
            "model": result.model, "salient_x": int(sx), "salient_y": int(sy),
            "won": i == winner, **stats, "n_cells": int(scores.size),
            "symmetric": bool(result.symmetric),
        })
    return out


def run_shard(
    pairs: pd.DataFrame,
    images: MemberImages,
    model: SaliencyModel,
    *,
    shard: int = 0,
    shards: int = 1,
    composites_dir: Path | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Saliency outcomes (pairs rows + outcome columns) of one shard's tuples."""
    ids = shard_tuple_ids(pairs["tuple_id"].to_numpy(), shard, shards)
    rows = pairs[pairs["tuple_id"].isin(ids)].sort_values(["tuple_id", "position"])
    tuples = [g for _, g in rows.groupby("tuple_id", sort=True)]

    def composites() -> Iterator[np.ndarray]:
        for t in tuples:
            canvas = render_composite(t, images)
            if composites_dir is not None:
                name = f"tuple-{int(t['tuple_id'].iloc[0]):07d}.jpg"
                Image.fromarray(canvas).save(composites_dir / name, quality=95)
            yield canvas

    sources = [f"tuple {int(t['tuple_id'].iloc[0])}" for t in tuples]
    outcome_rows: list[dict[str, object]] = []
    results = model.predict(composites(), sources=sources, progress=progress)
    for t, result in zip(tuples, results, strict=True):
        if isinstance(result, ImageFailure):
            raise InputFileError(f"{result.source}: saliency failed ({result.message})")
        outcome_rows += member_outcomes(result, geometry_of(t))
    outcomes = pd.DataFrame(outcome_rows, index=rows.index)
    if outcomes.empty:
        outcomes = pd.DataFrame(columns=[*OUTCOME_COLUMNS, "n_cells", "symmetric"])
    return pd.concat([rows.reset_index(drop=True), outcomes.reset_index(drop=True)], axis=1)


def write_shard(df: pd.DataFrame, path: str | os.PathLike[str], *, shard: int, shards: int,
                pairs_path: str | os.PathLike[str], n_tuples: int) -> None:
    """Write a shard with the metadata :func:`gather` checks."""
    write_parquet(df, path, {
        "shard": shard, "shards": shards, "pairs_sha256": sha256_file(pairs_path),
        "tuples_total": n_tuples,
    })


def gather(paths: list[Path]) -> pd.DataFrame:
    """Concatenate shard files, refusing a set that is incomplete or from different runs."""
    if not paths:
        raise InputFileError("gather: no shard files given")
    metas = []
    for p in paths:
        if not p.is_file():
            raise InputFileError(f"{p}: shard file not found (run `cropaudit pair-saliency`)")
        meta = read_parquet_metadata(p)
        if not {"shard", "shards", "pairs_sha256", "tuples_total"} <= meta.keys():
            raise InputFileError(f"{p}: not a shard written by `cropaudit pair-saliency`")
        metas.append(meta)
    shards = {m["shards"] for m in metas}
    digests = {m["pairs_sha256"] for m in metas}
    if len(shards) != 1 or len(digests) != 1:
        raise InputFileError(
            f"{paths[0].parent}: shard files come from different runs or shard counts "
            "(re-run the saliency stage)"
        )
    k = shards.pop()
    seen = [m["shard"] for m in metas]
    if len(set(seen)) != len(seen):
        raise InputFileError(f"{paths[0].parent}: a shard is given twice")
    missing = sorted(set(range(k)) - set(seen))
    if missing:
        raise InputFileError(f"{paths[0].parent}: missing shard(s) {missing} of {k}")
    frames = [pd.read_parquet(p) for p in paths]
    df = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    df = df.sort_values(["tuple_id", "position"], ignore_index=True)
    total = metas[0]["tuples_total"]
    if df["tuple_id"].nunique() != total:
        raise InputFileError(
            f"{paths[0].parent}: shards hold {df['tuple_id'].nunique()} tuples, expected {total}"
        )
    missing_cols = [c for c in PAIRS_COLUMNS + OUTCOME_COLUMNS if c not in df.columns]
    if missing_cols:
        raise InputFileError(f"{paths[0]}: shard lacks columns {', '.join(missing_cols)}")
    return df
