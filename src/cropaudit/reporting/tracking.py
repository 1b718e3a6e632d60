"""Recording a finished audit run in MLflow.

One MLflow run per executed ``log-run`` stage, logged after the report exists, so a run in
the tracking store is always a complete audit: every parameter (params.yaml flattened, with
defaults filled in), every number of ``results/metrics.json``, the figures, tables and report
as artifacts, and tags tying it to the code (git commit + dirty flag), the model (sha256) and
the data (a digest of the dataset table through ``mlflow.data``) plus package versions.

The tracking store defaults to ``sqlite:///mlflow.db`` in the working directory (MLflow 3
deprecates the file store), with artifacts in ``mlruns/`` beside the database. The
``MLFLOW_TRACKING_URI`` environment variable, then ``tracking.uri`` in params.yaml, override it
(e.g. a team's ``http://mlflow.example:5000``). Experiments are created through the client so
that their artifact location is recorded in the store.

A remote server is probed first, within a total deadline (:data:`PROBE_DEADLINE_S`, however
slowly it answers), and every MLflow call after that has a deadline of its own
(``tracking.call_deadline_s``); MLflow's HTTP retries are cut from minutes to seconds. An
unreachable, hanging or trickling server is one line, the results stay on disk, and
``log-run`` can simply be rerun later. Logging is idempotent: a run is tagged with a digest of
its inputs (params, metrics, dataset, model, code), and the same inputs are not logged twice
(``--new`` forces another run). A run interrupted by Ctrl-C, SIGTERM or SIGHUP is marked
FAILED; one killed outright (SIGKILL) is marked FAILED by the next ``log-run`` of the same
inputs.

One way to a run: :func:`connect` probes the store and finds the experiment, and
:func:`open_run` opens every run (the audit's, the cropper comparison's parent and each
cropper's child) with the deadlines, the signal handling, the inputs' digest and the one-line
errors; :func:`log_run` and :func:`log_cropper_runs` only say what each run holds. The two
steps are apart because the probe must come before MLflow is imported (seconds), while the
audit run's digest reads MLflow's digest of the dataset.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import re
import signal
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cropaudit.contracts import metric_key
from cropaudit.errors import InputFileError, TrackingServerError
from cropaudit.reporting.deadline import DeadlineExceeded, deadline, within
from cropaudit.reporting.params import (  # re-exported: imported from here
    DEFAULT_TRACKING_URI as DEFAULT_TRACKING_URI,
    ENV_TRACKING_URI as ENV_TRACKING_URI,
    TrackingParams as TrackingParams,
)

#: MLflow's limits on one batch call.
MAX_PARAMS_PER_BATCH, MAX_METRICS_PER_BATCH = 100, 1000
MAX_PARAM_VALUE = 6000
#: Tag holding the digest of a run's inputs (what makes ``log-run`` idempotent).
DIGEST_TAG = "cropaudit.inputs_digest"
#: MLflow's HTTP client defaults (5 retries, backoff factor 2, 120 s timeout) take minutes to
#: give up on a dead server; these take seconds. Values already in the environment win.
HTTP_ENV_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
}
#: (connect, read) seconds of the reachability probe of a remote server: each read's bound.
PROBE_TIMEOUT_S = (3.0, 5.0)
#: Seconds the whole probe may take (``/health`` and one API call), however it trickles.
PROBE_DEADLINE_S = 8.0
#: The probe's API call: cheap, read-only, answered by every MLflow server (any HTTP status,
#: 404 included, shows the API answers).
PROBE_API = "/api/2.0/mlflow/experiments/get-by-name"
#: An MLflow call bounded by a deadline: ``call(what, fn, *args, **kwargs)``.
Call = Callable[..., Any]
LATER_HINT = (
    "the results stay on disk: run the same `cropaudit log-run` (or `snakemake`) again once "
    "it answers, or log them locally now with MLFLOW_TRACKING_URI=sqlite:///mlflow.db"
)


@dataclass(frozen=True)
class RunRecord:
    """What ``log-run`` writes to its output file: where the run can be found."""

    run_id: str
    experiment_id: str
    experiment: str
    tracking_uri: str
    artifact_uri: str
    inputs_digest: str = ""


def tracking_uri(params: TrackingParams) -> str:
    return os.environ.get(ENV_TRACKING_URI, "").strip() or params.uri or DEFAULT_TRACKING_URI


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///"):]).absolute()


def flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested mapping -> (dotted key, leaf value) pairs."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten(value, f"{name}.")
        else:
            yield name, value


def flat_params(params_dump: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in flatten(params_dump):
        text = value if isinstance(value, str) else json.dumps(value)
        out[metric_key(key)] = text[:MAX_PARAM_VALUE]
    return out


def flat_metrics(metrics: Mapping[str, Any], *, undefined_as_nan: bool = False
                 ) -> dict[str, float]:
    """Numeric leaves of metrics.json (booleans as 0/1; NaN and infinities left out).

    With ``undefined_as_nan`` an undefined value (JSON null, NaN, an infinity: a test that
    could not be computed for this input) is logged as NaN instead of left out, so runs
    that share one metrics schema carry the same keys and line up in MLflow's compare view.
    """
    out = {}
    for key, value in flatten(metrics):
        if isinstance(value, bool):
            value = float(value)
        if isinstance(value, int | float) and math.isfinite(value):
            out[metric_key(key)] = float(value)
        elif undefined_as_nan and (value is None or isinstance(value, float)):
            out[metric_key(key)] = math.nan
    return out


def _chunks(items: dict[str, Any], size: int) -> Iterator[dict[str, Any]]:
    keys = list(items)
    for i in range(0, len(keys), size):
        yield {k: items[k] for k in keys[i:i + size]}


def aligned_metrics(metrics_by_run: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Flattened metrics of runs that share one schema, each on the union of their keys.

    A value one run leaves undefined is NaN: null or NaN in its metrics.json, or absent because
    the test behind it could not be computed for that run's outcomes (a cropper that always
    picks one position leaves the position-adjusted face tests out). So the runs carry the
    same keys and line up in MLflow's compare view.
    """
    flat = {name: flat_metrics(m, undefined_as_nan=True) for name, m in metrics_by_run.items()}
    keys = sorted(set().union(*flat.values())) if flat else []
    return {name: {k: values.get(k, math.nan) for k in keys} for name, values in flat.items()}


