"""The package layout keeps its promises: no module reaches upward, config reads only schemas.

Checked on the source text (imports), so a new upward import fails here with the file and the
import named, long before it shows up as an import cycle or a slow ``--help``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import cropaudit
from cropaudit.contracts import COMPARISON_SEP, metric_key

PACKAGE = Path(cropaudit.__file__).parent
#: The table readers see (its first two columns must match :data:`LAYERS`).
LAYOUT_DOC = Path(__file__).resolve().parents[1] / "docs" / "code-layout.md"

#: Layers from the bottom up: a module may import from its own layer and the ones below.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__init__", "errors", "outputs", "contracts", "untrusted", "packaged"),
    ("geometry",),
    ("imaging",),
    ("engine", "datasets", "faces"),
    ("stats", "gaze", "croppers"),
    ("stages", "reporting", "probes"),
    ("config",),
    ("app", "commands", "cli", "__main__", "pipeline", "api", "project", "gate"),
)
LAYER_OF = {name: i for i, names in enumerate(LAYERS) for name in names}
#: Allowed upward imports, each for a reason: ``__init__`` is the public facade (the version,
#: and the API of ``cropaudit.api`` resolved lazily, on first use).
EXEMPT = {("__init__", "cropaudit.api")}


def _section(module: str) -> str:
    """``cropaudit.stats.audit`` -> ``stats``; ``cropaudit.config`` -> ``config``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _runtime_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of every ``cropaudit`` import outside ``if TYPE_CHECKING:`` blocks."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "cropaudit" and node.level == 0:
            # `from cropaudit import api` imports the submodule (the version is no module)
            names = [f"cropaudit.{a.name}" if a.name != "__version__" else "cropaudit"
                     for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out += [(node.lineno, n) for n in names if n.split(".")[0] == "cropaudit"]
    return out


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _upward_imports(path: Path) -> list[str]:
    rel = path.relative_to(PACKAGE)
    section = rel.parts[0].removesuffix(".py")
    here = LAYER_OF[section]
    bad = []
    for line, module in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        target = _section(module)
        if module.endswith(".params"):  # a section's schema may be read from anywhere
            continue
        if (section, module) in EXEMPT:
            continue
        if LAYER_OF.get(target, here) > here:
            bad.append(f"{rel}:{line} imports {module}")
    return bad


def test_every_section_has_a_layer():
    sections = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in _modules()}
    assert sections <= LAYER_OF.keys(), sorted(sections - LAYER_OF.keys())


def test_no_module_imports_from_a_layer_above_its_own():
    bad = [line for p in _modules() for line in _upward_imports(p)]
    assert not bad, "\n".join(bad)


def test_the_layer_check_catches_an_upward_import(tmp_path, monkeypatch):
    fake = tmp_path / "cropaudit"
    (fake / "geometry").mkdir(parents=True)
    (fake / "geometry" / "bad.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from cropaudit.config import Params\n"
        "from cropaudit.stats.params import StatsParams\n"
        "from cropaudit.stages.pair_saliency import run_shard\n"
    )
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    assert _upward_imports(fake / "geometry" / "bad.py") == [
        "geometry/bad.py:5 imports cropaudit.stages.pair_saliency"
    ]


def documented_layers(text: str) -> list[tuple[int, set[str]]]:
    """(layer, section names) of each row of the doc's layer table: ``| 2 | `imaging/` | ...``."""
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \|", text, flags=re.MULTILINE)
    return [(int(n), {name.removesuffix("/").removesuffix(".py")
                      for name in re.findall(r"`([^`]+)`", cell)}) for n, cell in rows]


def test_the_documented_layer_table_is_the_one_checked_here():
    documented = documented_layers(LAYOUT_DOC.read_text(encoding="utf-8"))
    assert documented == [(i, set(names)) for i, names in enumerate(LAYERS)]


def test_the_layer_table_reader_sees_a_missing_folder():
    text = "| 0 | `errors.py`, `__init__.py` | x |\n| 1 | `geometry/` | y |\n"
    assert documented_layers(text) == [(0, {"errors", "__init__"}), (1, {"geometry"})]
    assert documented_layers(text) != [(i, set(names)) for i, names in enumerate(LAYERS)]


def test_config_imports_only_the_sections_schemas():
    tree = ast.parse((PACKAGE / "config.py").read_text(encoding="utf-8"))
    modules = {m for _, m in _runtime_imports(tree)}
    others = sorted(m for m in modules if not m.endswith(".params") and m != "cropaudit.errors")
    assert not others, f"config.py imports more than params schemas: {others}"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        (f"marked_a{COMPARISON_SEP}plain_a", "marked_a-vs-plain_a"),
        ("cohort:a~b[paper-compatible]", "cohort:a-vs-b_paper-compatible_"),
        ("scores.score p95/ratio (0.56)", "scores.score p95/ratio _0.56_"),
    ],
)
def test_metric_keys_name_comparisons_the_same_everywhere(name, key):
    assert metric_key(name) == key


#: What the report may not import: it renders what the stages computed (their findings/
#: folders, summary.md, tables), so statistics are never recomputed, or computed only, there.
REPORT_MAY_NOT_IMPORT = ("cropaudit.stats", "cropaudit.stages", "cropaudit.faces")


def forbidden_imports(source: str, prefixes: tuple[str, ...]) -> list[str]:
    """Modules under ``prefixes`` that ``source`` imports anywhere (in functions and under
    ``if TYPE_CHECKING:`` too)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found += [n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes)]
    return sorted(set(found))


def test_the_report_only_renders():
    source = (PACKAGE / "reporting" / "report.py").read_text(encoding="utf-8")
    assert forbidden_imports(source, REPORT_MAY_NOT_IMPORT) == []


def test_the_report_rule_sees_imports_inside_functions():
    source = ("def f():\n    from cropaudit.stats.face_rates import wide_rates\n"
              "    import cropaudit.faces.table\n"
              "from cropaudit import stages\nfrom cropaudit.statsmodels_like import x\n")
    assert forbidden_imports(source, REPORT_MAY_NOT_IMPORT) == [
        "cropaudit.faces.table", "cropaudit.stages", "cropaudit.stats.face_rates",
        "cropaudit.stats.face_rates.wide_rates"]


#: The longest a function may be, from its ``def`` line to its last line, docstring included
#: (issue 27): a longer one is split into named steps.
MAX_FUNCTION_LINES = 60


def long_functions(source: str, name: str) -> list[str]:
    """``name:line function (N lines)`` for every function or method of ``source`` longer
    than :data:`MAX_FUNCTION_LINES` (nested ones too)."""
    return [f"{name}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno is not None
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


def test_no_function_is_longer_than_the_limit():
    bad = [line for p in _modules()
           for line in long_functions(p.read_text(encoding="utf-8"),
                                      str(p.relative_to(PACKAGE)))]
    assert not bad, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(bad)


def test_the_length_check_counts_from_def_to_last_line():
    def function(name: str, lines: int, indent: str = "") -> str:
        return f"{indent}def {name}():\n" + f"{indent}    pass\n" * (lines - 1)

    source = (function("fits", MAX_FUNCTION_LINES) + "class C:\n"
              + function("too_long", MAX_FUNCTION_LINES + 1, indent="    "))
    assert long_functions(source, "m.py") == [
        f"m.py:{MAX_FUNCTION_LINES + 2} too_long ({MAX_FUNCTION_LINES + 1} lines)"]
