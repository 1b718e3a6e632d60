"""Local services for the tests marked ``cluster``, started by the repository's own scripts
(scripts/services/*.sh) in a private state folder on free ports.

A service that cannot start here (no Slurm packages, not root, no PostgreSQL) makes the tests
that need it skip with the script's one-line reason; services are stopped at the end of the
session. The scripts, not these helpers, are what users run: the tests exercise them.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from support.workflow import CONFIGS, REPO_ROOT, free_port, tool_env

SCRIPTS = REPO_ROOT / "scripts" / "services"
#: Python modules of the [scale] extra the services and their clients need.
SCALE_MODULES = ("snakemake_executor_plugin_slurm", "moto", "boto3", "dvc_s3", "psycopg2")
#: Stop order: the MLflow server before its database and artifact store.
STOP_ORDER = ("mlflow", "slurm", "postgres", "s3")


class Services:
    """Starts services on demand (once per session) and remembers their environment."""

    def __init__(self) -> None:
        # PostgreSQL runs as the postgres user when the tests run as root: world-readable dir
        self.state = Path(tempfile.mkdtemp(prefix="cropaudit-services-"))
        self.state.chmod(0o755)
        self.settings = {
            "CROPAUDIT_SERVICES_DIR": str(self.state),
            "SLURM_CTLD_PORT": str(free_port()), "SLURM_D_PORT": str(free_port()),
            "POSTGRES_PORT": str(free_port()), "S3_PORT": str(free_port()),
            "MLFLOW_PORT": str(free_port()), "MLFLOW_ARTIFACTS": "s3://cropaudit/mlflow",
        }
        self.env: dict[str, dict[str, str]] = {}
        self.failed: dict[str, str] = {}

    def _script(self, name: str, action: str, timeout: float = 300):
        return subprocess.run(
            [str(SCRIPTS / f"{name}.sh"), action], env=tool_env(**self.settings),
            capture_output=True, text=True, timeout=timeout,
        )

    def start(self, name: str) -> dict[str, str]:
        """The service's environment variables (as `NAME.sh env` prints them); skip if down."""
        missing = [m for m in SCALE_MODULES if importlib.util.find_spec(m) is None]
        if missing:
            pytest.skip(f"{', '.join(missing)} not installed: pip install -e '.[scale]'")
        if name in self.failed:
            pytest.skip(self.failed[name])
        if name not in self.env:
            proc = self._script(name, "start")
            if proc.returncode != 0:
                lines = (proc.stderr or proc.stdout).strip().splitlines() or ["no output"]
                self.failed[name] = f"{name} service could not start here: {lines[-1]}"
                pytest.skip(self.failed[name])
            exports = self._script(name, "env").stdout
            self.env[name] = dict(re.findall(r"(\w+)=(\S+)", exports.replace("export ", "")))
        return self.env[name]

    def stop_all(self) -> None:
        for name in STOP_ORDER:
            if name in self.env:
                self._script(name, "stop", timeout=120)
        shutil.rmtree(self.state, ignore_errors=True)

    def log(self, name: str, file: str) -> str:
        path = self.state / name / file
        return path.read_text(errors="replace") if path.is_file() else ""


def service_env(*envs: dict[str, str]) -> dict[str, str]:
    """Variables of several services merged, for tool_env()/run()."""
    merged: dict[str, str] = {}
    for env in envs:
        merged.update(env)
    return merged


#: The audit the cluster tests run: the tiny audit with the centre baseline alone, its pair
#: saliency split into 4 shards (4 Slurm jobs).
TINY_AUDIT = {
    **yaml.safe_load((CONFIGS / "tiny.yaml").read_text(encoding="utf-8")),
    "croppers": ["center"],
    "saliency": {"shards": 4},
    "report": {"title": "cluster test"},
}
