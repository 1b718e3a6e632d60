"""Where a result came from: code version, model and data digests, package versions.

The report prints these and the MLflow run records them as tags, so a number can always be
traced back to the exact commit (and whether the working tree had uncommitted changes), the
model file and the dataset table it was computed from.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from cropaudit import __version__
from cropaudit.engine.model_store import sha256_file

#: Packages whose versions change results or their presentation.
TRACKED_PACKAGES: tuple[str, ...] = (
    "cropaudit", "numpy", "pandas", "pillow", "tensorflow", "tensorflow-cpu", "keras",
    "statsmodels", "scipy", "matplotlib", "snakemake", "dvc", "mlflow", "pyarrow", "pydantic",
)


@dataclass(frozen=True)
class GitState:
    commit: str | None
    dirty: bool | None

    @property
    def label(self) -> str:
        if self.commit is None:
            return "not a git checkout"
        return self.commit[:12] + (" (uncommitted changes)" if self.dirty else "")


def git_state(where: str | os.PathLike[str] = ".") -> GitState:
    """HEAD commit and whether tracked files differ from it (like ``git describe --dirty``).

    Untracked files do not count: a workflow's own bookkeeping (e.g. a new dvc.lock) would
    otherwise mark every first run dirty.
    """
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=where, capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return GitState(None, None)
    return GitState(commit, dirty)


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (absent packages are left out)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    out.setdefault("cropaudit", __version__)
    return out


def file_digest(path: str | os.PathLike[str] | None) -> str | None:
    """sha256 of a file, or None when no file is given or it does not exist."""
    if path is None or not Path(path).is_file():
        return None
    return sha256_file(path)
