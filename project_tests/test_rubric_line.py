"""docs/authoring.md "Adding a rubric line", followed step by step on a copy of the grader: the new line is scored (its
test case is made from it)."""

import json
import subprocess

from conftest import grader_copy, save, solution

LINE = '''    Line("4.3", "Exercise 4: ToyModel has 26 parameters", 0.5, checks.toymodel_parameters, "toymodel"),
]
# fmt: on'''
CHECK = '''

def toymodel_parameters(sub, line) -> str:
    module = record(sub, "toymodel")["object"]["module"]
    if module["n_params"] != 26:
        raise CheckFailed(f"`ToyModel()` has {module['n_params']} parameters; expected 26.")
    return "`ToyModel()` has 26 parameters."
'''


def test_a_new_rubric_line_takes_two_edits_and_is_scored(tmp_path):
    copy = grader_copy(tmp_path / "grader-copy")
    rubric = copy / "assignments" / "a0" / "rubric.py"
    rubric.write_text(rubric.read_text().replace("\n]\n# fmt: on", "\n" + LINE, 1))  # step 1
    checks = copy / "assignments" / "a0" / "checks.py"
    checks.write_text(checks.read_text() + CHECK)  # step 2

    notebook = save(solution(), tmp_path / "submission")
    results = tmp_path / "results.json"
    done = subprocess.run(
        [str(copy / "run_autograder"), "--submission", str(notebook), "--results", str(results), "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    tests = {t["number"]: t for t in json.loads(results.read_text())["tests"]}
    assert tests["4.3"]["score"] == 0.5 and tests["4.3"]["output"] == "`ToyModel()` has 26 parameters."
    assert json.loads(results.read_text())["score"] == 15.5
