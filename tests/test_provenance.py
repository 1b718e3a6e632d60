"""Provenance: the commit and dirty flag recorded with every report and MLflow run."""

from __future__ import annotations

import subprocess

from cropaudit.reporting.provenance import git_state, package_versions
from support.workflow import tool_env


def git(root, *args):
    subprocess.run(["git", *args], cwd=root, env=tool_env(), check=True, capture_output=True)


def test_dirty_flag_follows_tracked_changes_only(tmp_path):
    assert git_state(tmp_path).commit is None  # not a checkout
    git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("1")
    git(tmp_path, "add", "a.txt")
    git(tmp_path, "commit", "-qm", "one")
    clean = git_state(tmp_path)
    assert clean.commit and len(clean.commit) == 40 and clean.dirty is False
    (tmp_path / "untracked.txt").write_text("x")
    assert git_state(tmp_path).dirty is False
    (tmp_path / "a.txt").write_text("2")
    state = git_state(tmp_path)
    assert state.dirty is True and "uncommitted" in state.label


def test_package_versions_include_the_stack():
    versions = package_versions()
    assert {"cropaudit", "mlflow", "pandas", "snakemake", "dvc"} <= set(versions)
