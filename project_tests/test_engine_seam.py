"""The engine (grader/) and the assignment (assignments/a0) meet only through grader/assignment.py."""

import ast
import re
from pathlib import Path

import nbformat
from conftest import FULL_MARKS, ROOT, solution

ENGINE = ROOT / "grader"
A0_WORDS = re.compile(r"\b(forward|backprop|ToyModel|W1|B1|W2|B2|A0|assignments\.a0|toy_data|[Ee]xercise ?\d)\b")
# Engine files that still name A0, each for a reason; the list may only shrink (a stale entry fails too).
STILL_NAMING_A0 = {}


def _modules() -> dict:
    """{module name: path} for grader/ and assignments/."""
    found = {}
    for top in ("grader", "assignments"):
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict) -> set:
    """The project's modules `name` imports, anywhere in the file (function-level imports too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            base = f"{base}.{node.module}" if node.level and node.module else (base if node.level else node.module)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        out |= {t for t in targets if t in modules}
    return out - {name}


def test_the_import_graph_has_no_circle():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    state = {}

    def visit(node, trail):
        if state.get(node) == "done":
            return
        assert state.get(node) != "open", "import circle: " + " -> ".join([*trail[trail.index(node) :], node])
        state[node] = "open"
        for target in sorted(graph[node]):
            # importing a package's submodule runs the package's __init__ first; a package importing its own
            # submodule is not a circle of the submodule's making
            if not node.startswith(target + "."):
                visit(target, [*trail, node])
        state[node] = "done"

    for name in sorted(graph):
        visit(name, [])


def test_no_engine_module_imports_an_assignment():
    modules = _modules()
    for name, path in modules.items():
        if name.startswith("grader"):
            assert not {t for t in _imports(name, path, modules) if t.startswith("assignments")}, name


def test_the_rubric_sits_on_top_of_its_assignment():
    modules = _modules()
    for name, path in modules.items():
        if name != "assignments.a0.rubric":
            assert "assignments.a0.rubric" not in _imports(name, path, modules), name


def test_the_engine_names_nothing_of_a0():
    naming = {}
    for path in sorted(ENGINE.rglob("*.py")):
        words = sorted(set(A0_WORDS.findall(path.read_text())))
        if words:
            naming[path.relative_to(ROOT).as_posix()] = words
    assert not naming, f"engine modules name A0 (move it to assignments/a0): {naming}"


def test_the_runner_holds_the_probes_but_not_the_rubric_checks_or_reference(grade_notebook):
    """A notebook could call the grader's own reference if it were in the runner's memory: only probes.py is."""
    nb = solution()
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import sys\n"
            "held = sorted(m for m in sys.modules if m.startswith('assignments'))\n"
            "raise RuntimeError('HELD ' + ' '.join(held))"
        )
    )
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS
    assert "HELD assignments assignments.a0 assignments.a0.probes`" in results["output"]
