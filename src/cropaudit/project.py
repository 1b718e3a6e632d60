"""A project of the user's own that runs the installed audit workflow (``cropaudit init``).

The layout is the snakemake-workflows one: ``config/config.yaml`` (this audit, over
cropaudit's defaults), ``workflow/Snakefile`` (a few lines naming the installed workflow as a
Snakemake module), and, for ``cropaudit init``, a short ``dvc.yaml``, ``audit-gate.yaml`` and
a README. :func:`cropaudit.audit` writes the same configuration and Snakefile into its folder
and runs the same workflow, so an API audit and a project's ``snakemake`` are one code path.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import yaml

from cropaudit import __version__, packaged
from cropaudit.errors import ConfigError, CropauditError, InputFileError
from cropaudit.untrusted import quote_name

SOURCES = ("demo", "folder", "csv")
#: Presets of the folder and csv sources (cropaudit.datasets.manifest.PRESETS), and their source.
PRESET_SOURCES = {"utkface": "folder", "fairface": "csv"}
CONFIG_FILE = Path("config") / "config.yaml"
SNAKEFILE = Path("workflow") / "Snakefile"
GATE_FILE = "audit-gate.yaml"
_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class EnvironmentFailure(CropauditError):
    """A tool the project needs (git, dvc) failed: exit 3, like other environment failures."""

    exit_code = 3


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``update`` over ``base``, mappings merged key by key, as Snakemake merges configfiles."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def defaults() -> dict[str, Any]:
    """cropaudit's default configuration (:func:`cropaudit.packaged.default_config`)."""
    return yaml.safe_load(packaged.default_config().read_text(encoding="utf-8")) or {}


def validate(overlay: Mapping[str, Any], source: str) -> None:
    """Refuse a configuration the workflow would refuse (one line naming the key)."""
    from cropaudit.config import parse_params

    parse_params(deep_merge(defaults(), overlay), source=source)


def dataset_name(text: str) -> str:
    """A folder name under ``data/`` from a folder or file name (``dataset.name``'s rule)."""
    name = _NAME.sub("-", text).strip("-._")[:100]
    return name if name and name[0].isalnum() else "images"


def aggregates(values: Mapping[str, set[str]]) -> list[dict[str, str]]:
    """One pooled comparison per attribute with exactly two values (first: alphabetically)."""
    out = []
    for attribute, found in values.items():
        if len(found) == 2:
            first, second = sorted(found)
            out.append({"name": attribute, "attribute": attribute, "first": first,
                        "second": second})
    return out


def _mapped(values: Mapping[str, set[str]], preset: str) -> dict[str, set[str]]:
    """Raw attribute values as group labels, through the preset's value maps."""
    from cropaudit.datasets.manifest import PRESETS

    maps = PRESETS[preset].get("values", {})
    return {a: {maps[a].get(v, v) for v in vs} if a in maps else set(vs)
            for a, vs in values.items()}


def folder_values(root: Path, pattern: str, attributes: Sequence[str]) -> dict[str, set[str]]:
    """The values of each attribute in the paths under ``root`` matching ``pattern``."""
    from cropaudit.datasets.manifest import pattern_regex

    regex = pattern_regex(pattern)
    missing = [a for a in attributes if a not in regex.groupindex]
    if missing:
        raise ConfigError(f"--pattern {pattern!r}: has no {{{missing[0]}}} placeholder for "
                          f"attribute {missing[0]!r}")
    values: dict[str, set[str]] = {a: set() for a in attributes}
    matched = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            rel = (Path(dirpath) / name).relative_to(root).as_posix()
            m = regex.fullmatch(rel)
            if m is not None and not name.startswith("."):
                matched += 1
                for a in attributes:
                    values[a].add(m.group(a))
    if not matched:
        raise InputFileError(f"{quote_name(str(root))}: no file matches {pattern!r} (name the "
                             "layout with --pattern and --attributes)")
    return values


