"""The workflow through a real Slurm cluster (scripts/services/slurm.sh: munged, slurmctld and
slurmd on this machine) with the repository's profile, `snakemake --profile
workflow/profiles/slurm`: every job is a Slurm job, each cropper's 4 saliency shards included,
and the results equal a local run's (the tiny audit, `tiny_audit`). Prints the measured
overheads (README, "Scaling out")."""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from support.services import TINY_AUDIT
from support.workflow import run, snakemake, write_yaml

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

#: Snakemake's line per submitted job: Slurm job id, "rule" or "group" (the profile's
#: `groups`), its name (a group's names its rules, cut short), its wildcard values joined by
#: "_" (the plugin's log folder: "center_0" for pair_saliency, "center" for a cropper's rule)
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) "
                       r"\(log: \S*/(rule|group)_([\w.]+)/(?:([^/\s]+)/)?\d+\.log")


@pytest.fixture(scope="module")
def slurm_run(services, tiny_audit, tmp_path_factory):
    env = services.start("slurm")
    root = tmp_path_factory.mktemp("slurm") / "audit"
    overlay = write_yaml(root.parent / "tiny-audit.yaml", TINY_AUDIT)
    started = time.monotonic()
    profile = Path(__file__).resolve().parents[1] / "workflow/profiles/slurm"
    proc = snakemake(root, "--profile", str(profile), configs=(overlay,), **env)
    wall = time.monotonic() - started
    log = proc.stdout + proc.stderr
    jobs = [(int(j), kind == "group", name, shard)
            for j, kind, name, shard in SUBMITTED.findall(log)]
    completed = _jobcomp(services.log("slurm", "jobcomp.log"), root)
    return root, wall, jobs, completed, env, log


def _jobcomp(text: str, root: Path) -> dict[int, dict[str, str]]:
    """Slurm's job-completion records (jobcomp/filetxt) of the jobs run in ``root``."""
    records = {}
    for line in text.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if fields.get("WorkDir") == str(root):
            records[int(fields["JobId"])] = fields
    return records


def test_every_job_went_through_slurm(slurm_run):
    root, _, jobs, completed, env, log = slurm_run
    shards = sorted(shard for _, group, name, shard in jobs
                    if name == "pair_saliency" and not group)
    croppers = TINY_AUDIT["croppers"]
    assert shards == sorted(f"{c}_{s}" for c in croppers for s in range(4))
    # nothing but the target rules ran outside Slurm
    assert set(re.findall(r"^localrule (\w+):", log, flags=re.M)) <= {"all", "audit"}
    assert any(group for _, group, _, _ in jobs)  # the profile's light stages, grouped
    ids = [job for job, _, _, _ in jobs]
    assert len(set(ids)) == len(ids)
    # Slurm's own records: each submitted job completed, and the queue still lists them
    assert set(completed) == set(ids)
    assert {r["JobState"] for r in completed.values()} == {"COMPLETED"}
    queue = run(["squeue", "--states=all", "--noheader", "--format=%i %T"], cwd=root, **env)
    listed = dict(line.split() for line in queue.stdout.splitlines())
    assert all(listed.get(str(job)) == "COMPLETED" for job in ids), queue.stdout
    for cropper in croppers:
        for shard in range(4):
            assert (root / f"results/croppers/{cropper}/saliency/shard-{shard}.parquet").is_file()


def test_results_equal_the_local_run(slurm_run, tiny_audit):
    root, _, _, _, _, _ = slurm_run
    local, _ = tiny_audit
    assert (root / "results/metrics.json").read_bytes() == (
        local / "results/metrics.json").read_bytes()
    for cropper in TINY_AUDIT["croppers"]:
        folder = f"results/croppers/{cropper}"
        pd.testing.assert_frame_equal(pd.read_parquet(root / folder / "saliency.parquet"),
                                      pd.read_parquet(local / folder / "saliency.parquet"))
        tables = sorted(p.name for p in (local / folder / "stats").glob("*.csv"))
        assert tables == sorted(p.name for p in (root / folder / "stats").glob("*.csv"))
        for name in tables:
            assert (root / folder / "stats" / name).read_bytes() == (
                local / folder / "stats" / name).read_bytes(), (cropper, name)


def _seconds(record: dict[str, str]) -> float:
    start, end = (datetime.fromisoformat(record[k]) for k in ("StartTime", "EndTime"))
    return (end - start).total_seconds()


def _benchmark_seconds(root: Path, rule: str, wildcards: str) -> float | None:
    """The command's own time, from the rule's benchmark file (rules that write one)."""
    cropper, _, shard = wildcards.rpartition("_") if rule == "pair_saliency" else (
        wildcards, "", "")
    name = {"pair_saliency": f"saliency-{shard}", "faces": "faces",
            "prepare_data": "prepare_data"}.get(rule, rule.replace("_", "-"))
    path = root / "logs/benchmarks" / (f"croppers/{cropper}/{name}.tsv" if cropper
                                       else f"{name}.tsv")
    if not path.is_file():
        return None
    return float(pd.read_csv(path, sep="\t")["s"].iloc[-1])


def test_report_overheads(slurm_run, tiny_audit):
    """Not a speed target: prints what README's "Scaling out" quotes."""
    root, wall, jobs, completed, _, _ = slurm_run
    _, local_wall = tiny_audit
    in_job = []
    for job, group, rule, shard in jobs:
        own = None if group else _benchmark_seconds(root, rule, shard)
        if own is not None:
            in_job.append(_seconds(completed[job]) - own)
    assert in_job
    print(f"\nslurm: {len(jobs)} jobs, wall {wall:.0f} s vs local {local_wall:.0f} s; "
          f"per job: {(wall - local_wall) / len(jobs):.1f} s more wall time; inside a job, "
          f"Slurm run time minus the command's own: mean {sum(in_job) / len(in_job):.1f} s "
          f"(min {min(in_job):.0f}, max {max(in_job):.0f})")
