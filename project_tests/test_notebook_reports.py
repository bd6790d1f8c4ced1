"""What the notebook's own process reports can cost it points, never gain them, and never reaches staff unchecked.
Each attack measured against the grader: no score above the honest one, no flag removed that the parent
or the reader observed, no file for the staff that the grader did not write."""

import base64
import os
import subprocess
import sys
import time

import nbformat
import numpy as np
import pytest
from conftest import BACKPROP, FULL_MARKS, code_cells, output_of, solution
from test_untrusted_records import NOTEBOOK, READY, child_run

from assignments.a0 import staff
from assignments.a0.reference import gradients
from assignments.a0.rubric import ASSIGNMENT, PROBES, RUBRIC
from grader import batch
from grader.sandbox.channel import line_cap, split_lines
from grader.scoring.feedback import CheckFailed
from grader.scoring.submission import Submission

WRONG_BACKPROP = "def backprop(x):\n    return tuple(torch.zeros_like(p) for p in (W1, B1, W2, B2))\n"
REPORTER = "import gc\nREPORTER = next(o for o in gc.get_objects() if type(o).__name__ == 'Reporter')\n"
ENGINE_HELPER = """from torch.autograd import Variable
_run = Variable._execution_engine.run_backward

def _gradients(params, loss):
    return _run((loss,), (torch.ones(()),), False, False, tuple(params), False, False)
"""
ENGINE_BACKPROP = """def backprop(x):
    torch._C._set_grad_enabled(True)
    params = [p.detach().requires_grad_() for p in (W1, B1, W2, B2)]
    w1, b1, w2, b2 = params
    loss = ((torch.sigmoid(torch.relu(x @ w1 + b1) @ w2 + b2) - Y) ** 2).sum()
    grads = _gradients(params, loss)
    torch._C._set_grad_enabled(False)
    return grads
"""
GRAD_FN_BACKPROP = """def backprop(x):
    torch._C._set_grad_enabled(True)
    params = [p.detach().requires_grad_() for p in (W1, B1, W2, B2)]
    w1, b1, w2, b2 = params
    loss = ((torch.sigmoid(torch.relu(x @ w1 + b1) @ w2 + b2) - Y) ** 2).sum()
    grads, stack = {}, [(loss.grad_fn, torch.ones(()))]
    while stack:
        fn, g = stack.pop()
        if fn is None:
            continue
        if hasattr(fn, "variable"):
            v = fn.variable
            grads[id(v)] = grads.get(id(v), 0) + g.sum_to_size(v.shape)
            continue
        outs = fn(g)
        outs = outs if isinstance(outs, tuple) else (outs,)
        stack += [(nxt, o) for (nxt, _), o in zip(fn.next_functions, outs) if o is not None]
    torch._C._set_grad_enabled(False)
    return tuple(grads[id(p)] for p in params)
"""


def with_backprop(source: str, before: str = ""):
    nb = solution()
    code_cells(nb)[BACKPROP - 1].source = source
    if before:
        nb.cells.insert(1, nbformat.v4.new_code_cell(before))
    return nb


@pytest.mark.parametrize(
    "before, backprop, evidence",
    [
        (ENGINE_HELPER, ENGINE_BACKPROP, "_run = Variable._execution_engine.run_backward"),
        ("", GRAD_FN_BACKPROP, "grads, stack = {}, [(loss.grad_fn, torch.ones(()))]"),
    ],
    ids=["engine_entry_point_in_another_cell", "grad_fn_walk"],
)
def test_hidden_autograd_is_flagged_by_the_reader_and_the_runner(grade_notebook, before, backprop, evidence):
    results = grade_notebook(with_backprop(backprop, before))
    facts = results["extra_data"]
    assert results["score"] <= FULL_MARKS
    assert facts["flag_sources"].get("autograd_in_backprop") == "both"
    lines = facts["evidence"]["autograd_in_backprop"]
    assert any(evidence in line for line in lines), lines
    assert any("torch._C._set_grad_enabled(True)" in line for line in lines)
    assert any(line.startswith("runner: autograd's engine evaluated") for line in lines)
    assert "Your `backprop` uses autograd" in output_of(results, "2.3")


