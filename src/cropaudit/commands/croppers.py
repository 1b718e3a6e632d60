"""List the croppers an audit can use: built-ins and installed plugins.

One line per cropper: name, version, whether it has a saliency map, licence, peak memory of one
worker on the largest image the default pixel limit allows (a 100 MP PNG;
:mod:`cropaudit.croppers.memory`) and what it does.
Nothing heavy is loaded (no model is built). Plugins register through the entry-point group
``cropaudit.croppers`` (docs/croppers.md); a plugin that cannot be loaded is reported on
stderr. --format json prints one JSON object per cropper.
"""

from __future__ import annotations

import argparse
import json
import sys

HELP = "list available croppers (name, version, map, licence)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["table", "json"], default="table",
                        help="output format (default: an aligned table)")


def run(args: argparse.Namespace) -> int:
    from cropaudit.croppers.memory import cropper_memory_mb
    from cropaudit.croppers.registry import available, builtin_specs, plugin_specs

    builtin = {s.name for s in builtin_specs()}
    _, problems = plugin_specs(builtin)
    rows = [
        {"name": s.name, "version": s.version(), "map": s.has_map, "licence": s.licence,
         "memory_mb": cropper_memory_mb(s.name),
         "origin": "built-in" if s.name in builtin else "plugin", "offline": s.offline,
         "description": s.description}
        for s in available(warn=False).values()
    ]
    if args.format == "json":
        for r in rows:
            sys.stdout.write(json.dumps(r) + "\n")
    else:
        header = {"name": "NAME", "version": "VERSION", "map": "MAP", "licence": "LICENCE",
                  "memory_mb": "PEAK MB", "origin": "ORIGIN", "description": "DESCRIPTION"}
        table = [header] + [{**r, "map": "yes" if r["map"] else "no",
                             "memory_mb": r["memory_mb"] or "?"} for r in rows]
        keys = list(header)
        widths = {k: max(len(str(t[k])) for t in table) for k in keys[:-1]}
        for t in table:
            cells = [str(t[k]).ljust(widths[k]) for k in keys[:-1]] + [str(t[keys[-1]])]
            sys.stdout.write("  ".join(cells).rstrip() + "\n")
    for p in problems:
        print(f"cropaudit croppers: warning: {p}", file=sys.stderr)
    return 0
