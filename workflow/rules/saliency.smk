# Saliency of every composite, scattered over `saliency.shards` jobs and gathered; then crops.


rule saliency:
    input:
        dataset=DATASET,
        images=DATASET_IMAGES,
        pairs=PAIRS,
        **model_input(),
    output:
        shard="results/saliency/shard-{shard}.parquet",
        # written only with saliency.save_composites (the command ignores the folder otherwise)
        **(
            {"composites": directory("results/composites/shard-{shard}")}
            if P.saliency.save_composites
            else {}
        ),
    params:
        **tracked("model"),
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
        " --pairs {input.pairs}{MODEL_ARG} --shard {wildcards.shard} --shards {SHARDS}"
        " --composites-dir results/composites/shard-{wildcards.shard} --out {output.shard}"
        " 2> {log}"


rule gather:
    input:
        SHARD_FILES,
    output:
        OUTCOMES,
    log:
        log_of("gather"),
    shell:
        "cropaudit gather --out {output} {input}" " 2> {log}"


rule score_crops:
    input:
        outcomes=OUTCOMES,
    output:
        CROPS,
    params:
        **tracked("crops"),
    log:
        log_of("score_crops"),
    benchmark:
        benchmark_of("score_crops")
    shell:
        "cropaudit score-crops --params params.yaml --outcomes {input.outcomes} --out {output}"
        " 2> {log}"
