"""Build hook: the wheel carries the audit workflow (pyproject.toml holds everything else).

The workflow lives at the repository root (``workflow/``: Snakefile, rules, profiles; the
default configuration ``params.yaml``; the other configurations in ``config/``), where
Snakemake and DVC expect it in a checkout. A wheel puts copies of them under
``cropaudit/workflow/``, so an installed cropaudit can be used as a Snakemake module
(``cropaudit init``; :mod:`cropaudit.packaged` finds either copy). An editable install
(``make setup``) copies nothing: it uses the checkout's files themselves.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: (file or folder in the checkout, where it goes under cropaudit/workflow/ in the wheel)
WORKFLOW_FILES = (
    ("workflow/Snakefile", "Snakefile"),
    ("workflow/rules", "rules"),
    ("workflow/profiles", "profiles"),
    ("workflow/dvc", "dvc"),
    ("params.yaml", "params.yaml"),
    ("config", "config"),
)
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


class BuildWithWorkflow(build_py):
    """``build_py`` that also copies the workflow files into the package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # the checkout's own workflow/ is used (cropaudit.packaged)
        dest = Path(self.build_lib) / "cropaudit" / "workflow"
        for src, name in WORKFLOW_FILES:
            path = ROOT / src
            if not path.exists():
                raise FileNotFoundError(f"{src}: missing from the source tree (MANIFEST.in)")
            if path.is_dir():
                shutil.copytree(path, dest / name, ignore=SKIP, dirs_exist_ok=True)
            else:
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest / name)


setup(cmdclass={"build_py": BuildWithWorkflow})
