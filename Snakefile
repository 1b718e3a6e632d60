# cropaudit: does a cropper favour one group's faces, by how much, and how sure are we?
#
#   snakemake --cores 2                                   # the audit of params.yaml (the demo)
#   snakemake --cores 2 --configfile config/quick.yaml    # another configuration on top of it
#   snakemake --cores 2 -n                                # what would run, and why
#   snakemake --profile workflow/profiles/slurm           # every job through Slurm
#
# Snakemake is the one pipeline; `dvc repro` runs it stage by stage (dvc.yaml). Every rule is
# one `cropaudit` command; every cropper of `croppers:` goes through the same chain
# (workflow/rules/croppers.smk). docs/workflow.md says what reruns when.

from snakemake.utils import min_version

min_version("9.0")


configfile: "params.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/croppers.smk"
include: "workflow/rules/summary.smk"


PREPARED = [DATASET, IMAGES, FACES, PAIRS] + ([MODEL] if "fastgaze" in CROPPERS else [])
#: Each DVC stage of dvc.yaml runs Snakemake for one of these target lists (its target rule).
DVC_STAGES = {"prepare": PREPARED, "croppers": AUDITED, "report": SUMMARY, "track": RECORDS}


rule all:
    default_target: True
    input:
        PREPARED,
        AUDITED,
        SUMMARY,
        RECORDS,


rule prepare:
    input:
        PREPARED,


rule croppers:
    input:
        AUDITED,


rule summary:
    input:
        SUMMARY,


onstart:
    # DVC versions the model folder (dvc.yaml): it exists even when no cropper needs a model
    Path(MODEL).parent.mkdir(parents=True, exist_ok=True)
    print(f"cropaudit: auditing {', '.join(CROPPERS)} on dataset {P.dataset.dataset_name!r} "
          f"({P.sampling.n} tuples per comparison); report led by {PRIMARY}")


onsuccess:
    dvc_record(workflow.dag.jobs)
    if Path(REPORT).is_file():
        print(f"cropaudit: done. Report: {REPORT}")


onerror:
    print_failed_logs(log)
