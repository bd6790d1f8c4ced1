"""A second assignment (project_tests/tiny: one function, one trained parameter) graded end to end by the same
engine: its package dropped into a copy's assignments/ and named by GRADER_ASSIGNMENT, nothing of grader/ changed."""

import json
import os
import shutil
import subprocess

import jsonschema
import pytest
from conftest import ROOT, SCHEMA, sandbox_user

TINY = ROOT / "project_tests" / "tiny"


@pytest.fixture(scope="module")
def grader_copy(tmp_path_factory):
    copy = tmp_path_factory.mktemp("tiny") / "grader-copy"
    copy.mkdir()
    for name in ("grader", "assignments"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(TINY / "assignment", copy / "assignments" / "tiny", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "run_autograder", copy / "run_autograder")
    os.symlink(os.path.realpath(ROOT / ".venv"), copy / ".venv")
    return copy


def _grade(copy, notebook, tmp_path) -> dict:
    folder = tmp_path / "submission"
    folder.mkdir()
    shutil.copy(notebook, folder / "tiny.ipynb")
    results = tmp_path / "results.json"
    done = subprocess.run(
        [str(copy / "run_autograder"), "--submission", str(folder), "--results", str(results), "--quiet"]
        + ["--sandbox-user", sandbox_user()],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "GRADER_ASSIGNMENT": "assignments.tiny"},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    data = json.loads(results.read_text())
    jsonschema.validate(data, SCHEMA)
    return data


def test_the_tiny_solution_gets_full_marks(grader_copy, tmp_path):
    data = _grade(grader_copy, TINY / "solution.ipynb", tmp_path)
    tests = {t["number"]: t for t in data["tests"]}
    assert sorted(tests) == ["1", "2"]
    assert (
        tests["1"]["name"] == "scale(x) doubles x within 1e-06"
        and tests["1"]["output"] == "`scale(x)` returns `2 * x`."
    )
    assert tests["2"]["output"] == "`w` is 3."
    assert data["score"] == 3


def test_the_tiny_template_scores_nothing_and_says_why(grader_copy, tmp_path):
    data = _grade(grader_copy, TINY / "source.ipynb", tmp_path)
    tests = {t["number"]: t for t in data["tests"]}
    assert data["score"] == 0
    assert "does not return `2 * x`" in tests["1"]["output"]
    assert "`w` is not within 0.01 of 3" in tests["2"]["output"]
