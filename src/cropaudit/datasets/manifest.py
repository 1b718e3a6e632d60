"""Any labelled image collection: a folder layout or a CSV manifest, with FairFace/UTKFace presets.

``folder``: group values are read from each file's path relative to ``root`` with a pattern such
as ``{race}/{gender}/*`` (UTKFace: ``{age}_{gender}_{race}_*`` on file names). ``csv``: a table
with a path column and one column per attribute (FairFace's label CSV: ``file, age, gender,
race``). Raw values become group labels through per-attribute maps (UTKFace codes gender 0/1 and
race 0-4); a value with no entry is reported and its image excluded by
:func:`cropaudit.datasets.validate.finalize`, like every other fault. Accepted images are copied
(or linked) into the dataset folder so the table and its images are versioned together.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import pandas as pd

from cropaudit.datasets.table import BASE_COLUMNS
from cropaudit.datasets.validate import Candidate, Exclusion, ImageInfo, finalize
from cropaudit.engine.model_store import sha256_file
from cropaudit.errors import ConfigError, InputFileError
from cropaudit.outputs import atomic_path

if TYPE_CHECKING:
    from cropaudit.config import Params

log = logging.getLogger(__name__)

IMAGES_DIR = "images"
DEFAULT_PATTERN = "{race}/{gender}/*"
DEFAULT_PATH_COLUMN = "path"
#: Manifest columns that fill the table's provenance columns when present.
PROVENANCE_COLUMNS = ("source_url", "file_name", "license", "artist", "attribution")

#: Conventions of datasets other replications of the paper used.
PRESETS: dict[str, dict[str, Any]] = {
    "none": {},
    # FairFace (Kärkkäinen & Joo 2021): fairface_label_{train,val}.csv, paths like train/1.jpg
    "fairface": {
        "kind": "csv",
        "path_column": "file",
        "keep_columns": ["age"],
        "values": {
            "race": {
                "White": "white", "Black": "black", "East Asian": "east_asian",
                "Southeast Asian": "southeast_asian", "Indian": "indian",
                "Middle Eastern": "middle_eastern", "Latino_Hispanic": "latino_hispanic",
            },
            "gender": {"Male": "male", "Female": "female"},
        },
    },
    # UTKFace (Zhang et al. 2017): [age]_[gender]_[race]_[date&time].jpg(.chip.jpg)
    "utkface": {
        "kind": "folder",
        "pattern": "{age}_{gender}_{race}_*",
        "values": {
            "gender": {"0": "male", "1": "female"},
            "race": {"0": "white", "1": "black", "2": "asian", "3": "indian", "4": "others"},
        },
    },
}


@dataclass(frozen=True)
class ManifestSpec:
    """The manifest options after presets and defaults are applied."""

    kind: str
    root: Path | None
    csv: Path | None
    path_column: str
    pattern: str
    values: dict[str, dict[str, str]]
    keep_columns: list[str]
    materialize: str


def resolve(params: Params) -> ManifestSpec:
    """Merge ``dataset.manifest`` over its preset; one-line errors for impossible settings."""
    kind = params.dataset.source
    mp = params.dataset.manifest
    preset = PRESETS[mp.preset]
    if preset.get("kind", kind) != kind:
        raise ConfigError(
            f"dataset.manifest.preset: {mp.preset} is a {preset['kind']} preset; "
            f"set dataset.source: {preset['kind']}"
        )
    values = {k: dict(v) for k, v in preset.get("values", {}).items()}
    values.update({k: dict(v) for k, v in (mp.values or {}).items()})
    csv_path = Path(mp.csv).expanduser() if mp.csv else None
    root = Path(mp.root).expanduser() if mp.root else (csv_path.parent if csv_path else None)
    if kind == "csv" and csv_path is None:
        raise ConfigError("dataset.manifest.csv: required when dataset.source is csv")
    if kind == "folder" and root is None:
        raise ConfigError("dataset.manifest.root: required when dataset.source is folder")
    return ManifestSpec(
        kind=kind,
        root=root,
        csv=csv_path,
        path_column=mp.path_column or preset.get("path_column", DEFAULT_PATH_COLUMN),
        pattern=mp.pattern or preset.get("pattern", DEFAULT_PATTERN),
        values=values,
        keep_columns=list(mp.keep_columns if mp.keep_columns is not None
                          else preset.get("keep_columns", [])),
        materialize=mp.materialize,
    )


_TOKEN = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}|\*\*/|\*\*|\*")


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """``{race}/{gender}/*`` -> a regex over POSIX paths relative to the root.

    ``{name}`` captures one or more characters within a path segment (shortest match, so
    ``{age}_{gender}_...`` splits on the first underscores), ``*`` any characters within a
    segment, ``**/`` any number of folders.
    """
    out, pos, names = [], 0, set()
    for m in _TOKEN.finditer(pattern):
        out.append(re.escape(pattern[pos: m.start()]))
        if m.group(1):
            name = m.group(1)
            if name in names:
                raise ConfigError(f"dataset.manifest.pattern: {{{name}}} appears twice")
            names.add(name)
            out.append(f"(?P<{name}>[^/]+?)")
        elif m.group(0) == "**/":
            out.append("(?:[^/]+/)*")
        elif m.group(0) == "**":
            out.append(".*")
        else:
            out.append("[^/]*")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("".join(out))


def folder_candidates(
    spec: ManifestSpec, attributes: Sequence[str], skip: Path | None = None
) -> tuple[list[Candidate], list[Exclusion]]:
    """One candidate per file under ``root`` whose path matches the pattern.

    Files that do not match are reported (a stray ``notes.txt`` is listed, not silently used
    or silently lost). ``skip`` is a folder not to walk (the dataset's own output folder).
    """
    assert spec.root is not None
    root = spec.root
    if not root.is_dir():
        raise InputFileError(f"{root}: image folder not found (dataset.manifest.root)")
    regex = pattern_regex(spec.pattern)
    missing = [a for a in attributes if a not in regex.groupindex]
    if missing:
        raise ConfigError(
            f"dataset.manifest.pattern: {spec.pattern!r} has no "
            + ", ".join(f"{{{a}}}" for a in missing)
            + " placeholder for dataset.groups.attributes"
        )
    skip_resolved = skip.resolve() if skip is not None else None
    cands, excluded = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if skip_resolved is not None and Path(dirpath).resolve() == skip_resolved:
            dirnames[:] = []
            continue
        for name in sorted(filenames):
            file = Path(dirpath) / name
            rel = file.relative_to(root).as_posix()
            m = regex.fullmatch(rel)
            if m is None:
                excluded.append(Exclusion(rel, rel, f"unmatched path: not {spec.pattern}"))
                continue
            cands.append(Candidate(rel, file, dict(m.groupdict())))
    return cands, excluded


def csv_candidates(
    spec: ManifestSpec, attributes: Sequence[str]
) -> tuple[list[Candidate], list[Exclusion]]:
    """One candidate per manifest row; paths are relative to ``root`` unless absolute."""
    assert spec.csv is not None and spec.root is not None
    if not spec.csv.is_file():
        raise InputFileError(f"{spec.csv}: manifest not found (dataset.manifest.csv)")
    try:
        df = pd.read_csv(spec.csv, dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise InputFileError(f"{spec.csv}: not a readable CSV ({type(exc).__name__})") from None
    needed = [spec.path_column, *attributes, *spec.keep_columns]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise InputFileError(
            f"{spec.csv}: missing column(s) {', '.join(missing)} "
            f"(has {', '.join(map(str, df.columns))})"
        )
    provenance = [c for c in PROVENANCE_COLUMNS if c in df.columns]
    cands, excluded = [], []
    for i, row in enumerate(df.to_dict(orient="records"), start=2):  # line 1 is the header
        raw = str(row[spec.path_column]).strip()
        if not raw:
            excluded.append(Exclusion(f"line {i}", "", "missing file: empty path"))
            continue
        image_id = PurePosixPath(raw.replace("\\", "/")).as_posix()
        file = Path(raw) if Path(raw).is_absolute() else spec.root / raw
        attrs = {c: str(row[c]) for c in (*attributes, *spec.keep_columns)}
        meta = {c: str(row[c]) for c in provenance}
        cands.append(Candidate(image_id, file, attrs, meta))
    return cands, excluded


def _inside(image_id: str) -> PurePosixPath:
    """A relative path under ``images/`` for an image id (no absolute or ``..`` parts)."""
    parts = [p for p in PurePosixPath(image_id).parts if p not in ("/", ".", "..")]
    return PurePosixPath(*parts) if parts else PurePosixPath("image")


def placer(mode: str, out_dir: Path) -> Callable[[Candidate, ImageInfo], Path]:
    """How an accepted file enters the dataset folder (``reference``: it does not)."""

    def place(cand: Candidate, info: ImageInfo) -> Path:
        assert cand.file is not None
        if mode == "reference":
            return cand.file
        dest = out_dir / IMAGES_DIR / _inside(cand.image_id)
        if (mode == "copy" and dest.is_file() and not dest.is_symlink()
                and dest.stat().st_size == cand.file.stat().st_size
                and sha256_file(dest) == info.sha256):
            return dest  # rerun: already copied
        with atomic_path(dest) as tmp:
            tmp.unlink()
            if mode == "symlink":
                tmp.symlink_to(cand.file.resolve())
            elif mode == "hardlink":
                try:
                    os.link(cand.file, tmp)
                except OSError:  # another filesystem: copy instead
                    shutil.copyfile(cand.file, tmp)
            else:
                shutil.copyfile(cand.file, tmp)
        return dest

    return place


def _check_columns(attributes: Sequence[str], keep: Sequence[str]) -> None:
    clash = [c for c in (*attributes, *keep) if c in BASE_COLUMNS]
    if clash:
        raise ConfigError(
            f"dataset.groups.attributes / manifest.keep_columns: {', '.join(clash)} "
            "is a reserved column of the dataset table"
        )


def build(params: Params, out_path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read the folder or manifest, check every image, write ``out_path``; return the table."""
    spec = resolve(params)
    out = Path(out_path)
    out_dir = out.parent
    attributes = params.dataset.groups.attributes
    _check_columns(attributes, spec.keep_columns)
    if spec.kind == "folder":
        cands, excluded = folder_candidates(spec, attributes, skip=out_dir)
    else:
        cands, excluded = csv_candidates(spec, attributes)
    log.info("%s: %d candidate images", spec.csv or spec.root, len(cands))
    values: Mapping[str, Mapping[str, str]] = spec.values
    return finalize(
        cands, excluded, params=params, out_path=out, source=spec.kind, values=values,
        place=placer(spec.materialize, out_dir),
    )
