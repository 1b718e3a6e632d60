"""Writing outputs so that a failed run never leaves a file that looks complete.

Snakemake and DVC decide what to rerun from the existence of outputs; a half-written table
would be taken as done. Everything is written to a temporary sibling and renamed into place
only once complete (rename is atomic on one filesystem).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, file_mode())  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; it replaces ``path`` only if the block succeeds.

    For outputs that are whole folders (generated images, review sheets): a failed run leaves
    the previous folder, or none, never a half-filled one.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; give the usual folder mode
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process umask. Reading it means setting it, so threads take turns (two unlocked
    readers could leave the process with umask 0)."""
    with _UMASK_LOCK:
        mask = os.umask(0)
        os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode ``open()`` would give a new file (0644 under the usual umask 022).

    ``tempfile`` creates 0600 files and 0700 folders; outputs renamed from them into place get
    this mode instead, so every output of a run has the same permissions.
    """
    return 0o666 & ~_umask()


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Atomically write ``data`` as indented, key-sorted JSON (stable diffs for DVC metrics)."""
    return write_text(path, json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")


def json_safe(data: Any) -> Any:
    """A copy of nested dicts/lists with numpy scalars as Python values and NaN/inf as None
    (JSON, DVC and MLflow reject NaN)."""
    if isinstance(data, dict):
        return {str(k): json_safe(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [json_safe(v) for v in data]
    if hasattr(data, "item"):
        data = data.item()
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Atomically write raw bytes to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def remove_outputs(*paths: str | os.PathLike[str]) -> None:
    """Delete outputs of a failed step so nothing stale is mistaken for a result."""
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            Path(p).unlink()


def write_parquet(
    df: Any, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None
) -> Path:
    """Atomically write a DataFrame as parquet, with optional JSON metadata under ``cropaudit``.

    The metadata travels inside the file (e.g. which shard of how many a table is), so a
    later stage can check that it was given a complete, consistent set of inputs.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    if metadata is not None:
        existing = dict(table.schema.metadata or {})
        existing[b"cropaudit"] = json.dumps(metadata, sort_keys=True).encode("utf-8")
        table = table.replace_schema_metadata(existing)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return Path(path)


def read_parquet_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``cropaudit`` metadata written by :func:`write_parquet` ({} if there is none)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cropaudit.errors import InputFileError

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputFileError(f"{path}: not a readable parquet file ({detail})") from None
    raw = (schema.metadata or {}).get(b"cropaudit")
    return json.loads(raw) if raw else {}


def check_writable_dir(path: str | os.PathLike[str], what: str) -> None:
    """Refuse, before any slow work, an output folder that could not be created or written.

    Probes the folder itself or, when it does not exist yet, its nearest existing parent with
    a temporary file that vanishes at once: nothing is created on success, so a run that fails
    later leaves no empty output folder behind.
    """
    from cropaudit.errors import InputFileError

    target = Path(path)
    probe = target
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise InputFileError(f"{what} {target}: {probe} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        raise InputFileError(f"{what} {target}: not writable ({exc.strerror or exc})") from None
