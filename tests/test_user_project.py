"""cropaudit as a user meets it: a wheel, a fresh environment, their own images, their own CI.

One end-to-end run, in a temporary folder outside the repository, with the network cut off:
build the wheel from a copy of this checkout; install it into a fresh venv; `cropaudit init`
on a folder of generated labelled images; `snakemake --cores 2` with a small configuration;
`dvc repro` (nothing to do); `cropaudit check` with a failing spec (exit 1, JUnit written) and
a passing one (exit 0); then `cropaudit.audit(...)` from Python on the same images, whose
comparisons must equal the workflow's.

**The fresh environment.** Installing the dependencies (TensorFlow, Snakemake, DVC, MLflow,
...: ~3 GB) again would need the network and minutes. The new venv instead sees the
dependencies already installed in the environment running the tests, through a ``.pth`` file
naming a copy of that environment's site-packages made of symbolic links, without cropaudit
itself (the editable install of this checkout must stay invisible); the console scripts of
``snakemake``, ``dvc`` and ``mlflow`` are written into the new venv as pip would write them.
Then ``pip install --no-index --find-links dist cropaudit`` installs the wheel: pip resolves
the wheel's declared dependencies against what it sees installed, so a missing declaration
fails here, and with ``--no-index`` it cannot reach an index. (``python -m venv
--system-site-packages`` would expose the base interpreter's packages, not the test
environment's, which is itself a venv.)

**No network.** Every command runs under ``unshare -n`` (a new network namespace: no
interface but a loopback that is down) when this machine allows it; otherwise a
``sitecustomize`` in the new venv refuses every socket connection that is not to the local
machine, in every Python process of the run (Snakemake's jobs included).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zipfile
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest
import yaml

from support.workflow import REPO_ROOT

pytestmark = pytest.mark.slow

CROPPERS = ["center", "opencv-spectral"]
#: The user's edit of config/config.yaml after `cropaudit init`: a small, quick audit.
SMALL = {
    "croppers": CROPPERS,
    "sampling": {"n": 12, "together": False},
    "stats": {"bootstrap_resamples": 200, "disparity_min_n": 5},
    "gaze": {"selection": "all", "review_per_value": 1},
    "probes": {"tuples_per_comparison": 1, "padding": [0], "gap": [], "order": [],
               "layout": [], "scaling": [], "jpeg": [], "grid": [],
               "edits": {"images_per_group": 0}},
}
#: The issue's known answer: the planted comparison fails a ±5 pp band.
FAILING = {"comparisons": [{"name": "marked_a~plain_a", "band": 0.05}]}
#: What a small audit can pass: opencv-spectral finds the planted difference, and it is at
#: least 20 points; the null comparison within ±25 points, which 8 images per group cannot
#: show (its interval crosses the band's edge), passes as insufficient evidence as the spec
#: allows.
PASSING = {"croppers": ["opencv-spectral"], "insufficient": "pass",
           "comparisons": [{"name": "marked_a~plain_a", "band": [0.20, 0.5]},
                           {"name": "plain_a~plain_b", "band": 0.25}]}
API_SCRIPT = """\
# The notebook user's audit of the same photos (api_audit.py PHOTOS CONFIG FOLDER OUT.csv).
import sys
from pathlib import Path

import pandas as pd
import yaml

import cropaudit

photos, small, folder = sys.argv[1], yaml.safe_load(open(sys.argv[2])), sys.argv[3]
paths = sorted(Path(photos).rglob("*.jpg"))
images = pd.DataFrame([{"path": p.relative_to(photos).as_posix(), "feature": p.parts[-3],
                        "cohort": p.parts[-2]} for p in paths])
result = cropaudit.audit(images, croppers=small["croppers"], config=small, folder=folder,
                         root=photos, name="photos")
print(cropaudit.__file__)
print(result.report_path.is_file(), len(result.comparisons), len(result.disparities))
result.comparisons.to_csv(sys.argv[4], index=False)
"""
NO_NETWORK = """\
# Written by the end-to-end test: no connection leaves this machine.
import socket

_connect = socket.socket.connect


