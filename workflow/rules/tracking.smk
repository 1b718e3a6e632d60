# One MLflow run per completed audit (see cropaudit.reporting.tracking).


rule log_run:
    input:
        dataset=DATASET,
        metrics=METRICS,
        gaze_metrics=GAZE_METRICS,
        probe_metrics=PROBE_METRICS,
        probes=PROBE_SUMMARY,
        stats=STATS_DIR,
        gaze=GAZE_DIR,
        figures=FIGURES_DIR,
        report=REPORT,
        **model_input(),
        **declared("log-run"),
    output:
        RUN_RECORD,
    params:
        model=MODEL_ARG,
    log:
        log_of("log_run"),
    shell:
        "cropaudit log-run --params params.yaml --dataset {input.dataset}"
        " --metrics {input.metrics} {input.gaze_metrics} {input.probe_metrics}"
        " --stats-dir {input.stats} --figures-dir {input.figures}"
        " --artifacts {input.gaze} {input.probes}"
        " --report {input.report}{params.model} --out {output}"
        " 2> {log}"
