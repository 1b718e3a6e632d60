"""``report:`` and ``tracking:`` sections of params.yaml: the HTML report and the MLflow run."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"


class ReportParams(BaseModel):
    """``report:`` section of params.yaml."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field("cropaudit: saliency cropping audit", description="report heading")
    max_table_rows: int = Field(200, ge=1, le=100_000,
                                description="rows shown per table (all are in CSVs)")


class TrackingParams(BaseModel):
    """``tracking:`` section of params.yaml."""

    model_config = ConfigDict(extra="forbid")

    uri: str | None = Field(
        None, description=f"tracking URI (env {ENV_TRACKING_URI} wins; default "
                          f"{DEFAULT_TRACKING_URI})"
    )
    experiment: str = Field("cropaudit", min_length=1, description="MLflow experiment name")
    run_name: str | None = Field(None, description="default: <dataset>-<primary>-seed<seed>")
    call_deadline_s: float = Field(
        60.0, ge=1, le=3600, description="longest time one MLflow call may take (a search, a "
        "batch of metrics, one folder of artifacts) before log-run gives up with one line; "
        "raise it to upload large artifacts over a slow link"
    )
