"""Turning a source's candidate images into the one validated dataset table.

Every source (Wikidata download, labelled folder, CSV manifest, generated demo) hands its
candidates to :func:`finalize`, so the same checks apply whatever the origin: group values must
be known, files must exist and decode, the same picture (sha256) may appear only once, and groups
below ``dataset.groups.min_group_size`` are dropped. Nothing is dropped silently: every excluded
image is written, with its reason, to ``excluded.csv`` next to the table, and a summary is logged.
Reasons read ``<category>: <detail>`` so they can be counted by category.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cropaudit.contracts import COMPARISON_SEP
from cropaudit.datasets.table import BASE_COLUMNS, group_label, write_table
from cropaudit.engine.model_store import sha256_file
from cropaudit.errors import DatasetError, InputFileError
from cropaudit.imaging.source import open_image, oriented_size
from cropaudit.outputs import atomic_path
from cropaudit.untrusted import csv_cell

if TYPE_CHECKING:
    from cropaudit.config import Params

log = logging.getLogger(__name__)

EXCLUDED_FILE = "excluded.csv"
EXCLUDED_COLUMNS = ("image_id", "path", "reason")

#: File extension written for each decoded format (downloads are named after what they are,
#: not after what the server or the original file name claimed).
FORMAT_EXTENSIONS = {
    "JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp", "TIFF": ".tif",
    "BMP": ".bmp",
}

#: A group value may not contain the comparison separator used by later stages.
FORBIDDEN_IN_VALUES = (COMPARISON_SEP,)


@dataclass(frozen=True)
class ImageInfo:
    """What decoding a file told us: size after EXIF orientation, format and digest."""

    width: int
    height: int
    format: str
    sha256: str

    @property
    def extension(self) -> str:
        return FORMAT_EXTENSIONS.get(self.format, "." + self.format.lower())


class ImageRejected(Exception):
    """A file is not a usable image; ``reason`` is the line written to ``excluded.csv``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def inspect_image(path: str | os.PathLike[str], max_pixels: int) -> ImageInfo:
    """Fully decode ``path`` (a truncated or corrupt file fails here, not in a later stage)."""
    p = Path(path)
    if not p.is_file():
        raise ImageRejected("missing file")
    if p.stat().st_size == 0:
        raise ImageRejected("not an image: empty file")
    try:
        img = open_image(p, max_pixels)
    except InputFileError as exc:
        detail = str(exc).split(": ", 1)[-1]  # drop the path: excluded.csv has its own column
        if "not a recognised image" in detail:
            raise ImageRejected("not an image: unrecognised content") from None
        raise ImageRejected(f"undecodable image: {detail}") from None
    try:
        with img:
            img.load()
            width, height = oriented_size(img)
            fmt = img.format or "unknown"
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError... for bad data
        raise ImageRejected(f"undecodable image: {exc}".strip()) from None
    return ImageInfo(width=width, height=height, format=fmt, sha256=sha256_file(p))


@dataclass
class Candidate:
    """An image a source proposes, before checks.

    ``attributes`` hold raw values (mapped to group labels by :class:`GroupSpec`); ``meta`` holds
    the other table columns (``source_url``, ``file_name``, ``license``, ``artist``,
    ``attribution``, and any extra columns of the source). ``info`` may be filled by a source
    that already decoded the file (a verified download), so it is not decoded twice.
    """

    image_id: str
    file: Path | None
    attributes: dict[str, str]
    meta: dict[str, str] = field(default_factory=dict)
    info: ImageInfo | None = None


@dataclass(frozen=True)
class Exclusion:
    """One image left out of the table, and why."""

    image_id: str
    path: str
    reason: str