def _local_only(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost") \\
            and self.family in (socket.AF_INET, socket.AF_INET6):
        raise OSError(f"network disabled by the test: {address}")
    return _connect(self, address)


socket.socket.connect = _local_only
"""


class User:
    """Runs commands as the user would, in the new environment, offline, and notes times."""

    def __init__(self, home: Path, venv: Path, offline: list[str]) -> None:
        self.home, self.venv, self.offline = home, venv, offline
        self.transcript: list[str] = []

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "VIRTUAL_ENV", "MLFLOW_TRACKING_URI", "PYTHONHOME")}
        env.update(PATH=f"{self.venv / 'bin'}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
                   VIRTUAL_ENV=str(self.venv), HOME=str(self.home / "home"),
                   PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1",
                   MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="1",
                   TF_CPP_MIN_LOG_LEVEL="2", GIT_AUTHOR_NAME="user",
                   GIT_AUTHOR_EMAIL="user@example.org", GIT_COMMITTER_NAME="user",
                   GIT_COMMITTER_EMAIL="user@example.org")
        return env

    def __call__(self, cwd: Path, *cmd: str | Path, expect: int = 0,
                 timeout: float = 900) -> subprocess.CompletedProcess[str]:
        words = [str(c) for c in cmd]
        start = time.monotonic()
        proc = subprocess.run([*self.offline, *words], cwd=cwd, env=self.env(),
                              capture_output=True, text=True, timeout=timeout)
        took = time.monotonic() - start
        shown = " ".join(w.replace(str(self.home) + "/", "") for w in words)
        where = cwd.relative_to(self.home).as_posix() if cwd != self.home else "."
        self.transcript.append(f"[{where}]$ {shown}  # exit {proc.returncode}, {took:.1f} s")
        if proc.returncode != expect:
            raise AssertionError(
                "\n".join(self.transcript) + f"\nexpected exit {expect}\n--- stdout\n"
                f"{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
        return proc


def offline_prefix() -> list[str]:
    """``unshare -n`` (as root), ``unshare -rn`` (unprivileged user namespaces), or []."""
    unshare = shutil.which("unshare")
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        if unshare and subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return []


def copy_checkout(dest: Path) -> Path:
    """This checkout's files as git sees them (tracked, or new and not ignored)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"],
                           cwd=REPO_ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, files):
        src = REPO_ROOT / os.fsdecode(name)
        if src.is_file():
            (dest / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / os.fsdecode(name))
    return dest


