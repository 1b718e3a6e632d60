# Every cropper of `croppers:` in params.yaml on the same tuples (results/pairs.parquet):
# saliency, crops, stats and figures per cropper under results/croppers/<name>/, then one
# comparison of all of them and one MLflow parent run with a child run per cropper.
# Adding a cropper to the list adds only its jobs, the comparison and the MLflow record.
# Params named with a leading underscore are command arguments, not tracked params.yaml keys.

import re

CROPPERS = P.croppers
CROPPER_DIR = "results/croppers/{cropper}"
COMPARISON_DIR = "results/croppers/comparison"
COMPARISON_METRICS = "results/croppers/comparison.json"
CROPPER_RUNS = "results/croppers/mlflow-runs.json"


wildcard_constraints:
    cropper="|".join(re.escape(c) for c in CROPPERS),


def cropper_model_input(wildcards):
    """FastGaze's model file for the fastgaze cropper; nothing for the others."""
    return {"model": P.model.path} if wildcards.cropper == "fastgaze" else {}


def cropper_model_arg(wildcards):
    return f" --model {P.model.path}" if wildcards.cropper == "fastgaze" else ""


rule cropper_saliency:
    input:
        unpack(cropper_model_input),
        dataset=DATASET,
        images=DATASET_IMAGES,
        pairs=PAIRS,
    output:
        f"{CROPPER_DIR}/saliency-shard.parquet",
    params:
        **tracked("model", "faces", "cropper_options"),
        _model=cropper_model_arg,
    threads: 2
    log:
        "logs/croppers/{cropper}/saliency.log",
    shell:
        "cropaudit pair-saliency --params params.yaml --dataset {input.dataset}"
        " --pairs {input.pairs} --cropper {wildcards.cropper}{params._model}"
        " --out {output}"
        " 2> {log}"


rule cropper_gather:
    input:
        f"{CROPPER_DIR}/saliency-shard.parquet",
    output:
        f"{CROPPER_DIR}/saliency.parquet",
    log:
        "logs/croppers/{cropper}/gather.log",
    shell:
        "cropaudit gather --out {output} {input}" " 2> {log}"


rule cropper_image_saliency:
    input:
        unpack(cropper_model_input),
        dataset=DATASET,
        images=DATASET_IMAGES,
    output:
        f"{CROPPER_DIR}/image-saliency.parquet",
    params:
        **tracked("model", "faces", "cropper_options"),
        _model=cropper_model_arg,
    threads: 2
    log:
        "logs/croppers/{cropper}/image_saliency.log",
    shell:
        "cropaudit image-saliency --params params.yaml --dataset {input.dataset}"
        " --cropper {wildcards.cropper}{params._model} --out {output}"
        " 2> {log}"


rule cropper_crops:
    input:
        outcomes=f"{CROPPER_DIR}/saliency.parquet",
        dataset=DATASET,
        faces=FACES,
        image_saliency=f"{CROPPER_DIR}/image-saliency.parquet",
    output:
        crops=f"{CROPPER_DIR}/crops.parquet",
        image_crops=f"{CROPPER_DIR}/image-crops.parquet",
    params:
        **tracked("crops"),
    log:
        "logs/croppers/{cropper}/crops.log",
    shell:
        "cropaudit score-crops --params params.yaml --outcomes {input.outcomes}"
        " --dataset {input.dataset} --faces {input.faces}"
        " --image-saliency {input.image_saliency}"
        " --out {output.crops} --image-crops-out {output.image_crops}"
        " 2> {log}"


rule cropper_stats:
    input:
        outcomes=f"{CROPPER_DIR}/saliency.parquet",
        faces=FACES,
        dataset=DATASET,
        crops=f"{CROPPER_DIR}/crops.parquet",
        image_crops=f"{CROPPER_DIR}/image-crops.parquet",
    output:
        tables=directory(f"{CROPPER_DIR}/stats"),
        metrics=f"{CROPPER_DIR}/metrics.json",
    params:
        **tracked("stats"),
    log:
        "logs/croppers/{cropper}/stats.log",
    shell:
        "cropaudit stats --params params.yaml --outcomes {input.outcomes}"
        " --faces {input.faces} --dataset {input.dataset} --crops {input.crops}"
        " --image-crops {input.image_crops}"
        " --out-dir {output.tables} --metrics {output.metrics}"
        " 2> {log}"


rule cropper_plots:
    input:
        stats=f"{CROPPER_DIR}/stats",
        outcomes=f"{CROPPER_DIR}/saliency.parquet",
    output:
        directory(f"{CROPPER_DIR}/figures"),
    params:
        **tracked("stats"),
    log:
        "logs/croppers/{cropper}/plots.log",
    shell:
        "cropaudit plots --params params.yaml --stats-dir {input.stats}"
        " --outcomes {input.outcomes} --out-dir {output}"
        " 2> {log}"


rule compare_croppers:
    input:
        expand(f"{CROPPER_DIR}/saliency.parquet", cropper=CROPPERS),
    output:
        folder=directory(COMPARISON_DIR),
        metrics=COMPARISON_METRICS,
    params:
        **tracked("croppers", "seed", "stats.alpha", "stats.bootstrap_resamples"),
        _outcomes=" ".join(f"{c}=results/croppers/{c}/saliency.parquet" for c in CROPPERS),
    log:
        log_of("compare_croppers"),
    shell:
        "cropaudit compare-croppers --params params.yaml --outcomes {params._outcomes}"
        " --out-dir {output.folder} --metrics {output.metrics}"
        " 2> {log}"


rule log_croppers:
    input:
        comparison=COMPARISON_DIR,
        metrics=COMPARISON_METRICS,
        croppers=expand(f"{CROPPER_DIR}/metrics.json", cropper=CROPPERS),
        figures=expand(f"{CROPPER_DIR}/figures", cropper=CROPPERS),
    output:
        CROPPER_RUNS,
    params:
        **tracked("*"),
        _dirs=" ".join(f"{c}=results/croppers/{c}" for c in CROPPERS),
    log:
        log_of("log_croppers"),
    shell:
        "cropaudit log-croppers --params params.yaml --comparison-dir {input.comparison}"
        " --comparison-metrics {input.metrics} --cropper-dir {params._dirs} --out {output}"
        " 2> {log}"
