"""Run the Gradescope test cases with gradescope-utils' JSONTestRunner, and write results.json safely.

Works around JSONTestRunner 0.5.0: skipped tests and failing subTests vanish, an error in setUpClass crashes
it, errors carry no traceback, and execution_time is a string. Whatever happens, a valid results.json is written.
"""
import io
import json
import os
import tempfile
import traceback
import unittest
from pathlib import Path

import jsonschema
from gradescope_utils.autograder_utils.json_test_runner import JSONTestResult, JSONTestRunner

from .. import rubric
from . import checks
from .summary import facts

SCHEMA = json.loads(Path(__file__).with_name("gradescope_schema.json").read_text())
MAX_TEST_OUTPUT = 30_000
MAX_TOP_OUTPUT = 100_000


class _Result(JSONTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._recorded = set()

    def processResult(self, test, err=None):
        if test.id() in self._recorded:
            return
        self._recorded.add(test.id())
        if err is not None and err[0] is not None and not issubclass(err[0], AssertionError):
            text = "".join(traceback.format_exception(*err))
            err = (err[0], f"The grader itself failed on this test; please tell the course staff.\n\n"
                           f"```\n{text[-4000:]}```", None)
        if not hasattr(test, "_testMethodName"):   # a setUpClass/setUpModule error arrives as an _ErrorHolder
            self.results.append({"name": str(test), "score": 0.0, "max_score": 0.0, "status": "failed",
                                 "output": str(err[1]) if err else ""})
            return
        super().processResult(test, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.processResult(test, (None, f"This test was skipped: {reason}", None))

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.processResult(test, err)


class _Runner(JSONTestRunner):
    resultclass = _Result


def run_tests(tests_dir: Path, top_level: Path, summary: str) -> dict:
    suite = unittest.defaultTestLoader.discover(str(tests_dir), top_level_dir=str(top_level))
    stream = io.StringIO()
    _Runner(stream, failure_prefix="", stdout_visibility=rubric.STDOUT_VISIBILITY,
            post_processor=lambda data: _finish(data, summary, facts())).run(suite)
    return json.loads(stream.getvalue())


def _finish(data: dict, summary: str, facts: dict):
    data["execution_time"] = float(data.get("execution_time", 0))
    data["output"] = summary[:MAX_TOP_OUTPUT]
    data["extra_data"] = facts
    data["output_format"] = "md"
    data["test_output_format"] = "md"
    for test in data["tests"]:
        test["output"] = test.get("output", "").strip()[:MAX_TEST_OUTPUT]
        item = rubric.RUBRIC.get(test.get("number"))
        if item and item.visibility != "visible":
            test["visibility"] = item.visibility
    data["tests"].sort(key=lambda t: [int(p) if p.isdigit() else p for p in t.get("number", "99").split(".")])
    data.pop("leaderboard", None)
    mse = checks.final_mse() if rubric.LEADERBOARD else None
    if mse is not None:
        data["leaderboard"] = [{"name": "MSE", "value": round(mse, 8), "order": "asc"}]


def emergency_results(message: str) -> dict:
    """When grading itself broke: every rubric line at 0, with the message, so no test silently disappears."""
    return {"score": 0.0, "execution_time": 0.0, "output": message, "output_format": "md",
            "extra_data": {"problem": "the autograder itself failed (see its log)"},
            "stdout_visibility": rubric.STDOUT_VISIBILITY,
            "tests": [{"name": item.name, "number": item.number, "score": 0.0, "max_score": float(item.points),
                       "status": "failed", "output": message, "visibility": item.visibility}
                      for item in rubric.RUBRIC.values()]}


def write_results(path: Path, results: dict):
    """Validate, then write atomically (temp file + rename), so a reader never sees half a file."""
    jsonschema.validate(results, SCHEMA)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".results-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(results, f, indent=2)
    os.chmod(temp, 0o644)
    os.replace(temp, path)