def fresh_venv(venv: Path, offline: list[str]) -> None:
    """A new venv that sees the installed dependencies, not cropaudit (module docstring)."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    here = Path(next(p for p in sys.path if p.endswith("site-packages")
                     and Path(p, "snakemake").is_dir()))
    shadow = venv / "test-deps"
    shadow.mkdir()
    for entry in here.iterdir():
        if not entry.name.lower().startswith(("cropaudit", "__editable__")):
            (shadow / entry.name).symlink_to(entry)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "test-deps.pth").write_text(f"{shadow}\n")
    if not offline:
        (site / "sitecustomize.py").write_text(NO_NETWORK)
    for dist in ("snakemake", "dvc", "mlflow"):
        for ep in metadata.distribution(dist).entry_points:
            if ep.group == "console_scripts" and ep.name == dist:
                module, _, attr = ep.value.partition(":")
                script = venv / "bin" / ep.name
                script.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom {module} "
                                  f"import {attr.split('.')[0]}\nsys.exit({attr}())\n")
                script.chmod(0o755)


def labelled_photos(dest: Path, per_group: int) -> Path:
    """A user's folder of labelled photos, <feature>/<cohort>/NNN.jpg: the demo generator's
    portraits (a badge on the `marked` ones: the planted difference)."""
    from cropaudit.config import parse_params
    from cropaudit.datasets import demo

    gen = dest.parent / "generated"
    params = parse_params({"dataset": {"source": "demo", "demo": {"images_per_group": per_group},
                                       "groups": {"attributes": ["feature", "cohort"]}}})
    table = demo.build(params, gen / "images.parquet")
    for row in table.itertuples():
        target = dest / row.feature / row.cohort / f"{row.image_id.rsplit('-', 1)[-1]}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(gen / row.path, target)
    shutil.rmtree(gen)
    return dest


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def merged(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) \
            and isinstance(out.get(key), dict) else value
    return out


def test_a_user_audits_their_own_images(tmp_path_factory):
    pytest.importorskip("build", reason="the dev extra's `build` makes the wheel")
    home = tmp_path_factory.mktemp("user")
    assert REPO_ROOT not in home.parents
    offline = offline_prefix()
    venv = home / "venv"
    user = User(home, venv, offline)
    started = time.monotonic()

    # the developer's side: the wheel, from a checkout
    checkout = copy_checkout(home / "checkout")
    user(home, sys.executable, "-m", "build", "--no-isolation", "--outdir", home / "dist",
         checkout)
    (wheel,) = (home / "dist").glob("cropaudit-*.whl")
    with zipfile.ZipFile(wheel) as whl:
        carried = set(whl.namelist())
    assert {"cropaudit/workflow/Snakefile", "cropaudit/workflow/rules/common.smk",
            "cropaudit/workflow/profiles/slurm/config.yaml", "cropaudit/workflow/params.yaml",
            "cropaudit/workflow/config/quick.yaml", "cropaudit/project_template/Snakefile.in"
            } <= carried, sorted(n for n in carried if "workflow" in n)
    # the user's side: a fresh environment, their photos, their project
    fresh_venv(venv, offline)
    user(home, venv / "bin" / "python", "-m", "pip", "install", "--no-index", "--find-links",
         home / "dist", "cropaudit")
    where = user(home, "python", "-c", "import cropaudit, cropaudit.packaged as p; "
                 "print(cropaudit.__file__); print(p.snakefile())").stdout.split()
    assert all(Path(w).is_relative_to(venv) for w in where), where
    labelled_photos(home / "photos", per_group=8)
    user(home, "cropaudit", "init", "audit", "--source", "folder", "--images", "photos",
         "--attributes", "feature", "cohort", "--croppers", *CROPPERS)
    project = home / "audit"
    config = project / "config" / "config.yaml"
    write_yaml(config, merged(yaml.safe_load(config.read_text()), SMALL))

    user(project, "snakemake", "--cores", "2")
    repro = user(project, "dvc", "repro")
    assert "Data and pipelines are up to date" in repro.stdout + repro.stderr, repro.stdout
    assert all(f"Stage '{s}' didn't change, skipping" in repro.stdout
               for s in ("prepare", "croppers", "report", "track")), repro.stdout
    for name in CROPPERS:
        assert (project / "results" / "croppers" / name / "stats" / "comparisons.csv").is_file()
    assert (project / "results" / "report.html").is_file()
    runs = user(project, "python", "-c",
                "import mlflow; print(len(mlflow.search_runs(experiment_names=['cropaudit'])))")
    assert int(runs.stdout.strip()) >= 1 + len(CROPPERS)  # the audit's, a parent, a child each

    write_yaml(project / "gate-fail.yaml", FAILING)
    write_yaml(project / "gate-pass.yaml", PASSING)
    fail = user(project, "cropaudit", "check", "results", "--spec", "gate-fail.yaml",
                "--junit", "gate.xml", expect=1)
    lines = fail.stdout.splitlines()
    assert lines[-1] == ("cropaudit check: 2 of 2 checks failed (2 croppers, 95% clustered "
                         "intervals)"), fail.stdout
    assert any(line.startswith("FAIL [opencv-spectral] comparison marked_a~plain_a: ")
               for line in lines), lines
    junit = ET.parse(project / "gate.xml").getroot()
    assert junit.get("tests") == "2" and junit.get("failures") == "2"
    user(project, "cropaudit", "check", "results", "--spec", "gate-pass.yaml")

    # the notebook's side: the same images through the Python API
    (home / "api_audit.py").write_text(API_SCRIPT)
    write_yaml(home / "small.yaml", SMALL)
    api = user(home, "python", "api_audit.py", "photos", "small.yaml", "api-audit",
               "api-comparisons.csv").stdout.splitlines()
    assert Path(api[0]).is_relative_to(venv) and api[1].startswith("True ")
    for name in CROPPERS:
        theirs = pd.read_csv(project / "results" / "croppers" / name / "stats" /
                             "comparisons.csv")
        ours = pd.read_csv(home / "api-audit" / "results" / "croppers" / name / "stats" /
                           "comparisons.csv")
        pd.testing.assert_frame_equal(ours, theirs)
    listed = pd.read_csv(home / "api-comparisons.csv")
    assert sorted(listed["cropper"].unique()) == sorted(CROPPERS)

    took = time.monotonic() - started
    report = "\n".join([f"network: {' '.join(offline) or 'sitecustomize socket guard'}",
                        *user.transcript, f"total {took:.0f} s"])
    (home / "transcript.txt").write_text(report + "\n")
    print(report)
