"""A grader that grades many notebooks (the batch, grader.serve) forks its children from one warm process: they
must grade exactly as children started cold (a single grading, Gradescope), and hold nothing of the warm process."""

import json
import os
import re
import signal

import nbformat
import pytest
from conftest import FORWARD, FULL_MARKS, SERVER, code_cells, edit_cell, grade, job, sandbox_user, save, solution

from grader.sandbox import cleanup
from grader.serve import Server

PROBE = """\
import os, random, stat, tempfile
import numpy as np
kinds = {}
for fd in range(1024):
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        continue
    kinds[fd] = "socket" if stat.S_ISSOCK(mode) else "pipe" if stat.S_ISFIFO(mode) else "other"
print("sockets:", [fd for fd, kind in kinds.items() if kind == "socket"])
print("temporary folder is the scratch folder:", tempfile.gettempdir() == os.environ["HOME"] == os.getcwd())
print("draws:", np.random.rand(), random.random())
"""


def with_probe(nb):
    nb.cells.insert(nb.cells.index(code_cells(nb)[0]) + 1, nbformat.v4.new_code_cell(PROBE))
    return nb


def graded_by(server: Server, nb, folder) -> tuple:
    """(results.json, the grading's log) of one grading by `server`."""
    submission = save(nb, folder / "submission")
    argv = ["--submission", str(submission), "--results", str(folder / "results.json"), "--sandbox-user"]
    assert server.grade(job([*argv, sandbox_user()]), log=folder / "log.txt", timeout=600) == 0
    return json.loads((folder / "results.json").read_text()), (folder / "log.txt").read_text()


def test_a_forked_child_holds_no_socket_of_the_warm_process_and_draws_its_own_numbers(tmp_path):
    # the worker's own grader.serve, whose warm process has forked every child of this worker's earlier gradings
    gradings = [graded_by(SERVER, with_probe(solution()), tmp_path / str(n)) for n in (1, 2)]
    for results, log in gradings:
        assert results["score"] == FULL_MARKS, results["output"]
        assert "forked by the warm start" in log, log[:3000]  # the runner (a cold one says "started cold")
        assert "sockets: []" in log and "temporary folder is the scratch folder: True" in log, log[-5000:]
    first, second = (re.search(r"draws: (.*)", log).group(1) for _, log in gradings)
    assert first != second  # numpy and random seeded afresh in every child, as in a cold one


def seconds(text: str) -> str:
    """The text with how long the run took left out (a warm start is faster)."""
    return re.sub(r"\(\d+\.\d s\)", "(s)", text)


@pytest.mark.slow(16)
def test_a_warm_start_scores_and_explains_as_a_cold_start(tmp_path):
    notebooks = {
        "solution": solution(),
        "sigmoid": edit_cell(solution(), FORWARD, "h = z1.relu()", "h = z1.sigmoid()"),
        "exits": nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os\nos._exit(3)")]),
    }
    warm = {name: graded_by(SERVER, nb, tmp_path / "warm" / name)[0] for name, nb in notebooks.items()}
    for name, nb in notebooks.items():
        folder = tmp_path / "cold" / name
        cold = grade(save(nb, folder / "submission").parent, folder / "results.json", env={})  # run_autograder
        assert [(t["number"], t["score"], t["output"]) for t in warm[name]["tests"]] == [
            (t["number"], t["score"], t["output"]) for t in cold["tests"]
        ], name
        assert seconds(warm[name]["output"]) == seconds(cold["output"]), name


def test_a_warm_process_that_died_is_started_again(tmp_path):
    server = Server()
    try:
        first, _ = graded_by(server, solution(), tmp_path / "1")
        (warm,) = [pid for pid, ppid, _, _ in cleanup._processes() if ppid == server.pid]
        os.kill(warm, signal.SIGKILL)
        second, log = graded_by(server, solution(), tmp_path / "2")
    finally:
        server.close()
    assert first["score"] == second["score"] == FULL_MARKS
    assert "forked by the warm start" in log, log[:3000]