def csv_values(path: Path, path_column: str, attributes: Sequence[str]) -> dict[str, set[str]]:
    """The values of each attribute column of a manifest CSV (checked for its columns)."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = csv.DictReader(f)
            columns = list(rows.fieldnames or [])
            missing = [c for c in (path_column, *attributes) if c not in columns]
            if missing:
                raise InputFileError(f"{quote_name(str(path))}: no column {missing[0]!r} (has: "
                                     f"{', '.join(columns) or 'nothing'}; see --attributes)")
            values: dict[str, set[str]] = {a: set() for a in attributes}
            for row in rows:
                for a in attributes:
                    values[a].add(str(row[a]))
    except UnicodeDecodeError:
        raise InputFileError(f"{quote_name(str(path))}: not UTF-8 text") from None
    except csv.Error as exc:
        raise InputFileError(f"{quote_name(str(path))}: not a readable CSV ({exc})") from None
    return values


def source_config(source: str = "demo", *, images: str | os.PathLike[str] | None = None,
                  csv_file: str | os.PathLike[str] | None = None, preset: str | None = None,
                  attributes: Sequence[str] | None = None, pattern: str | None = None,
                  name: str | None = None) -> tuple[dict[str, Any], list[Path]]:
    """The ``dataset:`` and ``stats.aggregates`` of an audit of these images, and the files
    and folders its data come from (DVC dependencies). One-line errors name the option."""
    from cropaudit.datasets.manifest import PRESETS

    source = _checked_source(source, preset)
    if source == "demo":
        extra = [opt for opt, v in (("--images", images), ("--csv", csv_file),
                                    ("--attributes", attributes), ("--pattern", pattern))
                 if v is not None]
        if extra:
            raise ConfigError(f"{extra[0]}: only with --source folder or csv")
        return {"dataset": {"source": "demo", "name": name or "demo"}}, []
    settings = PRESETS[preset or "none"]
    attrs = list(attributes or ["race", "gender"])
    if len(set(attrs)) != len(attrs):
        raise ConfigError(f"--attributes: {' '.join(attrs)} names an attribute twice")
    if source == "folder" and csv_file is not None:
        raise ConfigError("--csv: only with --source csv")
    if source == "csv" and pattern is not None:
        raise ConfigError("--pattern: only with --source folder")
    found = (_folder_source(images, pattern, attrs, settings) if source == "folder"
             else _csv_source(csv_file, images, attrs, settings))
    manifest = {**({"preset": preset} if preset is not None else {}), **found.manifest}
    dataset = {"source": source, "name": name or dataset_name(found.default_name),
               "groups": {"attributes": attrs}, "manifest": manifest}
    config = {"dataset": dataset,
              "stats": {"aggregates": aggregates(_mapped(found.values, preset or "none"))}}
    return config, found.deps


def _checked_source(source: str, preset: str | None) -> str:
    """The source the options name (a preset implies its source), refused when unknown or
    when ``--source`` and ``--preset`` disagree."""
    if preset is not None and preset not in PRESET_SOURCES:
        raise ConfigError(f"--preset {preset!r}: unknown preset (known: "
                          f"{', '.join(PRESET_SOURCES)})")
    if preset is not None and source == "demo":
        source = PRESET_SOURCES[preset]
    if source not in SOURCES:
        raise ConfigError(f"--source {source!r}: unknown source (known: {', '.join(SOURCES)})")
    if preset is not None and PRESET_SOURCES[preset] != source:
        raise ConfigError(f"--preset {preset} is a {PRESET_SOURCES[preset]} preset: use "
                          f"--source {PRESET_SOURCES[preset]}")
    return source


@dataclass(frozen=True)
class _FoundImages:
    """What a folder or CSV source's options lead to: each attribute's values, the
    ``dataset.manifest`` keys, the paths its data come from and a default dataset name."""

    values: dict[str, set[str]]
    manifest: dict[str, Any]
    deps: list[Path]
    default_name: str


def _image_folder(images: str | os.PathLike[str] | None, default: Path | None) -> Path:
    """``--images`` as an absolute folder (``default`` when not given), refused in one line
    when it is not a folder."""
    root = Path(images).expanduser().resolve() if images is not None else default
    if root is None or not root.is_dir():
        raise InputFileError(f"{quote_name(str(images))}: image folder not found (--images)")
    return root


def _folder_source(images: str | os.PathLike[str] | None, pattern: str | None,
                   attrs: list[str], settings: Mapping[str, Any]) -> _FoundImages:
    """``--source folder``: the attribute values read from the folders' names."""
    if images is None:
        raise ConfigError("--images PATH: required with --source folder")
    root = _image_folder(images, None)
    pattern = pattern or settings.get("pattern") or "/".join(f"{{{a}}}" for a in attrs) + "/*"
    return _FoundImages(folder_values(root, pattern, attrs),
                        {"root": str(root), "pattern": pattern}, [root], root.name)


