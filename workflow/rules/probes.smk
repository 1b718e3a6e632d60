# Probes (docs/probes.md): every cropper of `croppers:` re-shown a seeded subsample of the
# audit's tuples, changed one way at a time (one job per cropper x probe kind), plus
# counterfactual edits of single images (one job per cropper); one statistics job measures
# them all against each cropper's baseline. A kind's job tracks only its own settings, so
# adding a padding offset reruns the padding jobs and the statistics, nothing else.

PROBE_KINDS = P.probes.kinds()
PROBE_DIR = "results/probes/{cropper}"
PROBE_SUMMARY = "results/probes/summary"
PROBE_METRICS = "results/probes/metrics.json"
PROBE_EDITS = P.probes.edits.images_per_group > 0


rule probe_baseline:
    input:
        unpack(cropper_model_input),
        dataset=DATASET,
        images=DATASET_IMAGES,
        pairs=PAIRS,
        **declared("probe", variant="baseline", only=(
            "seed", "model", "faces", "cropper_options", "probes.tuples_per_comparison",
            "probes.top_k")),
    output:
        f"{PROBE_DIR}/baseline.parquet",
    params:
        model=cropper_model_arg,
    threads: 2
    log:
        "logs/probes/{cropper}/baseline.log",
    shell:
        "cropaudit probe --params params.yaml --kind baseline --cropper {wildcards.cropper}"
        " --dataset {input.dataset} --pairs {input.pairs}{params.model} --out {output}"
        " 2> {log}"


# One rule per probe kind (probe_padding, probe_gap, ...): each tracks only its own
# settings, so DVC and Snakemake rerun exactly the kind that changed.
for _kind in PROBE_KINDS:

    rule:
        name:
            f"probe_{_kind}"
        input:
            unpack(cropper_model_input),
            dataset=DATASET,
            images=DATASET_IMAGES,
            pairs=PAIRS,
            baseline=f"{PROBE_DIR}/baseline.parquet",
            # only grids read face boxes (survival): other kinds do not rerun when faces change
            **({"faces": FACES} if _kind == "grid" else {}),
            **declared("probe", variant=_kind, only=probe_kind_params(_kind)),
        output:
            f"{PROBE_DIR}/{_kind}.parquet",
        params:
            model=cropper_model_arg,
            # the loop variable reaches the command through params: Snakemake evaluates a
            # shell string again when the job runs, after the loop has moved on
            kind=_kind,
            faces=f" --faces {FACES}" if _kind == "grid" else "",
        threads: 2
        log:
            f"logs/probes/{{cropper}}/{_kind}.log",
        shell:
            "cropaudit probe --params params.yaml --kind {params.kind}"
            " --cropper {wildcards.cropper} --dataset {input.dataset} --pairs {input.pairs}"
            " --baseline {input.baseline}{params.faces}{params.model} --out {output}"
            " 2> {log}"


rule probe_edits:
    input:
        unpack(cropper_model_input),
        dataset=DATASET,
        images=DATASET_IMAGES,
        faces=FACES,
        **declared("probe-edits"),
    output:
        f"{PROBE_DIR}/edits.parquet",
    params:
        model=cropper_model_arg,
    threads: 2
    log:
        "logs/probes/{cropper}/edits.log",
    shell:
        "cropaudit probe-edits --params params.yaml --cropper {wildcards.cropper}"
        " --dataset {input.dataset} --faces {input.faces}{params.model} --out {output}"
        " 2> {log}"


PROBE_TABLES = expand(f"{PROBE_DIR}/{{kind}}.parquet", cropper=CROPPERS,
                      kind=["baseline", *PROBE_KINDS])
EDIT_TABLES = expand(f"{PROBE_DIR}/edits.parquet", cropper=CROPPERS) if PROBE_EDITS else []


rule probe_stats:
    input:
        tables=PROBE_TABLES,
        edits=EDIT_TABLES,
        **declared("probe-stats"),
    output:
        folder=directory(PROBE_SUMMARY),
        metrics=PROBE_METRICS,
    params:
        edits=" --edits " + " ".join(EDIT_TABLES) if EDIT_TABLES else "",
    log:
        log_of("probe_stats"),
    shell:
        "cropaudit probe-stats --params params.yaml --tables {input.tables}{params.edits}"
        " --out-dir {output.folder} --metrics {output.metrics}"
        " 2> {log}"