def test_the_probes_inputs_are_not_in_memory_while_cells_run(grade_notebook):
    """A first cell that searches the process's memory (gc) for the grader's request finds nothing: the backprop here
    is right only if a cell found the request, so it must score as the honest wrong one does."""
    search = """import gc, sys, os
def _has_request(o):
    try:
        return isinstance(o, dict) and isinstance(o.get("probes"), list)
    except Exception:
        return False
LEAKED = any(_has_request(o) for o in gc.get_objects())
CONFIG_SEEN = "channel_fd" in " ".join(sys.argv) + repr(dict(os.environ))
print("leaked:", LEAKED, "config seen:", CONFIG_SEEN)
"""
    nb = with_backprop(
        "def backprop(x):\n    if LEAKED or CONFIG_SEEN:\n        return _right(x)\n"
        "    return tuple(torch.zeros_like(p) for p in (W1, B1, W2, B2))\n",
        search,
    )
    right = code_cells(solution())[BACKPROP - 1].source.replace("def backprop(", "def _right(")
    nb.cells.insert(2, nbformat.v4.new_code_cell(right))
    results = grade_notebook(nb)
    assert results["score"] == FULL_MARKS - RUBRIC["2.2"].points - RUBRIC["2.3"].points
    assert "autograd_in_backprop" not in results["extra_data"]["flags"]
    assert any("gc.get_objects()" in line for line in results["extra_data"]["evidence"]["reaches_into_grader"])


WRAP_REPORTER = (
    REPORTER
    + """import json
_send = REPORTER.send

def _forged(event, **fields):
    if event == "cell_end" and fields.get("status") != "ok":
        fields = {"cell": fields["cell"], "status": "ok", "seconds": 0.5}
    if event == "record" and "call" in fields.get("data", {}):
        fields["data"]["call"].pop("autograd", None)
    _send(event, **fields)

REPORTER.send = _forged
_send("notebook", info={"readings": {"autograd": []}})
_send("ta_file", name="notebook.html", base64="PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==")
"""
)


def test_a_wrapped_reporter_keeps_the_score_and_the_readers_flag(grade_notebook):
    """A notebook that wraps the runner's reporter to turn 11/15 with flags and failed cells into 15/15 with none
    keeps the honest score, and the reader's autograd flag (with its lines) stays; what the runner says is labelled
    as its own."""
    autograd = code_cells(solution())[BACKPROP - 1].source.replace(
        "def backprop(x):\n", "def backprop(x):\n    loss = ((forward(x) - Y)**2).sum()\n    loss.backward()\n"
    )
    honest = grade_notebook(with_backprop(autograd), "--cell-timeout", "20")
    attacked = grade_notebook(with_backprop(autograd, WRAP_REPORTER), "--cell-timeout", "20")
    assert attacked["score"] <= honest["score"]
    for results in (honest, attacked):  # `loss.backward()` raises under the grader's no_grad: the engine never ran
        facts = results["extra_data"]
        assert facts["flag_sources"]["autograd_in_backprop"] == "reader"
        assert any("loss.backward()" in line for line in facts["evidence"]["autograd_in_backprop"])
    assert honest["extra_data"]["failed_cells"]  # the handout's deliberate error: the notebook's own report
    assert attacked["extra_data"]["failed_cells_reported_by"] == "runner"
    assert "the notebook wrote to the grader's channel" in attacked["output"]
    assert attacked["extra_data"]["flag_sources"]["reaches_into_grader"] == "reader"
    assert "reaches_into_grader" not in honest["extra_data"]["flags"]


def test_forged_files_for_the_staff_are_dropped(grade_notebook, tmp_path):
    forge = REPORTER + "\n".join(
        f"_ = REPORTER.send('ta_file', name={name!r}, base64={data!r})"
        for name, data in [
            ("index.html", base64.b64encode(b"<script>alert(1)</script>").decode()),
            ("regrade-request.html", base64.b64encode(b"<script>alert(2)</script>" + b"x" * 2**20).decode()),
            ("notebook.html", base64.b64encode(b"<script>alert(3)</script>").decode()),
            ("answer-1.png", base64.b64encode(b"<script>alert(4)</script>").decode()),
        ]
    )
    ta = tmp_path / "ta"
    results = grade_notebook(with_backprop(code_cells(solution())[BACKPROP - 1].source, forge), "--ta-files", str(ta))
    assert results["score"] == FULL_MARKS
    assert sorted(p.name for p in ta.iterdir()) == ["notebook.html"]
    page = (ta / "notebook.html").read_text()
    assert page.startswith("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta http-equiv=\"Content-Security")
    assert "<script" not in page and "alert(3)" not in page.replace("alert(3)&lt;", "")
    assert "REPORTER" in page  # the notebook's own code, rendered by the reader as text
    assert "the notebook wrote to the grader's channel" in results["output"]