@dataclass(frozen=True)
class GroupSpec:
    """Which attributes form the groups, how raw values map to labels, which groups stay."""

    attributes: tuple[str, ...]
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    include: frozenset[str] | None = None
    min_group_size: int = 1

    @classmethod
    def from_params(
        cls, params: Params, values: Mapping[str, Mapping[str, str]] | None = None
    ) -> GroupSpec:
        groups = params.dataset.groups
        return cls(
            attributes=tuple(groups.attributes),
            values=dict(values or {}),
            include=frozenset(groups.include) if groups.include is not None else None,
            min_group_size=groups.min_group_size,
        )

    def map_values(self, raw: Mapping[str, str]) -> dict[str, str]:
        """Raw attribute values -> labels; raises :class:`ImageRejected` on unknown values."""
        out = dict(raw)
        for attr, value in raw.items():
            value = str(value).strip()
            table = self.values.get(attr)
            if table is not None:
                if value not in table:
                    raise ImageRejected(f"unknown value: {attr} {value!r}")
                value = table[value]
            out[attr] = value
        for attr in self.attributes:
            value = out.get(attr, "")
            if not value:
                raise ImageRejected(f"unknown value: {attr} missing")
            if any(ch in value for ch in FORBIDDEN_IN_VALUES):
                raise ImageRejected(f"unknown value: {attr} {value!r} contains {COMPARISON_SEP!r}")
        return out

    def label(self, attributes: Mapping[str, str]) -> str:
        return group_label([attributes[a] for a in self.attributes])


class TableRow(BaseModel):
    """One row of the dataset table (attribute columns come as extra fields)."""

    model_config = ConfigDict(extra="allow")

    image_id: str = Field(min_length=1)
    path: str = Field(min_length=1)
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    group: str = Field(min_length=1)
    source: Literal["demo", "wikiceleb", "folder", "csv"]
    source_url: str
    file_name: str
    license: str
    artist: str
    attribution: str


def validate_table(df: pd.DataFrame, attributes: Sequence[str], where: str = "table") -> None:
    """Check a dataset table against the schema; one-line :class:`DatasetError` on the first fault.

    Usable on any table (a source's output, or one read back), so every stage can trust it.
    """
    missing = [c for c in (*BASE_COLUMNS, *attributes) if c not in df.columns]
    if missing:
        raise DatasetError(f"{where}: missing columns {', '.join(missing)}")
    for i, record in enumerate(df.to_dict(orient="records")):
        try:
            TableRow.model_validate(record)
        except ValidationError as exc:
            err = exc.errors()[0]
            col = ".".join(str(p) for p in err["loc"])
            raise DatasetError(
                f"{where}: row {i} (image_id {record.get('image_id')!r}): {col}: {err['msg']}"
            ) from None
        expected = group_label([str(record[a]) for a in attributes])
        if record["group"] != expected:
            raise DatasetError(
                f"{where}: row {i}: group {record['group']!r} != attributes joined {expected!r}"
            )
    for col in ("image_id", "sha256"):
        dup = df[col][df[col].duplicated()]
        if not dup.empty:
            raise DatasetError(f"{where}: duplicate {col} {dup.iloc[0]!r}")
    _check_labels_unique(df, attributes, where)


def _check_labels_unique(df: pd.DataFrame, attributes: Sequence[str], where: str) -> None:
    """Two combinations of values must not share a label: values may contain "_" (FairFace's
    latino_hispanic), so ("a_b", "c") and ("a", "b_c") both join to "a_b_c", and the
    statistics, which read each group's values from this table, would merge two groups."""
    if not len(df) or not attributes:
        return
    combos = df[["group", *attributes]].astype(str).drop_duplicates()
    clash = combos[combos["group"].duplicated(keep=False)]
    if len(clash):
        label = clash["group"].iloc[0]
        values = [tuple(r) for r in clash.loc[clash["group"] == label, list(attributes)]
                  .itertuples(index=False, name=None)]
        raise DatasetError(
            f"{where}: values {values[0]} and {values[1]} of {list(attributes)} both make the "
            f"group label {label!r}: rename a value")


def _relative(path: Path | None, base: Path) -> str:
    if path is None:
        return ""
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive on Windows
        return str(path)


def _inspect_all(
    todo: Sequence[Candidate], max_pixels: int, workers: int
) -> dict[int, ImageInfo | ImageRejected]:
    """Decode the candidates that have no info yet (threads: Pillow decodes without the GIL)."""
    from tqdm import tqdm

    def one(c: Candidate) -> ImageInfo | ImageRejected:
        if c.file is None:
            return ImageRejected("missing file")
        try:
            return inspect_image(c.file, max_pixels)
        except ImageRejected as exc:
            return exc

    results: dict[int, ImageInfo | ImageRejected] = {}
    if not todo:
        return results
    with ThreadPoolExecutor(max_workers=workers) as pool, tqdm(
        total=len(todo), desc="checking images", unit="img", disable=None
    ) as bar:
        for i, res in enumerate(pool.map(one, todo)):
            results[i] = res
            bar.update(1)
    return results


