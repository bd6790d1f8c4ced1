"""gradescope-utils 0.5.0's traps, worked around: no test or point silently disappears."""

import json
import textwrap

import jsonschema
import pytest
from conftest import SCHEMA

from assignments.a0.rubric import ASSIGNMENT, RUBRIC
from grader.scoring.results import emergency_results, run_tests, write_results
from grader.scoring.submission import Submission

TRAPS = '''
import unittest
from gradescope_utils.autograder_utils.decorators import number, weight


class Traps(unittest.TestCase):
    @weight(1)
    @number("1")
    def test_skipped(self):
        self.skipTest("not today")

    @weight(2)
    @number("2")
    def test_subtest_fails(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertLess(i, 1)

    @weight(3)
    @number("3")
    def test_grader_bug(self):
        {}["missing"]

    @weight(4)
    @number("4")
    def test_passes(self):
        print("fine")


class BrokenSetup(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise RuntimeError("setup exploded")

    @weight(5)
    @number("5")
    def test_never_runs(self):
        pass
'''


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cases")
    (folder / "test_traps.py").write_text(textwrap.dedent(TRAPS))
    return run_tests(folder, folder, Submission(problem="unused"), "summary text", {})


def test_every_test_is_reported_with_its_points(results):
    by_number = {t.get("number", t["name"]): t for t in results["tests"]}
    assert by_number["1"]["score"] == 0 and "skipped: not today" in by_number["1"]["output"]
    assert by_number["2"]["score"] == 0 and by_number["2"]["status"] == "failed"
    assert by_number["4"]["score"] == 4 and by_number["4"]["output"] == "fine"
    assert results["score"] == 4


def test_an_unexpected_exception_names_no_grader_file(results):
    output = next(t["output"] for t in results["tests"] if t.get("number") == "3")
    assert "The grader itself failed on this test" in output  # its traceback goes to the instructor log
    assert "KeyError" not in output and "test_traps.py" not in output


def test_an_error_in_setupclass_does_not_crash_the_runner(results):
    broken = [t for t in results["tests"] if "BrokenSetup" in t["name"]]
    assert broken and broken[0]["status"] == "failed" and "The grader itself failed" in broken[0]["output"]


def test_results_are_valid_and_execution_time_is_a_number(results, tmp_path):
    write_results(tmp_path / "r" / "results.json", results)
    written = json.loads((tmp_path / "r" / "results.json").read_text())
    jsonschema.validate(written, SCHEMA)
    assert isinstance(written["execution_time"], float) and written["output"] == "summary text"
    assert written["output_format"] == "md" and written["test_output_format"] == "md"


def test_emergency_results_list_every_rubric_line(tmp_path):
    write_results(tmp_path / "results.json", emergency_results("broken", ASSIGNMENT))
    written = json.loads((tmp_path / "results.json").read_text())
    assert len(written["tests"]) == len(RUBRIC) and written["score"] == 0
    assert all(t["output"] == "broken" for t in written["tests"])


def test_results_are_strict_json_whatever_the_strings_and_numbers(tmp_path):
    results = emergency_results("a lone surrogate \ud800 and text")
    results["extra_data"] = {"mse": float("nan"), "big": float("inf")}
    write_results(tmp_path / "results.json", results)
    raw = (tmp_path / "results.json").read_bytes()
    raw.decode("utf-8")  # valid UTF-8
    written = json.loads(raw, parse_constant=lambda token: pytest.fail(f"non-strict token {token}"))
    assert written["extra_data"] == {"mse": None, "big": None} and "\ud800" not in written["output"]
