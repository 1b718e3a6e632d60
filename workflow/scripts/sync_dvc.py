"""Generate dvc.yaml from the Snakemake workflow, so the two can never drift.

The Snakefile is the single source of truth. This script builds the workflow's DAG with
Snakemake's own API (for the params.yaml at hand) and turns every job into a DVC stage with the
same command (the rule's shell command minus its ``2> log`` redirection), the same inputs
(deps: data, and the package source files the command runs), outputs (outs) and parameters
(the keys the command declares, cropaudit.commands.declared). What only DVC knows
(which outputs are metrics or plots, artifacts, descriptions) comes from the small tables
below. Snakemake scatter jobs become one DVC stage each (``saliency-0``, ``saliency-1``, ...);
jobs of the per-cropper rules always do (``cropper-saliency-smartcrop``, ...), so adding a
cropper adds stages without renaming the others.

    python workflow/scripts/sync_dvc.py            # rewrite dvc.yaml
    python workflow/scripts/sync_dvc.py --check    # exit 1 (with a diff) if dvc.yaml is stale

The test suite runs ``--check``; so does ``make check-dvc``. Rerun it after changing rules or
``saliency.shards`` / ``dataset`` / ``model.backend`` in params.yaml.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PARAMS_FILE = "params.yaml"
#: The package source tree, relative to the workflow folder (its files are stage deps).
SRC_DIR = "src"
HEADER = (
    "# GENERATED from the Snakefile by workflow/scripts/sync_dvc.py; do not edit by hand.\n"
    "# Regenerate with `make dvc.yaml` after changing workflow rules or the shape-giving\n"
    "# params (saliency.shards, dataset, model.backend); tests fail if this file is stale.\n"
)
#: Outputs DVC shows as metrics / plots rather than caching as data.
METRICS = {"results/metrics.json", "results/gaze-metrics.json", "results/probes/metrics.json"}
#: The figures folder is an uncached output; DVC shows its fixed-name PNGs as top-level plots
#: (listing the folder itself would also pick up Snakemake's ``.snakemake_timestamp``).
FIGURES_DIR = "results/figures"
FIGURES = ("bars.png", "forest.png", "ecdf.png")
TOGETHER_FIGURE = "together.png"
#: Small bookkeeping outputs that are not worth caching.
UNCACHED = {"results/mlflow-run.json"}
#: Per-cropper outputs (workflow/rules/croppers.smk) treated like their single-run peers.
CROPPER_METRICS = re.compile(r"results/croppers/([^/]+/metrics|comparison)\.json")
CROPPER_FIGURES = re.compile(r"results/croppers/[^/]+/figures")
UNCACHED.add("results/croppers/mlflow-runs.json")
#: Snakemake rules that are only targets, not stages.
TARGET_RULES = {"all"}


@dataclass
class Stage:
    """One DVC stage, built from one Snakemake job."""

    name: str
    cmd: str
    desc: str
    deps: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    outs: list[Any] = field(default_factory=list)
    metrics: list[Any] = field(default_factory=list)
    plots: list[Any] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"desc": self.desc, "cmd": self.cmd}
        for key in ("deps", "params", "outs", "metrics", "plots"):
            value = getattr(self, key)
            if value:
                out[key] = value
        return out


class DriftError(Exception):
    """The workflow breaks a convention the generator relies on."""


def snakemake_jobs(root: Path) -> list[Any]:
    """All jobs of the workflow's DAG (forceall), via Snakemake's API."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import DAGSettings, OutputSettings, ResourceSettings

    with contextlib.redirect_stdout(io.StringIO()), SnakemakeApi(OutputSettings()) as api:
        workflow_api = api.workflow(
            resource_settings=ResourceSettings(cores=1),
            snakefile=root / "Snakefile",
            workdir=root,
        )
        workflow_api.dag(DAGSettings(forceall=True))
        # No public API lists a DAG's jobs; this is what `snakemake --summary` does.
        workflow = workflow_api._workflow
        workflow._prepare_dag(forceall=True, ignore_incomplete=True, lock_warn_only=True)
        workflow._build_dag()
        return list(workflow.dag.jobs)


