# cropaudit workflow: audit a saliency cropper for group disparities, end to end.
#
#   snakemake --cores 2                 # everything, on the dataset of params.yaml (default: demo)
#   snakemake --cores 2 -n              # what would run
#   snakemake --profile workflow/profiles/slurm   # every job through Slurm (README, "Scaling out")
#
# params.yaml is the one configuration (also DVC's params); each rule is one `cropaudit`
# command. dvc.yaml is generated from these rules (workflow/scripts/sync_dvc.py), so the two
# cannot drift.

from snakemake.utils import min_version

min_version("9.0")


configfile: "params.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/saliency.smk"
include: "workflow/rules/croppers.smk"
include: "workflow/rules/probes.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/tracking.smk"


rule all:
    default_target: True
    input:
        REPORT,
        RUN_RECORD,
        CROPPER_RUNS,
        PROBE_METRICS,


onstart:
    print(
        f"cropaudit: auditing dataset {P.dataset.dataset_name!r} with model "
        f"{P.model.backend!r}: {describe_design()}"
    )


onsuccess:
    record_for_dvc()
    print(f"cropaudit: done. Report: {REPORT}; runs: {MLFLOW_UI_HINT}")


onerror:
    # Each stage's stderr goes to logs/<rule>.log: show the end of the failed jobs' logs,
    # found in Snakemake's own log ("log: logs/x.log (check log file(s) ...)").
    import re

    failed_logs = []
    for snakemake_log in log if isinstance(log, list) else [log]:
        text = Path(snakemake_log).read_text(encoding="utf-8", errors="replace")
        for names in re.findall(r"^\s+log: (.+?) \(check log file", text, re.M):
            failed_logs += [n for n in names.split(", ") if n not in failed_logs]
    for job_log in failed_logs:
        path = Path(job_log)
        lines = path.read_text(errors="replace").strip().splitlines() if path.is_file() else []
        tail = [f"    {line}" for line in lines[-5:]] or ["    (empty)"]
        print(f"cropaudit: {job_log} ends with:", *tail, sep="\n", file=sys.stderr)
    where = "the end of its log is above" if failed_logs else "see logs/"
    print(f"cropaudit: a step failed; {where}", file=sys.stderr)
