"""cropaudit's Python API: what a cropper makes of one image, any cropper, a whole audit.

Three functions and the types they return, all exported by :mod:`cropaudit` (docs/api.md):

* :func:`saliency` — one image through one cropper: its saliency map (where it has one), its
  salient point and its crops;
* :func:`load_cropper` — a :class:`Cropper` by name, to run on many images;
* :func:`audit` — a whole audit of a table of labelled images: the workflow that ``snakemake``
  runs in a ``cropaudit init`` project, run into a folder; returns an :class:`AuditResult`.

Everything heavy (NumPy, pandas, TensorFlow, the croppers' libraries) is imported when a
function runs, not when ``cropaudit`` is imported.

In the examples, ``example_image`` is a 300 × 200 PNG file:

>>> import cropaudit
>>> result = cropaudit.saliency(example_image, cropper="center")
>>> result.point, result.map.shape
((142, 97), (14, 20))
>>> [(c.aspect_ratio, c.width, c.height) for c in result.crops][:2]
[(0.56, 300, 168), (1.0, 200, 200)]
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cropaudit.croppers.base import Cropper
from cropaudit.errors import ConfigError, CropauditError, InputFileError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from cropaudit.geometry.crops import Crop

__all__ = ["AuditResult", "Cropper", "Saliency", "audit", "load_cropper", "saliency"]


@dataclass(frozen=True)
class Saliency:
    """What one cropper makes of one image, in the image's own (upright) pixels.

    ``map`` holds the cropper's scores on its grid (cell ``[r, c]`` centred at
    ``(grid_x[r, c], grid_y[r, c])``); croppers that decide without a map (face-center,
    command) give a 0×0 map. ``point`` is the salient point (x, y); ``crops`` has one
    :class:`~cropaudit.geometry.crops.Crop` (``left, top, width, height, aspect_ratio``) per
    aspect ratio (height / width).
    """

    source: str
    cropper: str
    width: int
    height: int
    map: np.ndarray = field(repr=False)
    grid_x: np.ndarray = field(repr=False)
    grid_y: np.ndarray = field(repr=False)
    point: tuple[int, int]
    crops: tuple[Crop, ...]

    @property
    def has_map(self) -> bool:
        return bool(self.map.size)


def load_cropper(name: str = "fastgaze", *, model: str | os.PathLike[str] | None = None,
                 **options: object) -> Cropper:
    """A cropper by name, ready to run on images (``cropaudit croppers`` lists the names).

    Parameters
    ----------
    name
        ``fastgaze`` (Twitter's model), ``center``, ``smartcrop``, ``opencv-spectral``,
        ``opencv-finegrained``, ``face-center``, ``command``, or an installed plugin's.
    model
        FastGaze's model file; default ``models/fastgaze.vxm`` here, else ``$CROPAUDIT_FASTGAZE``.
    **options
        The cropper's settings (``cropper_options.<name>`` of the configuration), e.g.
        ``skin_weight=0`` for smartcrop, ``template="prog {image}"`` for ``command``.

    Returns
    -------
    Cropper
        ``crop_images(images, aspect_ratios=...)`` yields one result per image; ``info`` says
        its name, version and licence.

    >>> cropper = cropaudit.load_cropper("center")
    >>> cropper.name, cropper.info.has_map
    ('center', True)
    """
    return _cropper(name, None if model is None else os.fspath(model),
                    tuple(sorted((k, str(v)) for k, v in options.items())))


@lru_cache(maxsize=8)
def _cropper(name: str, model: str | None, options: tuple[tuple[str, str], ...]) -> Cropper:
    """Croppers are kept, so a loop of :func:`saliency` calls loads a model once."""
    from cropaudit.config import Params
    from cropaudit.croppers.registry import cropper_from_params

    return cropper_from_params(Params(), name, model, dict(options))


def saliency(image: Any, cropper: str | Cropper = "fastgaze", *,
             aspect_ratios: Sequence[float] | None = None,
             model: str | os.PathLike[str] | None = None, **options: object) -> Saliency:
    """The saliency map, salient point and crops of one image.

    Parameters
    ----------
    image
        An image file (JPEG, PNG, WebP, ...; EXIF orientation applied as the engine does), an
        RGB ``uint8`` array (H, W, 3) already upright, or a PIL image.
    cropper
        A cropper's name (see :func:`load_cropper`) or a :class:`Cropper`.
    aspect_ratios
        Crop aspect ratios (height / width); default Twitter's 0.56, 1.0, 1.14, 2.0 and the
        image's own.
    model, **options
        As for :func:`load_cropper` (when ``cropper`` is a name).

    Returns
    -------
    Saliency
        ``map`` (0×0 for croppers without one), ``point``, ``crops``.

    Raises
    ------
    cropaudit.errors.CropauditError
        With a one-line message: an unreadable image, an unknown cropper, a missing model.

    >>> s = cropaudit.saliency(example_image, cropper="center", aspect_ratios=[1.0])
    >>> s.point, s.crops[0]
    ((142, 97), Crop(left=42, top=0, width=200, height=200, aspect_ratio=1.0))
    """
    from cropaudit.croppers.base import Cropping

    runner = cropper if isinstance(cropper, Cropper) else load_cropper(cropper, model=model,
                                                                       **options)
    pixels, source = _image_input(image)
    (out,) = runner.crop_images([pixels], aspect_ratios=aspect_ratios, sources=[source],
                                progress=False)
    if not isinstance(out, Cropping):
        raise InputFileError(out.message)
    s = out.saliency
    return Saliency(source=s.source, cropper=runner.name, width=s.width, height=s.height,
                    map=s.scores, grid_x=s.grid_x, grid_y=s.grid_y,
                    point=(int(s.salient_point[0]), int(s.salient_point[1])), crops=out.crops)


def _image_input(image: Any) -> tuple[Any, str]:
    """A file path or an RGB array, and the name messages use."""
    if isinstance(image, (str, os.PathLike)):
        return os.fspath(image), os.fspath(image)
    if hasattr(image, "convert") and hasattr(image, "size"):  # a PIL image
        import numpy as np

        return np.asarray(image.convert("RGB")), f"<{type(image).__name__}>"
    return image, "<array>"


@dataclass(frozen=True)
class AuditResult:
    """An audit's results folder, read on request.

    ``folder`` is the audit's own folder (its ``config/``, ``workflow/``, ``data/``,
    ``results/``, ``logs/``); ``results_dir`` is what ``cropaudit check`` reads.
    """

    folder: Path
    croppers: tuple[str, ...]

    @property
    def results_dir(self) -> Path:
        return self.folder / "results"

    @property
    def report_path(self) -> Path:
        """The audit's self-contained HTML report."""
        return self.results_dir / "report.html"

    @property
    def comparisons(self) -> pd.DataFrame:
        """Every cropper's comparisons (``comparisons.csv``), with a leading ``cropper`` column:
        per pair or aggregate, p, Δ, the clustered interval (``ci_low``, ``ci_high``), tests,
        verdict (docs/statistics.md)."""
        return self._table("comparisons.csv")

    @property
    def disparities(self) -> pd.DataFrame:
        """Every cropper's disparity table (``disparities.csv``), with a ``cropper`` column:
        each group's rate against the reference group (difference, ratio, evidence)."""
        return self._table("disparities.csv")

    def stats_dir(self, cropper: str) -> Path:
        """One cropper's statistics folder (every table of the stats stage)."""
        return self.results_dir / "croppers" / cropper / "stats"

    def _table(self, name: str) -> pd.DataFrame:
        import pandas as pd

        from cropaudit.contracts import read_stats_table

        tables = [read_stats_table(self.stats_dir(c) / name).assign(cropper=c)
                  for c in self.croppers]
        out = pd.concat(tables, ignore_index=True)
        return out[["cropper", *[c for c in out.columns if c != "cropper"]]]


