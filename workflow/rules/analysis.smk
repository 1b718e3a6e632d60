# Statistics, figures and the report.


rule stats:
    input:
        outcomes=OUTCOMES,
    output:
        tables=directory(STATS_DIR),
        metrics=METRICS,
    params:
        **tracked("stats"),
    log:
        log_of("stats"),
    benchmark:
        benchmark_of("stats")
    shell:
        "cropaudit stats --params params.yaml --outcomes {input.outcomes}"
        " --out-dir {output.tables} --metrics {output.metrics}"
        " 2> {log}"


rule plots:
    input:
        stats=STATS_DIR,
        outcomes=OUTCOMES,
    output:
        directory(FIGURES_DIR),
    params:
        **tracked("stats"),
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
        **model_input(),
    output:
        REPORT,
    params:
        # the report prints params.yaml in full, so any change to it redraws the report
        **tracked("*"),
    log:
        log_of("report"),
    shell:
        "cropaudit report --params params.yaml --stats-dir {input.stats}"
        " --figures-dir {input.figures} --crops {input.crops} --dataset {input.dataset}"
        "{MODEL_ARG} --out {output}"
        " 2> {log}"
