# Saliency of every composite, scattered over `saliency.shards` jobs and gathered; saliency of
# every dataset image alone; then crops (with face scores) of both.


rule saliency:
    input:
        dataset=DATASET,
        images=DATASET_IMAGES,
        pairs=PAIRS,
        **model_input(),
        **declared("pair-saliency"),
    output:
        shard="results/saliency/shard-{shard}.parquet",
        # written only with saliency.save_composites (the command ignores the folder otherwise)
        **(
            {"composites": directory("results/composites/shard-{shard}")}
            if P.saliency.save_composites
            else {}
        ),
    params:
        model=MODEL_ARG,
        shards=SHARDS,
    threads: SALIENCY_THREADS
    resources:
        mem_mb=4000,
        runtime=120,
    log:
        "logs/saliency/shard-{shard}.log",
    benchmark:
        "logs/benchmarks/saliency/shard-{shard}.tsv"
    shell:
        "cropaudit pair-saliency --params params.yaml --dataset {input.dataset}"
        " --pairs {input.pairs}{params.model} --shard {wildcards.shard} --shards {params.shards}"
        " --composites-dir results/composites/shard-{wildcards.shard} --out {output.shard}"
        " 2> {log}"


rule gather:
    input:
        shards=SHARD_FILES,
        **declared("gather"),
    output:
        OUTCOMES,
    log:
        log_of("gather"),
    shell:
        "cropaudit gather --out {output} {input.shards}" " 2> {log}"


rule image_saliency:
    input:
        dataset=DATASET,
        images=DATASET_IMAGES,
        **model_input(),
        **declared("image-saliency"),
    output:
        IMAGE_SALIENCY,
    params:
        model=MODEL_ARG,
    threads: 2
    log:
        log_of("image_saliency"),
    benchmark:
        benchmark_of("image_saliency")
    shell:
        "cropaudit image-saliency --params params.yaml --dataset {input.dataset}{params.model}"
        " --out {output}"
        " 2> {log}"


rule score_crops:
    input:
        outcomes=OUTCOMES,
        dataset=DATASET,
        faces=FACES,
        image_saliency=IMAGE_SALIENCY,
        **declared("score-crops"),
    output:
        crops=CROPS,
        image_crops=IMAGE_CROPS,
    log:
        log_of("score_crops"),
    benchmark:
        benchmark_of("score_crops")
    shell:
        "cropaudit score-crops --params params.yaml --outcomes {input.outcomes}"
        " --dataset {input.dataset} --faces {input.faces}"
        " --image-saliency {input.image_saliency}"
        " --out {output.crops} --image-crops-out {output.image_crops}"
        " 2> {log}"