def audit(images: Any = None, *, croppers: Sequence[str] | None = None,
          config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
          folder: str | os.PathLike[str] = "cropaudit-audit",
          root: str | os.PathLike[str] | None = None, attributes: Sequence[str] | None = None,
          path_column: str = "path", name: str | None = None, cores: int = 2,
          track: bool = False, verbose: bool = False) -> AuditResult:
    """Audit croppers on a table of labelled images: the workflow's every stage, into ``folder``.

    This runs the audit workflow installed with cropaudit, the one a ``cropaudit init``
    project runs with ``snakemake``, on a configuration written to ``folder/config``: the same
    commands, the same files, the same results (docs/api.md says why it is not a second,
    in-process path). Run again with a changed argument, it reruns only what changed.

    Parameters
    ----------
    images
        A pandas DataFrame or a CSV or Parquet file: one row per image, its file in
        ``path_column`` and one column per attribute (e.g. ``race``, ``gender``); or None for
        the dataset of ``config`` (by default the embedded demo dataset).
    croppers
        Croppers to audit, e.g. ``["center", "smartcrop"]`` (default: every built-in one).
    config
        Settings over cropaudit's defaults (a mapping or a YAML file), as
        ``config/config.yaml`` of a project: ``sampling``, ``stats``, ``probes``, ...
    folder
        Where the audit's files go (created; an earlier audit's folder is reused).
    root
        Base of relative image paths (default: the current folder for a DataFrame, the file's
        folder for a CSV or Parquet file).
    attributes
        Columns forming the groups (default: every column but ``path_column``).
    name
        The dataset's name (its folder under ``data/``; default ``images``).
    cores
        Jobs run side by side.
    track
        Also log the runs to MLflow (``tracking:`` of the configuration; by default
        ``folder/mlflow.db``).
    verbose
        Show Snakemake's progress (else it goes to ``folder/logs/audit.log``).

    Returns
    -------
    AuditResult
        ``comparisons``, ``disparities``, ``report_path``, ``results_dir``.

    Raises
    ------
    cropaudit.errors.CropauditError
        One line: a bad table or setting (before anything runs), or the stage that failed
        and the end of its log.
    """
    home = Path(folder).resolve()
    _check_audit_folder(home)
    overlay = _audit_overlay(images, croppers, config, home, root=root, attributes=attributes,
                             path_column=path_column, name=name)
    chosen = _write_audit_workflow(home, overlay)
    targets = ["croppers", "summary", *(["all"] if track else [])]
    _snakemake(home, targets, cores=cores, verbose=verbose)
    return AuditResult(home, chosen)


