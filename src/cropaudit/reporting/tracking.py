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
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cropaudit.errors import InputFileError

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"
#: MLflow's limits on one batch call.
MAX_PARAMS_PER_BATCH, MAX_METRICS_PER_BATCH = 100, 1000
MAX_PARAM_VALUE = 6000


class TrackingParams(BaseModel):
    """``tracking:`` section of params.yaml."""

    model_config = ConfigDict(extra="forbid")

    uri: str | None = Field(
        None, description=f"tracking URI (env {ENV_TRACKING_URI} wins; default "
                          f"{DEFAULT_TRACKING_URI})"
    )
    experiment: str = Field("cropaudit", min_length=1, description="MLflow experiment name")
    run_name: str | None = Field(None, description="default: <dataset>-<backend>-seed<seed>")


@dataclass(frozen=True)
class RunRecord:
    """What ``log-run`` writes to its output file: where the run can be found."""

    run_id: str
    experiment_id: str
    experiment: str
    tracking_uri: str
    artifact_uri: str


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


_INVALID_KEY_CHARS = re.compile(r"[^\w\-. /:]")


def metric_key(name: str) -> str:
    """A valid MLflow key: comparison separators read ``-vs-``, other odd characters ``_``."""
    return _INVALID_KEY_CHARS.sub("_", name.replace("~", "-vs-"))


def flat_params(params_dump: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in flatten(params_dump):
        text = value if isinstance(value, str) else json.dumps(value)
        out[metric_key(key)] = text[:MAX_PARAM_VALUE]
    return out


def flat_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Numeric leaves of metrics.json (booleans as 0/1; NaN and infinities left out)."""
    out = {}
    for key, value in flatten(metrics):
        if isinstance(value, bool):
            value = float(value)
        if isinstance(value, int | float) and math.isfinite(value):
            out[metric_key(key)] = float(value)
    return out


def _chunks(items: dict[str, Any], size: int) -> Iterator[dict[str, Any]]:
    keys = list(items)
    for i in range(0, len(keys), size):
        yield {k: items[k] for k in keys[i:i + size]}


def log_params_and_metrics(params_dump: Mapping[str, Any], metrics: Mapping[str, Any]) -> None:
    """Log flattened params and numeric metrics to the active run, in MLflow-sized batches."""
    import mlflow

    for chunk in _chunks(flat_params(params_dump), MAX_PARAMS_PER_BATCH):
        mlflow.log_params(chunk)
    for chunk in _chunks(flat_metrics(metrics), MAX_METRICS_PER_BATCH):
        mlflow.log_metrics(chunk)


def ensure_experiment(client: Any, name: str, uri: str) -> str:
    """The experiment's id, creating it (with an explicit artifact location) if needed."""
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    db = _sqlite_path(uri)
    location = None
    if db is not None:
        slug = re.sub(r"[^\w.-]", "_", name)
        location = (db.parent / "mlruns" / slug).as_uri()
    return client.create_experiment(name, artifact_location=location)


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
) -> RunRecord:
    """Log one complete audit run; returns where to find it.

    ``metrics_path`` may list several metrics files (e.g. the stats stage's and the gaze
    stage's); ``artifact_dirs`` are further folders logged under their own names.
    """
    import mlflow
    import pandas as pd
    from mlflow.tracking import MlflowClient

    from cropaudit.reporting.provenance import file_digest, git_state, package_versions

    metrics_paths = [metrics_path] if isinstance(metrics_path, Path) else list(metrics_path)
    if not dataset_path.is_file():
        raise InputFileError(f"{dataset_path}: dataset table not found")
    metrics = read_metrics(metrics_paths)

    tp: TrackingParams = params.tracking
    uri = tracking_uri(tp)
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    experiment_id = ensure_experiment(client, tp.experiment, uri)
    run_name = tp.run_name or (
        f"{params.dataset.dataset_name}-{params.model.backend}-seed{params.seed}"
    )
    git = git_state(".")
    versions = package_versions()
    table = pd.read_parquet(dataset_path)
    with warnings.catch_warnings():
        # MLflow hints about ambiguous local sources and integer columns do not apply here.
        warnings.simplefilter("ignore", UserWarning)
        dataset = mlflow.data.from_pandas(
            table, source=str(dataset_path.absolute()), name=params.dataset.dataset_name
        )
        _ = dataset.schema  # inferred (and cached) here, where its hint is silenced
    tags = {
        "cropaudit.version": versions.get("cropaudit", ""),
        "git.commit": git.commit or "unknown",
        "git.dirty": "unknown" if git.dirty is None else str(git.dirty).lower(),
        "model.backend": params.model.backend,
        "model.sha256": file_digest(model_path) or "none",
        "dataset.name": params.dataset.dataset_name,
        "dataset.sha256": file_digest(dataset_path) or "",
        "dataset.digest": dataset.digest,
        "dataset.images": str(len(table)),
        **{f"versions.{k}": v for k, v in versions.items()},
    }
    if git.commit:
        tags["mlflow.source.git.commit"] = git.commit

    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        mlflow.set_tags(tags)
        log_params_and_metrics(params.model_dump(mode="json"), metrics)
        mlflow.log_input(dataset, context="audit")
        mlflow.log_dict(versions, "environment/versions.json")
        mlflow.log_artifact(str(params_path), "config")
        for path in metrics_paths:
            mlflow.log_artifact(str(path), "metrics")
        dirs = [(stats_dir, "tables"), (figures_dir, "figures"),
                *((d, d.name) for d in artifact_dirs)]
        for directory, dest in dirs:
            if directory is not None and directory.is_dir():
                mlflow.log_artifacts(str(directory), dest)
        if report_path is not None and report_path.is_file():
            mlflow.log_artifact(str(report_path), "report")
        record = RunRecord(
            run_id=run.info.run_id, experiment_id=experiment_id, experiment=tp.experiment,
            tracking_uri=uri, artifact_uri=run.info.artifact_uri,
        )
    return record


