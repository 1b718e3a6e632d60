"""Set up an audit of your own images in a new folder DIR, in the snakemake-workflows layout.

DIR gets config/config.yaml (the images, their groups, the croppers and the probes, over
cropaudit's defaults), workflow/Snakefile (a few lines: the workflow installed with cropaudit
as a Snakemake module), dvc.yaml (four stages, each running the workflow for its part),
audit-gate.yaml (what `cropaudit check` requires), a README, and git and DVC set up (inside an
existing git work tree: a DVC subdirectory project). Then, in DIR:

  snakemake --cores 2                                  # the audit; MLflow logs it
  dvc repro                                            # nothing left to do
  cropaudit check results --spec audit-gate.yaml       # the release gate

--source demo (default) audits the embedded demo dataset. --source folder --images PATH reads
group values from the paths: by default {race}/{gender}/*, or the folders named by
--attributes (--attributes feature cohort: {feature}/{cohort}/*), or --pattern;
--preset utkface reads UTKFace's file names. --source csv --csv FILE reads a manifest with a
`path` column and one column per attribute; --preset fairface reads FairFace's label CSV.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "set up an audit of your own images (config, Snakemake module, DVC, gate) in DIR"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, metavar="DIR", help="new (or empty) project folder")
    parser.add_argument("--source", default=None, metavar="SOURCE",
                        help="demo (default), folder or csv")
    parser.add_argument("--images", metavar="PATH",
                        help="image folder (folder source; csv: base of relative paths)")
    parser.add_argument("--csv", metavar="FILE", help="manifest CSV (csv source)")
    parser.add_argument("--preset", metavar="NAME",
                        help="utkface (folder) or fairface (csv): the dataset's conventions")
    parser.add_argument("--attributes", nargs="+", metavar="NAME",
                        help="attributes forming the groups (default: race gender)")
    parser.add_argument("--pattern", metavar="PATTERN",
                        help="folder layout, e.g. '{race}/{gender}/*' (folder source)")
    parser.add_argument("--croppers", nargs="+", metavar="NAME",
                        help="croppers to audit (default: every built-in one; "
                             "`cropaudit croppers` lists them)")
    parser.add_argument("--name", metavar="NAME",
                        help="dataset name, the folder under data/ (default: from the images)")
    parser.add_argument("--no-vcs", dest="vcs", action="store_false",
                        help="do not run git init / dvc init")


def run(args: argparse.Namespace) -> int:
    from cropaudit.project import audit_config, init_project, source_config
    from cropaudit.untrusted import terminal

    dataset, deps = source_config(
        args.source or "demo", images=args.images, csv_file=args.csv, preset=args.preset,
        attributes=args.attributes, pattern=args.pattern, name=args.name)
    config = audit_config(dataset, croppers=args.croppers)
    root = init_project(args.dir, config, deps, vcs=args.vcs)
    where = terminal(str(root))
    print(f"cropaudit init: wrote an audit project in {where} "
          f"({config['dataset']['source']} source, croppers: {', '.join(config['croppers'])})")
    print(f"next: cd {where} && snakemake --cores 2 && "
          "cropaudit check results --spec audit-gate.yaml")
    return 0