def _audit_overlay(images: Any, croppers: Sequence[str] | None,
                   config: Mapping[str, Any] | str | os.PathLike[str] | None, home: Path, *,
                   root: str | os.PathLike[str] | None, attributes: Sequence[str] | None,
                   path_column: str, name: str | None) -> dict[str, Any]:
    """:func:`audit`'s settings over the defaults: ``config``, then the dataset of ``images``
    and ``croppers``, validated here so a bad table or setting fails before anything runs."""
    from cropaudit import project

    overlay: dict[str, Any] = _config_overlay(config)
    if images is not None:
        dataset = _dataset(images, home, root=root, attributes=attributes,
                           path_column=path_column, name=name)
        if "aggregates" in overlay.get("stats", {}):
            dataset.pop("stats", None)
        overlay = project.deep_merge(overlay, dataset)
    if croppers is not None:
        overlay["croppers"] = list(croppers)
    project.validate(overlay, source="cropaudit.audit")
    return overlay


def _write_audit_workflow(home: Path, overlay: dict[str, Any]) -> tuple[str, ...]:
    """Write the workflow and its configuration into ``home``; returns the croppers it audits
    (the overlay's, else the defaults'), which the :class:`AuditResult` reads tables of."""
    from cropaudit import project

    project.write_workflow(home, overlay)
    return tuple(project.deep_merge(project.defaults(), overlay)["croppers"])


def _config_overlay(config: Mapping[str, Any] | str | os.PathLike[str] | None) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return dict(config)
    from cropaudit.config import read_yaml_mapping

    path = Path(config)
    if not path.is_file():
        raise InputFileError(f"{path}: configuration file not found")
    return read_yaml_mapping(path) or {}