def record_dict(record: RunRecord) -> dict[str, str]:
    return asdict(record)


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
    plot and the agreement metrics. Returns the ids, for the stage's output record.
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    from cropaudit.reporting.provenance import git_state

    if not comparison_dir.is_dir():
        raise InputFileError(f"{comparison_dir}: comparison folder not found")
    tp: TrackingParams = params.tracking
    uri = tracking_uri(tp)
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    experiment_id = ensure_experiment(client, tp.experiment, uri)
    git = git_state(".")
    base_tags = {"git.commit": git.commit or "unknown",
                 "dataset.name": params.dataset.dataset_name}
    dump = params.model_dump(mode="json")
    name = tp.run_name or f"{params.dataset.dataset_name}-croppers-seed{params.seed}"
    children: dict[str, str] = {}
    with mlflow.start_run(experiment_id=experiment_id, run_name=name) as parent:
        mlflow.set_tags({**base_tags, "cropaudit.run": "cropper-comparison",
                         "croppers": ",".join(c.name for c in croppers)})
        log_params_and_metrics(dump, read_metrics([comparison_metrics]))
        mlflow.log_artifacts(str(comparison_dir), "comparison")
        mlflow.log_artifact(str(params_path), "config")
        for c in croppers:
            with mlflow.start_run(experiment_id=experiment_id, run_name=c.name,
                                  nested=True) as child:
                mlflow.set_tags({**base_tags, "cropaudit.run": "cropper", "cropper": c.name,
                                 **(c.tags or {})})
                log_params_and_metrics({**dump, "cropper": c.name}, read_metrics([c.metrics_path]))
                for directory, dest in ((c.stats_dir, "tables"), (c.figures_dir, "figures")):
                    if directory is not None and directory.is_dir():
                        mlflow.log_artifacts(str(directory), dest)
                children[c.name] = child.info.run_id
    return {"parent_run_id": parent.info.run_id, "experiment_id": experiment_id,
            "experiment": tp.experiment, "tracking_uri": uri, "children": children}
