"""A second assignment (project_tests/tiny: one function, one trained parameter) graded end to end by the same
engine: its package dropped into a copy's assignments/ and named by GRADER_ASSIGNMENT, nothing of grader/ changed."""

import json
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, grade, grader_copy

TINY = ROOT / "project_tests" / "tiny"


@pytest.fixture(scope="module")
def tiny_grader(tmp_path_factory):
    copy = grader_copy(tmp_path_factory.mktemp("tiny") / "grader-copy")
    shutil.copytree(TINY / "assignment", copy / "assignments" / "tiny", ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _grade(copy, notebook, tmp_path) -> dict:
    folder = tmp_path / "submission"
    folder.mkdir()
    shutil.copy(notebook, folder / "tiny.ipynb")
    return _grade_folder(copy, folder, tmp_path)


def _grade_folder(copy, folder, tmp_path) -> dict:
    env = {"GRADER_ASSIGNMENT": "assignments.tiny.rubric"}
    return grade(folder, tmp_path / "results.json", runner=copy / "run_autograder", env=env)


def test_the_tiny_solution_gets_full_marks(tiny_grader, tmp_path):
    data = _grade(tiny_grader, TINY / "solution.ipynb", tmp_path)
    tests = {t["number"]: t for t in data["tests"]}
    assert sorted(tests) == ["1", "2"]
    assert (
        tests["1"]["name"] == "scale(x) doubles x within 1e-06"
        and tests["1"]["output"] == "`scale(x)` returns `2 * x`."
    )
    assert tests["2"]["output"] == "`w` is 3."
    assert data["score"] == 3


def test_the_tiny_template_scores_nothing_and_says_why(tiny_grader, tmp_path):
    data = _grade(tiny_grader, TINY / "source.ipynb", tmp_path)
    tests = {t["number"]: t for t in data["tests"]}
    assert data["score"] == 0
    assert "does not return `2 * x`" in tests["1"]["output"]
    assert "`w` is not within 0.01 of 3" in tests["2"]["output"]


def test_the_tiny_assignments_reading_raises_its_flag_with_the_lines(tiny_grader, tmp_path):
    """Its own reading (readings.py) runs in the reader, its result travels checked, and its flag reaches the staff."""
    notebook = json.loads((TINY / "solution.ipynb").read_text())
    notebook["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                              "source": "w = torch.tensor([3.0])"})  # fmt: skip
    path = tmp_path / "by_hand.ipynb"
    path.write_text(json.dumps(notebook))
    data = _grade(tiny_grader, path, tmp_path)
    facts = data["extra_data"]
    assert data["score"] == 3
    assert facts["flags"] == ["w_by_hand"] and facts["flag_sources"] == {"w_by_hand": "reader"}
    assert facts["evidence"] == {"w_by_hand": ["cell 4, line 1: w = torch.tensor([3.0])"]}


def test_the_tiny_solution_raises_no_flag(tiny_grader, tmp_path):
    assert _grade(tiny_grader, TINY / "solution.ipynb", tmp_path)["extra_data"]["flags"] == []


def test_the_tiny_assignment_names_its_own_notebook(tiny_grader, tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "tiny.py").write_text("def scale(x):\n    return 2 * x\n")
    data = _grade_folder(tiny_grader, folder, tmp_path)
    assert data["score"] == 0
    assert "Please upload the notebook itself (`tiny.ipynb`, from File > Download" in data["output"]
    assert "A0" not in data["output"]


def _versions(copy) -> dict:
    """{assignment module: its grader version} in the grader copy `copy`, for A0 and (once added) the tiny one."""
    names = ["assignments.a0.rubric"] + ["assignments.tiny.rubric"] * (copy / "assignments" / "tiny").is_dir()
    code = "import json, sys; from grader.version import grader_version; "
    code += "print(json.dumps({n: grader_version(n) for n in sys.argv[1:]}))"
    done = subprocess.run([sys.executable, "-c", code, *names], cwd=copy, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_a_second_assignment_leaves_the_first_ones_grader_version(tmp_path):
    """A0's next batch regrades nothing because another assignment was added or changed; a change of the engine or
    of A0's own files does change its version."""
    copy = grader_copy(tmp_path / "grader-copy")
    (copy / ".grader-secret").write_bytes(b"the course's secret")
    a0 = _versions(copy)["assignments.a0.rubric"]
    shutil.copytree(TINY / "assignment", copy / "assignments" / "tiny", ignore=shutil.ignore_patterns("__pycache__"))
    added = _versions(copy)
    assert added["assignments.a0.rubric"] == a0 != added["assignments.tiny.rubric"]
    with open(copy / "assignments" / "tiny" / "rubric.py", "a") as f:
        f.write("# the tiny assignment changed\n")
    changed = _versions(copy)
    assert (
        changed["assignments.a0.rubric"] == a0
        and changed["assignments.tiny.rubric"] != added["assignments.tiny.rubric"]
    )
    with open(copy / "assignments" / "a0" / "checks.py", "a") as f:
        f.write("# A0's checks changed\n")
    assert _versions(copy)["assignments.a0.rubric"] != a0
    with open(copy / "grader" / "scoring" / "feedback.py", "a") as f:
        f.write("# the engine changed\n")
    engine = _versions(copy)
    assert (
        engine["assignments.a0.rubric"] != a0
        and engine["assignments.tiny.rubric"] != changed["assignments.tiny.rubric"]
    )
