# Shared by all rules: the validated parameters, file paths, and what each command reads.

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from cropaudit.commands.declared import code_files, covers, declared_params
from cropaudit.config import parse_params, read_yaml_mapping
from cropaudit.errors import CropauditError
from cropaudit.reporting.tracking import tracking_uri

PARAMS_FILE = "params.yaml"
#: The package's source tree, tracked as each rule's code (docs/workflow.md).
SRC_DIR = Path("src")
#: Where each command's parameter values are kept between runs (see `declared`).
PARAMS_STAMPS = Path(".snakemake/cropaudit/params")


# Jobs run `cropaudit` from the environment Snakemake itself runs in, activated or not.
envvars:
    "PATH",


_SYSTEM_PATH = os.environ["PATH"]
os.environ.update(PATH=os.pathsep.join([str(Path(sys.executable).parent), _SYSTEM_PATH]))


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


def _value(key):
    """A params.yaml value as written there (as DVC compares it), else its default."""
    if key == "*":
        return config
    for tree in (config, _DUMP):
        value = tree
        for part in key.split("."):
            if not isinstance(value, dict) or part not in value:
                break
            value = value[part]
        else:
            return value
    raise KeyError(f"{PARAMS_FILE}: no parameter {key!r}")


def _params_stamp(command, keys):
    """A file holding the values of ``keys``; rewritten only when they change.

    Rules depend on it as an input, so Snakemake reruns a job when the values it reads
    change, by file time, as it does for code and data. Its time is that of params.yaml when
    the values changed: a stage DVC rebuilt after that edit is up to date for Snakemake too
    (Snakemake's own `params:` records would be stale after a DVC run).
    """
    path = PARAMS_STAMPS / f"{command}.json"
    text = json.dumps({k: _value(k) for k in keys}, sort_keys=True, indent=1) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        edited = Path(PARAMS_FILE).stat().st_mtime
        os.utime(tmp, (edited, edited))
        tmp.replace(path)
    return str(path)


def declared(command, only=None, variant=None):
    """Inputs that rerun a rule when what its `cropaudit` command reads changes.

    `params`: the values of the params.yaml keys the command declares (its module's PARAMS);
    `code`: the package source files it can run (cropaudit.commands.declared). The DVC stage
    generated from it lists the same keys as params and the same files as deps.

    A command whose reads depend on its arguments (`cropaudit probe --kind padding` reads
    only `probes.padding`) may narrow its declaration with `only`, under its own `variant`
    name; the keys must lie inside the command's declaration.
    """
    out = {"code": [os.path.relpath(f) for f in code_files(command, SRC_DIR)]}
    keys = declared_params(command, P)
    stamp = command
    if only is not None:
        outside = [k for k in only if not covers(keys, k)]
        if outside:
            raise ValueError(f"`cropaudit {command}` does not declare {outside[0]!r}")
        keys, stamp = tuple(only), f"{command}--{variant}"
    if keys:
        out["params"] = _params_stamp(stamp, keys)
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

# Optional model argument of the commands that use the model, passed as {params.model}.
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


def record_for_dvc():
    """After a successful run, record its stages in dvc.lock, so `dvc repro` has nothing to do.

    Every job of the run's DAG is up to date once Snakemake succeeds; `dvc commit` stores the
    hashes of their deps, params and outs as `dvc repro` would have (without relinking the
    outputs: their times stay as Snakemake wrote them). Skipped outside a DVC project, and when
    dvc.yaml does not match the rules for this params.yaml (run `make dvc.yaml`).
    """
    if not (Path(".dvc").is_dir() and Path("dvc.yaml").is_file()):
        return
    sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))
    import sync_dvc

    jobs = [j for j in workflow.dag.jobs if j.rule.name not in sync_dvc.TARGET_RULES]
    try:
        stages = [sync_dvc.stage_of(j, config, Path.cwd()) for j in jobs]
    except sync_dvc.DriftError as exc:
        print(f"cropaudit: warning: not recorded for DVC: {exc}", file=sys.stderr)
        return
    on_disk = (yaml.safe_load(Path("dvc.yaml").read_text(encoding="utf-8")) or {}).get("stages")
    stale = sorted(s.name for s in stages if (on_disk or {}).get(s.name) != s.as_dict())
    if stale:
        print(
            f"cropaudit: warning: dvc.yaml is stale for stage(s) {', '.join(stale)}; run "
            "`make dvc.yaml`; this run is not recorded in dvc.lock",
            file=sys.stderr,
        )
        return
    names = sorted(s.name for s in stages)
    # Naming stages makes DVC parse dvc.yaml and dvc.lock again for each one (minutes for a
    # full audit); when the run covered every stage, commit them all in one pass instead.
    targets = [] if set(names) == set(on_disk or {}) else names
    proc = subprocess.run(
        ["dvc", "commit", "--force", "--no-relink", "--quiet", *targets],
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        reason = (proc.stderr.strip().splitlines() or ["dvc commit failed"])[-1]
        print(f"cropaudit: warning: not recorded in dvc.lock: {reason}", file=sys.stderr)
    else:
        print(f"cropaudit: recorded {len(names)} stage(s) in dvc.lock (dvc commit)")


# Helpers of the per-cropper and probe rules (croppers.smk, probes.smk).


def cropper_model_input(wildcards):
    """FastGaze's model file for the fastgaze cropper; nothing for the others."""
    return {"model": P.model.path} if wildcards.cropper == "fastgaze" else {}


def cropper_model_arg(wildcards):
    return f" --model {P.model.path}" if wildcards.cropper == "fastgaze" else ""


def probe_kind_params(kind):
    """The params.yaml keys one probe kind reads (its own settings list, and what shapes it)."""
    keys = [f"probes.{kind}"]
    if kind == "padding":
        keys.append("probes.padding_side")
    if kind == "scaling":
        keys.append("probes.scaling_size")
    if kind == "grid":
        keys += ["crops.aspect_ratios", "faces"]
    return keys
