# What summarises all croppers: their comparison, the probe statistics, the headline metrics
# (the primary cropper's), the report led by the primary cropper, and the MLflow records.

PRIMARY_DIR = CROPPER.format(cropper=PRIMARY)
COMPARISON = "results/comparison"
COMPARISON_METRICS = "results/comparison.json"
PROBES = "results/probes"
PROBE_METRICS = "results/probes.json"
METRICS = "results/metrics.json"
GAZE_METRICS = "results/gaze-metrics.json"
FIGURES = "results/figures"
REPORT = "results/report.html"
RUN_RECORD = "results/mlflow-run.json"
CROPPER_RUNS = "results/mlflow-croppers.json"


rule compare_croppers:
    input:
        per_cropper("saliency.parquet"),
    output:
        folder=directory(COMPARISON),
        metrics=COMPARISON_METRICS,
    params:
        **tracked("compare-croppers", "croppers", "reporting", "stats"),
        outcomes=" ".join(f"{c}={CROPPER.format(cropper=c)}/saliency.parquet" for c in CROPPERS),
    log:
        log_of("compare_croppers"),
    shell:
        "cropaudit compare-croppers --params {params.config} --outcomes {params.outcomes}"
        " --out-dir {output.folder} --metrics {output.metrics} > {log} 2>&1"


rule probe_stats:
    input:
        tables=per_cropper("probes.parquet"),
        edits=per_cropper("probe-edits.parquet") if PROBE_EDITS else [],
    output:
        folder=directory(PROBES),
        metrics=PROBE_METRICS,
    params:
        **tracked("probe-stats", "reporting", "stats"),
        edits=lambda w, input: f" --edits {' '.join(input.edits)}" if input.edits else "",
    log:
        log_of("probe_stats"),
    shell:
        "cropaudit probe-stats --params {params.config} --tables {input.tables}{params.edits}"
        " --out-dir {output.folder} --metrics {output.metrics} > {log} 2>&1"


rule headline:
    input:
        metrics=f"{PRIMARY_DIR}/metrics.json",
        gaze=f"{PRIMARY_DIR}/gaze-metrics.json",
        figures=f"{PRIMARY_DIR}/figures",
    output:
        metrics=METRICS,
        gaze=GAZE_METRICS,
        figures=directory(FIGURES),
    params:
        primary=PRIMARY,
    log:
        log_of("headline"),
    shell:
        "(cp {input.metrics} {output.metrics} && cp {input.gaze} {output.gaze}"
        " && mkdir -p {output.figures} && cp {input.figures}/*.png {output.figures}/) > {log} 2>&1"


rule report:
    input:
        stats=f"{PRIMARY_DIR}/stats",
        figures=f"{PRIMARY_DIR}/figures",
        crops=f"{PRIMARY_DIR}/crops.parquet",
        gaze=f"{PRIMARY_DIR}/gaze",
        dataset=DATASET,
        comparison=COMPARISON,
        probes=PROBES,
        **({"model": MODEL} if PRIMARY == "fastgaze" else {}),
    output:
        REPORT,
    params:
        **tracked("report", "reporting"),
        model=f" --model {MODEL}" if PRIMARY == "fastgaze" else "",
    log:
        log_of("report"),
    shell:
        "cropaudit report --params {params.config} --stats-dir {input.stats}"
        " --figures-dir {input.figures} --crops {input.crops} --dataset {input.dataset}"
        " --gaze-dir {input.gaze} --croppers-dir {input.comparison}"
        " --probes-dir {input.probes}{params.model} --out {output} > {log} 2>&1"


rule log_run:
    input:
        metrics=[METRICS, GAZE_METRICS, PROBE_METRICS],
        stats=f"{PRIMARY_DIR}/stats",
        figures=f"{PRIMARY_DIR}/figures",
        artifacts=[f"{PRIMARY_DIR}/gaze", PROBES],
        report=REPORT,
        dataset=DATASET,
        **({"model": MODEL} if PRIMARY == "fastgaze" else {}),
    output:
        RUN_RECORD,
    params:
        **tracked("log-run", "reporting"),
        model=f" --model {MODEL}" if PRIMARY == "fastgaze" else "",
    log:
        log_of("log_run"),
    shell:
        "cropaudit log-run --params {params.config} --dataset {input.dataset}"
        " --metrics {input.metrics} --stats-dir {input.stats} --figures-dir {input.figures}"
        " --artifacts {input.artifacts} --report {input.report}{params.model}"
        " --out {output} > {log} 2>&1"


rule log_croppers:
    input:
        comparison=COMPARISON,
        metrics=COMPARISON_METRICS,
        croppers=per_cropper("metrics.json"),
        figures=per_cropper("figures"),
        # one MLflow writer at a time: the audit's run first
        after=RUN_RECORD,
    output:
        CROPPER_RUNS,
    params:
        **tracked("log-croppers", "croppers", "reporting"),
        dirs=" ".join(f"{c}={CROPPER.format(cropper=c)}" for c in CROPPERS),
    log:
        log_of("log_croppers"),
    shell:
        "cropaudit log-croppers --params {params.config} --comparison-dir {input.comparison}"
        " --comparison-metrics {input.metrics} --cropper-dir {params.dirs} --out {output}"
        " > {log} 2>&1"


SUMMARY = [COMPARISON, COMPARISON_METRICS, PROBES, PROBE_METRICS, METRICS, GAZE_METRICS,
           FIGURES, REPORT]
RECORDS = [RUN_RECORD, CROPPER_RUNS]
