# Shared by all rules: the validated parameters, file paths, and `tracked()`.

import os
import sys
from pathlib import Path

from cropaudit.config import parse_params, read_yaml_mapping
from cropaudit.errors import CropauditError
from cropaudit.reporting.tracking import tracking_uri

PARAMS_FILE = "params.yaml"

# Jobs run `cropaudit` from the environment Snakemake itself runs in, activated or not.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])


def _load_validated():
    """Validate params.yaml with cropaudit's own schema; refuse --config overrides.

    The commands read params.yaml themselves (so DVC, a notebook and the shell see the same
    values); a value changed only in Snakemake's config would silently not reach them.
    """
    # Validate the file first (refusing YAML aliases and duplicate keys): comparing a config
    # full of nested aliases with `!=` would take minutes.
    try:
        on_disk = read_yaml_mapping(PARAMS_FILE) or {}
        params = parse_params(on_disk, source=PARAMS_FILE)
    except CropauditError as exc:
        sys.exit(f"cropaudit: error: {exc}")
    if config != on_disk:
        sys.exit(
            f"cropaudit: error: --config/--configfile values differ from {PARAMS_FILE}; "
            f"edit {PARAMS_FILE} instead (the stage commands read it)"
        )
    return params


P = _load_validated()
_DUMP = P.model_dump(mode="json")


def tracked(*keys):
    """The params a rule reads, by dotted key ("*" = the whole file).

    Snakemake reruns a job when these values change; workflow/scripts/sync_dvc.py turns the
    same names into the DVC stage's `params:` list, so both tools rerun the same stages.
    """
    out = {}
    for key in keys:
        if key == "*":
            out["ALL"] = _DUMP
            continue
        value = _DUMP
        for part in key.split("."):
            value = value[part]
        out[key.replace(".", "__")] = value
    return out


def log_of(rule_name):
    return f"logs/{rule_name}.log"


def benchmark_of(rule_name):
    return f"logs/benchmarks/{rule_name}.tsv"


# Files passed between stages (docs/data-contracts.md).
DATASET = f"data/{P.dataset.dataset_name}/images.parquet"
DATASET_IMAGES = f"data/{P.dataset.dataset_name}/images"
MODEL = P.model.path if P.model.backend == "fastgaze" else None
PAIRS = "results/pairs.parquet"
SHARDS = P.saliency.shards
# Local runs share --cores between the shards; cluster executors give no total (use
# --set-threads saliency=N there).
_CORES = workflow.resource_settings.cores
SALIENCY_THREADS = max(1, _CORES // SHARDS) if _CORES else 2
SHARD_FILES = expand("results/saliency/shard-{shard}.parquet", shard=range(SHARDS))
OUTCOMES = "results/saliency.parquet"
CROPS = "results/crops.parquet"
FACES = f"data/{P.dataset.dataset_name}/faces.parquet"
IMAGE_SALIENCY = "results/image-saliency.parquet"
IMAGE_CROPS = "results/image-crops.parquet"
GAZE_DIR = "results/gaze"
GAZE_METRICS = "results/gaze-metrics.json"
STATS_DIR = "results/stats"
METRICS = "results/metrics.json"
FIGURES_DIR = "results/figures"
REPORT = "results/report.html"
RUN_RECORD = "results/mlflow-run.json"

# Optional model argument, used as {MODEL_ARG} in shell commands.
MODEL_ARG = f" --model {MODEL}" if MODEL else ""
MLFLOW_UI_HINT = f"mlflow ui --backend-store-uri {tracking_uri(P.tracking)}"


def model_input():
    return {"model": MODEL} if MODEL else {}


def describe_design():
    s = P.sampling
    orders = "both orders" if s.both_orders else "one order"
    return (
        f"n={s.n} tuples per comparison ({orders}), {s.layout}, scaling {s.scaling}, "
        f"{SHARDS} saliency shard(s)"
    )
