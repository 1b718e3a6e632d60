"""Running the real workflow tools (snakemake, dvc, mlflow, cropaudit) as a user does.

A test audit runs this checkout's Snakefile in a temporary folder with
``--configfile params.yaml <overlay>``, as `snakemake --configfile config/quick.yaml` does in a
checkout: nothing is copied. Tests of DVC and of code identity need a project of their own
(dvc.yaml, the package source the stages depend on): :func:`project` copies the checkout's
tracked files, and the tools then run that copy's package.
"""

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

from cropaudit.project import deep_merge

REPO_ROOT = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO_ROOT / "Snakefile"
PARAMS = REPO_ROOT / "params.yaml"
#: Small audits shared by tests (tests/configs/).
CONFIGS = REPO_ROOT / "tests" / "configs"


def tool(name: str) -> str:
    """An executable of the environment running the tests (snakemake, dvc, mlflow, ...)."""
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else name


def tool_env(root: Path = REPO_ROOT, **extra: str) -> dict[str, str]:
    """Environment for tool subprocesses: the package of ``root`` (a project copy has its own,
    else this checkout's), no telemetry, the default tracking store."""
    env = dict(os.environ)
    env.pop("MLFLOW_TRACKING_URI", None)
    src = str(root / "src" if (root / "src" / "cropaudit").is_dir() else REPO_ROOT / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="1", TF_CPP_MIN_LOG_LEVEL="2",
               GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.org",
               GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@example.org")
    model = fastgaze_model()
    if model is not None:
        env.setdefault("CROPAUDIT_FASTGAZE", str(model))
    env.update(extra)
    return env




def config_of(*overlays: str | Path | dict[str, Any]) -> dict[str, Any]:
    """params.yaml with overlays (files under tests/configs or config/, or mappings) merged."""
    merged = yaml.safe_load(PARAMS.read_text(encoding="utf-8"))
    for overlay in overlays:
        if not isinstance(overlay, dict):
            overlay = yaml.safe_load(Path(overlay).read_text(encoding="utf-8")) or {}
        merged = deep_merge(merged, overlay)
    return merged


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def run(cmd: list[str], cwd: Path, timeout: float = 1200, check: bool = True,
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


def snakemake(workdir: Path, *args: str, configs: tuple[str | Path, ...] = (),
              check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    """This checkout's workflow in ``workdir``: params.yaml with ``configs`` on top."""
    workdir.mkdir(parents=True, exist_ok=True)
    # --configfile takes every word after it: it comes last
    cmd = [tool("snakemake"), "--snakefile", str(SNAKEFILE), "--directory", str(workdir),
           "--cores", "2", *args, "--configfile", str(PARAMS), *map(str, configs)]
    return run(cmd, cwd=workdir, check=check, **env)


#: What a project copy needs: the workflow, its configuration, DVC's files, the package.
PROJECT_FILES = ("Snakefile", "workflow", "config", "params.yaml", "dvc.yaml", ".dvc/config",
                 ".dvcignore", ".gitignore", "src/cropaudit", "constraints.txt",
                 "scripts/build_libwebp.sh")


def project(dest: Path, overrides: dict[str, Any] | None = None, dvc: bool = True) -> Path:
    """A project of its own at ``dest`` (this checkout's files, params.yaml with ``overrides``
    merged in), as a git repository with one commit and, with ``dvc``, a DVC project."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = REPO_ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif src.exists():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    write_yaml(dest / "params.yaml", config_of(overrides or {}))
    if not dvc:
        shutil.rmtree(dest / ".dvc", ignore_errors=True)
        (dest / "dvc.yaml").unlink()
    run(["git", "init", "-q"], cwd=dest)
    run(["git", "add", "-A"], cwd=dest)
    run(["git", "commit", "-qm", "audit"], cwd=dest)
    return dest


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


def planned_jobs(root: Path, *args: str) -> dict[str, set[str]]:
    """What `snakemake -n` would run in a project: rule -> the wildcards of its jobs
    ({""} for jobs without wildcards); empty when there is nothing to do."""
    proc = run([tool("snakemake"), "--cores", "2", "--dry-run", *args], cwd=root)
    out = proc.stdout + proc.stderr
    jobs: dict[str, set[str]] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
        m = re.match(r"(?:local)?rule (\w+):", block)
        if m and m.group(1) not in {"audit", "all", "prepare", "croppers", "summary"}:
            wc = re.search(r"^\s+wildcards: (.+)$", block, re.M)
            jobs.setdefault(m.group(1), set()).add(wc.group(1) if wc else "")
    assert jobs or "Nothing to be done" in out, out[-3000:]
    return jobs


def dvc_changed(root: Path) -> set[str]:
    """Stages `dvc status` reports as changed (empty when it is up to date)."""
    out = run([tool("dvc"), "status"], cwd=root).stdout
    stages = set(re.findall(r"^([\w@.-]+):$", out, flags=re.M))
    assert stages or "Data and pipelines are up to date" in out, out[-3000:]
    return stages