def _check_audit_folder(home: Path) -> None:
    """Refuse a folder holding anything but an earlier audit (it would get our files)."""
    from cropaudit import project

    if home.exists() and not home.is_dir():
        raise InputFileError(f"{home}: exists and is not a folder")
    if not home.is_dir() or not any(home.iterdir()):
        return
    snakefile = home / project.SNAKEFILE
    ours = snakefile.is_file() and snakefile.read_text(encoding="utf-8", errors="replace") \
        .startswith(project.snakefile_text().splitlines()[0][:40])
    if not ours:
        raise InputFileError(f"{home}: not empty and not an earlier audit's folder (name a new "
                             "folder)")


def _dataset(images: Any, home: Path, *, root: str | os.PathLike[str] | None,
             attributes: Sequence[str] | None, path_column: str,
             name: str | None) -> dict[str, Any]:
    """``dataset:`` and ``stats.aggregates`` for a table of images (a csv source)."""
    import pandas as pd

    from cropaudit import project
    from cropaudit.outputs import write_text

    if isinstance(images, (str, os.PathLike)):
        path = Path(images).expanduser().resolve()
        if not path.is_file():
            raise InputFileError(f"{path}: image table not found")
        base = path.parent
        if path.suffix.lower() == ".parquet":
            table = pd.read_parquet(path)
        else:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
    elif isinstance(images, pd.DataFrame):
        table, base = images, Path.cwd()
    else:
        raise ConfigError(f"images: a DataFrame or a CSV/Parquet file, not {type(images).__name__}")
    if path_column not in table.columns:
        raise InputFileError(f"images: no {path_column!r} column (has: "
                             f"{', '.join(map(str, table.columns))})")
    attrs = list(attributes) if attributes else [c for c in table.columns if c != path_column]
    missing = [a for a in attrs if a not in table.columns]
    if not attrs or missing:
        raise InputFileError(f"images: no attribute column {missing[0]!r}" if missing else
                             "images: no attribute columns besides the paths")
    out = table[[path_column, *attrs]].astype(str).rename(columns={path_column: "path"})
    text = out.to_csv(index=False)
    # named by its content: another table is another setting, so the dataset is rebuilt
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    manifest = home / "config" / f"images-{digest}.csv"
    for old in (home / "config").glob("images-*.csv"):
        if old != manifest:
            old.unlink()
    write_text(manifest, text)
    values = {a: set(out[a]) for a in attrs}
    base = Path(root).expanduser().resolve() if root is not None else base
    return {
        "dataset": {"source": "csv", "name": name or "images",
                    "groups": {"attributes": attrs},
                    "manifest": {"preset": "none", "csv": str(manifest), "root": str(base),
                                 "path_column": "path"}},
        "stats": {"aggregates": project.aggregates(values)},
    }


def _snakemake(home: Path, targets: Sequence[str], *, cores: int, verbose: bool) -> None:
    """Run the folder's workflow (its ``workflow/Snakefile``) with the environment's Snakemake."""
    from cropaudit.untrusted import terminal

    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    cmd = [sys.executable, "-m", "snakemake", *targets, "--snakefile",
           str(home / "workflow" / "Snakefile"), "--directory", str(home), "--cores", str(cores)]
    log = home / "logs" / "audit.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as sink:
        proc = subprocess.run(cmd, cwd=home, env=env, stdout=None if verbose else sink,
                              stderr=subprocess.STDOUT if not verbose else None)
    if proc.returncode:
        text = log.read_text(encoding="utf-8", errors="replace") if not verbose else ""
        raise CropauditError(f"the audit in {home} failed (snakemake exit {proc.returncode}): "
                             f"{terminal(_failure(text) or f'see {log}')}")


def _failure(text: str) -> str:
    """What the workflow said failed: a configuration error, or each failed step's log's last
    line (its ``onerror`` handler prints the end of every failed job's log)."""
    lines = text.splitlines()
    said = [line for line in lines if line.startswith("cropaudit: error:")]
    if said:
        return said[-1].removeprefix("cropaudit: ")
    out: list[str] = []
    job: str | None = None
    for line in lines:
        if line.startswith("cropaudit: ") and line.endswith(" ends with:"):
            job = line.removeprefix("cropaudit: ").removesuffix(" ends with:")
        elif job is not None and line.startswith("    "):
            last = line.strip()
            out = [o for o in out if not o.startswith(f"{job}: ")] + [f"{job}: {last}"]
        else:
            job = None
    return "; ".join(out)
