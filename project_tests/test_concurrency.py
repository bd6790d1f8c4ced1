"""Every grading ends clean however many run at once, and gives the same answer every time."""

import concurrent.futures
import json
import re

from conftest import FULL_MARKS, SOURCE, cell_number, edit_cell, run_grader, save, solution

from assignments.a0.rubric import RUBRIC


def run(submission, results, log=None):
    """run_autograder with default options: no pinned sandbox user, so each grading leases its own."""
    done = run_grader(submission, results, "--no-notebook-output", timeout=900)
    if log is not None:
        log.append(re.search(r"child runs as user `([^`]+)`", done.stdout).group(1))
    return json.loads(results.read_text())


def wrong_forward():
    nb = solution()
    return edit_cell(nb, cell_number(nb, "def forward("), "h = z1.relu()", "h = z1.sigmoid()")


def test_four_gradings_at_once_score_as_they_would_alone(tmp_path):
    notebooks = {"solution": solution(), "again": solution(), "wrong_forward": wrong_forward(), "template": None}
    expected = {
        "solution": FULL_MARKS,
        "again": FULL_MARKS,
        "wrong_forward": FULL_MARKS - RUBRIC["1.2"].points,
        "template": 0,
    }
    jobs, users = {}, []
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for name, nb in notebooks.items():
            submission = SOURCE if nb is None else save(nb, tmp_path / name)
            jobs[name] = pool.submit(run, submission, tmp_path / f"{name}.json", users)
    scores = {name: job.result()["score"] for name, job in jobs.items()}
    assert scores == expected
    assert len(set(users)) == 4  # each took a lease of its own; none killed another's processes


def test_regrading_the_same_notebook_gives_the_same_results(tmp_path):
    submission = save(wrong_forward(), tmp_path / "submission")
    first, second = (run(submission, tmp_path / f"{n}.json") for n in (1, 2))
    for results in (first, second):
        results.pop("execution_time")
        results["extra_data"].pop("seconds")
        results["output"] = "\n".join(line for line in results["output"].splitlines() if "**Run:**" not in line)
    assert first == second
    assert "differs from sigmoid" in json.dumps(first)
