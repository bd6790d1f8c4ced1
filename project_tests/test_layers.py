"""The engine's layers: every import of grader/ and assignments/ runs down this order (or stays in its layer), and no
import comes back round. A new module is placed in a layer here before it can import anything."""

import graphlib

from test_engine_seam import _imports, _modules

# Bottom first. A module belongs to the layer of its longest prefix here (grader.scoring.summary: grader.scoring).
LAYERS = [
    # plain vocabulary: imports nothing of the grader
    (
        "grader",
        "grader.markdown",
        "grader.records",
        "grader.secret",
        "grader.landlock",
        "grader.procfs",
        "grader.assignment",
    ),
    ("grader.settings", "grader.version", "grader.terminal"),
    ("grader.notebook",),  # reads a notebook's text (only inside the children)
    ("grader.sandbox",),  # the parent's side of the children
    ("grader.scoring",),  # the parent scores the children's plain data
    ("grader.kit",),  # the names an author's rubric imports, over the scoring
    ("grader.grade",),  # one grading
    ("grader.__main__", "grader.serve"),  # its doors: the command line, the warm server
    ("grader.report",),  # the staff's pages
    ("grader.batch",),  # a class
    ("grader.one",),  # make grade: one notebook as the batch grades it
    ("grader.child",),  # the children's entry points: started by name, imported by no parent module
    ("assignments",),  # an assignment's rubric over the engine, its probes over the child's helpers
]


def layer_of(module: str) -> int:
    prefixes = [
        (len(p), i) for i, layer in enumerate(LAYERS) for p in layer if module == p or module.startswith(p + ".")
    ]
    assert prefixes, f"{module} is in no layer of test_layers.LAYERS: place it there"
    return max(prefixes)[1]


def _graph() -> dict:
    """{module: the modules it imports}, a package's import of its own submodule left out (no arrow of its own)."""
    modules = _modules()
    return {
        name: {t for t in _imports(name, path, modules) if not name.startswith(t + ".")}
        for name, path in modules.items()
    }


def back_up(graph: dict) -> list:
    return [
        f"{name} ({LAYERS[layer_of(name)][0]}) -> {target} ({LAYERS[layer_of(target)][0]})"
        for name, targets in sorted(graph.items())
        for target in sorted(targets)
        if layer_of(target) > layer_of(name)
    ]


def circle(graph: dict) -> list:
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        return error.args[1]
    return []


def test_every_import_runs_down_the_layers():
    found = back_up(_graph())
    assert not found, "imports back up the layers:\n" + "\n".join(found)


def test_no_import_comes_back_round():
    found = circle(_graph())
    assert not found, "import circle: " + " -> ".join(found)


def test_the_checks_see_an_arrow_back_up_and_a_circle():
    assert back_up({"grader.scoring.summary": {"grader.batch", "grader.version"}}) == [
        "grader.scoring.summary (grader.scoring) -> grader.batch (grader.batch)"
    ]
    assert circle({"grader.version": {"grader.scoring.inputs"}, "grader.scoring.inputs": {"grader.version"}})