def _drop_groups(
    accepted: list[tuple[Candidate, dict[str, str], str]], spec: GroupSpec, base: Path
) -> tuple[list[tuple[Candidate, dict[str, str], str]], list[Exclusion]]:
    """Apply ``include`` and ``min_group_size``; every dropped image gets its reason."""
    sizes = Counter(label for _, _, label in accepted)
    kept, dropped = [], []
    for cand, attrs, label in accepted:
        reason = None
        if spec.include is not None and label not in spec.include:
            reason = f"group not included: {label}"
        elif sizes[label] < spec.min_group_size:
            reason = (
                f"small group: {label} has {sizes[label]} < min_group_size {spec.min_group_size}"
            )
        if reason is None:
            kept.append((cand, attrs, label))
        else:
            dropped.append(Exclusion(cand.image_id, _relative(cand.file, base), reason))
    for label, n in sorted(sizes.items()):
        if (spec.include is None or label in spec.include) and n < spec.min_group_size:
            log.warning(
                "dropping group %s: %d images < min_group_size %d", label, n,
                spec.min_group_size,
            )
    return kept, dropped


def select_groups(
    candidates: Iterable[Candidate], spec: GroupSpec, base: Path
) -> tuple[list[Candidate], list[Exclusion]]:
    """Early group filter for sources that download: map values, then ``include`` and size.

    A group that cannot reach ``min_group_size`` even if every image downloads is not fetched.
    """
    accepted, excluded = [], []
    for cand in candidates:
        try:
            attrs = spec.map_values(cand.attributes)
        except ImageRejected as exc:
            excluded.append(Exclusion(cand.image_id, _relative(cand.file, base), exc.reason))
            continue
        accepted.append((cand, attrs, spec.label(attrs)))
    kept, dropped = _drop_groups(accepted, spec, base)
    return [c for c, _, _ in kept], excluded + dropped


def reason_summary(excluded: Iterable[Exclusion]) -> str:
    """``"missing file 2, duplicate 1"``: counts per reason category, most frequent first."""
    counts = Counter(e.reason.split(":", 1)[0] for e in excluded)
    return ", ".join(f"{k} {v}" for k, v in counts.most_common()) or "none"


def finalize(
    candidates: Sequence[Candidate],
    excluded: Sequence[Exclusion] = (),
    *,
    params: Params,
    out_path: str | os.PathLike[str],
    source: str,
    values: Mapping[str, Mapping[str, str]] | None = None,
    place: Callable[[Candidate, ImageInfo], Path] | None = None,
    workers: int | None = None,
) -> pd.DataFrame:
    """Check every candidate, write ``excluded.csv`` and the table at ``out_path``, return it.

    ``values`` maps raw attribute values to group labels (unknown values are excluded);
    ``place`` puts an accepted file where the table should point (copy into the dataset folder,
    link, ...) and returns that path; by default the table points at the file as it is.
    Raises :class:`DatasetError` with one line if no image is left.
    """
    out = Path(out_path)
    base = out.parent
    spec = GroupSpec.from_params(params, values)
    excluded = list(excluded)
    # cheap checks before any decoding, then decoding, then content, then whole groups
    mapped = _with_group_values(candidates, spec, base, excluded)
    decoded = _decoded(mapped, params.model.max_pixels,
                       workers or min(4, os.cpu_count() or 1), base, excluded)
    unique = _unique_pictures(decoded, base, excluded)
    infos = {c.image_id: info for c, _, info in unique}
    kept, dropped = _drop_groups([(c, a, spec.label(a)) for c, a, _ in unique], spec, base)
    excluded += dropped
    rows = [_table_row(cand, attrs, label, infos[cand.image_id], place, base, source)
            for cand, attrs, label in kept]
    _write_excluded(excluded, base / EXCLUDED_FILE)
    log.info(
        "%s: %d images kept in %d groups; %d excluded (%s), listed in %s",
        source, len(rows), len({r["group"] for r in rows}), len(excluded),
        reason_summary(excluded), base / EXCLUDED_FILE,
    )
    if not rows:
        raise DatasetError(
            f"{out}: no usable images ({len(excluded)} excluded: {reason_summary(excluded)}; "
            f"see {base / EXCLUDED_FILE})"
        )
    df = pd.DataFrame(rows)
    for col in df.columns:
        if col not in ("width", "height"):
            df[col] = df[col].astype(str)
    validate_table(df, spec.attributes, where=str(out))
    write_table(df, out)
    return df


