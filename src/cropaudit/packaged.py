"""Where the audit workflow's files are: in the installed package, or in this checkout.

A wheel carries the workflow under ``cropaudit/workflow/`` (the Snakefile, ``rules/``,
``profiles/``, ``dvc/``, the default configuration ``params.yaml`` and the other
configurations of ``config/``; copied at build time by ``setup.py``). An editable install or a
source checkout has no such copy: its files are the checkout's own ``workflow/``,
``params.yaml`` and ``config/``. Either way these functions name the files, so a project made
by ``cropaudit init`` (its ``workflow/Snakefile`` imports this module) follows whichever
cropaudit the environment running Snakemake has.

>>> from cropaudit import packaged
>>> packaged.snakefile().name, packaged.default_config().name
('Snakefile', 'params.yaml')
"""

from __future__ import annotations

from pathlib import Path

from cropaudit.errors import CropauditError

_PACKAGE_DIR = Path(__file__).resolve().parent
#: The copy a wheel carries.
_INSTALLED = _PACKAGE_DIR / "workflow"
#: A source checkout (``src/cropaudit/`` two levels below the repository root).
_CHECKOUT = _PACKAGE_DIR.parents[1]


def workflow_dir() -> Path:
    """The folder holding the workflow's ``Snakefile`` (and ``rules/``, ``profiles/``)."""
    for folder in (_INSTALLED, _CHECKOUT / "workflow"):
        if (folder / "Snakefile").is_file():
            return folder
    raise CropauditError(
        f"{_INSTALLED}: the audit workflow is not installed with this cropaudit (a wheel "
        "carries it; reinstall cropaudit from its wheel or a checkout)"
    )


def snakefile() -> Path:
    """The workflow's Snakefile: what ``module cropaudit: snakefile: ...`` names."""
    return workflow_dir() / "Snakefile"


def default_config() -> Path:
    """cropaudit's default configuration (the ``params.yaml`` of this release)."""
    return _config_root() / "params.yaml"


def config_file(name: str) -> Path:
    """One of the shipped configurations (``quick``, ``paper``): ``config/<name>.yaml``."""
    path = _config_root() / "config" / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (_config_root() / "config").glob("*.yaml"))
        raise CropauditError(f"no shipped configuration {name!r} (known: {', '.join(known)})")
    return path


def _config_root() -> Path:
    """The folder holding ``params.yaml`` and ``config/``: the wheel's copy or the checkout."""
    folder = workflow_dir()
    return folder if folder == _INSTALLED else _CHECKOUT
