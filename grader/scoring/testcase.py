"""The Gradescope test cases: weighted unittest methods (gradescope-utils), each scoring one rubric line. `line_cases`
makes them from an assignment's lines, so a line is declared once (grader/assignment.py Line)."""

import re
import unittest
from collections.abc import Callable

import timeout_decorator
from gradescope_utils.autograder_utils.decorators import number, weight

from .feedback import CheckFailed


def rubric_line(line) -> Callable:
    """Give a test method its rubric line's (grader.assignment.Line) number, weight and name (the method body calls
    `self.check()`)."""

    def decorate(method):
        method.__doc__ = line.name
        method.rubric_line = line
        return number(line.number)(weight(line.points)(method))

    return decorate


class CheckCase(unittest.TestCase):
    maxDiff = None

    def __init__(self, methodName: str = "runTest", submission=None) -> None:
        super().__init__(methodName)
        self.submission = submission  # the graded Submission, given by scoring/results.py's loader

    def check(self) -> None:
        """Pass with what the line's check verified, or fail with what was wrong (both shown to the student)."""
        line = getattr(self, self._testMethodName).rubric_line
        try:
            limit = timeout_decorator.timeout(self.submission.settings.check_seconds, use_signals=True)
            message = limit(line.check)(self.submission, line)
        except CheckFailed as failure:
            self.fail(str(failure))
        print(message)


def line_cases(assignment) -> type[CheckCase]:
    """A CheckCase with one test method a rubric line of `assignment`, in its order: "1.2" is `test_1_2`."""

    def case(line):
        def test(self) -> None:
            self.check()

        test.__name__ = test.__qualname__ = "test_" + re.sub(r"\W", "_", line.number)
        return rubric_line(line)(test)

    methods = {method.__name__: method for method in map(case, assignment.lines)}
    return type("TestRubric", (CheckCase,), methods)
