"""Run the Gradescope test cases with gradescope-utils' JSONTestRunner, and write results.json safely.

Works around JSONTestRunner 0.5.0: skipped tests and failing subTests vanish, an error in setUpClass crashes
it, errors carry no traceback, and execution_time is a string. Whatever happens, a valid results.json is written.
"""

import io
import json
import math
import os
import sys
import tempfile
import traceback
import unittest
import warnings
from pathlib import Path

import jsonschema
from gradescope_utils.autograder_utils.json_test_runner import JSONTestResult, JSONTestRunner

from .feedback import GRADER_FAILED_TEST, one_traceback
from .testcase import CheckCase, line_cases

SCHEMA = json.loads(Path(__file__).with_name("gradescope_schema.json").read_text())


class _Result(JSONTestResult):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._recorded: set = set()

    def processResult(self, test, err=None) -> None:
        if test.id() in self._recorded:
            return
        self._recorded.add(test.id())
        if err is not None and err[0] is not None and not issubclass(err[0], AssertionError):
            print(
                f"[grader] {test.id()} failed inside the grader:\n" + "".join(traceback.format_exception(*err)),
                file=sys.__stdout__,
            )  # the instructor log; the student sees no grader file or frame
            err = (
                err[0],
                GRADER_FAILED_TEST,
                None,
            )
        if not hasattr(test, "_testMethodName"):  # a setUpClass/setUpModule error arrives as an _ErrorHolder
            self.results.append(
                {
                    "name": str(test),
                    "score": 0.0,
                    "max_score": 0.0,
                    "status": "failed",
                    "output": str(err[1]) if err else "",
                }
            )
            return
        super().processResult(test, err)

    def addSkip(self, test, reason) -> None:
        super().addSkip(test, reason)
        self.processResult(test, (None, f"This test was skipped: {reason}", None))

    def addSubTest(self, test, subtest, err) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.processResult(test, err)


class _Runner(JSONTestRunner):
    resultclass = _Result


class _Loader(unittest.TestLoader):
    """Builds each CheckCase with the graded submission: `CheckCase(method_name, submission)`."""

    def __init__(self, submission) -> None:
        super().__init__()
        self.submission = submission

    def loadTestsFromTestCase(self, testCaseClass):
        if not issubclass(testCaseClass, CheckCase):
            return super().loadTestsFromTestCase(testCaseClass)
        return self.suiteClass(testCaseClass(name, self.submission) for name in self.getTestCaseNames(testCaseClass))


def run_tests(tests_dir: Path | None, top_level: Path, submission, summary: str, facts: dict) -> dict:
    """Run the cases in `tests_dir`, or (None) one case a line of the submission's assignment."""
    loader = _Loader(submission)
    if tests_dir is None:
        suite = loader.loadTestsFromTestCase(line_cases(submission.assignment))
    else:
        suite = loader.discover(str(tests_dir), top_level_dir=str(top_level))
    stream = io.StringIO()
    with warnings.catch_warnings(record=True) as caught:  # the checks' warnings: instructor log only
        warnings.simplefilter("always")
        _Runner(
            stream,
            failure_prefix="",
            stdout_visibility=submission.assignment.stdout_visibility,
            post_processor=lambda data: _finish(data, summary, facts, submission),
        ).run(suite)
    for warning in caught[:20]:
        print(f"[grader] warning during the checks: {warnings.formatwarning(**_fields(warning))}".rstrip())
    return json.loads(stream.getvalue())


def _fields(warning) -> dict:
    return {
        "message": warning.message,
        "category": warning.category,
        "filename": warning.filename,
        "lineno": warning.lineno,
        "line": "",
    }


def _finish(data: dict, summary: str, facts: dict, submission) -> None:
    data["execution_time"] = float(data.get("execution_time", 0))
    settings = submission.settings
    data["output"] = summary[: settings.top_output_chars]
    data["extra_data"] = facts
    data["output_format"] = "md"
    data["test_output_format"] = "md"
    data["tests"].sort(key=lambda t: [int(p) if p.isdigit() else p for p in t.get("number", "99").split(".")])
    outputs = one_traceback([(test.get("number"), test.get("output", "")) for test in data["tests"]])
    for test, output in zip(data["tests"], outputs):
        test["output"] = output.strip()[: settings.test_output_chars]
        item = submission.assignment.rubric.get(test.get("number"))
        if item and item.visibility != "visible":
            test["visibility"] = item.visibility
    data.pop("leaderboard", None)
    board = submission.assignment.leaderboard
    entries = board(submission) if board else None
    if entries:
        data["leaderboard"] = entries


def emergency_results(message: str, assignment=None) -> dict:
    """When grading itself broke: every rubric line at 0, with the message, so no test silently disappears (none
    listed when the assignment itself could not be loaded)."""
    lines = assignment.lines if assignment else ()
    return {
        "score": 0.0,
        "execution_time": 0.0,
        "output": message,
        "output_format": "md",
        "extra_data": {"problem": "the autograder itself failed (see its log)"},
        "stdout_visibility": assignment.stdout_visibility if assignment else "hidden",
        "tests": [
            {
                "name": item.name,
                "number": item.number,
                "score": 0.0,
                "max_score": float(item.points),
                "status": "failed",
                "output": message,
                "visibility": item.visibility,
            }
            for item in lines
        ],
    }


def strict_json(results: dict) -> str:
    """Valid UTF-8 and strict JSON: lone surrogates replaced, NaN and infinities written as null."""

    def clean(value):
        if isinstance(value, str):
            return value.encode("utf-8", "replace").decode("utf-8") if not value.isascii() else value
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {clean(k): clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(results), indent=2, allow_nan=False, ensure_ascii=False)


class Reservation:
    """Room for results.json, taken before the child starts: a notebook that fills the disk cannot stop it."""

    SIZE = 2 * 1024 * 1024

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.temp = tempfile.mkstemp(dir=self.path.parent, prefix=".results-", suffix=".json")
        try:
            os.posix_fallocate(fd, 0, self.SIZE)
        except (OSError, AttributeError):  # AttributeError: macOS has no posix_fallocate
            pass  # a filesystem without fallocate: written as usual
        os.close(fd)

    def write(self, results: dict) -> None:
        """Validate, then write into the reserved file and rename it: a reader never sees half a file."""
        jsonschema.validate(results, SCHEMA)
        data = strict_json(results).encode("utf-8")
        with open(self.temp, "r+b") as f:
            f.write(data)
            f.truncate(len(data))
        umask = os.umask(0o077)
        os.umask(umask)
        os.chmod(self.temp, 0o644 & ~umask)  # readable as a file made here would be (a batch's umask is 077)
        os.replace(self.temp, self.path)

    def release(self) -> None:
        try:
            os.unlink(self.temp)
        except FileNotFoundError:
            pass


def write_results(path: Path, results: dict) -> None:
    reservation = Reservation(path)
    try:
        reservation.write(results)
    finally:
        reservation.release()