def _unbounded(_what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


def log_params_and_metrics(params_dump: Mapping[str, Any], metrics: Mapping[str, Any],
                           call: Call = _unbounded) -> None:
    """Log flattened params and numeric metrics to the active run, in MLflow-sized batches."""
    log_flat(params_dump, flat_metrics(metrics), call)


def log_flat(params_dump: Mapping[str, Any], flat: Mapping[str, float],
             call: Call = _unbounded) -> None:
    """Log flattened params and already flattened metrics, in MLflow-sized batches (each
    batch one ``call``, so each has its own deadline)."""
    import mlflow

    for chunk in _chunks(flat_params(params_dump), MAX_PARAMS_PER_BATCH):
        call("log parameters", mlflow.log_params, chunk)
    for chunk in _chunks(dict(flat), MAX_METRICS_PER_BATCH):
        call("log metrics", mlflow.log_metrics, chunk)


def bounded_calls(seconds: float) -> Call:
    """``call(what, fn, *args)``: ``fn(*args)`` under a deadline of ``seconds``."""
    return functools.partial(within, seconds)


@contextlib.contextmanager
def bounded_run(call: Call, what: str, **start: Any) -> Iterator[Any]:
    """``mlflow.start_run(**start)`` with every MLflow call it makes under ``call``'s deadline.

    Like MLflow's own context, a block that raises (a deadline included) ends the run FAILED;
    when the server cannot take even that, the run stays RUNNING and the next ``log-run`` of
    the same inputs marks it FAILED.
    """
    import mlflow

    run = call(f"start {what}", mlflow.start_run, **start)
    try:
        yield run
    except BaseException:
        with contextlib.suppress(Exception, DeadlineExceeded):
            call(f"mark {what} FAILED", mlflow.end_run, "FAILED")
        raise
    call(f"finish {what}", mlflow.end_run)


def _deadline_error(exc: DeadlineExceeded, uri: str) -> TrackingServerError:
    return TrackingServerError(
        f"MLflow tracking store {uri}: {exc.what}: no result within {exc.seconds:g} s "
        f"(tracking.call_deadline_s); {LATER_HINT}")


@contextlib.contextmanager
def first_access_lock(uri: str) -> Iterator[None]:
    """Serialise the first access to a local sqlite store across processes.

    Opening an MLflow client on a new sqlite file creates MLflow's tables (and migrates them
    with temporary ``_alembic_tmp_*`` tables); two jobs doing that at once fail with "table
    ... already exists" (issue 23: log-run and log-croppers, or parallel audits). A lock file
    beside the database makes the second wait until the first has finished. Servers and
    other stores need no lock.
    """
    db = _sqlite_path(uri)
    if db is None:
        yield
        return
    import fcntl

    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _ensure_experiment(client: Any, name: str, uri: str) -> str:
    """The experiment's id, creating it if needed; beside a sqlite store its artifacts go to
    an ``mlruns/`` folder next to the database rather than the working directory."""
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    db = _sqlite_path(uri)
    location = None
    if db is not None:
        slug = re.sub(r"[^\w.-]", "_", name)
        location = (db.parent / "mlruns" / slug).as_uri()
    from mlflow.exceptions import MlflowException

    try:
        return client.create_experiment(name, artifact_location=location)
    except MlflowException as exc:
        # Parallel jobs logging to one server race to create the experiment: the loser uses
        # the winner's.
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def read_metrics(paths: Sequence[Path]) -> dict[str, Any]:
    """The metrics files of a run merged into one mapping (their top-level keys must differ)."""
    merged: dict[str, Any] = {}
    for path in paths:
        if not path.is_file():
            raise InputFileError(f"{path}: metrics file not found")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputFileError(f"{path}: invalid JSON (line {exc.lineno})") from None
        if not isinstance(data, dict):
            raise InputFileError(f"{path}: metrics must be a JSON object")
        clash = sorted(set(data) & set(merged))
        if clash:
            raise InputFileError(f"{path}: metric {clash[0]!r} is also in another metrics file")
        merged.update(data)
    return merged


def check_reachable(uri: str, experiment: str = "Default") -> None:
    """Refuse at once, with one line, a remote tracking server that does not answer.

    ``/health`` and one API call (the experiment's look-up) must both answer within
    :data:`PROBE_DEADLINE_S` in all: a server that answers ``/health`` and then hangs, or
    sends its answer a byte at a time, is refused as surely as a silent one. Any HTTP answer
    counts (even 404 from a proxy); a refused connection, a DNS failure, silence beyond
    :data:`PROBE_TIMEOUT_S` or an answer not complete by the deadline do not. Local stores
    pass.
    """
    if not uri.startswith(("http://", "https://")):
        return
    import requests

    base = uri.rstrip("/")
    try:
        with deadline(PROBE_DEADLINE_S, "probe"):
            requests.get(base + "/health", timeout=PROBE_TIMEOUT_S).close()
            requests.get(base + PROBE_API, params={"experiment_name": experiment},
                         timeout=PROBE_TIMEOUT_S).close()
    except DeadlineExceeded:
        reason = f"no complete answer within {PROBE_DEADLINE_S:g} s"
    except requests.Timeout:
        reason = f"no answer within {PROBE_TIMEOUT_S[1]:g} s"
    except requests.ConnectionError as exc:
        reason = "connection refused" if "refused" in str(exc).lower() else "cannot connect"
    except requests.RequestException as exc:
        reason = type(exc).__name__
    else:
        return
    raise TrackingServerError(f"MLflow tracking server {uri} unreachable ({reason}); "
                              f"{LATER_HINT}")


def inputs_digest(params_dump: Mapping[str, Any], metrics: Mapping[str, Any],
                  tags: Mapping[str, str]) -> str:
    """sha256 of what a run records: params, metrics, dataset and model digests, code commit.

    Two ``log-run`` calls on the same inputs get the same digest, so the second can find the
    first instead of adding an identical run.
    """
    keys = ("dataset.sha256", "dataset.digest", "model.sha256", "git.commit", "git.dirty")
    payload = {"params": params_dump, "metrics": metrics, **{k: tags.get(k, "") for k in keys}}
    text = json.dumps(payload, sort_keys=True, default=str, allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- opening runs: the one way ------------------------------------------------------------------


@dataclass(frozen=True)
class Store:
    """A tracking store that answered the probe, and the experiment its runs go to.

    ``call(what, fn, *args)`` runs one MLflow call under ``tracking.call_deadline_s``; every
    call made for a run goes through it.
    """

    uri: str
    experiment: str
    experiment_id: str
    client: Any
    call: Call


def connect(tracking: TrackingParams) -> Store:
    """The store runs are logged to: probed, with its experiment found or created.

    The probe comes before MLflow is imported (that takes seconds), so an unreachable server
    is one line at once; MLflow's HTTP retries are cut to seconds first. Every failure is one
    :class:`TrackingServerError` line that says how to log later.
    """
    for key, value in HTTP_ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    uri = tracking_uri(tracking)
    check_reachable(uri, tracking.experiment)
    with _store_errors(uri):
        import mlflow
        from mlflow.tracking import MlflowClient

        mlflow.set_tracking_uri(uri)
        call = bounded_calls(tracking.call_deadline_s)
        with first_access_lock(uri):  # the client creates a new store's tables
            client = MlflowClient(tracking_uri=uri)
            experiment_id = call("find or create the experiment", _ensure_experiment, client,
                                 tracking.experiment, uri)
    return Store(uri, tracking.experiment, experiment_id, client, call)


@dataclass(frozen=True)
class TrackedRun:
    """A run opened by :func:`open_run`: the live one, or (``reused``) the finished run logged
    before with the same inputs' digest, to which nothing is logged."""

    store: Store
    run: Any  # mlflow's ActiveRun, or the earlier finished Run: both have ``.info``
    digest: str = ""
    reused: bool = False

    @property
    def run_id(self) -> str:
        return str(self.run.info.run_id)

    def log(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` under the store's call deadline; ``what`` names it in the
        one-line error."""
        return self.store.call(what, fn, *args, **kwargs)

    def log_folder(self, directory: Path | None, dest: str) -> None:
        """Every file of ``directory`` as artifacts under ``dest`` (nothing when it is absent)."""
        import mlflow

        if directory is not None and directory.is_dir():
            self.log(f"log the {dest} folder", mlflow.log_artifacts, str(directory), dest)

    def record(self) -> RunRecord:
        """Where the run can be found (``log-run``'s output file)."""
        info = self.run.info
        return RunRecord(run_id=info.run_id, experiment_id=info.experiment_id,
                         experiment=self.store.experiment, tracking_uri=self.store.uri,
                         artifact_uri=info.artifact_uri, inputs_digest=self.digest)


@contextlib.contextmanager
def open_run(store: Store, name: str, tags: Mapping[str, str], *, digest: str = "",
             new: bool = False, parent: TrackedRun | None = None) -> Iterator[TrackedRun]:
    """The one way a run is opened: ``with open_run(...) as run:`` then log what it holds.

    * every MLflow call has the store's deadline, and a failure (a deadline, an MLflow error)
      leaves the block as one :class:`TrackingServerError` line;
    * SIGTERM and SIGHUP, like Ctrl-C, end the run FAILED instead of leaving it RUNNING;
    * with ``digest`` (of the run's inputs, :func:`inputs_digest`) the run is tagged with it,
      runs of the same digest left RUNNING by a killed process are marked FAILED, and a
      finished one is handed back with ``reused`` set instead of logging a copy (unless
      ``new``);
    * with ``parent``, the run is nested under that open run.
    """
    import mlflow

    with _store_errors(store.uri):
        earlier = _finished_run_with(store, digest) if digest else None
        if earlier is not None and not new:
            yield TrackedRun(store, earlier, digest, reused=True)
            return
        what = f"run {name!r}"
        with _signals_interrupt(), bounded_run(store.call, what,
                                               experiment_id=store.experiment_id,
                                               run_name=name, nested=parent is not None) as run:
            store.call("set tags", mlflow.set_tags,
                       {**tags, **({DIGEST_TAG: digest} if digest else {})})
            yield TrackedRun(store, run, digest)


@contextlib.contextmanager
def _store_errors(uri: str) -> Iterator[None]:
    """A store that fails inside the block, as one line naming it and how to log later."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except DeadlineExceeded as exc:
        raise _deadline_error(exc, uri) from None
    except MlflowException as exc:
        first = str(exc.message if hasattr(exc, "message") else exc).strip().splitlines()
        raise TrackingServerError(f"MLflow tracking store {uri}: "
                                  f"{first[0] if first else type(exc).__name__}; {LATER_HINT}"
                                  ) from None


def _finished_run_with(store: Store, digest: str) -> Any | None:
    """The latest finished run of these inputs, if any; runs of them that a killed process
    (SIGKILL: no handler ran) left RUNNING are marked FAILED on the way."""
    earlier = store.call("search for runs of these inputs", _runs_with_digest, store.client,
                         store.experiment_id, digest)
    for stale in (r for r in earlier if r.info.status == "RUNNING"):
        store.call("mark a stale run FAILED", store.client.set_terminated, stale.info.run_id,
                   status="FAILED")
    return next((r for r in earlier if r.info.status == "FINISHED"), None)


def _runs_with_digest(client: Any, experiment_id: str, digest: str) -> list[Any]:
    return list(client.search_runs(
        [experiment_id], filter_string=f"tags.`{DIGEST_TAG}` = '{digest}'",
        order_by=["attributes.start_time DESC"],
    ))


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP raise KeyboardInterrupt while a run is open, so that the run is
    marked FAILED instead of left RUNNING forever."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    wanted = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {sig: signal.signal(sig, interrupt) for sig in wanted}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# -- the audit run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFiles:
    """The files of a finished audit that its run logs as artifacts."""

    params_path: Path
    metrics_paths: Sequence[Path]
    stats_dir: Path | None = None
    figures_dir: Path | None = None
    report_path: Path | None = None
    artifact_dirs: Sequence[Path] = ()


def log_run(
    *,
    params: Any,
    params_path: Path,
    metrics_path: Path | Sequence[Path],
    dataset_path: Path,
    stats_dir: Path | None = None,
    figures_dir: Path | None = None,
    report_path: Path | None = None,
    model_path: Path | None = None,
    artifact_dirs: Sequence[Path] = (),
    new: bool = False,
) -> tuple[RunRecord, bool]:
    """Log one complete audit run; returns where to find it and whether it was logged before.

    ``metrics_path`` may list several metrics files (e.g. the stats stage's and the gaze
    stage's); ``artifact_dirs`` are further folders logged under their own names. A finished
    run with the same inputs' digest is returned instead of logging a copy, unless ``new``.
    Store errors are one :class:`TrackingServerError` line.
    """
    files = AuditFiles(params_path, [metrics_path] if isinstance(metrics_path, Path)
                       else list(metrics_path), stats_dir, figures_dir, report_path,
                       artifact_dirs)
    if not dataset_path.is_file():
        raise InputFileError(f"{dataset_path}: dataset table not found")
    metrics = read_metrics(files.metrics_paths)
    store = connect(params.tracking)
    inputs = _audit_inputs(params, metrics, dataset_path, model_path)
    name = params.tracking.run_name or (
        f"{params.dataset.dataset_name}-{params.primary_cropper}-seed{params.seed}")
    with open_run(store, name, inputs.tags, digest=inputs.digest, new=new) as run:
        if not run.reused:
            _log_audit(run, inputs, files)
    return run.record(), run.reused


@dataclass(frozen=True)
class _AuditInputs:
    """What an audit run records besides its files, and what its inputs' digest reads."""

    params_dump: dict[str, Any]
    metrics: dict[str, Any]
    dataset: Any  # the dataset table as an MLflow dataset input
    versions: dict[str, str]
    tags: dict[str, str]  # the code (commit), model, data and versions

    @property
    def digest(self) -> str:
        return inputs_digest(self.params_dump, self.metrics, self.tags)


def _audit_inputs(params: Any, metrics: dict[str, Any], dataset_path: Path,
                  model_path: Path | None) -> _AuditInputs:
    """Read the dataset, the versions and the commit (MLflow is imported here, after the
    store's probe: its dataset digest is one of the tags)."""
    import mlflow
    import pandas as pd

    from cropaudit.reporting.provenance import file_digest, git_state, package_versions

    table = pd.read_parquet(dataset_path)
    with warnings.catch_warnings():
        # MLflow hints about ambiguous local sources and integer columns do not apply here.
        warnings.simplefilter("ignore", UserWarning)
        # mlflow.data defines its from_* constructors at import time, invisible to mypy
        dataset = mlflow.data.from_pandas(  # type: ignore[attr-defined]
            table, source=str(dataset_path.absolute()), name=params.dataset.dataset_name
        )
        _ = dataset.schema  # inferred (and cached) here, where its hint is silenced
    git = git_state(".")
    versions = package_versions()
    tags = {
        "cropaudit.version": versions.get("cropaudit", ""),
        "git.commit": git.commit or "unknown",
        "git.dirty": "unknown" if git.dirty is None else str(git.dirty).lower(),
        "primary": params.primary_cropper,
        "model.sha256": file_digest(model_path) or "none",
        "dataset.name": params.dataset.dataset_name,
        "dataset.sha256": file_digest(dataset_path) or "",
        "dataset.digest": dataset.digest,
        "dataset.images": str(len(table)),
        **{f"versions.{k}": v for k, v in versions.items()},
    }
    if git.commit:
        tags["mlflow.source.git.commit"] = git.commit
    return _AuditInputs(params.model_dump(mode="json"), metrics, dataset, versions, tags)


def _log_audit(run: TrackedRun, inputs: _AuditInputs, files: AuditFiles) -> None:
    """What the audit run holds: params, metrics, the dataset input, versions, artifacts."""
    import mlflow

    log_params_and_metrics(inputs.params_dump, inputs.metrics, run.log)
    run.log("log the dataset", mlflow.log_input, inputs.dataset, context="audit")
    run.log("log versions.json", mlflow.log_dict, inputs.versions, "environment/versions.json")
    run.log("log params.yaml", mlflow.log_artifact, str(files.params_path), "config")
    for path in files.metrics_paths:
        run.log(f"log {path.name}", mlflow.log_artifact, str(path), "metrics")
    run.log_folder(files.stats_dir, "tables")
    run.log_folder(files.figures_dir, "figures")
    for directory in files.artifact_dirs:
        run.log_folder(directory, directory.name)
    if files.report_path is not None and files.report_path.is_file():
        run.log("log the report", mlflow.log_artifact, str(files.report_path), "report")


def record_dict(record: RunRecord) -> dict[str, str]:
    return asdict(record)


# -- the cropper comparison: a parent run and a child run per cropper ------------------------------


@dataclass(frozen=True)
class CropperRun:
    """One cropper's finished audit, as the comparison's child run logs it."""

    name: str
    metrics_path: Path
    stats_dir: Path | None = None
    figures_dir: Path | None = None
    tags: Mapping[str, str] | None = None


def log_cropper_runs(
    *,
    params: Any,
    params_path: Path,
    comparison_dir: Path,
    comparison_metrics: Path,
    croppers: Sequence[CropperRun],
) -> dict[str, Any]:
    """One parent run per audit (the comparison table) with one child run per cropper.

    Children carry the same metric keys (each cropper's stats metrics.json, same schema), so
    MLflow's compare view lines them up; the parent holds the comparison tables, the forest
    plot and the agreement metrics. Returns the ids, for the stage's output record. Runs are
    opened by :func:`open_run`, as in :func:`log_run`: deadlines, one-line errors, SIGTERM →
    FAILED (no inputs' digest: each call logs a new comparison).
    """
    if not comparison_dir.is_dir():
        raise InputFileError(f"{comparison_dir}: comparison folder not found")
    store = connect(params.tracking)
    import mlflow  # after the probe (seconds)

    from cropaudit.reporting.provenance import git_state

    git = git_state(".")
    base_tags = {"git.commit": git.commit or "unknown",
                 "dataset.name": params.dataset.dataset_name}
    dump = params.model_dump(mode="json")
    name = params.tracking.run_name or \
        f"{params.dataset.dataset_name}-croppers-seed{params.seed}"
    children: dict[str, str] = {}
    parent_tags = {**base_tags, "cropaudit.run": "cropper-comparison",
                   "croppers": ",".join(c.name for c in croppers)}
    with open_run(store, name, parent_tags) as parent:
        log_params_and_metrics(dump, read_metrics([comparison_metrics]), parent.log)
        parent.log_folder(comparison_dir, "comparison")
        parent.log("log params.yaml", mlflow.log_artifact, str(params_path), "config")
        # a test one cropper's outcomes leave undefined is logged as NaN, not dropped
        aligned = aligned_metrics({c.name: read_metrics([c.metrics_path]) for c in croppers})
        for c in croppers:
            tags = {**base_tags, "cropaudit.run": "cropper", "cropper": c.name, **(c.tags or {})}
            with open_run(store, c.name, tags, parent=parent) as child:
                log_flat({**dump, "cropper": c.name}, aligned[c.name], child.log)
                child.log_folder(c.stats_dir, "tables")
                child.log_folder(c.figures_dir, "figures")
            children[c.name] = child.run_id
    return {"parent_run_id": parent.run_id, "experiment_id": store.experiment_id,
            "experiment": store.experiment, "tracking_uri": store.uri, "children": children}
