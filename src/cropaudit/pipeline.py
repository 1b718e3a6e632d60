"""What the Snakemake rules need from the package: the audit's configuration and each job's
identity.

Snakemake is the one pipeline (``Snakefile``, ``workflow/rules/``). It reruns a job when an
input file is newer than its outputs, or when the job's ``params:`` differ from those recorded
at its last run. The rules put two things there, both computed here:

* **settings**: the values of the configuration keys the job's command reads (its module's
  ``PARAMS``, :mod:`cropaudit.commands.declared`), as the command sees them (defaults filled);
* **code**: one short digest of the code the job runs: the source of the package parts it
  imports (whole subpackages, :data:`PARTS`), its command module, the cropper it runs (that
  cropper's module and settings' schema), the pinned versions of the libraries those parts use
  (``constraints.txt`` of the project, else the installed versions), and, for image decoding,
  the libwebp build. A few parts per rule, not a list of files: editing ``stats/`` reruns the
  statistics of every cropper and nothing upstream; editing ``croppers/smartcrop.py`` or raising
  smartcrop's pin reruns smartcrop's chain only.

Every command reads the configuration Snakemake was given (``params.yaml``, merged with any
``--configfile`` and ``--config``), written once per run to :data:`CONFIG_FILE` by
:func:`write_config`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

import cropaudit
from cropaudit.commands.declared import WHOLE_FILE, declared_params
from cropaudit.config import Params, parse_params, read_yaml_mapping

#: The configuration every stage command of a Snakemake run reads (``--params``).
CONFIG_FILE = "results/config.yaml"
#: The package's source folder.
PACKAGE_DIR = Path(cropaudit.__file__).resolve().parent
#: Modules every command runs (argument parsing, configuration, table contracts, writers).
CORE = ("__init__.py", "__main__.py", "cli.py", "config.py", "contracts.py", "errors.py",
        "outputs.py", "commands/__init__.py", "commands/declared.py")
#: Package parts a rule may name, each with the distributions whose versions change what it
#: computes. A part is a subpackage (its whole folder), or ``croppers``: the cropper interface
#: without the croppers themselves (each cropper is its own part, see :func:`cropper_code`).
PARTS: dict[str, tuple[str, ...]] = {
    "core": ("numpy", "pandas", "pyarrow", "pydantic", "pyyaml"),
    "croppers": (),
    "datasets": ("pillow", "requests"),
    "engine": ("scipy", "ai-edge-litert", "tensorflow", "tensorflow-cpu"),
    "faces": ("mtcnn", "tensorflow", "tensorflow-cpu", "keras", "lz4"),
    "gaze": ("scikit-image", "scipy", "matplotlib"),
    "geometry": (),
    "imaging": ("pillow", "cffi"),
    "probes": ("pillow",),
    "reporting": ("matplotlib", "jinja2", "markdown-it-py", "mlflow"),
    "stages": (),
    "stats": ("statsmodels", "scipy"),
}
#: The cropper interface: what every cropper runs through.
CROPPER_INTERFACE = ("croppers/__init__.py", "croppers/base.py", "croppers/params.py",
                     "croppers/registry.py")
#: The project's locked dependency set, where there is one (a checkout: ``make setup``).
CONSTRAINTS_FILE = "constraints.txt"


def check_config_files(paths: Iterable[str | os.PathLike[str]]) -> None:
    """Refuse what YAML allows but a configuration never needs, before anything reads the
    merged values: aliases (a few hundred bytes expand to billions of nodes) and keys given
    twice (the last would silently win); one line naming the file and line."""
    for path in paths:
        read_yaml_mapping(path)


def effective_params(config: Mapping[str, Any], source: str) -> Params:
    """Snakemake's merged configuration, validated by cropaudit's schema (one-line errors)."""
    return parse_params(dict(config), source=source)


def write_config(config: Mapping[str, Any], path: str | os.PathLike[str] = CONFIG_FILE) -> Path:
    """Write the run's configuration where the commands read it; rewritten only when changed.

    Jobs do not depend on this file's time (their ``params:`` hold what they read), so an
    unchanged configuration must leave it alone only to keep its history honest.
    """
    p = Path(path)
    text = ("# The configuration of this audit as Snakemake merged it (params.yaml, "
            "--configfile, --config);\n# every stage command reads it. Edit params.yaml or "
            "pass --configfile, not this file.\n"
            + yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True))
    if not p.is_file() or p.read_text(encoding="utf-8") != text:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(p)
    return p


def settings(command: str, params: Params, cropper: str | None = None) -> str:
    """The values of the keys ``command`` reads, as one JSON text (a rule's ``params:``)."""
    dump = params.model_dump(mode="json")
    keys = declared_params(command, params, cropper)
    if WHOLE_FILE in keys:
        return json.dumps(dump, sort_keys=True)
    return json.dumps({k: _lookup(dump, k) for k in sorted(keys)}, sort_keys=True)


def _lookup(tree: Mapping[str, Any], key: str) -> Any:
    value: Any = tree
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None  # e.g. cropper_options.<name> when none are set
        value = value[part]
    return value


def code_identity(command: str, parts: Iterable[str], cropper: str | None = None,
                  project: str | os.PathLike[str] = ".") -> str:
    """A short digest of what a job runs (module docstring); equal digests, equal code."""
    from cropaudit.commands.declared import command_module

    unknown = sorted(set(parts) - PARTS.keys())
    if unknown:
        raise KeyError(f"unknown package part {unknown[0]!r} (known: {', '.join(PARTS)})")
    names = ["core", *sorted(set(parts))]
    files = [*CORE, *_command_files(command_module(command).__file__)]
    for part in names[1:]:
        files += CROPPER_INTERFACE if part == "croppers" else [part]
    distributions = sorted({d for part in names for d in PARTS[part]})
    h = hashlib.sha256()
    h.update(_sources_digest(tuple(files)).encode())
    h.update(json.dumps(versions(distributions, project), sort_keys=True).encode())
    if "imaging" in names:
        h.update(libwebp_identity().encode())
    if cropper is not None:
        h.update(cropper_code(cropper, project).encode())
    return h.hexdigest()[:16]


def cropper_code(name: str, project: str | os.PathLike[str] = ".") -> str:
    """What one cropper adds to a job's code: its module, and the pins of what it requires."""
    from cropaudit.croppers.registry import get_spec

    spec = get_spec(name)
    module = sys.modules[spec.factory.__module__]
    path = Path(module.__file__ or "")
    inside = PACKAGE_DIR in path.resolve().parents
    source = _sources_digest((_package_path(path),)) if inside else _file_digest(path)
    return json.dumps({"cropper": name, "source": source,
                       "versions": versions(spec.requires, project)}, sort_keys=True)


def versions(distributions: Iterable[str], project: str | os.PathLike[str] = ".") -> dict[str, str]:
    """Pinned version of each distribution (the project's constraints.txt), else installed."""
    pins = _pins(Path(project) / CONSTRAINTS_FILE)
    out = {}
    for name in distributions:
        key = _canonical(name)
        if key in pins:
            out[key] = pins[key]
            continue
        try:
            out[key] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def libwebp_identity() -> str:
    """Which libwebp decodes WebP inputs: the path named by $CROPAUDIT_LIBWEBP, the project's
    build (its BUILD-INFO.json), or the system's; read without loading the library."""
    from cropaudit.imaging.libwebp import BUILD_INFO, LIBWEBP_ENV, project_build

    if os.environ.get(LIBWEBP_ENV):
        return f"{LIBWEBP_ENV}={os.environ[LIBWEBP_ENV]}"
    build = project_build()
    if build is not None:
        return (build.parent / BUILD_INFO).read_text(encoding="utf-8")
    return "system libwebp"


def source_files(params: Params) -> str:
    """A digest of the user's own image collection (folder and CSV sources): the name, size
    and modification time of every file under its folder, and the CSV's. The dataset is rebuilt
    when an image is added, removed or replaced, as Snakemake would for a declared input; the
    demo is generated from its settings, and WikiCeleb reruns its query on request."""
    dataset = params.dataset
    if dataset.source not in ("folder", "csv"):
        return ""
    manifest = dataset.manifest
    csv = Path(manifest.csv) if manifest.csv else None
    root = Path(manifest.root) if manifest.root else (csv.parent if csv else None)
    files = [p for p in sorted(root.rglob("*")) if p.is_file()] if root and root.is_dir() else []
    if csv is not None and csv.is_file() and csv not in files:
        files.append(csv)
    h = hashlib.sha256()
    for f in files:
        stat = f.stat()
        h.update(f"{f}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _command_files(command_file: str | os.PathLike[str] | None) -> list[str]:
    """A command's module and, where its orchestration lives in a stage module of the same
    name (``stages/stats.py`` for ``commands/stats.py``), that module too: the command runs it
    whatever subpackages its rule names."""
    module = _package_path(command_file)
    stage = f"stages/{Path(module).name}"
    return [module, stage] if (PACKAGE_DIR / stage).is_file() else [module]


def _package_path(path: str | os.PathLike[str] | None) -> str:
    return Path(path or "").resolve().relative_to(PACKAGE_DIR).as_posix()


@cache
def _sources_digest(entries: tuple[str, ...]) -> str:
    """Digest of package files and folders (every file in a folder, caches left out)."""
    h = hashlib.sha256()
    for entry in sorted(set(entries)):
        path = PACKAGE_DIR / entry
        found = sorted(p for p in path.rglob("*") if p.is_file() and _is_source(p)) \
            if path.is_dir() else [path]
        for f in found:
            h.update(f.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0")
            h.update(f.read_bytes() + b"\0")
    return h.hexdigest()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else str(path)


def _is_source(path: Path) -> bool:
    return "__pycache__" not in path.parts and not path.name.startswith(".")


@cache
def _pins(path: Path) -> dict[str, str]:
    """``name==version`` lines of a constraints file (empty when there is none)."""
    if not path.is_file():
        return {}
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)", line)
        if m:
            pins[_canonical(m.group(1))] = m.group(2)
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