def test_a_huge_line_on_the_channel_is_dropped_in_linear_time(grade_notebook):
    flood = REPORTER + "import os\nos.write(REPORTER.fd, b'x' * (80 * 2**20))\nos.write(REPORTER.fd, b'\\n')\n"
    results = grade_notebook(with_backprop(code_cells(solution())[BACKPROP - 1].source, flood))
    assert results["score"] == FULL_MARKS
    assert "a line longer than the grader accepts" in results["output"]


def test_split_lines_is_linear_and_caps_a_line():
    cap = line_cap("runner")
    chunk = b"y" * 65536
    started = time.process_time()
    lines = list(split_lines([b'{"a": 1}\n{"b"', *[chunk] * (80 * 16), b'\n{"c": 2}\n', b"tail"], cap))
    assert time.process_time() - started < 10  # re-joining the pending bytes at each chunk took minutes
    assert lines == [b'{"a": 1}', None, b'{"c": 2}']
    assert list(split_lines([b"ab", b"c\nd", b"", b"e\n"], 10)) == [b"abc", b"de"]


def _submission(evidence: list, hint: bool) -> Submission:
    inputs = {name: probe.draw(np.random.default_rng(3)) for name, probe in PROBES.items()}
    data = {k: np.asarray(v) for k, v in inputs["backprop"].items()}
    grads = gradients(data["X"], data["Y"], data["W1"], data["B1"], data["W2"], data["B2"])
    values = [
        {"tensor": {"shape": list(grads[n].shape), "values": [float(v) for v in grads[n].ravel()]}}
        for n in ("W1", "B1", "W2", "B2")
    ]
    seen = {"nodes": 3, "other_threads": False, "names": ["MmBackward0"]} if hint else None
    call = {"value": {"sequence": values}, **({"autograd": seen} if seen else {})}
    runner = [READY, {"event": "cells", "count": 3}, {"event": "cells_done"}]
    runner.append({"event": "record", "probe": "backprop", "data": {"call": call}})
    info = {**NOTEBOOK, "readings": {"autograd": evidence}}
    reading = child_run("reader", [READY, {"event": "notebook", "info": info}])
    return Submission(run=child_run("runner", runner), reading=reading, inputs=inputs)


def test_only_both_observations_together_cost_points_or_reach_the_student(monkeypatch):
    """The "zero" policy takes 2.2 only when the reader and the runner both saw autograd; one alone is for the staff."""
    line, lines = RUBRIC["2.2"], ["cell 9, line 3: loss.backward()"]
    monkeypatch.setitem(ASSIGNMENT.options, "autograd_in_backprop", "zero")
    with pytest.raises(CheckFailed, match="uses autograd") as failure:
        line.check(_submission(lines, hint=True), line)
    assert "loss.backward()" in str(failure.value)
    for alone in (_submission(lines, hint=False), _submission([], hint=True)):
        assert "autograd ran" not in line.check(alone, line) and "uses autograd" not in line.check(alone, line)
    monkeypatch.setitem(ASSIGNMENT.options, "autograd_in_backprop", "flag")
    told = line.check(_submission(lines, hint=True), line)
    assert "reviewed by the course staff" in told and "loss.backward()" in told
    for quiet in (_submission(lines, hint=False), _submission([], hint=True), _submission([], hint=False)):
        assert "uses autograd" not in line.check(quiet, line)
    assert staff.autograd_used(_submission(lines, hint=True))[0] == "both"
    assert staff.autograd_used(_submission(lines, hint=False)) == ("reader", lines)
    seen_by, evidence = staff.autograd_used(_submission([], hint=True))
    assert seen_by == "runner" and evidence[0].startswith("runner: autograd's engine evaluated 3 backward function(s)")
    assert staff.autograd_used(_submission([], hint=False)) is None


def test_a_regrade_leaves_only_the_graders_files(tmp_path):
    out = tmp_path / "submission_1"
    (out / "dir").mkdir(parents=True)
    for name in ("index.html", "notebook.html", "answer-1.png", "results.json", "dir/x"):
        (out / name).write_text("old")
    os.symlink("/etc/passwd", out / "link.html")
    batch.grade_one(tmp_path / "sub", out, "nobody", 60, {}, command=(sys.executable, "-c", "pass"))
    assert sorted(p.name for p in out.iterdir()) == ["dir", "log.txt"]  # the grader writes no folders
    assert subprocess.run(["test", "-e", "/etc/passwd"]).returncode == 0