def _csv_source(csv_file: str | os.PathLike[str] | None,
                images: str | os.PathLike[str] | None, attrs: list[str],
                settings: Mapping[str, Any]) -> _FoundImages:
    """``--source csv``: the attribute values read from the manifest's columns (the images
    under ``--images``, else beside the manifest)."""
    from cropaudit.datasets.manifest import DEFAULT_PATH_COLUMN

    if csv_file is None:
        raise ConfigError("--csv FILE: required with --source csv")
    table = Path(csv_file).expanduser().resolve()
    if not table.is_file():
        raise InputFileError(f"{quote_name(str(csv_file))}: manifest CSV not found (--csv)")
    root = _image_folder(images, table.parent)
    values = csv_values(table, settings.get("path_column", DEFAULT_PATH_COLUMN), attrs)
    return _FoundImages(values, {"csv": str(table), "root": str(root)}, [table, root],
                        table.stem)


def audit_config(dataset: Mapping[str, Any], *, croppers: Sequence[str] | None = None,
                 title: str | None = None) -> dict[str, Any]:
    """A project's ``config/config.yaml``: the data, the croppers, the probes, the title.

    Croppers and probes are written out (from the defaults when not given) so the user sees
    and edits them; every other setting stays cropaudit's default.
    """
    base = defaults()
    name = dataset["dataset"].get("name", "demo")
    config: dict[str, Any] = {**dataset}
    config["croppers"] = list(croppers) if croppers else list(base.get("croppers") or [])
    config["probes"] = base.get("probes", {})
    config["report"] = {"title": title or f"cropaudit: saliency cropping audit ({name})"}
    return config


def config_text(config: Mapping[str, Any]) -> str:
    """``config/config.yaml`` with a header saying what it goes over."""
    header = (
        "# This audit's configuration, over cropaudit's defaults (every key and its meaning:\n"
        "# python -c \"from cropaudit import packaged; print(packaged.default_config())\").\n"
        "# A changed value reruns exactly the jobs that read it (`snakemake -n` says which).\n"
    )
    return header + yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True,
                                   default_flow_style=None, width=100)


def gate_text() -> str:
    """A starting ``audit-gate.yaml``: every comparison and disparity within ±10 points."""
    return """\
# The release gate: `cropaudit check results --spec audit-gate.yaml [--junit gate.xml]`
# exits 1 when, for any cropper, a listed comparison's or disparity's clustered interval lies
# outside its band, or when the evidence is insufficient and `insufficient: fail`.
# Bands are in proportions: 0.10 = ±10 percentage points; [-0.05, 0.10] is asymmetric.
level: 0.95              # the intervals' level: the audit's 1 - stats.alpha
insufficient: fail       # fail | pass: an interval crossing a band's edge, or too few data
min_effective_n: 30      # fewer effectively independent observations: insufficient evidence
# croppers: [fastgaze]   # which croppers must pass (default: every one audited)
comparisons:             # delta = p - parity of a pair (marked_a~plain_a) or aggregate
  - {name: "*", band: 0.10}
disparities:             # each group's rate minus the reference group's (level: group)
  - {name: "*", band: 0.10}
"""


def _template(name: str) -> Template:
    """A file of ``project_template/`` (``dvc.yaml.in``, not ``dvc.yaml``: DVC would read a
    ``dvc.yaml`` anywhere in this repository as stages of its own)."""
    text = resources.files("cropaudit").joinpath("project_template", name)
    return Template(text.read_text(encoding="utf-8"))