def _with_group_values(candidates: Sequence[Candidate], spec: GroupSpec, base: Path,
                       excluded: list[Exclusion]) -> list[tuple[Candidate, dict[str, str]]]:
    """Steps 1 and 2, before any decoding: each candidate's attribute values mapped to group
    values, and each image_id once (by image_id order); the rest goes to ``excluded``."""
    mapped: list[tuple[Candidate, dict[str, str]]] = []
    seen_ids: set[str] = set()
    for cand in sorted(candidates, key=lambda c: c.image_id):
        where = _relative(cand.file, base)
        if cand.image_id in seen_ids:
            excluded.append(Exclusion(cand.image_id, where, "duplicate: image_id listed twice"))
            continue
        seen_ids.add(cand.image_id)
        try:
            mapped.append((cand, spec.map_values(cand.attributes)))
        except ImageRejected as exc:
            excluded.append(Exclusion(cand.image_id, where, exc.reason))
    return mapped


def _decoded(mapped: list[tuple[Candidate, dict[str, str]]], max_pixels: int, workers: int,
             base: Path, excluded: list[Exclusion]
             ) -> list[tuple[Candidate, dict[str, str], ImageInfo]]:
    """Step 3: files must exist and decode (candidates that bring their info are trusted);
    the rest goes to ``excluded``."""
    todo = [c for c, _ in mapped if c.info is None]
    checked = _inspect_all(todo, max_pixels, workers)
    by_id = {c.image_id: checked[i] for i, c in enumerate(todo)}
    decoded: list[tuple[Candidate, dict[str, str], ImageInfo]] = []
    for cand, attrs in mapped:
        res = cand.info if cand.info is not None else by_id[cand.image_id]
        if isinstance(res, ImageRejected):
            excluded.append(Exclusion(cand.image_id, _relative(cand.file, base), res.reason))
        else:
            decoded.append((cand, attrs, res))
    return decoded


def _unique_pictures(decoded: list[tuple[Candidate, dict[str, str], ImageInfo]], base: Path,
                     excluded: list[Exclusion]
                     ) -> list[tuple[Candidate, dict[str, str], ImageInfo]]:
    """Step 4: the same picture only once (by sha256; the first image_id wins)."""
    first_by_sha: dict[str, str] = {}
    unique: list[tuple[Candidate, dict[str, str], ImageInfo]] = []
    for cand, attrs, info in decoded:
        other = first_by_sha.setdefault(info.sha256, cand.image_id)
        if other != cand.image_id:
            excluded.append(Exclusion(
                cand.image_id, _relative(cand.file, base), f"duplicate: same sha256 as {other}"
            ))
        else:
            unique.append((cand, attrs, info))
    return unique


def _table_row(cand: Candidate, attrs: dict[str, str], label: str, info: ImageInfo,
               place: Callable[[Candidate, ImageInfo], Path] | None, base: Path,
               source: str) -> dict[str, object]:
    """The dataset table's row of a kept image, placed by ``place`` (default: where it is);
    the source's metadata and the group values fill the columns after the fixed ones."""
    final = place(cand, info) if place is not None else cand.file
    row: dict[str, object] = {
        "image_id": cand.image_id,
        "path": _relative(final, base),
        "width": info.width,
        "height": info.height,
        "sha256": info.sha256,
        "group": label,
        "source": source,
        "source_url": "",
        "file_name": cand.file.name if cand.file is not None else "",
        "license": "",
        "artist": "",
        "attribution": "",
    }
    row.update({k: ("" if v is None else str(v)) for k, v in cand.meta.items()})
    row.update(attrs)
    return row


def _write_excluded(excluded: Sequence[Exclusion], path: Path) -> None:
    """excluded.csv, meant for people: cells a spreadsheet would run as formulas are escaped."""
    df = pd.DataFrame(
        [(e.image_id, e.path, e.reason) for e in excluded], columns=list(EXCLUDED_COLUMNS)
    ).sort_values("image_id", kind="stable")
    df = df.map(csv_cell)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
