"""`make template`: the handout students get is made from the solution's markers (tools/template.py), and the shipped
source/A0.ipynb is exactly what it gives."""

import subprocess
import sys

import nbformat
from conftest import ROOT, SOLUTION, SOURCE, code_cells, grader_copy

from tools.template import template, unmarked


def _make(root, *options):
    return subprocess.run(
        [sys.executable, str(root / "tools" / "template.py"), *options],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_shipped_template_is_what_the_solution_gives():
    assert nbformat.writes(template(nbformat.read(SOLUTION, as_version=4))) + "\n" == SOURCE.read_text()
    done = _make(ROOT, "--check")
    assert done.returncode == 0 and "as " in done.stdout, done.stdout + done.stderr


def test_each_marker_leaves_out_what_it_says():
    solution = nbformat.v4.new_notebook()
    solution.cells = [
        nbformat.v4.new_code_cell(
            "def f(x):\n    # TODO\n    y = 2 * x  # BLANK\n    return y  # SOLUTION\n### BEGIN SOLUTION\nz = 1\n"
            "### END SOLUTION\nw = 3",
            execution_count=4,
            outputs=[nbformat.v4.new_output("stream", text="4\n")],
        ),
        nbformat.v4.new_markdown_cell("**Answer:** because.", metadata={"template": "**Answer:**"}),
    ]
    made = template(solution)
    assert made.cells[0].source == "def f(x):\n    # TODO\n    y =\nw = 3"
    assert made.cells[0].outputs == [] and made.cells[0].execution_count is None
    assert made.cells[1].source == "**Answer:**" and "template" not in made.cells[1].metadata
    assert solution.cells[1].metadata["template"] == "**Answer:**"  # the solution itself is not changed
    assert "# SOLUTION" not in unmarked(solution).cells[0].source and "z = 1" in unmarked(solution).cells[0].source


def test_a_template_out_of_step_is_found_and_made_again(tmp_path):
    copy = grader_copy(tmp_path / "grader-copy")
    for folder in ("tools", "solution", "source"):
        subprocess.run(["cp", "-r", str(ROOT / folder), str(copy / folder)], check=True, timeout=60)
    nb = nbformat.read(copy / "solution" / "A0.ipynb", as_version=4)
    cell = next(c for c in code_cells(nb) if c.source.startswith("def forward("))
    cell.source = cell.source.replace("# TODO:", "# TODO: return an (N, 2) tensor")
    nbformat.write(nb, copy / "solution" / "A0.ipynb")
    checked = _make(copy, "--check")
    assert checked.returncode == 1 and "run `make template`" in checked.stdout
    assert _make(copy).returncode == 0 and _make(copy, "--check").returncode == 0
    made = nbformat.read(copy / "source" / "A0.ipynb", as_version=4)
    assert next(c for c in code_cells(made) if c.source.startswith("def forward(")).source == (
        "def forward(x):\n    # TODO: return an (N, 2) tensor"
    )


def test_a_missing_solution_is_refused_with_the_fix(tmp_path):
    copy = grader_copy(tmp_path / "grader-copy")
    subprocess.run(["cp", "-r", str(ROOT / "tools"), str(copy / "tools")], check=True, timeout=60)
    done = _make(copy)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"make template: the solution notebook {copy / 'solution' / 'A0.ipynb'} does not exist: write it, or fix "
        "solution=."
    )
    assert not (copy / "source").exists()
