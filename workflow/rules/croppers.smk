# One chain per cropper of `croppers:`, all on the same tuples: saliency of every composite
# (in `saliency.shards` jobs) and of every image alone, crops and face scores, statistics,
# gaze, figures and probes, under results/croppers/<cropper>/. Adding a cropper adds its jobs;
# the cross-cropper summaries (summary.smk) rerun too.
# The cropper jobs ask for 4,000 MB: above every built-in cropper's measured peak at the
# 100 MP image limit (croppers/memory.py: face-center 2,038 MB), and passed on as
# CROPAUDIT_MEMORY_MB so a job's threads fit it where no cgroup limit says (a local run).


wildcard_constraints:
    cropper="|".join(map(re.escape, CROPPERS)),
    shard=r"\d+",


rule pair_saliency:
    input:
        unpack(model_input),
        dataset=DATASET,
        images=IMAGES,
        pairs=PAIRS,
    output:
        f"{CROPPER}/saliency/shard-{{shard}}.parquet",
    params:
        **tracked("pair-saliency", "croppers", "engine", "faces", "geometry", "imaging",
                  "stages", cropper=True),
        model=model_arg,
    priority: 10  # the longest chains start first
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/saliency-{{shard}}.log",
    benchmark:
        f"{BENCHMARKS}/saliency-{{shard}}.tsv"
    shell:
        "CROPAUDIT_MEMORY_MB={resources.mem_mb} cropaudit pair-saliency --params {params.config} --cropper {wildcards.cropper}{params.model}"
        " --dataset {input.dataset} --pairs {input.pairs}"
        f" --shard {{wildcards.shard}} --shards {SHARDS}"
        " --composites-dir results/croppers/{wildcards.cropper}/composites/shard-{wildcards.shard}"
        " --out {output} > {log} 2>&1"


rule gather:
    input:
        expand(f"{CROPPER}/saliency/shard-{{shard}}.parquet", shard=range(SHARDS),
               allow_missing=True),
    output:
        f"{CROPPER}/saliency.parquet",
    params:
        **tracked("gather", "stages"),
    log:
        f"{LOGS}/gather.log",
    shell:
        "cropaudit gather --out {output} {input} > {log} 2>&1"


rule image_saliency:
    input:
        unpack(model_input),
        dataset=DATASET,
        images=IMAGES,
    output:
        f"{CROPPER}/image-saliency.parquet",
    params:
        **tracked("image-saliency", "croppers", "engine", "faces", "geometry", "imaging",
                  "stages", cropper=True),
        model=model_arg,
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/image-saliency.log",
    benchmark:
        f"{BENCHMARKS}/image-saliency.tsv"
    shell:
        "CROPAUDIT_MEMORY_MB={resources.mem_mb} cropaudit image-saliency --params {params.config} --cropper {wildcards.cropper}{params.model}"
        " --dataset {input.dataset} --out {output} > {log} 2>&1"


rule score_crops:
    input:
        outcomes=f"{CROPPER}/saliency.parquet",
        image_saliency=f"{CROPPER}/image-saliency.parquet",
        dataset=DATASET,
        faces=FACES,
    output:
        crops=f"{CROPPER}/crops.parquet",
        image_crops=f"{CROPPER}/image-crops.parquet",
    params:
        **tracked("score-crops", "datasets", "faces", "geometry", "stages"),
    log:
        f"{LOGS}/score-crops.log",
    shell:
        "cropaudit score-crops --params {params.config} --outcomes {input.outcomes}"
        " --dataset {input.dataset} --faces {input.faces}"
        " --image-saliency {input.image_saliency}"
        " --out {output.crops} --image-crops-out {output.image_crops} > {log} 2>&1"


rule stats:
    input:
        outcomes=f"{CROPPER}/saliency.parquet",
        crops=f"{CROPPER}/crops.parquet",
        image_crops=f"{CROPPER}/image-crops.parquet",
        dataset=DATASET,
        faces=FACES,
    output:
        tables=directory(f"{CROPPER}/stats"),
        metrics=f"{CROPPER}/metrics.json",
    params:
        **tracked("stats", "datasets", "faces", "stats"),
    log:
        f"{LOGS}/stats.log",
    benchmark:
        f"{BENCHMARKS}/stats.tsv"
    shell:
        "cropaudit stats --params {params.config} --outcomes {input.outcomes}"
        " --faces {input.faces} --dataset {input.dataset} --crops {input.crops}"
        " --image-crops {input.image_crops}"
        " --out-dir {output.tables} --metrics {output.metrics} > {log} 2>&1"


rule gaze:
    input:
        image_saliency=f"{CROPPER}/image-saliency.parquet",
        image_crops=f"{CROPPER}/image-crops.parquet",
        dataset=DATASET,
        images=IMAGES,
    output:
        folder=directory(f"{CROPPER}/gaze"),
        metrics=f"{CROPPER}/gaze-metrics.json",
    params:
        **tracked("gaze", "datasets", "engine", "faces", "gaze", "geometry", "imaging", "stages",
                  "stats"),
    log:
        f"{LOGS}/gaze.log",
    benchmark:
        f"{BENCHMARKS}/gaze.tsv"
    shell:
        "cropaudit gaze --params {params.config} --dataset {input.dataset}"
        " --image-saliency {input.image_saliency} --image-crops {input.image_crops}"
        " --out-dir {output.folder} --metrics {output.metrics} > {log} 2>&1"


rule plots:
    input:
        stats=f"{CROPPER}/stats",
        outcomes=f"{CROPPER}/saliency.parquet",
    output:
        directory(f"{CROPPER}/figures"),
    params:
        **tracked("plots", "reporting", "stats"),
    log:
        f"{LOGS}/plots.log",
    shell:
        "cropaudit plots --params {params.config} --stats-dir {input.stats}"
        " --outcomes {input.outcomes} --out-dir {output} > {log} 2>&1"


rule probe:
    input:
        unpack(model_input),
        dataset=DATASET,
        images=IMAGES,
        pairs=PAIRS,
        faces=FACES,
    output:
        f"{CROPPER}/probes.parquet",
    params:
        **tracked("probe", "croppers", "engine", "faces", "geometry", "imaging", "probes",
                  "stages", cropper=True),
        model=model_arg,
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/probe.log",
    benchmark:
        f"{BENCHMARKS}/probe.tsv"
    shell:
        "CROPAUDIT_MEMORY_MB={resources.mem_mb} cropaudit probe --params {params.config} --cropper {wildcards.cropper}{params.model}"
        " --dataset {input.dataset} --pairs {input.pairs} --faces {input.faces}"
        " --out {output} > {log} 2>&1"


rule probe_edits:
    input:
        unpack(model_input),
        dataset=DATASET,
        images=IMAGES,
        faces=FACES,
    output:
        f"{CROPPER}/probe-edits.parquet",
    params:
        **tracked("probe-edits", "croppers", "engine", "faces", "geometry", "imaging",
                  "probes", "stages", cropper=True),
        model=model_arg,
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/probe-edits.log",
    benchmark:
        f"{BENCHMARKS}/probe-edits.tsv"
    shell:
        "CROPAUDIT_MEMORY_MB={resources.mem_mb} cropaudit probe-edits --params {params.config} --cropper {wildcards.cropper}{params.model}"
        " --dataset {input.dataset} --faces {input.faces} --out {output} > {log} 2>&1"


AUDITED = [f for c in CROPPERS for f in cropper_results(c)]
