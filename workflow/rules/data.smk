# The model file, the dataset table, its faces, and the sampled tuples.


rule fetch_model:
    input:
        **declared("fetch-model"),
    output:
        MODEL or "models/fastgaze.vxm",
    log:
        log_of("fetch_model"),
    shell:
        "cropaudit fetch-model --params params.yaml --out {output}" " 2> {log}"


rule prepare_data:
    input:
        **declared("prepare-data"),
    output:
        table=DATASET,
        images=directory(DATASET_IMAGES),
    log:
        log_of("prepare_data"),
    benchmark:
        benchmark_of("prepare_data")
    shell:
        "cropaudit prepare-data --params params.yaml --out {output.table}" " 2> {log}"


rule faces:
    input:
        dataset=DATASET,
        images=DATASET_IMAGES,
        **declared("faces"),
    output:
        FACES,
    log:
        log_of("faces"),
    benchmark:
        benchmark_of("faces")
    shell:
        "cropaudit faces --params params.yaml --dataset {input.dataset} --out {output}"
        " 2> {log}"


rule sample_pairs:
    input:
        dataset=DATASET,
        **declared("sample-pairs"),
    output:
        PAIRS,
    log:
        log_of("sample_pairs"),
    shell:
        "cropaudit sample-pairs --params params.yaml --dataset {input.dataset} --out {output}"
        " 2> {log}"
