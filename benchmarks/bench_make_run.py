"""Wall time per rule and number of jobs of a workflow run (the README's "The default audit,
rule by rule").

Reads Snakemake's own log of a run (`.snakemake/log/*.snakemake.log`: when each job started
and finished) and prints, per rule, the jobs, their summed and longest wall time, and the
run's total. With --run it first runs the default audit in a fresh folder, as `make run` does
after set-up (`snakemake --cores 2 --logger rich`), and reports that run.

    python benchmarks/bench_make_run.py                 # the latest run of this checkout
    python benchmarks/bench_make_run.py --run /tmp/x    # run the default audit in /tmp/x first
    python benchmarks/bench_make_run.py --log FILE      # one Snakemake log
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")


def job_times(log: Path) -> dict[str, list[float]]:
    """rule -> wall seconds of each of its jobs, from one Snakemake log."""
    started: dict[str, tuple[str, datetime]] = {}
    durations: dict[str, list[float]] = defaultdict(list)
    stamp: datetime | None = None
    rule: str | None = None
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if m := STAMP.match(line):
            stamp = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
        elif m := re.match(r"^(?:local)?rule (\w+):", line):
            rule = m.group(1)
        elif (m := re.match(r"^\s+jobid: (\d+)", line)) and rule and stamp:
            started[m.group(1)] = (rule, stamp)
        elif (m := re.match(r"^Finished jobid: (\d+)", line)) and stamp and m.group(1) in started:
            name, begun = started.pop(m.group(1))
            durations[name].append((stamp - begun).total_seconds())
    return durations


def report(log: Path, wall: float | None = None) -> str:
    durations = job_times(log)
    rows = sorted(durations.items(), key=lambda kv: -sum(kv[1]))
    lines = ["| rule | jobs | summed wall s | longest s |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {rule} | {len(t)} | {sum(t):.0f} | {max(t):.0f} |" for rule, t in rows]
    jobs = sum(len(t) for t in durations.values())
    total = f"{wall:.0f} s" if wall is not None else "see the log's Elapsed time"
    lines.append(f"\n{jobs} jobs; wall time of the run: {total} ({log})")
    return "\n".join(lines)


def run_default_audit(folder: Path) -> float:
    """`snakemake --cores 2 --logger rich` on params.yaml in a fresh folder; its wall seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [str(Path(sys.executable).parent / "snakemake"), "--snakefile", str(ROOT / "Snakefile"),
           "--directory", str(folder), "--cores", "2", "--logger", "rich",
           "--configfile", str(ROOT / "params.yaml")]
    started = time.monotonic()
    subprocess.run(cmd, check=True)
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, metavar="DIR",
                        help="run the default audit in DIR first (fresh folder)")
    parser.add_argument("--log", type=Path, help="a Snakemake log (default: the latest)")
    args = parser.parse_args(argv)
    wall = run_default_audit(args.run) if args.run else None
    where = args.run or ROOT
    logs = sorted((where / ".snakemake" / "log").glob("*.snakemake.log"))
    log = args.log or (logs[-1] if logs else None)
    if log is None:
        parser.error(f"no Snakemake log under {where}/.snakemake/log")
    print(report(log, wall))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
