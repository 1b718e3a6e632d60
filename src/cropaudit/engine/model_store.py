"""Getting the FastGaze model file onto disk, verified.

The weights are Twitter's (Apache-2.0) and are never committed here: ``fetch-model`` downloads
them from a pinned commit of twitter-research/image-crop-analysis and checks the sha256, so a
moved or altered file can never silently change an audit's numbers. Offline users and CI point
``CROPAUDIT_FASTGAZE`` (or ``model.local_path``) at a local copy, which is verified the same way.

Every load verifies the file again (:func:`verify_model_file`): a file replaced or edited after
it was fetched (negated weights move every salient point) is refused, unless the user declares
a custom model (``model.custom: true``, or ``model.sha256`` set to that file's digest).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import time
from pathlib import Path

from cropaudit.engine.params import (  # re-exported: imported from here
    ENV_LOCAL_MODEL as ENV_LOCAL_MODEL,
    FASTGAZE_COMMIT as FASTGAZE_COMMIT,
    FASTGAZE_SHA256 as FASTGAZE_SHA256,
    FASTGAZE_URL as FASTGAZE_URL,
    ModelParams as ModelParams,
)
from cropaudit.errors import DownloadError, ModelFileError
from cropaudit.outputs import atomic_path

log = logging.getLogger(__name__)



def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in chunks so large files do not fill memory."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def local_model_override(params: ModelParams) -> Path | None:
    """The local model file that replaces the download, if one is configured."""
    env = os.environ.get(ENV_LOCAL_MODEL, "").strip()
    if env:
        return Path(env)
    if params.local_path:
        return Path(params.local_path)
    return None


def _verify(path: Path, expected: str | None, what: str) -> None:
    if expected is None:
        return
    actual = sha256_file(path)
    if actual != expected:
        raise ModelFileError(f"{what}: sha256 {actual} does not match expected {expected}")


def _download(url: str, dest: Path, *, attempts: int = 4, timeout: float = 60.0) -> None:
    """Stream ``url`` into ``dest`` with retries on connection errors and 5xx/429 answers."""
    import requests
    from tqdm import tqdm

    delay = 1.0
    last: str = ""
    for attempt in range(1, attempts + 1):
        try:
            with requests.get(url, stream=True, timeout=timeout) as r:
                if r.status_code in (429, 500, 502, 503, 504):
                    last = f"HTTP {r.status_code}"
                    retry_after = r.headers.get("Retry-After", "")
                    wait = float(retry_after) if retry_after.isdigit() else delay
                    raise _Retry(wait)
                if r.status_code != 200:
                    raise DownloadError(f"{url}: HTTP {r.status_code}")
                total = int(r.headers.get("Content-Length") or 0) or None
                with open(dest, "wb") as f, tqdm(
                    total=total, unit="B", unit_scale=True, desc="fastgaze.vxm", leave=False,
                    disable=None,
                ) as bar:
                    for chunk in r.iter_content(1 << 16):
                        f.write(chunk)
                        bar.update(len(chunk))
                if total is not None and dest.stat().st_size != total:
                    last = f"truncated body ({dest.stat().st_size} of {total} bytes)"
                    raise _Retry(delay)
                return
        except _Retry as retry:
            wait = retry.wait
        except requests.RequestException as exc:
            last = type(exc).__name__
            wait = delay
        if attempt < attempts:
            log.warning("download of %s failed (%s); retrying in %.0f s", url, last, wait)
            time.sleep(min(wait, 60.0))
            delay *= 2
    raise DownloadError(f"{url}: download failed after {attempts} attempts ({last})")


class _Retry(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(wait)
        self.wait = wait


def fetch_model(params: ModelParams, dest: str | os.PathLike[str] | None = None) -> Path:
    """Put a verified model file at ``dest`` (default ``params.path``) and return its path.

    An existing file with the right digest is kept (no network). A local override is copied,
    otherwise the pinned URL is downloaded; either is verified before it replaces ``dest``.
    """
    target = Path(dest if dest is not None else params.path)
    local = local_model_override(params)
    if target.exists() and params.sha256 is not None and sha256_file(target) == params.sha256:
        log.info("%s already present and verified", target)
        return target
    with atomic_path(target) as tmp:
        if local is not None:
            if not local.is_file():
                raise ModelFileError(f"{local}: local model file not found")
            shutil.copyfile(local, tmp)
            _verify(tmp, params.sha256, str(local))
            log.info("copied %s to %s", local, target)
        else:
            _download(params.url, tmp)
            _verify(tmp, params.sha256, params.url)
            log.info("downloaded %s to %s", params.url, target)
    return target


@functools.lru_cache(maxsize=32)
def _digest_of(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a file, remembered per (path, size, mtime): loading again costs a stat."""
    return sha256_file(path)


def verify_model_file(path: str | os.PathLike[str], params: ModelParams) -> None:
    """Refuse a model file whose sha256 is not ``params.sha256``, unless declared custom."""
    if params.custom or params.sha256 is None:
        return
    p = Path(path)
    st = p.stat()
    actual = _digest_of(str(p.resolve()), st.st_size, st.st_mtime_ns)
    if actual != params.sha256.lower():
        raise ModelFileError(
            f"{p}: sha256 {actual[:16]}… is not model.sha256 {params.sha256[:16]}… (the "
            "released weights); run `cropaudit fetch-model` for those, or to audit this model "
            f"on purpose set model.custom: true (or model.sha256: {actual})"
        )


def resolve_model_path(params: ModelParams, explicit: str | os.PathLike[str] | None = None) -> Path:
    """The model file to load: ``--model``, else the fetched copy, else the local override."""
    if explicit is not None:
        p = Path(explicit)
        if not p.is_file():
            raise ModelFileError(f"{p}: model file not found")
        return p
    fetched = Path(params.path)
    if fetched.is_file():
        return fetched
    local = local_model_override(params)
    if local is not None and local.is_file():
        return local
    raise ModelFileError(
        f"{fetched}: model file not found; run `cropaudit fetch-model` "
        f"(or set {ENV_LOCAL_MODEL} to a local fastgaze.vxm)"
    )
