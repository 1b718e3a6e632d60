"""Running the real workflow tools (snakemake, dvc, mlflow, cropaudit) on a temporary copy."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
#: What a checkout needs to run the workflow. The package's source comes along: rules and
#: DVC stages depend on its files, and the tools run it from there (PYTHONPATH=<copy>/src).
WORKFLOW_FILES = ("Snakefile", "workflow", "params.yaml", "dvc.yaml", ".dvc/config",
                  ".dvcignore", ".gitignore", "src/cropaudit")


def tool(name: str) -> str:
    """An executable of the environment running the tests (snakemake, dvc, mlflow, ...)."""
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else name


def tool_env(root: Path = REPO_ROOT, **extra: str) -> dict[str, str]:
    """Environment for tool subprocesses: the package of ``root`` (a copy has its own, else
    this checkout's), no telemetry, the default tracking store."""
    env = dict(os.environ)
    env.pop("MLFLOW_TRACKING_URI", None)
    src = str(root / "src" if (root / "src" / "cropaudit").is_dir() else REPO_ROOT / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="1", TF_CPP_MIN_LOG_LEVEL="2",
               GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.org",
               GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@example.org")
    env.update(extra)
    return env


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


#: What a workflow test runs unless it says otherwise: one cropper (the audit's own backend)
#: and a few probe settings on 2 tuples, without edits. The full default (six croppers, every
#: probe) is what `make run` audits; tests of several croppers or of the probes ask for it.
LIGHT: dict[str, Any] = {
    "probes": {"tuples_per_comparison": 2, "padding": [0, 6], "gap": [], "order": ["swapped"],
               "layout": [], "scaling": [], "jpeg": [50], "grid": [1.0],
               "edits": {"images_per_group": 0}},
}
#: Probes reduced to their baseline and statistics: for tests about something else (dataset
#: sources, cluster engines) that still run the whole workflow, every job kind included.
BASELINE_PROBES_ONLY: dict[str, Any] = {
    "probes": {"padding": [], "gap": [], "order": [], "layout": [], "scaling": [], "jpeg": [],
               "grid": [], "edits": {"images_per_group": 0}},
}


def write_params(root: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """Rewrite root/params.yaml as the repository's params, made light (:data:`LIGHT`), with
    ``overrides`` merged in."""
    base = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
    backend = (overrides.get("model") or {}).get("backend", base["model"]["backend"])
    light = deep_merge(LIGHT, {"croppers": [backend]})
    params = deep_merge(deep_merge(base, light), overrides)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return params


def copy_workflow(dest: Path, overrides: dict[str, Any] | None = None) -> Path:
    """A fresh workflow folder at ``dest`` with the given params overrides."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = REPO_ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"),
                            dirs_exist_ok=True)
        elif src.exists():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    write_params(dest, overrides or {})
    return dest


def run(cmd: list[str], cwd: Path, timeout: float = 900, check: bool = True,
        **env: str) -> subprocess.CompletedProcess[str]:
    """Run a tool; on failure the assertion shows the end of its output."""
    proc = subprocess.run(cmd, cwd=cwd, env=tool_env(Path(cwd), **env), capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}"
            f"\n--- stderr\n{proc.stderr[-4000:]}"
        )
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fastgaze_model() -> Path | None:
    """The local FastGaze model file, if this machine has one (env or ../shared)."""
    env = os.environ.get("CROPAUDIT_FASTGAZE")
    shared = Path(os.environ.get("CROPAUDIT_SHARED") or REPO_ROOT.parent / "shared")
    path = Path(env) if env else shared / "models" / "fastgaze.vxm"
    return path if path.is_file() else None


def dvc_project(root: Path) -> Path:
    """Make the workflow copy at ``root`` a DVC project: dvc.yaml for its params, git, a commit."""
    run([sys.executable, str(REPO_ROOT / "workflow/scripts/sync_dvc.py"), "--root", str(root)],
        cwd=root)
    run(["git", "init", "-q"], cwd=root)
    run(["git", "add", "-A"], cwd=root)
    run(["git", "commit", "-qm", "audit"], cwd=root)
    return root


def snakemake_plan(root: Path) -> set[str]:
    """Rules `snakemake -n` would run (empty when it has nothing to do)."""
    proc = run([tool("snakemake"), "--cores", "2", "--dry-run"], cwd=root)
    out = proc.stdout + proc.stderr
    rules = set(re.findall(r"^(?:local)?rule (\w+):", out, flags=re.M)) - {"all"}
    assert rules or "Nothing to be done" in out, out[-3000:]
    return rules


def dvc_changed(root: Path) -> set[str]:
    """Stages `dvc status` reports as changed (empty when it is up to date)."""
    out = run([tool("dvc"), "status"], cwd=root).stdout
    stages = set(re.findall(r"^([\w-]+):$", out, flags=re.M))
    assert stages or "Data and pipelines are up to date" in out, out[-3000:]
    return stages
