"""What each stage command declares it reads: parameter keys and source files.

The workflow tools rerun a stage when something it reads changes. Both Snakemake (the rules
in ``workflow/rules``) and DVC (``dvc.yaml``, generated from those rules) take that list from
here, so there is one declaration per command, beside its code:

* **parameters**: each module under :mod:`cropaudit.commands` that a workflow stage runs sets
  ``PARAMS`` to the dotted keys it reads (``"faces"`` = the whole section,
  ``"model.max_pixels"`` = one value, ``"*"`` = the whole file), or to a function of the
  validated params returning them when the keys depend on a value (``prepare-data`` reads the
  sub-section of the configured source). A test runs every stage command with a params object
  that records each key read and checks the reads are covered by the declaration.
* **code**: computed, never listed by hand: the source files of every ``cropaudit`` module the
  command can import, found by reading import statements (also those inside functions, and
  module names written as strings, as in :data:`cropaudit.datasets.prepare.SOURCES`), following them
  through the package, plus the data files a module names (``"templates"``, ``"wikiceleb.rq"``).
  Reading the code instead of importing it keeps this cheap (no TensorFlow) and deterministic;
  it errs on the side of more files (a lazy import counts even when its function is not run).
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cropaudit.config import Params

PACKAGE = "cropaudit"
#: The declaration of a command that reads the whole params file.
WHOLE_FILE = "*"
#: Dotted params.yaml keys.
ParamKeys = tuple[str, ...]
#: What a command module's ``PARAMS`` may be.
ParamDeclaration = ParamKeys | Callable[["Params"], ParamKeys]
#: Every command run by a workflow stage also runs these modules (argument parsing, errors).
ENTRY_MODULES = ("cropaudit.cli", "cropaudit.__main__")


def command_module(command: str) -> Any:
    """The module of a ``cropaudit`` sub-command, by its command-line name (``score-crops``)."""
    from cropaudit.cli import COMMANDS

    if command not in COMMANDS:
        raise KeyError(f"unknown cropaudit command {command!r}")
    return importlib.import_module(f"{PACKAGE}.commands.{COMMANDS[command]}")


def declared_params(command: str, params: Params) -> ParamKeys:
    """The params.yaml keys ``command`` reads, for these (validated) params."""
    declaration: ParamDeclaration = getattr(command_module(command), "PARAMS", ())
    keys = declaration(params) if callable(declaration) else declaration
    return tuple(keys)


def covers(declared: Iterable[str], key: str) -> bool:
    """Whether a declaration includes ``key`` (itself, a section above it, or the whole file)."""
    return any(d == WHOLE_FILE or key == d or key.startswith(f"{d}.") for d in declared)


def code_files(command: str, src: Path) -> list[Path]:
    """Source (and data) files ``command`` can run, under ``src`` (the folder holding the package).

    Sorted; empty when ``src`` holds no ``cropaudit`` package (a workflow run from outside a
    checkout has no source files to track).
    """
    from cropaudit.cli import COMMANDS

    if command not in COMMANDS:
        raise KeyError(f"unknown cropaudit command {command!r}")
    src = Path(src)
    if not (src / PACKAGE / "__init__.py").is_file():
        return []
    roots = (f"{PACKAGE}.commands.{COMMANDS[command]}", *ENTRY_MODULES)
    return sorted(_closure(src.resolve(), roots))


def _closure(src: Path, roots: Iterable[str]) -> set[Path]:
    """Files of ``roots``, every package above them and every module they import, transitively."""
    files: set[Path] = set()
    seen: set[str] = set()
    todo = [r for r in roots if _module_file(src, r)]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(src, name)
        if path is None:
            continue
        files.add(path)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        imported, strings = _references(path, name)
        todo.extend(m for m in imported if _module_file(src, m))
        files.update(_data_files(path, strings))
    return files


def _module_file(src: Path, name: str) -> Path | None:
    if name != PACKAGE and not name.startswith(f"{PACKAGE}."):
        return None
    base = src.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


@cache
def _references(path: Path, name: str) -> tuple[frozenset[str], frozenset[str]]:
    """(module names imported or named in strings, every string constant) of one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    modules: set[str] = set()
    strings: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, package)
            modules.add(base)
            # `from pkg import name` imports pkg.name when that is a module
            modules.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            strings.add(node.value)
            if node.value.startswith(f"{PACKAGE}."):
                modules.add(node.value)
    return frozenset(modules), frozenset(strings)


def _absolute(module: str | None, level: int, package: str) -> str:
    if not level:
        return module or ""
    parts = package.split(".")
    base = parts[: len(parts) - level + 1]
    return ".".join([*base, module] if module else base)


def _data_files(path: Path, strings: frozenset[str]) -> set[Path]:
    """Non-Python files beside a module that it names (a file, or a folder of them)."""
    found: set[Path] = set()
    for entry in path.parent.iterdir():
        if entry.name not in strings or entry.suffix == ".py" or entry.name.startswith("."):
            continue
        if entry.is_file():
            found.add(entry)
        elif entry.is_dir() and not (entry / "__init__.py").exists():
            found.update(p for p in entry.rglob("*") if p.is_file() and _is_data(p))
    return found


def _is_data(path: Path) -> bool:
    return "__pycache__" not in path.parts and not path.name.startswith(".")