def command_name(cmd: str) -> str:
    """The ``cropaudit`` sub-command a stage runs."""
    from cropaudit.cli import COMMANDS

    words = cmd.split()
    if len(words) < 2 or words[0] != "cropaudit" or words[1] not in COMMANDS:
        raise DriftError(f"stage command must be `cropaudit <command> ...`: {cmd}")
    return words[1]


def command_help(command: str) -> str:
    """The cropaudit command's one-line help, used as the stage description."""
    from cropaudit.commands.declared import command_module

    return command_module(command).HELP


def params_entries(rule: str, command: str, params_on_disk: dict[str, Any],
                   stamp: str | None = None) -> list[Any]:
    """DVC ``params:``: the keys the command declares it reads (its module's ``PARAMS``), or
    those of a narrowed declaration (``declared(command, only=...)``: the job's params stamp)."""
    from cropaudit.commands.declared import WHOLE_FILE, declared_params
    from cropaudit.config import parse_params

    if stamp is not None and Path(stamp).stem != command:
        keys = tuple(json.loads(Path(stamp).read_text(encoding="utf-8")))
    else:
        keys = declared_params(command, parse_params(params_on_disk, source=PARAMS_FILE))
    if WHOLE_FILE in keys:
        return [{PARAMS_FILE: None}]
    for dotted in keys:
        value: Any = params_on_disk
        for part in dotted.split("."):
            if not isinstance(value, dict) or part not in value:
                raise DriftError(
                    f"rule {rule} runs `cropaudit {command}`, which reads {dotted!r}; "
                    f"{PARAMS_FILE} does not spell it out, and DVC needs every key it tracks "
                    "in the file"
                )
            value = value[part]
    return list(keys)


def declared_inputs(job: Any, command: str, root: Path) -> list[str]:
    """The job's inputs without its params stamp, checked against the command's declaration.

    Rules take these inputs from ``declared("<command>")`` (workflow/rules/common.smk); a rule
    that names another command there, or none, would rerun on the wrong changes.
    """
    from cropaudit.commands.declared import code_files

    named = dict(job.input.items())
    stamp = named.get("params")
    expected_code = [os.path.relpath(f, root) for f in code_files(command, root / SRC_DIR)]
    code = [str(f) for f in named.get("code", [])]
    stem = None if stamp is None else Path(str(stamp)).stem
    if code != expected_code or (stem is not None and stem != command
                                 and not stem.startswith(f"{command}--")):
        raise DriftError(
            f"rule {job.rule.name} runs `cropaudit {command}` but its inputs do not come from "
            f'**declared("{command}")'
        )
    return [str(f) for f in job.input if stamp is None or str(f) != str(stamp)]


def stage_of(job: Any, params_on_disk: dict[str, Any], root: Path) -> Stage:
    """The DVC stage of one Snakemake job (its command, inputs, outputs and params)."""
    rule = job.rule.name
    shellcmd = " ".join(str(job.shellcmd).split())
    logs = list(job.log)
    suffix = f" 2> {logs[0]}" if len(logs) == 1 else None
    if suffix is None or not shellcmd.endswith(suffix):
        raise DriftError(f"rule {rule}: shell command must end with ' 2> {{log}}': {shellcmd}")
    cmd = shellcmd[: -len(suffix)]
    if re.search(r"\{[\w.\[\]]+\}", cmd):
        raise DriftError(f"rule {rule}: unformatted placeholder left in command: {cmd}")
    command = command_name(cmd)
    name = stage_name(rule, job.wildcards_dict)
    stage = Stage(name=name, cmd=cmd, desc=command_help(command))
    stage.deps = declared_inputs(job, command, root)
    stamp = dict(job.input.items()).get("params")
    stage.params = params_entries(rule, command, params_on_disk,
                                  None if stamp is None else str(root / str(stamp)))
    for out in map(str, job.output):
        if out in METRICS or CROPPER_METRICS.fullmatch(out):
            stage.metrics.append({out: {"cache": False}})
        elif out in UNCACHED or out == FIGURES_DIR or CROPPER_FIGURES.fullmatch(out):
            stage.outs.append({out: {"cache": False}})
        else:
            stage.outs.append(out)
    return stage


