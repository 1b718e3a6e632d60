"""What each stage command declares it reads from the configuration.

Each module under :mod:`cropaudit.commands` that a workflow stage runs sets ``PARAMS`` to the
dotted keys it reads (``"faces"`` = the whole section, ``"model.max_pixels"`` = one value,
``"*"`` = the whole file), or to a function of the validated params returning them when the
keys depend on a value (``prepare-data`` reads the sub-section of the configured source).
Commands that run a cropper list :data:`CROPPER`, which stands for that cropper's own
settings: ``cropper_options.<name>`` and the keys its spec names (FastGaze reads ``model``,
face-center ``faces``). The workflow reruns a job when the values of exactly these keys change
(:func:`cropaudit.pipeline.settings`); a test runs every stage command with a params object
that records each key read and checks the reads are covered by the declaration.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cropaudit.config import Params

PACKAGE = "cropaudit"
#: The declaration of a command that reads the whole params file.
WHOLE_FILE = "*"
#: Stands for the settings of the cropper a command runs (see the module doc).
CROPPER = "<cropper>"
#: Dotted params.yaml keys.
ParamKeys = tuple[str, ...]
#: What a command module's ``PARAMS`` may be.
ParamDeclaration = ParamKeys | Callable[["Params"], ParamKeys]


def command_module(command: str) -> Any:
    """The module of a ``cropaudit`` sub-command, by its command-line name (``score-crops``)."""
    from cropaudit.cli import COMMANDS

    if command not in COMMANDS:
        raise KeyError(f"unknown cropaudit command {command!r}")
    return importlib.import_module(f"{PACKAGE}.commands.{COMMANDS[command]}")


def declared_params(command: str, params: Params, cropper: str | None = None) -> ParamKeys:
    """The params.yaml keys ``command`` reads, for these (validated) params and cropper."""
    declaration: ParamDeclaration = getattr(command_module(command), "PARAMS", ())
    keys = declaration(params) if callable(declaration) else declaration
    if CROPPER not in keys:
        return tuple(keys)
    if cropper is None:
        raise ValueError(f"`cropaudit {command}` runs a cropper: name it")
    return tuple(k for k in keys if k != CROPPER) + cropper_settings(cropper)


def cropper_settings(name: str) -> ParamKeys:
    """The configuration keys one cropper reads: its options and what its spec names."""
    from cropaudit.croppers.registry import get_spec

    return (f"cropper_options.{name}", *get_spec(name).settings)


def covers(declared: Iterable[str], key: str) -> bool:
    """Whether a declaration includes ``key`` (itself, a section above it, or the whole file)."""
    return any(d == WHOLE_FILE or key == d or key.startswith(f"{d}.") for d in declared)
