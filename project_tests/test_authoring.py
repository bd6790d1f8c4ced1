"""docs/authoring.md "Adding an assignment", followed on a copy of the grader: its three files, written from the
document's own code blocks, make an assignment that `make template` and run_autograder take as they are; and each
author's mistake is refused at the command line (exit 2, one sentence with the fix, nothing graded)."""

import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from conftest import ROOT, grade, grader_copy, sandbox_user

DOC = (ROOT / "docs" / "authoring.md").read_text()
MODULE = "assignments.softmax.rubric"


def _files() -> dict:
    """{path: text} of the files the recipe has an author write, from its code blocks."""
    blocks = re.findall(r"^`(assignments/softmax/[\w.]+)`[^\n]*\n\n```python\n(.*?)```", DOC, re.S | re.M)
    return dict(blocks)


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    root = grader_copy(tmp_path_factory.mktemp("authoring") / "grader-copy")
    shutil.copytree(ROOT / "tools", root / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    for name, text in _files().items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".ipynb"):
            cells = [nbformat.v4.new_code_cell(cell.strip("\n")) for cell in text.split("# %%\n")]
            nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
        else:
            path.write_text(text)
    return root


def _template(root, *options):
    return subprocess.run(
        [sys.executable, str(root / "tools" / "template.py"), *options],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _autograder(root, module, submission, results):
    return subprocess.run(
        [str(root / "run_autograder"), "--assignment", module, "--submission", str(submission), "--results",
         str(results), "--sandbox-user", sandbox_user(), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip


def test_an_assignment_is_three_files_an_author_writes():
    assert sorted(_files()) == [
        "assignments/softmax/probes.py",
        "assignments/softmax/rubric.py",
        "assignments/softmax/solution.ipynb",
    ]


def test_the_recipe_makes_its_template_and_grades_end_to_end(copy, tmp_path):
    made = _template(copy, "--assignment", MODULE)
    assert made.returncode == 0, made.stderr
    template = copy / "assignments" / "softmax" / "softmax.ipynb"
    sources = [c.source for c in nbformat.read(template, as_version=4).cells]
    assert sources == ["import numpy as np", "def softmax(z):\n    # TODO: the softmax of each row of z"]

    solved = grade(copy / "assignments" / "softmax" / "solution.ipynb", tmp_path / "s" / "results.json",
                   "--assignment", MODULE, runner=copy / "run_autograder")  # fmt: skip
    tests = {t["number"]: t for t in solved["tests"]}
    assert solved["score"] == 3 and tests["1"]["max_score"] == 1 and tests["2"]["max_score"] == 2
    assert tests["2"]["name"] == "softmax(z) is right within 1e-06"  # NumPy arrays cross as tensors do
    assert tests["2"]["output"] == "`softmax(z)` is the softmax of each row within 1e-06."

    handout = grade(template, tmp_path / "t" / "results.json", "--assignment", MODULE, runner=copy / "run_autograder")
    assert handout["score"] == 0
    assert "The cell ends in the middle of a statement" in {t["number"]: t for t in handout["tests"]}["1"]["output"]


def test_a_wrong_value_is_told_in_plain_words(copy, tmp_path):
    nb = nbformat.read(copy / "assignments" / "softmax" / "solution.ipynb", as_version=4)
    nb.cells[1].source = "def softmax(z):\n    e = np.exp(z)\n    return (e / e.sum())[:, :3]"
    path = tmp_path / "softmax.ipynb"
    nbformat.write(nb, path)
    data = grade(path, tmp_path / "results.json", "--assignment", MODULE, runner=copy / "run_autograder")
    tests = {t["number"]: t["output"] for t in data["tests"]}
    assert tests["1"] == "`softmax(z)` is an array of shape (4, 3); expected an array of shape (4, 5)."
    assert tests["2"] == tests["1"]


MISTAKES = {  # what the author got wrong: (edit of the recipe's rubric.py, or a module name; the sentence printed)
    "a module that does not exist": (
        "assignments.sofmax.rubric",
        "no module 'assignments.sofmax.rubric' (no 'assignments.sofmax'): name the module that holds ASSIGNMENT, as "
        "`--assignment assignments.<name>.rubric` for assignments/<name>/rubric.py.",
    ),
    "a line reading an undeclared probe": (
        ('values, "softmax"', 'values, "softmx"'),
        "rubric line 2 reads the probe 'softmx', which is not declared (the probes are 'softmax'): declare it in "
        "`probes=` or fix the line's name.",
    ),
    "a probe whose function is missing": (
        ("probes.softmax),)", "probes.softmx),)"),
        "importing {module} raised AttributeError: module 'assignments.{case}.probes' has no attribute 'softmx' "
        "({root}/assignments/{case}/rubric.py, line {line}): fix that line.",
    ),
    "a check that is not a function": (
        ("1, shape,", '1, "shape",'),
        "rubric line 1: its check ('shape') is not a function: give it `def check(sub, line) -> str` (return what "
        "was verified, raise CheckFailed).",
    ),
    "a probe the child cannot import": (
        ("draw, probes.softmax", "draw, lambda torch, ns, inputs: {}"),
        "probe 'softmax': the child imports its call by name (assignments.{case}.rubric:<lambda>) and cannot: "
        "define it with `def` at the top level of the assignment's probes.py.",
    ),
    "a probe defined in the rubric": (
        ("draw, probes.softmax", "draw, draw"),
        "probe 'softmax': move its call out of the rubric {module} into probes.py.",
    ),
    "a module without ASSIGNMENT": (
        ("ASSIGNMENT = Assignment(", "assignment = Assignment("),
        "{module} has no ASSIGNMENT = Assignment(...) (NoneType found): end the module with `ASSIGNMENT = "
        "Assignment(probes=..., lines=...)` (from grader.kit import Assignment).",
    ),
    "a line without its test": (
        ('    notebook="softmax.ipynb",', '    notebook="softmax.ipynb",\n    tests=HERE / "tests",'),
        "rubric line 2 ('softmax(z) is right within 1e-06') has no test in {root}/assignments/{case}/tests: give it "
        "one test method decorated @rubric_line(...), or leave `tests=` out to have one made for each line.",
    ),
    "a test without its line": (
        ('    notebook="softmax.ipynb",', '    notebook="softmax.ipynb",\n    tests=HERE / "tests",'),
        "the test assignments.{case}.tests.test_cases.TestCases.test_other scores no rubric line of this "
        "assignment: add its Line to the rubric, or remove the test.",
    ),
    "test cases that cannot be imported": (
        ('    notebook="softmax.ipynb",', '    notebook="softmax.ipynb",\n    tests=HERE / "tests",'),
        "the test cases in {root}/assignments/{case}/tests cannot be imported: ModuleNotFoundError: No module named "
        "'nope' (File \"{root}/assignments/{case}/tests/test_cases.py\", line 6, in <module>): fix it.",
    ),
}
CASES = {  # hand-written test cases for the last three mistakes
    "test cases that cannot be imported": "import nope\n",
    "a line without its test": "class TestCases(CheckCase):\n    @rubric_line(ASSIGNMENT.rubric['1'])\n"
    "    def test_one(self):\n        self.check()\n",
    "a test without its line": "class TestCases(CheckCase):\n    @rubric_line(ASSIGNMENT.rubric['1'])\n"
    "    def test_one(self):\n        self.check()\n\n    @rubric_line(ASSIGNMENT.rubric['2'])\n"
    "    def test_two(self):\n        self.check()\n\n"
    "    @rubric_line(Line('9', 'another', 1, print))\n    def test_other(self):\n        self.check()\n",
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_an_authors_mistake_is_refused_at_the_command_line_with_its_fix(copy, tmp_path, mistake):
    edit, sentence = MISTAKES[mistake]
    case = "mistake_" + re.sub(r"\W", "_", mistake)
    module = edit if isinstance(edit, str) else f"assignments.{case}.rubric"
    line = None
    if not isinstance(edit, str):
        folder = copy / "assignments" / case
        shutil.copytree(copy / "assignments" / "softmax", folder, dirs_exist_ok=True)
        rubric = (folder / "rubric.py").read_text()
        assert rubric.count(edit[0]) == 1, edit
        rubric = rubric.replace(edit[0], edit[1])
        (folder / "rubric.py").write_text(rubric)
        line = next(n for n, text in enumerate(rubric.split("\n"), 1) if edit[1].split("\n")[0] in text)
        if mistake in CASES:
            (folder / "tests").mkdir()
            (folder / "__init__.py").write_text("")
            (folder / "tests" / "__init__.py").write_text("")
            (folder / "tests" / "test_cases.py").write_text(
                "from grader.kit import CheckCase, Line, rubric_line\n\n"
                f"from assignments.{case}.rubric import ASSIGNMENT\n\n\n{CASES[mistake]}"
            )
    results = tmp_path / "results.json"
    done = _autograder(copy, module, copy / "assignments" / "softmax" / "solution.ipynb", results)
    expected = sentence.format(module=module, case=case, root=copy, line=line)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == f"run_autograder: the assignment {module} cannot be graded: {expected}\n"
    assert done.stdout == "" and not results.exists()  # nothing graded, no results.json for a student to read


def test_make_template_refuses_a_missing_solution_with_the_fix(copy, tmp_path):
    folder = copy / "assignments" / "nosolution"
    shutil.copytree(copy / "assignments" / "softmax", folder)
    (folder / "solution.ipynb").unlink()
    (folder / "softmax.ipynb").unlink(missing_ok=True)
    done = _template(copy, "--assignment", "assignments.nosolution.rubric")
    assert done.returncode == 2 and not (folder / "softmax.ipynb").exists()
    assert done.stderr == (
        f"make template: the solution notebook {folder / 'solution.ipynb'} does not exist: write it, or fix "
        "solution=.\n"
    )


def test_numpy_values_cross_the_channel_as_tensors_do():
    import jsonschema
    import numpy as np
    import torch

    from grader.child.probes import call
    from grader.records import SCHEMA

    class Lying(np.ndarray):  # its own methods are never asked
        def tolist(self):
            return [99.0]

        def astype(self, *args, **kwargs):
            return np.zeros(1)

    crossed = {
        "array": call(torch, lambda: np.arange(6.0).reshape(2, 3)),
        "number": call(torch, lambda: np.float32(1.5)),
        "ints in a tuple": call(torch, lambda: (np.arange(2), torch.ones(1))),
        "subclass": call(torch, lambda: np.arange(3.0).view(Lying)),
        "strings": call(torch, lambda: np.array(["a"])),
    }
    for result in crossed.values():
        jsonschema.validate({"event": "record", "probe": "p", "data": {"call": result}}, SCHEMA)
    values = {name: result["value"] for name, result in crossed.items()}
    assert values["array"] == {"tensor": {"shape": [2, 3], "dtype": "numpy.float64", "values": [0, 1, 2, 3, 4, 5]}}
    assert values["number"] == {"tensor": {"shape": [], "dtype": "numpy.float32", "values": [1.5]}}
    assert values["ints in a tuple"]["sequence"][0]["tensor"]["values"] == [0.0, 1.0]
    assert values["subclass"]["tensor"]["values"] == [0.0, 1.0, 2.0]
    assert values["strings"] == {"other": "numpy array of <U1"}


def test_the_kits_checks_give_the_value_or_say_what_is_wrong():
    from grader.kit import CheckFailed, check_allclose, check_shape

    reported = {"tensor": {"shape": [2, 2], "values": [1.0, 2.0, 3.0, 4.5]}}
    assert check_allclose(reported, [[1, 2], [3, 4.5]], 1e-6, "f(x)").tolist() == [[1, 2], [3, 4.5]]
    assert check_shape(reported, (None, 2), "f(x)").shape == (2, 2)
    wrong = {
        "`f(x)` differs from the expected values by up to 0.5 (at index (1, 1)); at most 0.1 is allowed.": (
            lambda: check_allclose(reported, [[1, 2], [3, 4]], 0.1, "f(x)")
        ),
        "`f(x)` is an array of shape (2, 2); expected an array of shape (N, 3).": (
            lambda: check_shape(reported, (None, 3), "f(x)")
        ),
        "`f(x)` is `None` (is a `return` missing?); expected an array of shape (2,).": (
            lambda: check_shape({"other": "NoneType"}, (2,), "f(x)")
        ),
        "`f(x)` holds NaN or infinite values.": (
            lambda: check_allclose({"tensor": {"shape": [1], "values": [float("nan")]}}, [0.0], 1.0, "f(x)")
        ),
    }
    for message, check in wrong.items():
        with pytest.raises(CheckFailed) as failure:
            check()
        assert str(failure.value) == message