def stage_name(rule: str, wildcards: dict[str, Any]) -> str:
    """``score_crops`` -> ``score-crops``; scatter jobs get their wildcard (``saliency-0``)."""
    name = rule.replace("_", "-")
    if not wildcards:
        return name
    if len(wildcards) != 1:
        raise DriftError(f"rule {rule}: scatter rules need exactly one wildcard")
    return f"{name}-{next(iter(wildcards.values()))}"


def artifacts(stages: list[Stage], dataset_name: str) -> dict[str, Any]:
    """DVC artifacts: the dataset table, its faces and, when a model file is used, the model."""
    outs = {o for s in stages for o in s.outs if isinstance(o, str)}
    found: dict[str, Any] = {}
    tables = (
        ("images", "dataset", "dataset table of the {!r} images (cropaudit prepare-data)"),
        ("faces", "faces", "face boxes and landmarks of the {!r} images (cropaudit faces)"),
    )
    for stem, kind, desc in tables:
        path = f"data/{dataset_name}/{stem}.parquet"
        if path in outs:
            found[f"{dataset_name}-{kind}".lower().replace("_", "-")] = {
                "path": path,
                "type": "dataset",
                "desc": desc.format(dataset_name),
                "labels": ["cropaudit", stem, dataset_name],
            }
    for out in sorted(o for o in outs if o.endswith(".vxm")):
        found["fastgaze"] = {
            "path": out,
            "type": "model",
            "desc": "Twitter's FastGaze saliency model (Apache-2.0), sha256-verified",
            "labels": ["saliency", "fastgaze"],
        }
    return found


def generate(root: Path = ROOT) -> str:
    """dvc.yaml text for the workflow in ``root`` and its params.yaml."""
    params_on_disk = yaml.safe_load((root / PARAMS_FILE).read_text(encoding="utf-8")) or {}
    jobs = [j for j in snakemake_jobs(root) if j.rule.name not in TARGET_RULES]
    # Stable order: rules in the order they are defined, scatter jobs by wildcard value.
    rule_order = {name: i for i, name in enumerate(_rule_definition_order(jobs))}
    jobs.sort(key=lambda j: (rule_order[j.rule.name], _wildcard_key(j)))
    stages = [stage_of(j, params_on_disk, root) for j in jobs]
    from cropaudit.config import load_params

    dataset_name = load_params(root / PARAMS_FILE).dataset.dataset_name
    doc: dict[str, Any] = {"stages": {s.name: s.as_dict() for s in stages}}
    if any({FIGURES_DIR: {"cache": False}} in s.outs for s in stages):
        names = list(FIGURES)
        if params_on_disk.get("sampling", {}).get("together", True):
            names.append(TOGETHER_FIGURE)
        doc["plots"] = [f"{FIGURES_DIR}/{n}" for n in names]
    found = artifacts(stages, dataset_name)
    if found:
        doc["artifacts"] = found
    return HEADER + yaml.safe_dump(doc, sort_keys=False, width=1000, default_flow_style=False)


def _rule_definition_order(jobs: list[Any]) -> list[str]:
    """Rule names in the order the workflow defines them."""
    workflow_rules = [r.name for r in jobs[0].rule.workflow.rules] if jobs else []
    return [name for name in workflow_rules if name not in TARGET_RULES]


def _wildcard_key(job: Any) -> tuple[Any, ...]:
    values = list(job.wildcards_dict.values())
    return tuple(int(v) if str(v).isdigit() else str(v) for v in values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="workflow folder")
    parser.add_argument("--check", action="store_true", help="only check dvc.yaml is current")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        text = generate(root)
    except DriftError as exc:
        print(f"sync_dvc: error: {exc}", file=sys.stderr)
        return 2
    target = root / "dvc.yaml"
    current = target.read_text(encoding="utf-8") if target.exists() else ""
    if args.check:
        if current == text:
            print("dvc.yaml matches the Snakefile")
            return 0
        diff = difflib.unified_diff(
            current.splitlines(keepends=True), text.splitlines(keepends=True),
            "dvc.yaml (on disk)", "dvc.yaml (from Snakefile)",
        )
        sys.stderr.writelines(diff)
        print("sync_dvc: dvc.yaml is stale: run `make dvc.yaml`", file=sys.stderr)
        return 1
    if current != text:
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    else:
        print("dvc.yaml already up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
