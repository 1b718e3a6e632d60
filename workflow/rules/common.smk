# Shared by all the rules: the validated configuration, the file layout, and what makes a job
# rerun (docs/workflow.md).

import os
import re
import subprocess
import sys
from pathlib import Path

from cropaudit import pipeline
from cropaudit.errors import CropauditError


# Jobs run `cropaudit` from the environment Snakemake itself runs in, activated or not.
envvars:
    "PATH",


_SYSTEM_PATH = os.environ["PATH"]
os.environ.update(PATH=os.pathsep.join([str(Path(sys.executable).parent), _SYSTEM_PATH]))

# The configuration is params.yaml merged with any --configfile and --config; each command
# reads the merged file (CONFIG), validated here once so that a bad value stops the run
# before any job, in one line.
CONFIG_SOURCES = " + ".join(os.path.relpath(f) for f in workflow.configfiles) or "--config"
try:
    pipeline.check_config_files(workflow.configfiles)
    P = pipeline.effective_params(config, source=CONFIG_SOURCES)
except CropauditError as exc:
    sys.exit(f"cropaudit: error: {exc}")
CONFIG = str(pipeline.write_config(config))


def tracked(command, *parts, cropper=False):
    """A rule's `params:`: the settings its command reads and the code it runs.

    Snakemake reruns a job when either differs from its last run (its rerun triggers);
    `parts` names the package parts the command runs (cropaudit.pipeline.PARTS). A rule
    keyed by {cropper} adds that cropper's own settings and code. `config` is the file the
    command reads (`{params.config}` in shell commands: used as a module, Snakemake formats
    them with the including Snakefile's globals, where CONFIG is unknown).
    """
    if cropper:
        return {
            "config": CONFIG,
            "settings": lambda w: pipeline.settings(command, P, w.cropper),
            "code": lambda w: pipeline.code_identity(command, parts, w.cropper),
        }
    settings = pipeline.settings(command, P)
    return {
        "config": CONFIG,
        # a function: Snakemake would read braces in the values (a folder source's pattern
        # "{race}/{gender}/*") as wildcards in a string
        "settings": lambda w: settings,
        "code": pipeline.code_identity(command, parts),
    }


def log_of(name):
    return f"logs/{name}.log"


def benchmark_of(name):
    return f"logs/benchmarks/{name}.tsv"


# Files passed between stages (docs/data-contracts.md).
DATA = f"data/{P.dataset.dataset_name}"
DATASET = f"{DATA}/images.parquet"
IMAGES = f"{DATA}/images"
FACES = f"{DATA}/faces.parquet"
MODEL = P.model.path
PAIRS = "results/pairs.parquet"
CROPPERS = P.croppers
PRIMARY = P.primary_cropper
SHARDS = P.saliency.shards
#: One cropper's results; every rule keyed by {cropper} writes under it.
CROPPER = "results/croppers/{cropper}"
LOGS = "logs/croppers/{cropper}"
BENCHMARKS = "logs/benchmarks/croppers/{cropper}"
PROBE_EDITS = P.probes.edits.images_per_group > 0


def cropper_results(cropper):
    """What one cropper's chain leaves behind (the targets of the `croppers` rule)."""
    folder = CROPPER.format(cropper=cropper)
    out = [f"{folder}/{name}" for name in ("stats", "metrics.json", "gaze", "gaze-metrics.json",
                                            "figures", "probes.parquet")]
    return out + ([f"{folder}/probe-edits.parquet"] if PROBE_EDITS else [])


def per_cropper(name):
    """One file or folder of every cropper's results."""
    return expand(f"{CROPPER}/{name}", cropper=CROPPERS)


def model_input(wildcards):
    """FastGaze's model file, for the fastgaze cropper only."""
    return {"model": MODEL} if wildcards.cropper == "fastgaze" else {}


def model_arg(wildcards):
    return f" --model {MODEL}" if wildcards.cropper == "fastgaze" else ""


def dvc_record(jobs):
    """After a successful run: record in dvc.lock the DVC stages this run brought up to date,
    so `dvc repro` has nothing to do. Skipped outside a DVC project and inside a DVC stage
    (DVC records its own). A stage counts when every target of it was in this run's DAG."""
    if "DVC_STAGE" in os.environ or not (Path(".dvc").is_dir() and Path("dvc.yaml").is_file()):
        return
    built = {str(f) for job in jobs for f in job.output}
    stages = [name for name, targets in DVC_STAGES.items() if set(map(str, targets)) <= built]
    if not stages:
        return
    proc = subprocess.run(
        ["dvc", "commit", "--force", "--no-relink", "--quiet", *stages], capture_output=True, text=True
    )
    if proc.returncode:
        reason = (proc.stderr.strip().splitlines() or ["dvc commit failed"])[-1]
        print(f"cropaudit: warning: not recorded in dvc.lock: {reason}", file=sys.stderr)
    else:
        print(f"cropaudit: recorded DVC stage(s) {', '.join(stages)} in dvc.lock")


def print_failed_logs(snakemake_logs):
    """Show the end of each failed job's log (every job writes its stderr to logs/)."""
    failed = []
    for snakemake_log in snakemake_logs if isinstance(snakemake_logs, list) else [snakemake_logs]:
        text = Path(snakemake_log).read_text(encoding="utf-8", errors="replace")
        for names in re.findall(r"^\s+log: (.+?) \(check log file", text, re.M):
            failed += [n for n in names.split(", ") if n not in failed]
    for job_log in failed:
        path = Path(job_log)
        lines = path.read_text(errors="replace").strip().splitlines() if path.is_file() else []
        tail = [f"    {line}" for line in lines[-5:]] or ["    (empty)"]
        print(f"cropaudit: {job_log} ends with:", *tail, sep="\n", file=sys.stderr)
    where = "the end of its log is above" if failed else "see logs/"
    print(f"cropaudit: a step failed; {where}", file=sys.stderr)
