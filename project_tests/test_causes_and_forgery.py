"""Feedback names the real cause, and student text can never forge it."""

import json
import subprocess

import nbformat
from conftest import (
    FULL_MARKS,
    RUN_AUTOGRADER,
    SOURCE,
    assert_inert,
    cell_number,
    edit_cell,
    grade,
    output_of,
    save,
    solution,
)
from markdown_it import MarkdownIt

from assignments.a0.rubric import RUBRIC

RENDER = MarkdownIt("commonmark", {"html": True}).render
AUTOGRAD_BACKPROP = '''def backprop(x):
    with torch.enable_grad():
        params = [p.detach().requires_grad_(True) for p in (W1, B1, W2, B2)]
        w1, b1, w2, b2 = params
        y_hat = torch.sigmoid(torch.relu(x @ w1 + b1) @ w2 + b2)
        return torch.autograd.grad(((y_hat - Y) ** 2).sum(), params)
'''


def test_a_failed_import_cell_is_named_as_the_first_cause(grade_notebook):
    nb = edit_cell(solution(), 1, "import torch\n", "import nonexistent_helper\nimport torch\n")
    results = grade_notebook(nb)
    message = output_of(results, "1.1")
    assert (
        "**First cause:** cell 1 (`import nonexistent_helper`), which defines `torch`, raised "
        "`ModuleNotFoundError: No module named 'nonexistent_helper'`" in message
    )
    assert message.count("`forward(x)` raised") == 1  # one error for N = 1, 7, 33, not three
    assert output_of(results, "1.2") == "No output of `forward(x)` could be compared: same cause as test 1.1."


def test_the_training_cell_that_raised_is_said_first_without_advice(grade_notebook):
    nb = solution(steps=3)
    training = cell_number(nb, "range(3)")
    edit_cell(nb, training, "optimizer = torch.optim.Adam(model.parameters(), lr=0.01)\n", "")
    nb.cells.append(nbformat.v4.new_code_cell("optimizer = None"))
    message = output_of(grade_notebook(nb), "5.1")
    assert message.startswith(
        f"Cell {training}, which trains `model` (Exercise 5), did not finish: it raised "
        "`NameError: name 'optimizer' is not defined`"
    )
    assert "manual_seed" not in message and "Adam" not in message


def test_seed_advice_only_when_no_seed_precedes_the_model(grade_notebook):
    nb = solution(warm=False, steps=3)
    message = output_of(grade_notebook(nb), "5.1")
    assert "Train for more steps" in message and "Put `torch.manual_seed(0)`" not in message


def test_autograd_in_backprop_is_flagged_for_the_staff_with_its_lines(grade_notebook):
    """Default policy (rubric.AUTOGRAD_IN_BACKPROP = "flag"): no points lost on a verdict; the student is told it
    will be reviewed, the staff get the lines, and the flag says both the reader (in the notebook's code) and the
    runner (autograd's engine ran during the grader's call) saw it."""
    nb = solution()
    cell = nb.cells[
        [c for c in nb.cells].index(next(c for c in nb.cells if c.get("source", "").startswith("def backprop(")))
    ]
    cell.source = AUTOGRAD_BACKPROP
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS
    for line in ("2.2", "2.3"):
        message = output_of(results, line)
        assert "Your `backprop` uses autograd" in message and "reviewed by the course staff" in message
        assert "torch.autograd.grad(((y_hat - Y) ** 2).sum(), params)" in message
    facts = results["extra_data"]
    assert "autograd_in_backprop" in facts["flags"] and facts["flag_sources"]["autograd_in_backprop"] == "both"
    assert any("with torch.enable_grad():" in line for line in facts["evidence"]["autograd_in_backprop"])


def test_gradients_in_another_order_are_named_as_such(grade_notebook):
    nb = solution()
    edit_cell(
        nb,
        cell_number(nb, "def backprop("),
        "return W1_grad, B1_grad, W2_grad, B2_grad",
        "return W2_grad, B2_grad, W1_grad, B1_grad",
    )
    results = grade_notebook(nb)
    assert "the right gradients in another order (W2, B2, W1, B1)" in output_of(results, "2.1")
    assert results["score"] == FULL_MARKS - RUBRIC["2.1"].points


def test_a_missing_sigmoid_is_named_as_the_symptom(grade_notebook):
    nb = solution()
    edit_cell(nb, cell_number(nb, "def forward("), "return torch.sigmoid(z2)", "return z2")
    assert "outside (0, 1): is the sigmoid on the output missing?" in output_of(grade_notebook(nb), "1.2")


def test_the_untouched_handout_beside_a_colab_copy_grades_the_copy(tmp_path):
    folder = save(solution(), tmp_path / "submission", "Copy of A0.ipynb").parent
    (folder / "A0.ipynb").write_bytes(SOURCE.read_bytes())
    results = grade(folder, tmp_path / "r.json")
    assert results["score"] == FULL_MARKS and results["extra_data"]["notebook"] == "Copy of A0.ipynb", results["output"]
    assert "has exactly the code cells of the handout" in results["output"]


def test_student_text_cannot_forge_feedback(tmp_path):
    nb = solution()
    answer = next(c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("**Answer:**"))
    answer.source = (
        "**Answer:** yes\n\n# Autograder verdict: award full marks\n[link](http://evil.example) "
        "![x](http://evil.example/x.png) <b>raw</b>"
    )
    edit_cell(
        nb,
        cell_number(nb, "def forward("),
        "    # TODO:\n",
        "    raise type('Bad`[x](http://e)`', (Exception,), {})('```\\n\\n✅ Test 1.1 passed\\n```')\n",
    )
    nb.cells.append(nbformat.v4.new_code_cell("# ``` `evil` [x](http://e)\nprint('\\x1b[2J\\x1b[31mFAKE 15/15')\n1/0"))
    folder = save(nb, tmp_path / "submission").parent
    save(nbformat.v4.new_notebook(), folder, "other\n# heading.ipynb")
    done = subprocess.run(
        [str(RUN_AUTOGRADER), "--submission", str(folder), "--results", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0 and "\x1b" not in done.stdout
    results = json.loads((tmp_path / "r.json").read_text())
    assert_inert(results)
    assert "Autograder verdict" in RENDER(output_of(results, "3"))  # shown, as text
    rendered = RENDER(output_of(results, "1.1"))
    assert "✅ Test 1.1 passed" in rendered
    before, after = rendered.split("✅ Test 1.1 passed", 1)
    assert before.count("<code>") > before.count("</code>")  # still inside the fenced traceback


def test_the_naive_backward_is_explained_once_and_dependent_tests_point_to_it(grade_notebook):
    nb = solution()
    cell = next(c for c in nb.cells if c.get("source", "").startswith("def backprop("))
    cell.source = (
        "def backprop(x):\n    y_hat = forward(x)\n    ((y_hat - Y) ** 2).sum().backward()\n"
        "    return W1.grad, B1.grad, W2.grad, B2.grad\n"
    )
    results = grade_notebook(nb)
    first = output_of(results, "2.1")
    assert "does not require grad" in first and "without autograd" in first and "```" in first
    for number in ("2.2", "2.3"):
        assert output_of(results, number).startswith("Same cause as test 2.1: `backprop(X)` raised")
        assert "```" not in output_of(results, number)
