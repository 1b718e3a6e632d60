# The model file, the dataset table with its images, their faces, and the sampled tuples
# every cropper is shown.


rule fetch_model:
    output:
        MODEL,
    params:
        **tracked("fetch-model", "engine"),
    log:
        log_of("fetch_model"),
    shell:
        "cropaudit fetch-model --params {params.config} --out {output} > {log} 2>&1"


rule prepare_data:
    output:
        table=DATASET,
        images=directory(IMAGES),
    params:
        **tracked("prepare-data", "datasets", "engine", "geometry", "imaging"),
        # the user's own images (folder and CSV sources): rebuilt when one changes
        files=pipeline.source_files(P),
    log:
        log_of("prepare_data"),
    benchmark:
        benchmark_of("prepare_data")
    shell:
        "cropaudit prepare-data --params {params.config} --out {output.table} > {log} 2>&1"


rule faces:
    input:
        dataset=DATASET,
        images=IMAGES,
    output:
        FACES,
    params:
        **tracked("faces", "datasets", "engine", "faces", "geometry", "imaging"),
    priority: 10
    log:
        log_of("faces"),
    benchmark:
        benchmark_of("faces")
    shell:
        "cropaudit faces --params {params.config} --dataset {input.dataset} --out {output} > {log} 2>&1"


rule sample_pairs:
    input:
        DATASET,
    output:
        PAIRS,
    params:
        **tracked("sample-pairs", "datasets", "geometry", "stages"),
    log:
        log_of("sample_pairs"),
    shell:
        "cropaudit sample-pairs --params {params.config} --dataset {input} --out {output} > {log} 2>&1"
