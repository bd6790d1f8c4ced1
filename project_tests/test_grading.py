"""End to end: notebooks in, results.json out, through the real run_autograder."""

import nbformat
import pytest
from conftest import (
    BACKPROP,
    FORWARD,
    FULL_MARKS,
    SOLUTION,
    SOURCE,
    TOYMODEL,
    TRAINING,
    WARM_START,
    cell_number,
    code_cells,
    edit_cell,
    grade,
    output_of,
    save,
    scores,
    solution,
)

from assignments.a0.rubric import RUBRIC

SEQUENTIAL_MODEL = (
    "model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Sigmoid())",
    "model = ToyModel()",
)


@pytest.mark.slow(12)
def test_solution_gets_full_marks(tmp_path):
    results = grade(SOLUTION, tmp_path / "results.json")
    assert results["score"] == FULL_MARKS
    assert all(test["status"] == "passed" for test in results["tests"])
    assert "MSE of your trained `model` on the toy data is" in output_of(results, "5.1")
    assert isinstance(results["execution_time"], float)


def test_template_gets_zero_with_reasons(tmp_path):
    results = grade(SOURCE, tmp_path / "results.json")
    assert results["score"] == 0
    assert sorted(scores(results)) == sorted(RUBRIC)
    assert "Cell 33, which defines `forward`, raised `SyntaxError: incomplete input`" in output_of(results, "1.1")
    assert "Cell 37, which defines `backprop`, raised `SyntaxError" in output_of(results, "2.1")
    assert "answer is empty" in output_of(results, "3")
    assert "cell 4 (" in results["output"] and "raises on purpose" in results["output"]


# One mutant per rubric line: (line, code cell, text replaced, replacement, Exercise 5 uses nn.Sequential)
MUTANTS = {
    "1.1": (FORWARD, "return torch.sigmoid(z2)", "return torch.sigmoid(z2).squeeze()", False),
    "1.2": (FORWARD, "h = z1.relu()", "h = z1.sigmoid()", False),
    "2.1": (
        BACKPROP,
        "return W1_grad, B1_grad, W2_grad, B2_grad",
        "return W1_grad.flatten(), B1_grad, W2_grad, B2_grad",
        False,
    ),
    "2.2": (BACKPROP, "B2_grad = z2_grad.sum(0)", "B2_grad = z2_grad.mean(0)", False),
    "2.3": (BACKPROP, "z1_grad = h_grad * (z1 >= 0).float()", "z1_grad = h_grad", False),
    "4.1": (
        TOYMODEL,
        "self.linear2 = nn.Linear(4, 2)",
        "self.linear2 = nn.Linear(4, 2)\n        self.unused = nn.Linear(4, 4)",
        True,
    ),
    "4.2": (
        TOYMODEL,
        "torch.sigmoid(self.linear2(torch.relu(self.linear1(x))))",
        "torch.relu(self.linear2(torch.sigmoid(self.linear1(x))))",
        True,
    ),
    "5.1": (TRAINING, WARM_START, "", False),  # 50 steps from the seed: MSE 0.08
}


@pytest.mark.parametrize("line", sorted(MUTANTS))
def test_each_mutant_loses_exactly_its_line(line, grade_notebook):
    cell, old, new, sequential = MUTANTS[line]
    nb = edit_cell(solution(), cell, old, new)
    if sequential:
        edit_cell(nb, TRAINING, SEQUENTIAL_MODEL[1], SEQUENTIAL_MODEL[0])
    results = grade_notebook(nb)
    lost = {number for number, score in scores(results).items() if score < RUBRIC[number].points}
    assert lost == {line}, {t["number"]: t["output"][:300] for t in results["tests"] if t["number"] in lost}
    assert results["score"] == FULL_MARKS - RUBRIC[line].points


def test_empty_exercise3_answer_is_flagged(grade_notebook):
    nb = solution()
    answer = next(c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("**Answer:**"))
    answer.source = "**Answer:**\n"
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS  # Exercise 3 is worth 0 points here: graded by hand
    test = next(t for t in results["tests"] if t["number"] == "3")
    assert test["status"] == "failed" and "answer is empty" in test["output"]


def test_exercise3_answer_is_shown(grade_notebook):
    results = grade_notebook(solution())
    assert "> Yes, the loss can increase" in output_of(results, "3")


def test_magics_and_shell_lines_do_not_break_grading(grade_notebook):
    nb = solution()
    edit_cell(nb, 1, "import torch", "%matplotlib inline\n%load_ext autoreload\n!pip install torch\nimport torch")
    edit_cell(nb, TRAINING, "torch.manual_seed(0)", "%%time\ntorch.manual_seed(0)")
    edit_cell(
        nb,
        cell_number(nb, "y_hat = forward(X)"),
        "y_hat = forward(X)",
        "%time y_hat = forward(X)\n%timeit -n 3 forward(X)\nfiles = !ls",
    )
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS, results["output"]
    assert "magic `%matplotlib` was skipped" not in results["output"]  # they run, as in Jupyter
    assert "Cell 1: shell command `!pip install torch` was skipped" in results["output"]


def test_a_failing_cell_before_the_exercises_is_reported_and_the_run_goes_on(grade_notebook):
    nb = solution()
    nb.cells.insert(3, nbformat.v4.new_code_cell("print('before')\n1 / 0"))
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS
    assert "cell 2 (`print('before')`): `ZeroDivisionError: division by zero` (line 2)" in results["output"]


@pytest.mark.parametrize("version", [(4, 4), (3, 0)])
def test_older_nbformat_versions_are_graded(version, tmp_path):
    major, minor = version
    nb = solution()
    nb.nbformat_minor = minor
    for cell in nb.cells:
        cell.pop("id", None)
    path = save(nb, tmp_path / "submission", version=major)
    assert nbformat.read(str(path), as_version=nbformat.NO_CONVERT).nbformat == major
    results = grade(path.parent, tmp_path / "results.json")
    assert results["score"] == FULL_MARKS, results["output"]


def test_cells_are_counted_like_jupyter(grade_notebook):
    nb = solution()
    assert code_cells(nb)[32].source.startswith("def forward")
    edit_cell(nb, FORWARD, "return torch.sigmoid(z2)", "return undefined_name")
    results = grade_notebook(nb)
    assert "(cell 33, line 6)" in output_of(results, "1.1")


def test_input_gets_eof_and_exit_ends_only_its_cell(grade_notebook):
    nb = solution()
    nb.cells.insert(3, nbformat.v4.new_code_cell("name = input('Your name? ')"))
    nb.cells.insert(4, nbformat.v4.new_code_cell("import sys\nsys.exit()\nprint('not printed')"))
    nb.cells.insert(5, nbformat.v4.new_code_cell("exit(3)"))
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS
    assert "cell 2 (`name = input('Your name? ')`): `EOFError" in results["output"]
    assert "cell 3 (`import sys`): called `exit()`" in results["output"]
    assert "cell 4 (`exit(3)`): called `exit()`" in results["output"]


def test_a_child_that_cannot_start_is_the_graders_fault_not_the_students(tmp_path):
    from conftest import sandbox_user

    from grader.grade import grade as grade_in_process
    from grader.settings import Settings

    # Debian's python3 has no torch: the child fails while starting, before any student code runs.
    results = grade_in_process(
        SOLUTION,
        tmp_path / "results.json",
        Settings(sandbox_user=sandbox_user()),
        python="/usr/bin/python3",
        log_output=False,
    )
    assert results["score"] == 0
    assert "could not start the process that runs notebooks" in output_of(results, "1.1")
    assert "Please tell the course staff" in output_of(results, "5.1")
