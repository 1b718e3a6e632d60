# Every cropper of `croppers:` in params.yaml on the same tuples (results/pairs.parquet):
# saliency, crops, stats and figures per cropper under results/croppers/<name>/, then one
# comparison of all of them and one MLflow parent run with a child run per cropper.
# Adding a cropper to the list adds only its jobs, the comparison and the MLflow record.
# What each rule's command reads (params.yaml keys, source files) comes from its declaration
# (`declared(...)`, cropaudit.commands.declared), as in the other rule files.

import re

CROPPERS = P.croppers
CROPPER_DIR = "results/croppers/{cropper}"
COMPARISON_DIR = "results/croppers/comparison"
COMPARISON_METRICS = "results/croppers/comparison.json"
CROPPER_RUNS = "results/croppers/mlflow-runs.json"


wildcard_constraints:
    cropper="|".join(re.escape(c) for c in CROPPERS),


rule cropper_saliency:
    input:
        unpack(cropper_model_input),
        dataset=DATASET,
        images=DATASET_IMAGES,
        pairs=PAIRS,
        **declared("pair-saliency"),
    output:
        f"{CROPPER_DIR}/saliency-shard.parquet",
    params:
        model=cropper_model_arg,
    threads: 2
    log:
        "logs/croppers/{cropper}/saliency.log",
    shell:
        "cropaudit pair-saliency --params params.yaml --dataset {input.dataset}"
        " --pairs {input.pairs} --cropper {wildcards.cropper}{params.model}"
        " --out {output}"
        " 2> {log}"


rule cropper_gather:
    input:
        shards=f"{CROPPER_DIR}/saliency-shard.parquet",
        **declared("gather"),
    output:
        f"{CROPPER_DIR}/saliency.parquet",
    log:
        "logs/croppers/{cropper}/gather.log",
    shell:
        "cropaudit gather --out {output} {input.shards}" " 2> {log}"


rule cropper_image_saliency:
    input:
        unpack(cropper_model_input),
        dataset=DATASET,
        images=DATASET_IMAGES,
        **declared("image-saliency"),
    output:
        f"{CROPPER_DIR}/image-saliency.parquet",
    params:
        model=cropper_model_arg,
    threads: 2
    log:
        "logs/croppers/{cropper}/image_saliency.log",
    shell:
        "cropaudit image-saliency --params params.yaml --dataset {input.dataset}"
        " --cropper {wildcards.cropper}{params.model} --out {output}"
        " 2> {log}"


rule cropper_crops:
    input:
        outcomes=f"{CROPPER_DIR}/saliency.parquet",
        dataset=DATASET,
        faces=FACES,
        image_saliency=f"{CROPPER_DIR}/image-saliency.parquet",
        **declared("score-crops"),
    output:
        crops=f"{CROPPER_DIR}/crops.parquet",
        image_crops=f"{CROPPER_DIR}/image-crops.parquet",
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
        **declared("stats"),
    output:
        tables=directory(f"{CROPPER_DIR}/stats"),
        metrics=f"{CROPPER_DIR}/metrics.json",
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
        **declared("plots"),
    output:
        directory(f"{CROPPER_DIR}/figures"),
    log:
        "logs/croppers/{cropper}/plots.log",
    shell:
        "cropaudit plots --params params.yaml --stats-dir {input.stats}"
        " --outcomes {input.outcomes} --out-dir {output}"
        " 2> {log}"


rule compare_croppers:
    input:
        expand(f"{CROPPER_DIR}/saliency.parquet", cropper=CROPPERS),
        **declared("compare-croppers"),
    output:
        folder=directory(COMPARISON_DIR),
        metrics=COMPARISON_METRICS,
    params:
        outcomes=" ".join(f"{c}=results/croppers/{c}/saliency.parquet" for c in CROPPERS),
    log:
        log_of("compare_croppers"),
    shell:
        "cropaudit compare-croppers --params params.yaml --outcomes {params.outcomes}"
        " --out-dir {output.folder} --metrics {output.metrics}"
        " 2> {log}"


rule log_croppers:
    input:
        comparison=COMPARISON_DIR,
        metrics=COMPARISON_METRICS,
        croppers=expand(f"{CROPPER_DIR}/metrics.json", cropper=CROPPERS),
        figures=expand(f"{CROPPER_DIR}/figures", cropper=CROPPERS),
        **declared("log-croppers"),
    output:
        CROPPER_RUNS,
    params:
        dirs=" ".join(f"{c}=results/croppers/{c}" for c in CROPPERS),
    log:
        log_of("log_croppers"),
    shell:
        "cropaudit log-croppers --params params.yaml --comparison-dir {input.comparison}"
        " --comparison-metrics {input.metrics} --cropper-dir {params.dirs} --out {output}"
        " 2> {log}"
