"""Only the sandbox parses a submission: notebooks built to exhaust a parser end within the time limit
with a valid results.json, and the parent's own memory stays small whatever the notebook."""

import json
import re

import jsonschema
import nbformat
import pytest
from conftest import FULL_MARKS, SCHEMA, assert_inert, run_grader, save, solution

TIMEOUT = 90
PARENT_MB = 300


def grade_logged(submission, tmp_path, *options, cell_timeout=40, run_timeout=TIMEOUT):
    """(results, parent's peak MB) of one grading with a whole-run limit of `run_timeout` seconds."""
    results = tmp_path / "results" / "results.json"
    completed = run_grader(
        submission,
        results,
        "--timeout",
        str(run_timeout),
        "--cell-timeout",
        str(cell_timeout),
        *options,
        timeout=run_timeout + 120,
    )
    data = json.loads(results.read_text())
    jsonschema.validate(data, SCHEMA)
    assert_inert(data)
    peak = int(re.search(r"parent peak memory (\d+) MB", completed.stdout).group(1))
    return data, peak


@pytest.mark.slow(22)
def test_30_mb_of_nested_empty_objects_is_refused_with_a_message(tmp_path):
    path = tmp_path / "submission" / "A0.ipynb"
    path.parent.mkdir()
    depth = 200
    path.write_text(
        '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [], "x": ['
        + ",".join(["[" * depth + "{}" + "]" * depth] * (30_000_000 // (2 * depth + 3)))
        + "]}"
    )
    results, peak = grade_logged(path.parent, tmp_path)
    assert results["score"] == 0 and peak < PARENT_MB
    assert "could not be graded" in results["output"]
    # refused at the 129th level of the first element, before the other 30 MB are parsed
    assert "its JSON is nested too deeply or is too large to read" in results["output"]


@pytest.mark.slow(10)
def test_a_quadratic_answer_and_shell_assignments_do_not_stall_grading(tmp_path):
    nb = solution()
    answer = next(c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("**Answer:**"))
    answer.source = "**Answer:** yes" + "*" * 1_000_000
    # IPython takes 40 CPU-s to transform these lines (each pass re-reads the cell) and then gives up, as Jupyter
    # does: the transform counts in the cell's time, so the cell is stopped at its limit (5 s here, 300 by default)
    nb.cells.insert(3, nbformat.v4.new_code_cell("\n".join(f"x{i} = !echo {i}" for i in range(4000))))
    results, peak = grade_logged(save(nb, tmp_path / "submission").parent, tmp_path, cell_timeout=5)
    assert peak < PARENT_MB
    assert results["score"] == FULL_MARKS, results["output"][:2000]


@pytest.mark.slow(25)
def test_40000_trivial_cells_keep_a_correct_notebooks_points(tmp_path):
    data = json.loads(nbformat.writes(solution()))  # as plain JSON: nbformat would take 16 s to make and check them
    cell = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": "pass"}
    data["cells"][2:2] = [{**cell, "id": f"pass-{n}"} for n in range(40_000)]
    path = tmp_path / "submission" / "A0.ipynb"
    path.parent.mkdir()
    path.write_text(json.dumps(data))
    results, peak = grade_logged(path.parent, tmp_path, run_timeout=240)  # 2 ms a cell beside two busy processes
    assert peak < PARENT_MB
    assert results["score"] == FULL_MARKS, results["output"][:2000]


def test_a_torch_py_beside_the_notebook_does_not_break_the_grader(tmp_path):
    folder = save(solution(), tmp_path / "submission").parent
    (folder / "torch.py").write_text("raise ImportError('a fake torch')\n")
    results, _ = grade_logged(folder, tmp_path)
    assert results["score"] == FULL_MARKS, results["output"][:2000]
    assert "problem of the autograder" not in json.dumps(results)
