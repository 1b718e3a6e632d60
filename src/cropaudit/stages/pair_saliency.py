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
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from cropaudit.contracts import OUTCOME_COLUMNS, PAIRS_COLUMNS
from cropaudit.datasets.table import image_path
from cropaudit.engine.member_scores import score_members
from cropaudit.engine.model_store import sha256_file
from cropaudit.engine.threads import ordered_map
from cropaudit.engine.types import ImageFailure, SaliencyModel, SaliencyResult
from cropaudit.errors import InputFileError
from cropaudit.geometry.placement import CompositeGeometry, Placement
from cropaudit.imaging.composite import fit_member, parse_colour, render_composite
from cropaudit.imaging.upright import decode_upright
from cropaudit.outputs import read_parquet_metadata, write_parquet
from cropaudit.stages.params import SaliencyParams as SaliencyParams


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
    Safe to share between threads (composites are rendered by several): the cache is locked,
    decoding is not, so two threads may at worst decode the same image once each.
    """

    def __init__(self, dataset_path: str | os.PathLike[str], table: pd.DataFrame,
                 *, max_pixels: int, cache_bytes: int) -> None:
        self.dataset_path = Path(dataset_path)
        self.rows = table.set_index("image_id")
        self.max_pixels = max_pixels
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[tuple[str, int, int], np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, image_id: str, width: int, height: int) -> np.ndarray:
        """Upright pixels of ``image_id`` at its placed size (decoded once, then cached)."""
        key = (image_id, width, height)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        array = self._load(image_id, width, height)
        with self._lock:
            if array.nbytes <= self.cache_bytes and key not in self._cache:
                self._cache[key] = array
                self._bytes += array.nbytes
                while self._bytes > self.cache_bytes:
                    _, old = self._cache.popitem(last=False)
                    self._bytes -= old.nbytes
        return array

    def _load(self, image_id: str, width: int, height: int) -> np.ndarray:
        if image_id not in self.rows.index:
            raise InputFileError(
                f"{self.dataset_path}: image {image_id!r} of the pairs table is not in the "
                "dataset table (re-run `cropaudit sample-pairs`)"
            )
        row = self.rows.loc[image_id]
        path = image_path(self.dataset_path, str(row["path"]))
        # The single-image decoder, so a member's pixels are the image's pixels everywhere.
        rgb = decode_upright(path, str(path), max_pixels=self.max_pixels,
                             hard_limit=self.max_pixels).rgb
        if (rgb.shape[1], rgb.shape[0]) != (int(row["width"]), int(row["height"])):
            raise InputFileError(
                f"{path}: image is {rgb.shape[1]}x{rgb.shape[0]} but the dataset table "
                f"says {row['width']}x{row['height']} (re-run `cropaudit prepare-data`)"
            )
        return fit_member(rgb, width, height)


def render_tuple(rows: pd.DataFrame, images: MemberImages) -> np.ndarray:
    """The composite of one tuple (its pairs-table rows, by position) as RGB uint8 (H, W, 3)."""
    first = rows.iloc[0]
    background = parse_colour(str(first.get("background", "#ffffff")))
    members = [images.get(str(r.image_id), int(r.width), int(r.height))
               for r in rows.itertuples(index=False)]
    return render_composite(members, geometry_of(rows), background)


def member_outcomes(result: SaliencyResult, geometry: CompositeGeometry) -> list[dict[str, object]]:
    """Per member: who holds the salient point, and score statistics inside its rectangle."""
    sx, sy = result.salient_point
    return [
        {"model": result.model, "salient_x": int(sx), "salient_y": int(sy), "won": m.won,
         **m.statistics(), "n_cells": m.n_cells, "symmetric": bool(result.symmetric)}
        for m in score_members(result, geometry)
    ]


def run_shard(
    pairs: pd.DataFrame,
    images: MemberImages,
    model: SaliencyModel,
    *,
    shard: int = 0,
    shards: int = 1,
    composites_dir: Path | None = None,
    progress: bool | None = False,
    compose_workers: int = 2,
) -> pd.DataFrame:
    """Saliency outcomes (pairs rows + outcome columns) of one shard's tuples.

    Composites are rendered by ``compose_workers`` threads ahead of the model, which runs
    them in its own workers: decoding and compositing overlap with the network.
    """
    ids = shard_tuple_ids(pairs["tuple_id"].to_numpy(), shard, shards)
    rows = pairs[pairs["tuple_id"].isin(ids)].sort_values(["tuple_id", "position"])
    tuples = [g for _, g in rows.groupby("tuple_id", sort=True)]

    def compose(t: pd.DataFrame) -> np.ndarray:
        canvas = render_tuple(t, images)
        if composites_dir is not None:
            name = f"tuple-{int(t['tuple_id'].iloc[0]):07d}.jpg"
            Image.fromarray(canvas).save(composites_dir / name, quality=95)
        return canvas

    sources = [f"tuple {int(t['tuple_id'].iloc[0])}" for t in tuples]
    outcome_rows: list[dict[str, object]] = []
    composites = ordered_map(compose, tuples, workers=compose_workers, name="compose")
    results = model.predict(composites, sources=sources, progress=progress)
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


def _read_shard(path: Path) -> pd.DataFrame:
    """A shard's rows; a file whose footer reads but whose data is corrupt is one line too."""
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise InputFileError(f"{path}: not a readable parquet table ({type(exc).__name__})"
                             ) from None


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
    frames = [_read_shard(p) for p in paths]
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
