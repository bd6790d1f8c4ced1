"""What students and TAs see: messages they can act on, and the rubric's switches."""

import dataclasses

import nbformat
from conftest import BACKPROP, FORWARD, FULL_MARKS, TRAINING, edit_cell, output_of, sandbox_user, save, solution

from assignments.a0 import checks
from assignments.a0.rubric import ASSIGNMENT
from grader.grade import grade
from grader.settings import Settings


def test_fresh_run_that_misses_the_saved_loss_is_explained(grade_notebook):
    nb = edit_cell(solution(warm=False, steps=30), TRAINING, "torch.manual_seed(0)\n", "")
    saved = nb.cells.index(next(c for c in nb.cells if "Exercise 5: Don't modify" in c.get("source", "")))
    nb.cells[saved].outputs = [
        nbformat.v4.new_output(
            "execute_result", {"text/plain": "tensor(0.0031, grad_fn=<MseLossBackward0>)"}, execution_count=54
        )
    ]
    results = grade_notebook(nb)
    message = output_of(results, "5.1")
    assert results["score"] == FULL_MARKS - 4
    assert "saved output shows a loss of 0.0031" in message
    assert "fresh start" in message and "torch.manual_seed(0)" in message


def test_errors_show_the_students_frames_only(grade_notebook):
    nb = edit_cell(solution(), FORWARD, "z1 = x @ W1 + B1", "z1 = x @ W1.T + B1")
    message = output_of(grade_notebook(nb), "1.1")
    assert "`RuntimeError: mat1 and mat2 shapes cannot be multiplied" in message
    assert 'File "cell 33", line 3, in forward' in message and "z1 = x @ W1.T + B1" in message
    assert "grader" not in message and "probes" not in message


def test_gradient_feedback_names_the_wrong_gradient(grade_notebook):
    nb = edit_cell(solution(), BACKPROP, "B2_grad = z2_grad.sum(0)", "B2_grad = z2_grad.sum(0) * 2")
    message = output_of(grade_notebook(nb), "2.2")
    assert "`W2_grad`: distance to autograd's gradient" in message and "(ok;" in message
    assert "`B2_grad`: distance to autograd's gradient" in message and "(too far;" in message


def test_visibility_and_leaderboard_come_from_the_rubric(tmp_path, monkeypatch):
    lines = [dataclasses.replace(line, visibility="after_due_date") if line.number == "1.2" else line
             for line in ASSIGNMENT.lines]  # fmt: skip
    monkeypatch.setattr(ASSIGNMENT, "lines", tuple(lines))
    monkeypatch.setattr(ASSIGNMENT, "leaderboard", checks.leaderboard)
    notebook = save(solution(), tmp_path / "submission")
    results = grade(notebook, tmp_path / "results.json", Settings(sandbox_user=sandbox_user()), log_output=False)
    visibility = {test["number"]: test.get("visibility", "visible") for test in results["tests"]}
    assert visibility["1.2"] == "after_due_date" and visibility["1.1"] == "visible"
    (entry,) = results["leaderboard"]
    assert entry["name"] == "MSE" and entry["order"] == "asc" and 0 <= entry["value"] < 0.01
    assert results["stdout_visibility"] == "hidden"