def snakefile_text() -> str:
    """``workflow/Snakefile``: the installed workflow as a module, with config/config.yaml."""
    return _template("Snakefile.in").substitute(version=__version__,
                                             snakefile=packaged.snakefile())


def check_new_dir(dest: Path) -> None:
    """Refuse a destination that exists and is not an empty folder, or cannot be written."""
    from cropaudit.outputs import check_writable_dir

    if dest.exists() and not dest.is_dir():
        raise InputFileError(f"{quote_name(str(dest))}: exists and is not a folder")
    if dest.is_dir() and any(dest.iterdir()):
        raise InputFileError(f"{quote_name(str(dest))}: exists and is not empty (cropaudit init "
                             "writes a new project; name a new or empty folder)")
    check_writable_dir(dest, "DIR")


def write_workflow(dest: Path, config: Mapping[str, Any]) -> None:
    """``config/config.yaml`` and ``workflow/Snakefile`` (what :func:`cropaudit.audit` runs)."""
    from cropaudit.outputs import write_text

    write_text(dest / CONFIG_FILE, config_text(config))
    write_text(dest / SNAKEFILE, snakefile_text())


def init_project(dest: str | os.PathLike[str], config: Mapping[str, Any],
                 deps: Sequence[Path] = (), *, vcs: bool = True) -> Path:
    """Write a new project at ``dest``: the workflow's two files, ``dvc.yaml``, the gate spec,
    a README, ignore files; with ``vcs`` also ``git init`` (unless inside a git work tree)
    and ``dvc init``."""
    from cropaudit.outputs import write_text

    root = Path(dest)
    check_new_dir(root)
    validate(config, source=str(root / CONFIG_FILE))
    root.mkdir(parents=True, exist_ok=True)
    write_workflow(root, config)
    name = config["dataset"].get("name") or config["dataset"]["source"]
    image_deps = "".join(f"\n      - {_yaml_scalar(str(p))}" for p in deps)
    write_text(root / "dvc.yaml", _template("dvc.yaml.in").substitute(
        dataset=name, image_deps=image_deps))
    write_text(root / GATE_FILE, gate_text())
    source = config["dataset"]["source"]
    note = ("The images are the embedded demo dataset, generated on the fly." if source == "demo"
            else "The images stay where they are (`dataset.manifest` in config/config.yaml); "
            "the workflow copies the ones it accepts under `data/`, and lists the ones it "
            f"leaves out, with the reason, in `data/{name}/excluded.csv`.")
    write_text(root / "README.md", _template("README.md").substitute(
        title=config.get("report", {}).get("title", "cropaudit audit"), version=__version__,
        source_note=note))
    write_text(root / ".gitignore", _template("gitignore").template)
    write_text(root / ".dvcignore", _template("dvcignore").template)
    if vcs:
        _version_control(root)
    return root


def _yaml_scalar(text: str) -> str:
    return yaml.safe_dump(text, default_style=None).removesuffix("\n...\n").strip()


def _tool(name: str) -> str:
    """A command of the environment cropaudit runs in (git: from PATH)."""
    own = Path(sys.executable).parent / name
    return str(own) if own.exists() else name


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvironmentFailure(f"{Path(cmd[0]).name}: cannot run ({exc})") from None
    return proc


def _version_control(root: Path) -> None:
    """``git init`` (unless already inside a work tree) and ``dvc init``; analytics off."""
    git = shutil.which("git")
    inside = git is not None and _run([git, "rev-parse", "--is-inside-work-tree"],
                                      root).returncode == 0
    if git is not None and not inside:
        proc = _run([git, "init", "-q"], root)
        if proc.returncode:
            raise EnvironmentFailure(f"git init: {_last_line(proc)}")
    dvc = _tool("dvc")
    flags = ["--subdir"] if inside else ([] if git is not None else ["--no-scm"])
    for cmd in ([dvc, "init", "-q", *flags], [dvc, "config", "core.analytics", "false"]):
        proc = _run(cmd, root)
        if proc.returncode:
            raise EnvironmentFailure(f"{' '.join(cmd[1:3])}: {_last_line(proc)}")


def _last_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
    return lines[-1] if lines else f"exit status {proc.returncode}"
