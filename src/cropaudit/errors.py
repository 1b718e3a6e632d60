"""Errors a user can act on.

Every failure caused by input (a file, a parameter, the network) is raised as a
:class:`CropauditError` whose message is one line naming the file or field. The CLI prints it
as ``cropaudit: error: ...`` and exits non-zero, without a traceback, so a workflow log shows
the cause at a glance.
"""

from __future__ import annotations


class CropauditError(Exception):
    """An error caused by the user's input, reported as one line without a traceback."""

    exit_code = 2


class InputFileError(CropauditError):
    """A file given to cropaudit is missing, unreadable or not what it should be."""


class ConfigError(CropauditError):
    """params.yaml (or a command-line override) is invalid."""


class ModelFileError(CropauditError):
    """The saliency model file is missing, corrupt or of an unknown format."""


class DownloadError(CropauditError):
    """A download failed after retries, or its content did not verify."""


class DatasetError(CropauditError):
    """A dataset source produced no usable table (all images excluded, no group left, ...)."""


class TrackingServerError(CropauditError):
    """The MLflow tracking store could not be reached or refused a call (the results on disk
    are intact; ``log-run`` can be rerun later)."""

    exit_code = 3
