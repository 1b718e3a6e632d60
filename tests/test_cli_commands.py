"""The command table is read from ``cropaudit/commands/``: one module, one sub-command.

The names are the ones users and the workflow's rules type, so they are pinned here; a new
command is a new module (and a new name below), nothing else.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

from cropaudit.cli import COMMANDS, HELPERS
from support.workflow import tool_env

NAMES = {
    "app", "check", "compare-croppers", "croppers", "faces", "fetch-model", "gather", "gaze",
    "gaze-import", "image-saliency", "init", "log-croppers", "log-run", "pair-saliency",
    "paper-figure", "plots", "power", "prepare-data", "probe", "probe-edits", "probe-stats",
    "report", "saliency", "sample-pairs", "score-crops", "stats",
}


def test_every_module_of_commands_is_a_command_under_its_usual_name() -> None:
    assert set(COMMANDS) == NAMES
    assert all(module == name.replace("-", "_") for name, module in COMMANDS.items())


def test_each_command_module_has_help_options_and_a_run_function() -> None:
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"cropaudit.commands.{module_name}")
        assert isinstance(module.HELP, str) and module.HELP, name
        assert callable(module.configure) and callable(module.run), name
    for helper in HELPERS:  # shared code, not a command
        assert not hasattr(importlib.import_module(f"cropaudit.commands.{helper}"), "run")


def test_help_lists_every_command_without_importing_heavy_libraries() -> None:
    """``cropaudit --help`` imports each command module for its help line, and those import
    their libraries inside ``run``: no table, plotting, tracking or model library loads."""
    heavy = ("numpy", "pandas", "scipy", "matplotlib", "tensorflow", "mlflow", "PIL", "dash")
    code = ("import sys; from cropaudit.cli import build_parser; "
            "text = build_parser().format_help(); "
            f"print([m for m in {heavy!r} if m in sys.modules]); print(text)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=tool_env(), check=True, timeout=60).stdout
    loaded, _, text = out.partition("\n")
    assert loaded == "[]"
    assert all(f"    {name} " in text or f"    {name}\n" in text for name in NAMES)
