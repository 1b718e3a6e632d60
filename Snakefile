# cropaudit workflow: audit a saliency cropper for group disparities, end to end.
#
#   snakemake --cores 2                 # everything, on the dataset of params.yaml (default: demo)
#   snakemake --cores 2 -n              # what would run
#   snakemake --executor slurm --jobs 50   # saliency shards as cluster jobs (see README)
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
    print(f"cropaudit: done. Report: {REPORT}; runs: {MLFLOW_UI_HINT}")


onerror:
    print("cropaudit: a step failed; its one-line reason is above, full output in logs/")
