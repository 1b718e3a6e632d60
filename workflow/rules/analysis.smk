# Statistics (bias, face rates), the gaze analysis, figures and the report.


rule stats:
    input:
        outcomes=OUTCOMES,
        faces=FACES,
        dataset=DATASET,
        crops=CROPS,
        image_crops=IMAGE_CROPS,
        **declared("stats"),
    output:
        tables=directory(STATS_DIR),
        metrics=METRICS,
    log:
        log_of("stats"),
    benchmark:
        benchmark_of("stats")
    shell:
        "cropaudit stats --params params.yaml --outcomes {input.outcomes}"
        " --faces {input.faces} --dataset {input.dataset} --crops {input.crops}"
        " --image-crops {input.image_crops}"
        " --out-dir {output.tables} --metrics {output.metrics}"
        " 2> {log}"


rule gaze:
    input:
        dataset=DATASET,
        images=DATASET_IMAGES,
        image_saliency=IMAGE_SALIENCY,
        image_crops=IMAGE_CROPS,
        **declared("gaze"),
    output:
        folder=directory(GAZE_DIR),
        metrics=GAZE_METRICS,
    log:
        log_of("gaze"),
    benchmark:
        benchmark_of("gaze")
    shell:
        "cropaudit gaze --params params.yaml --dataset {input.dataset}"
        " --image-saliency {input.image_saliency} --image-crops {input.image_crops}"
        " --out-dir {output.folder} --metrics {output.metrics}"
        " 2> {log}"


rule plots:
    input:
        stats=STATS_DIR,
        outcomes=OUTCOMES,
        **declared("plots"),
    output:
        directory(FIGURES_DIR),
    log:
        log_of("plots"),
    shell:
        "cropaudit plots --params params.yaml --stats-dir {input.stats}"
        " --outcomes {input.outcomes} --out-dir {output}"
        " 2> {log}"


rule report:
    input:
        stats=STATS_DIR,
        figures=FIGURES_DIR,
        crops=CROPS,
        dataset=DATASET,
        gaze=GAZE_DIR,
        croppers=COMPARISON_DIR,
        probes=PROBE_SUMMARY,
        **model_input(),
        **declared("report"),
    output:
        REPORT,
    params:
        model=MODEL_ARG,
    log:
        log_of("report"),
    shell:
        "cropaudit report --params params.yaml --stats-dir {input.stats}"
        " --figures-dir {input.figures} --crops {input.crops} --dataset {input.dataset}"
        " --gaze-dir {input.gaze} --croppers-dir {input.croppers}"
        " --probes-dir {input.probes}{params.model} --out {output}"
        " 2> {log}"
